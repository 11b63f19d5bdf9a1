"""The legacy Properties API: ``GET /properties/{v1,v2}/{object_type}/properties``.

HubSpot still serves it beside ``/crm/v3/properties`` and clients still read schemas from it
(Airbyte's ``source-hubspot`` builds every CRM stream's property list and JSON schema from
``/properties/v2/{contact,company,deal}/properties``). Its shape differs from v3's: a bare JSON
array (no ``results``), epoch-millisecond timestamps, and the definition's flags at the top level
(``readOnlyValue``, ``readOnlyDefinition``, ``deleted``, ``displayMode`` …) rather than under
``modificationMetadata``. Object types are named as in v3 (``contacts``) or in the singular
(``contact``), as the legacy docs and Airbyte do.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.schema import PropDef


def legacy_json(p: PropDef, created_ms: int) -> dict[str, Any]:
    """One property as the v1/v2 API returns it."""
    return {
        "name": p.name, "label": p.label, "description": p.description, "groupName": p.group,
        "type": p.type, "fieldType": p.field_type,
        "options": [{"value": v, "label": lab, "displayOrder": i, "hidden": False, "description": None,
                     "readOnly": p.hubspot_defined, "doubleData": None}
                    for i, (v, lab) in enumerate(p.options)],
        "calculated": p.calculated, "externalOptions": False, "deleted": False, "hidden": False,
        "hasUniqueValue": p.unique, "hubspotDefined": p.hubspot_defined, "formField": not p.read_only,
        "displayOrder": -1, "readOnlyValue": p.read_only or p.calculated, "readOnlyDefinition": p.hubspot_defined,
        "mutableDefinitionNotDeletable": p.hubspot_defined, "favorited": False, "favoritedOrder": -1,
        "displayMode": "current_value", "showCurrencySymbol": False, "currencyPropertyName": None,
        "textDisplayHint": None, "numberDisplayHint": None, "optionsAreMutable": None, "referencedObjectType": None,
        "searchableInGlobalSearch": False, "isCustomizedDefault": False, "fieldLevelPermission": None,
        "createdUserId": None, "updatedUserId": None, "createdAt": created_ms, "updatedAt": created_ms,
    }


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    @app.get("/properties/{version}/{object_type}/properties")
    async def legacy_properties(version: str, object_type: str) -> JSONResponse:
        if version not in ("v1", "v2"):
            return JSONResponse({"status": "error", "message": f"Unknown version {version}"}, status_code=404)
        t = store.object_type(object_type)
        return JSONResponse([legacy_json(p, store.started) for p in store.props[t].values()])
