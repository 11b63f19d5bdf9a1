"""The timeline events API: an app's event templates and the events written on records' timelines.

Paths as the official client calls them (``/integrators/timeline/v3/…``) and as HubSpot also
serves them (``/crm/v3/timeline/…``); shapes follow ``TimelineEventTemplate`` and
``TimelineEventResponse`` of the timeline v3 spec. Events are kept per record so tests (and
``/_sandbox/timeline/{object}/{id}``) can read what a connector wrote.
"""

from __future__ import annotations

import uuid
from typing import Any

from accord.sandbox.hubspot.store import ApiError, Store, iso_ms, not_found, parse_ms

TOKEN_TYPES = frozenset({"string", "number", "date", "enumeration"})


def create_template(store: Store, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("name", "objectType") if not body.get(k)]
    if missing or not isinstance(body.get("tokens", []), list):
        raise ApiError(400, "VALIDATION_ERROR", f"An event template needs name, objectType and tokens; missing {missing}")
    with store.lock:
        object_type = store.type_of(str(body["objectType"]))
        tokens = []
        for t in body.get("tokens") or []:
            if not t.get("name") or not t.get("label") or str(t.get("type", "")).lower() not in TOKEN_TYPES:
                raise ApiError(400, "VALIDATION_ERROR", f"Invalid token {t!r}: name, label and a type of "
                               f"{sorted(TOKEN_TYPES)} are required")
            tokens.append({**t, "type": str(t["type"]).lower()})
        tid = str(store.next_template_id)
        store.next_template_id += 1
        now = iso_ms(store.clock())
        template = {"id": tid, "name": body["name"], "objectType": str(body["objectType"]),
                    "headerTemplate": body.get("headerTemplate"), "detailTemplate": body.get("detailTemplate"),
                    "tokens": tokens, "createdAt": now, "updatedAt": now, "_appId": str(app_id),
                    "_object": object_type}
        store.templates[tid] = template
        return public(template)


def public(template: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in template.items() if not k.startswith("_")}


def templates(store: Store, app_id: str) -> list[dict[str, Any]]:
    with store.lock:
        return [public(t) for t in store.templates.values() if t["_appId"] == str(app_id)]


def template(store: Store, app_id: str, template_id: str) -> dict[str, Any]:
    with store.lock:
        t = store.templates.get(template_id)
        if t is None or t["_appId"] != str(app_id):
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Event template {template_id} not found")
        return t


def create_event(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Write one event on a record's timeline: the record by ``objectId`` (or a contact by ``email``)."""
    with store.lock:
        t = store.templates.get(str(body.get("eventTemplateId", "")))
        if t is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Event template {body.get('eventTemplateId')} not found")
        obj_type: str = t["_object"]
        if body.get("objectId") is not None:
            obj = store.get(obj_type, str(body["objectId"]))
        elif body.get("email") and obj_type == "contacts":
            obj = store.get(obj_type, str(body["email"]), id_property="email")
        else:
            raise ApiError(400, "VALIDATION_ERROR", "An event needs objectId (or email for contact events)")
        tokens = dict(body.get("tokens") or {})
        declared = {str(x["name"]) for x in t["tokens"]}
        unknown = sorted(set(tokens) - declared)
        if unknown:
            raise ApiError(400, "VALIDATION_ERROR", f"Tokens {unknown} are not defined on event template {t['id']}")
        eid = str(body.get("id") or uuid.uuid4())
        if (t["id"], eid) in store.events:
            raise ApiError(409, "CONFLICT", f"An event with id {eid} already exists for template {t['id']}")
        now = store.clock()
        at = body.get("timestamp")
        event: dict[str, Any] = {
            "id": eid, "eventTemplateId": t["id"], "objectType": obj_type, "objectId": str(obj.id),
            "tokens": {k: str(v) for k, v in tokens.items()},
            "timestamp": iso_ms(parse_ms(str(at)) if at else now), "createdAt": iso_ms(now),
        }
        if store.kinds[obj_type].custom:
            event["customObjectTypeId"] = store.kinds[obj_type].type_id
        for k in ("email", "utk", "domain", "extraData", "timelineIFrame"):
            if body.get(k) is not None:
                event[k] = body[k]
        store.events[(t["id"], eid)] = event
        return dict(event)


def get_event(store: Store, template_id: str, event_id: str) -> dict[str, Any]:
    with store.lock:
        event = store.events.get((template_id, event_id))
        if event is None:
            raise not_found(event_id)
        return dict(event)


def events_of(store: Store, object_type: str, object_id: str) -> list[dict[str, Any]]:
    """The events on one record's timeline, oldest first."""
    with store.lock:
        t = store.type_of(object_type)
        return sorted((dict(e) for e in store.events.values()
                       if e["objectType"] == t and e["objectId"] == str(object_id)),
                      key=lambda e: (e["timestamp"], e["createdAt"]))
