"""The REST API of running syncs: state, records and exports, run history, passes and resyncs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel

from accord.exports import MEDIA_TYPES, render_export
from accord.index.holds import HoldChanged, NotConfirmable
from accord.model import Side
from accord.service.core import PassNotRequested
from accord.service.web import (
    AUTH_ANSWERS,
    STATUSES,
    Svc,
    answers,
    finished,
    known_sync,
    link_json,
    manual_list,
    require_token,
    sync_json,
    sync_list,
)

Status = Literal["syncing", "failing", "excluded", "queued"]
MAX_OFFSET = 500_000_000  # past any index, and within every database's integers


class SideBody(BaseModel):
    side: Literal["left", "right"]


class ListBody(BaseModel):
    list: str | None = None  # a list's name or id; None: the sync's inclusion list
    side: Literal["left", "right"] | None = None  # the list's app, when Accord cannot tell


class ConfirmBody(BaseModel):
    hold: int | None = None  # the hold's id as shown (``deletes_held.id``): refused (409) if it changed


def api_router() -> APIRouter:
    r = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["api"], responses=AUTH_ANSWERS)
    _sync_routes(r)
    _record_routes(r)
    _action_routes(r)
    return r


def _sync_routes(r: APIRouter) -> None:
    """The syncs themselves: list, one, on and off."""

    @r.get("/syncs", summary="All syncs with counts, last run and state")
    def list_syncs(svc: Svc) -> list[dict[str, Any]]:
        return sync_list(svc)

    @r.get("/syncs/{name}", summary="One sync", responses=answers(404))
    def get_sync(name: str, svc: Svc) -> dict[str, Any]:
        return sync_json(svc, known_sync(svc, name))

    @r.post("/syncs/{name}/enable", summary="Turn a sync on", responses=answers(404))
    def enable(name: str, svc: Svc) -> dict[str, Any]:
        if not svc.slot(known_sync(svc, name)).cfg.enabled:
            raise HTTPException(409, f"sync {name!r} has enabled: false in its configuration, which always wins: "
                                     "change it there (accord.yaml, or the sync's settings)")
        svc.store.set_enabled(name, True)
        return sync_json(svc, name)

    @r.post("/syncs/{name}/disable", summary="Turn a sync off without losing its index", responses=answers(404))
    def disable(name: str, svc: Svc) -> dict[str, Any]:
        svc.store.set_enabled(known_sync(svc, name), False)
        return sync_json(svc, name)


# a key of the status's `reasons` after the slash (words of lower case and _, as the engine names them)
Reason = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$", description=(
    "only the records of this excluded reason, error category or queued reason (a key of the status's "
    "`reasons`, after the slash: `duplicate` of `excluded/duplicate`)"))]


def _record_routes(r: APIRouter) -> None:
    """What a sync holds and has done: counts, records, exports, runs, progress."""

    @r.get("/syncs/{name}/status", summary="Counts per status and per excluded reason / error category", responses=answers(404))
    def status(name: str, svc: Svc) -> dict[str, Any]:
        known_sync(svc, name)
        return {"sync": name, "counts": {st: svc.store.counts(name).get(st, 0) for st in STATUSES},
                "reasons": svc.store.reason_counts(name)}

    @r.get("/syncs/{name}/records", summary="Records of one status with their errors and hints (paged)", responses=answers(404))
    def records(name: str, svc: Svc, status: Status = "failing",
                limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                reason: Reason = None) -> dict[str, Any]:
        known_sync(svc, name)
        items = svc.store.records(name, status, limit=limit, offset=offset, reason=reason)
        total = svc.store.records_total(name, status, reason)
        nxt = offset + len(items) if offset + len(items) < total else None
        return {"sync": name, "status": status, **({"reason": reason} if reason else {}), "total": total,
                "offset": offset, "next_offset": nxt, "items": [link_json(lk) for lk in items]}

    @r.get("/syncs/{name}/records/search", summary="Find records of any status by id, email or name", responses=answers(404))
    def search(name: str, svc: Svc, q: Annotated[str, Query(min_length=1, max_length=320, description=(
                   "an id of either app (exactly), or a part of the record's label: its email, else its name "
                   "(in any case)"))],
               limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict[str, Any]:
        known_sync(svc, name)
        items, total = svc.store.find_records(name, q, limit=limit)
        return {"sync": name, "q": q, "total": total, "items": [link_json(lk) for lk in items]}

    @r.get("/syncs/{name}/export", summary="Export the records of one status (CSV, XLSX or JSON)", responses=answers(404))
    def export(name: str, svc: Svc, status: Status = "failing",
               format: Literal["csv", "xlsx", "json"] = "csv",
               reason: Reason = None) -> Response:
        known_sync(svc, name)
        body = render_export(svc.store.records(name, status, reason=reason), format)
        stem = f"{name}-{status}" + (f"-{reason}" if reason else "")
        return Response(body, media_type=MEDIA_TYPES[format], headers={
            "Content-Disposition": f'attachment; filename="{stem}.{format}"'})

    @r.get("/syncs/{name}/runs", summary="Run history, newest first", responses=answers(404))
    def runs(name: str, svc: Svc, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
        return svc.store.runs(known_sync(svc, name), limit=limit)

    @r.get("/syncs/{name}/progress", summary="Progress of the running pass (or the last one)", responses=answers(404))
    def progress(name: str, svc: Svc) -> dict[str, Any]:
        return {"sync": known_sync(svc, name), **svc.progress(name).as_dict()}


def _action_routes(r: APIRouter) -> None:
    """Work started by hand: a pass, a one-way copy, recreating deleted records, one record."""

    @r.post("/syncs/{name}/run", summary="Start a pass now (409 if one is running)", status_code=202, responses=answers(404, 409, 503))
    async def run_now(name: str, svc: Svc, full: bool = False,
                      direction: Literal["left-to-right", "right-to-left"] | None = None) -> dict[str, Any]:
        """``direction``: a manual copy of existing records one way, in the background
        (Snov.io's "manual sync"); later passes keep the sync's own direction."""
        slot = svc.slot(known_sync(svc, name))
        if svc.busy(name):
            raise HTTPException(409, "a pass of this sync is running")
        if not svc.enabled(name):
            raise HTTPException(409, f"sync {name!r} is disabled: no pass runs until it is enabled "
                                     "(POST /api/syncs/NAME/enable)")
        if direction is not None:
            if slot.cfg.direction not in ("two-way", direction):
                raise HTTPException(422, f"a {slot.cfg.direction} sync cannot copy {direction}")
            svc._spawn(svc.directed_pass(name, direction))
            return {"sync": name, "started": f"manual {direction}"}
        try:
            await svc.request_pass(name, full=full)
        except PassNotRequested as e:
            raise HTTPException(503, str(e)) from e
        return {"sync": name, "started": "full" if full else "pass"}

    @r.post("/syncs/{name}/confirm-deletes", summary="Confirm the deletes the sync holds and start a pass",
            responses=answers(400, 404, 409))
    async def confirm_deletes(name: str, svc: Svc, body: ConfirmBody | None = None) -> dict[str, Any]:
        """200: confirmed (``confirmed``: the records whose deletes the started pass carries out; a
        vanished list or group: it is created again). 409: nothing held, a container Accord
        cannot create, or ``hold`` is not the sync's hold any more."""
        try:
            return {"sync": name, **svc.confirm_deletes(known_sync(svc, name), body.hold if body else None)}
        except (HoldChanged, NotConfirmable) as e:
            raise HTTPException(409, str(e)) from e

    @r.get("/syncs/{name}/deleted", summary="Preview: records deleted in one app that resync would recreate", responses=answers(404))
    async def deleted_preview(name: str, svc: Svc, side: Literal["left", "right"],
                              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        links = await svc.slot(known_sync(svc, name)).runner.deleted_preview(Side(side))
        return {"sync": name, "deleted_in": side, "total": len(links), "items": [link_json(lk) for lk in links[:limit]]}

    @r.post("/syncs/{name}/resync-deleted", summary="Recreate the records deleted in one app (apply the preview)", responses=answers(400, 404, 409, 502, 503))
    async def resync_deleted(name: str, body: SideBody, svc: Svc) -> dict[str, Any]:
        return (await finished(svc, svc.resync_deleted(known_sync(svc, name), Side(body.side)))).as_dict()

    @r.post("/syncs/{name}/records/{record_id}/resync", summary="Sync one record now (an id of either app, indexed or not)",
            responses=answers(404, 409, 502, 503))
    async def resync_record(name: str, record_id: str, svc: Svc,
                            side: Literal["left", "right"] | None = None) -> dict[str, Any]:
        """The record's app is found from the index, else by reading both apps (a record created
        after the last pass); ``side`` names it when both apps have a record with that id (409)."""
        job = svc.sync_record(known_sync(svc, name), record_id, Side(side) if side else None)
        return (await finished(svc, job)).as_dict()

    @r.post("/syncs/{name}/resync-list", summary="Sync every member of a list now (default: the inclusion list)",
            responses=answers(400, 404, 409, 502, 503))
    async def resync_list(name: str, svc: Svc, body: ListBody | None = None) -> dict[str, Any]:
        b = body or ListBody()
        listed, members, res = await manual_list(svc, known_sync(svc, name), b.list, Side(b.side) if b.side else None)
        return {"list": listed, "members": members, **res.as_dict()}
