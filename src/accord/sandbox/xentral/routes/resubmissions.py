"""Resubmissions (Wiedervorlagen) with their boards and stages: ``/api/v1/wiedervorlagen[/{rid}]``,
``/api/v1/wiedervorlagen/boards`` and ``/api/v1/wiedervorlagen/stages``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.xentral.core import XentralCore
from accord.sandbox.xentral.query import Resource, run_list
from accord.sandbox.xentral.routes.common import API, ok, path_id, read_body
from accord.sandbox.xentral.store import not_found

RESUBMISSIONS = Resource(
    filters={"adresse": ("adresse", "="), "bearbeiter": ("bearbeiter", "="),
             "adresse_mitarbeiter": ("adresse_mitarbeiter", "="), "projekt": ("projekt", "="),
             "stages": ("stages", "="), "id_ext": ("id_ext", "=")},
    sortable=frozenset({"datum_angelegt", "zeit_angelegt", "datum_erinnerung", "zeit_erinnerung", "datum_abschluss",
                        "bezeichnung", "stages", "prio", "id"}),
    numeric=frozenset({"id", "adresse", "bearbeiter", "adresse_mitarbeiter", "projekt", "stages", "betrag", "chance",
                       "prio"}),
)
BOARDS = Resource(filters={"name": ("name", "like"), "active": ("active", "=")}, sortable=frozenset({"id", "name"}))
STAGES = Resource(filters={"view": ("view", "="), "name": ("name", "like")},
                  sortable=frozenset({"id", "sort", "name", "view"}), numeric=frozenset({"id", "view", "sort"}))


def register(app: FastAPI, sb: XentralCore) -> None:
    store = sb.store

    @app.get(f"{API}/wiedervorlagen")
    async def list_resubmissions(request: Request) -> JSONResponse:
        with store.lock:
            rows = [r.wire() for r in store.resubmissions.values()]
        return JSONResponse(run_list(rows, request.query_params, RESUBMISSIONS))

    # boards and stages ahead of /wiedervorlagen/{rid}, which would answer them with a 404
    @app.get(f"{API}/wiedervorlagen/boards")
    async def list_boards(request: Request) -> JSONResponse:
        with store.lock:
            rows = [b.wire() for b in store.boards.values()]
        return JSONResponse(run_list(rows, request.query_params, BOARDS))

    @app.get(f"{API}/wiedervorlagen/stages")
    async def list_stages(request: Request) -> JSONResponse:
        with store.lock:
            rows = [s.wire() for s in store.stages.values()]
        return JSONResponse(run_list(rows, request.query_params, STAGES))

    @app.post(f"{API}/wiedervorlagen/stages")
    async def create_stage(request: Request) -> JSONResponse:
        body = await read_body(request)
        return ok(store.create_stage(body).wire(), status=201, success=True)

    @app.get(f"{API}/wiedervorlagen/{{rid}}")
    async def get_resubmission(rid: str) -> JSONResponse:
        with store.lock:
            r = store.resubmissions.get(path_id(rid))
            if r is None:
                raise not_found()
            return ok(r.wire())

    @app.post(f"{API}/wiedervorlagen")
    async def create_resubmission(request: Request) -> JSONResponse:
        body = await read_body(request)
        return ok(store.create_resubmission(body).wire(), status=201, success=True)

    @app.put(f"{API}/wiedervorlagen/{{rid}}")
    async def update_resubmission(rid: str, request: Request) -> JSONResponse:
        body = await read_body(request)
        return ok(store.update_resubmission(path_id(rid), body).wire(), success=True)
