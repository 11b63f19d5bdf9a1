"""HubSpot's timeline events API (v3) for event sync: one event template per source app, and
timeline events written on contacts with ids derived from the app's events.

Templates belong to the HubSpot app ``app_id`` (a developer account's API key, ``hapikey``,
manages them when ``developer_api_key`` is set; else the app's own credential is sent). The
template is looked up by name before one is created, so every process and every pass finds the
same one; its id is then remembered by the connector. Events go in batches of 100
(``/crm/v3/timeline/events/batch/create``); an event id HubSpot already has is refused (409),
which is how a retry or a second pass never writes one twice.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from accord.connectors.hubspot import HubSpotConnector
from accord.engine.events import AppEvent, timeline_id, tokens
from accord.model import ConnectorError

BATCH = 100
APP_LABELS = {"snovio": "Snov.io", "salesforce": "Salesforce"}
TOKENS = (("kind", "Activity"), ("subject", "Subject"), ("source", "Source"), ("app", "App"), ("detail", "Details"))

Outcome = Literal["written", "already", "no_contact", "failed"]


@dataclass(frozen=True)
class Written:
    event: AppEvent
    outcome: Outcome
    message: str = ""


_TIMELINES: weakref.WeakKeyDictionary[HubSpotConnector, Timeline] = weakref.WeakKeyDictionary()


def template_name(vendor: str) -> str:
    return f"Accord: {APP_LABELS.get(vendor, vendor)} activity"


class Timeline:
    """The timeline API of one HubSpot connector (``Timeline.of(conn)`` shares one per connector)."""

    def __init__(self, conn: HubSpotConnector) -> None:
        self.conn = conn
        self._templates: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, conn: HubSpotConnector) -> Timeline:
        found = _TIMELINES.get(conn)
        if found is None:
            found = _TIMELINES[conn] = cls(conn)
        return found

    def _template_params(self) -> dict[str, str] | None:
        key = self.conn.developer_api_key
        return {"hapikey": key} if key else None

    async def template(self, vendor: str) -> str:
        """The id of the event template for ``vendor``'s events, created once."""
        async with self._lock:
            if vendor in self._templates:
                return self._templates[vendor]
            app_id = self.conn.app_id
            if not app_id:
                raise ConnectorError(f"{self.conn.name}: event sync needs the HubSpot app's id (app_id in the app's "
                                     "settings): timeline event templates belong to an app")
            base, name = f"/crm/v3/timeline/{app_id}/event-templates", template_name(vendor)
            body = await self.conn._ok("GET", base, "timeline", params=self._template_params())
            tid = next((str(t["id"]) for t in body.get("results", []) if t.get("name") == name), None)
            if tid is None:
                label = APP_LABELS.get(vendor, vendor)
                created = await self.conn._ok("POST", base, "timeline", params=self._template_params(), json={
                    "name": name, "objectType": "contacts",
                    "headerTemplate": f"{{{{kind}}}} ({label}): {{{{subject}}}}",
                    "detailTemplate": "{{source}}\n\n{{detail}}",
                    "tokens": [{"name": n, "label": lbl, "type": "string"} for n, lbl in TOKENS]})
                tid = str(created["id"])
            self._templates[vendor] = tid
            return tid

    def _input(self, template_id: str, vendor: str, event: AppEvent, contact_id: str) -> dict[str, Any]:
        return {"eventTemplateId": template_id, "id": timeline_id(vendor, event.id), "objectId": contact_id,
                "timestamp": event.at.isoformat().replace("+00:00", "Z"),
                "tokens": tokens(event, APP_LABELS.get(vendor, vendor))}

    async def write(self, vendor: str, items: Sequence[tuple[AppEvent, str]]) -> list[Written]:
        """Write ``(event, contact id)`` pairs; one outcome per pair."""
        template_id = await self.template(vendor)
        out: list[Written] = []
        for i in range(0, len(items), BATCH):
            chunk = items[i:i + BATCH]
            inputs = [self._input(template_id, vendor, e, cid) for e, cid in chunk]
            resp = await self.conn._request("POST", "/crm/v3/timeline/events/batch/create", "timeline",
                                            json={"inputs": inputs})
            done: set[str] = set()
            if resp.status_code in (200, 201, 207):
                done = {str(r.get("id")) for r in (resp.json().get("results") or [])}
            for (e, _), body in zip(chunk, inputs, strict=True):
                if body["id"] in done:
                    out.append(Written(e, "written"))
                else:  # refused, or the batch failed: this one alone says why
                    out.append(await self._one(e, body))
        return out

    async def _one(self, event: AppEvent, body: dict[str, Any]) -> Written:
        resp = await self.conn._request("POST", "/crm/v3/timeline/events", "timeline", json=body)
        if resp.status_code in (200, 201):
            return Written(event, "written")
        message = _message(resp)
        if resp.status_code == 409:
            return Written(event, "already", message)
        if resp.status_code == 404 and "template" not in message.lower():
            return Written(event, "no_contact", message)  # the contact was deleted since it was found
        if resp.status_code == 404:  # the template was deleted in HubSpot: the next pass makes it again
            self._templates = {k: v for k, v in self._templates.items() if v != body["eventTemplateId"]}
        return Written(event, "failed", f"HTTP {resp.status_code} {message}")


def _message(resp: Any) -> str:
    try:
        return str(resp.json().get("message") or "")
    except ValueError:
        return str(resp.text)[:200]
