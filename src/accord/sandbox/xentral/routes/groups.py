"""Groups: ``/api/v1/gruppen[/{gid}]``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.xentral.core import XentralCore
from accord.sandbox.xentral.query import Resource, run_list
from accord.sandbox.xentral.routes.common import API, ok, path_id, read_body
from accord.sandbox.xentral.store import not_found

GROUPS = Resource(
    filters={"name": ("name", "contains"), "name_exakt": ("name", "like"), "kennziffer": ("kennziffer", "contains"),
             "kennziffer_exakt": ("kennziffer", "like"), "art": ("art", "like"), "projekt": ("projekt", "="),
             "kategorie": ("kategorie", "="), "aktiv": ("aktiv", "=")},
    sortable=frozenset({"name", "art", "kennziffer", "projekt", "kategorie", "aktiv", "id"}),
    numeric=frozenset({"id", "projekt", "kategorie", "aktiv"}),
)


def register(app: FastAPI, sb: XentralCore) -> None:
    store = sb.store

    @app.get(f"{API}/gruppen")
    async def list_groups(request: Request) -> JSONResponse:
        with store.lock:
            rows = [g.wire() for g in store.groups.values()]
        return JSONResponse(run_list(rows, request.query_params, GROUPS))

    @app.get(f"{API}/gruppen/{{gid}}")
    async def get_group(gid: str) -> JSONResponse:
        with store.lock:
            g = store.groups.get(path_id(gid))
            if g is None:
                raise not_found()
            return ok(g.wire())

    @app.post(f"{API}/gruppen")
    async def create_group(request: Request) -> JSONResponse:
        body = await read_body(request)
        return ok(store.create_group(body).wire(), status=201, success=True)
