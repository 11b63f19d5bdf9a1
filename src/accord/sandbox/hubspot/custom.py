"""Custom object schemas (``/crm/v3/schemas``): creating one adds an object type to the portal.

A schema's records live at ``/crm/v3/objects/{objectType}`` where ``objectType`` is its
fullyQualifiedName (``p<portalId>_<name>``), ``p_<name>`` or its objectTypeId (``2-<id>``), as
on HubSpot. Shapes follow ``ObjectSchema``/``ObjectSchemaEgg`` of the schemas v3 spec.
"""

from __future__ import annotations

import re
from typing import Any

from accord.sandbox.hubspot.schema import Kind, PropDef, custom_properties
from accord.sandbox.hubspot.store import ApiError, Store, iso_ms

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _prop(body: dict[str, Any], group: str) -> PropDef:
    missing = [k for k in ("name", "label", "type", "fieldType") if not body.get(k)]
    if missing:
        raise ApiError(400, "VALIDATION_ERROR", f"Property definition is missing required fields: {missing}")
    return PropDef(str(body["name"]), str(body["label"]), str(body["type"]), str(body["fieldType"]),
                   [(str(o["value"]), str(o.get("label", o["value"]))) for o in body.get("options") or []],
                   unique=bool(body.get("hasUniqueValue")), hubspot_defined=False,
                   group=str(body.get("groupName") or group), description=str(body.get("description", "")))


def create_schema(store: Store, portal_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Create a custom object type from an ``ObjectSchemaEgg``; its ``ObjectSchema`` answers."""
    name = str(body.get("name") or "")
    labels = body.get("labels") or {}
    if not _NAME.match(name) or not labels.get("singular") or not labels.get("plural"):
        raise ApiError(400, "VALIDATION_ERROR", "A schema needs a name (letters, digits, underscores) and "
                       "labels.singular and labels.plural")
    with store.lock:
        if any(s["name"] == name and not s["archived"] for s in store.schemas.values()):
            raise ApiError(409, "CONFLICT", f"Object type with name {name} already exists")
        group = f"{name}_information"
        props = {p.name: p for p in custom_properties(group)}
        for raw in body.get("properties") or []:
            pd = _prop(raw, group)
            if pd.name in props:
                raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{pd.name}' already exists.")
            props[pd.name] = pd
        for field in ("requiredProperties", "searchableProperties", "secondaryDisplayProperties"):
            unknown = [p for p in body.get(field) or [] if p not in props]
            if unknown:
                raise ApiError(400, "VALIDATION_ERROR", f"{field} names properties the schema lacks: {unknown}")
        primary = body.get("primaryDisplayProperty")
        if primary and primary not in props:
            raise ApiError(400, "VALIDATION_ERROR", f"primaryDisplayProperty {primary} is not a property of the schema")
        targets = [store.type_of(_target(str(t))) for t in body.get("associatedObjects") or []]
        sid = store.next_schema_id
        store.next_schema_id += 1
        fqn, type_id = f"p{portal_id}_{name}", f"2-{sid}"
        shown = tuple(dict.fromkeys([*([primary] if primary else []), *body.get("secondaryDisplayProperties", [])]))
        kind = Kind(fqn, type_id, fqn, (*shown, "hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
                    created="hs_createdate", aliases=(f"p_{name}", type_id),
                    required=tuple(body.get("requiredProperties") or ()), custom=True)
        now = iso_ms(store.clock())
        schema: dict[str, Any] = {
            "id": str(sid), "objectTypeId": type_id, "fullyQualifiedName": fqn, "name": name,
            "labels": {"singular": labels["singular"], "plural": labels["plural"]},
            "description": body.get("description"), "primaryDisplayProperty": primary,
            "requiredProperties": list(kind.required), "searchableProperties": list(body.get("searchableProperties") or []),
            "secondaryDisplayProperties": list(body.get("secondaryDisplayProperties") or []),
            "allowsSensitiveProperties": bool(body.get("allowsSensitiveProperties")), "associations": [],
            "archived": False, "createdAt": now, "updatedAt": now, "metaType": "PORTAL_SPECIFIC",
        }
        store.kinds[fqn] = kind
        store.props[fqn] = props
        store.objs[fqn], store.ids[fqn] = {}, []
        for alias in (fqn, *kind.aliases):
            store.aliases[alias] = fqn
        store.schemas[fqn] = schema
        for target in dict.fromkeys(targets):
            _associate_types(store, schema, target, now)
        return schema_json(store, fqn)


def _target(name: str) -> str:
    # associatedObjects names standard objects in capitals (CONTACT, COMPANY) or by type id
    low = name.lower()
    return {"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
            "product": "products", "line_item": "line_items"}.get(low, name)


def _associate_types(store: Store, schema: dict[str, Any], target: str, now: str) -> None:
    """Define the association types between a custom object and ``target``, both ways."""
    fqn = schema["fullyQualifiedName"]
    fwd, back = store.next_assoc_type, store.next_assoc_type + 1
    store.next_assoc_type += 2
    store.assoc_types[(fqn, target)] = [(fwd, None)]
    store.assoc_types[(target, fqn)] = [(back, None)]
    tid, other = schema["objectTypeId"], store.kinds[target]
    schema["associations"] += [
        {"id": str(fwd), "fromObjectTypeId": tid, "toObjectTypeId": other.type_id,
         "name": f"{schema['name']}_to_{other.singular}".upper(), "createdAt": now, "updatedAt": now},
        {"id": str(back), "fromObjectTypeId": other.type_id, "toObjectTypeId": tid,
         "name": f"{other.singular}_to_{schema['name']}".upper(), "createdAt": now, "updatedAt": now}]


def find_schema(store: Store, object_type: str, *, archived: bool = False) -> str:
    """The fullyQualifiedName of the schema ``object_type`` names (404 when there is none)."""
    with store.lock:
        fqn = store.aliases.get(object_type, object_type)
        for key, s in store.schemas.items():
            if (key == fqn or s["name"] == object_type or s["objectTypeId"] == object_type) and (
                    archived or not s["archived"]):
                return key
    raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find object type {object_type}")


def schema_json(store: Store, fqn: str) -> dict[str, Any]:
    with store.lock:
        schema = dict(store.schemas[fqn])
        schema["properties"] = [p.to_json(schema["createdAt"]) for p in store.props[fqn].values()]
        return schema


def list_schemas(store: Store, archived: bool = False) -> list[dict[str, Any]]:
    with store.lock:
        return [schema_json(store, k) for k, s in store.schemas.items() if s["archived"] == archived]


def archive_schema(store: Store, object_type: str) -> None:
    """Archive a schema; HubSpot refuses while records of it exist (archive them first)."""
    with store.lock:
        fqn = find_schema(store, object_type)
        if any(o.archived_at is None for o in store.objs[fqn].values()):
            raise ApiError(400, "VALIDATION_ERROR", f"Object type {fqn} still has records; archive them first")
        schema = store.schemas[fqn]
        schema["archived"] = True
        schema["updatedAt"] = iso_ms(store.clock())
        for alias in [a for a, t in store.aliases.items() if t == fqn]:
            del store.aliases[alias]
        del store.kinds[fqn]
