"""Addresses and their free-field labels: ``/api/v1/adressen[/{aid}]``, ``/api/v1/adressfreifelder[/{fid}]``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.xentral.core import XentralCore
from accord.sandbox.xentral.query import Resource, Row, run_list
from accord.sandbox.xentral.routes.common import API, ok, path_id, read_body
from accord.sandbox.xentral.store import FREE_FIELDS, not_found, validation


def _has_group(row: Row, value: str) -> bool:
    return any(g["id"] == value or g["kennziffer"].casefold() == value.casefold() for g in row.get("gruppen", []))


_ADDRESS_FILTERS: dict[str, tuple[str, str]] = {
    "rolle": ("rolle", "contains"), "projekt": ("projekt", "="), "typ": ("typ", "like"), "land": ("land", "like"),
    "sprache": ("sprache", "like"), "waehrung": ("waehrung", "like"),
}
for _col in ("name", "kundennummer", "email"):
    _ADDRESS_FILTERS |= {_col: (_col, "contains"), f"{_col}_equals": (_col, "like"),
                         f"{_col}_startswith": (_col, "startswith"), f"{_col}_endswith": (_col, "endswith")}
for _f in FREE_FIELDS:
    _ADDRESS_FILTERS |= {_f: (_f, "contains"), f"{_f}_equals": (_f, "like")}

ADDRESSES = Resource(
    filters=_ADDRESS_FILTERS,
    # registered in OpenXE: name, kundennummer; id and logdatei are the sandbox's (assumed) additions
    sortable=frozenset({"name", "kundennummer", "id", "logdatei"}),
    numeric=frozenset({"id", "projekt", "lead", "marketingsperre"}),
    extra={"gruppe": _has_group},  # assumed: members of one group, by id or kennziffer
)
FREE_FIELD_LABELS = Resource(filters={"bezeichnung": ("bezeichnung", "like")}, sortable=frozenset({"id"}))


def register(app: FastAPI, sb: XentralCore) -> None:
    store = sb.store

    @app.get(f"{API}/adressen")
    async def list_addresses(request: Request) -> JSONResponse:
        with store.lock:
            rows = [store.address_wire(a) for a in store.addresses.values() if not a.deleted]
        return JSONResponse(run_list(rows, request.query_params, ADDRESSES))

    @app.get(f"{API}/adressen/{{aid}}")
    async def get_address(aid: str) -> JSONResponse:
        with store.lock:
            return ok(store.address_wire(store.live_address(path_id(aid))))

    @app.post(f"{API}/adressen")
    async def create_address(request: Request) -> JSONResponse:
        body = await read_body(request)
        with store.lock:
            # OpenXE's AddressController answers a create with 200 and the new address
            return ok(store.address_wire(store.create_address(body)))

    @app.put(f"{API}/adressen/{{aid}}")
    async def update_address(aid: str, request: Request) -> JSONResponse:
        body = await read_body(request)
        with store.lock:
            return ok(store.address_wire(store.update_address(path_id(aid), body)))

    @app.get(f"{API}/adressfreifelder")
    async def list_free_fields(request: Request) -> JSONResponse:
        with store.lock:
            rows = [{"id": str(i), "spalte": col, "bezeichnung": store.free_field_labels[col]}
                    for i, col in enumerate(FREE_FIELDS, start=1)]
        return JSONResponse(run_list(rows, request.query_params, FREE_FIELD_LABELS))

    @app.put(f"{API}/adressfreifelder/{{fid}}")
    async def label_free_field(fid: str, request: Request) -> JSONResponse:
        n = path_id(fid)
        if not 1 <= n <= len(FREE_FIELDS):
            raise not_found()
        body = await read_body(request)
        if not isinstance(body.get("bezeichnung"), str):
            raise validation({"bezeichnung": ["Das Feld ist erforderlich."]})
        col = FREE_FIELDS[n - 1]
        with store.lock:
            store.free_field_labels[col] = body["bezeichnung"]
        return ok({"id": str(n), "spalte": col, "bezeichnung": body["bezeichnung"]}, success=True)
