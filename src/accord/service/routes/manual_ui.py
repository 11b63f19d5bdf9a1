"""The dashboard's manual sync (issue #19, seed 001): one record from its row in a record list or
by its id (indexed or not: a record created after the last pass), and every member of a list —
the list's size shown first, and synced only once confirmed. Outcomes and errors go into the
page (htmx swaps only a 2xx answer in)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from accord.engine.activities import Kind as ActivityKind
from accord.index.activities import activity_sync
from accord.model import Side
from accord.runner import ManualSyncRefused, PassResult
from accord.service.core import Service
from accord.service.web import REASONS, Svc, finished, known_sync, live_sync, manual_list, render_page

SideName = Literal["left", "right"]
Status = Literal["syncing", "failing", "excluded", "queued"]
PREVIEW = 20  # members listed by a list's preview


def outcome(res: PassResult, s: dict[str, Any]) -> str:
    """What a manual sync did, in the apps' names."""
    if res.activities:  # one HubSpot activity (accord.runner.manual): what became of its Task or Event
        done = [f"{what} {n}" for c in res.activities.values()
                for what, n in (("created", c["created"]), ("updated", c["updated"]), ("failed", c["failed"]),
                                ("waiting for its contact", c["waiting"]), ("excluded", c["excluded"])) if n]
        return ("Synced: " + "; ".join(done) + ".") if done else "Synced: nothing to change, both apps agree."
    left, right = s["left"]["app"], s["right"]["app"]
    k = res.counters
    parts = [f"{what} {d['left']} in {left} and {d['right']} in {right}"
             for what, d in (("created", k.created), ("updated", k.updated), ("failed", k.failed))
             if d["left"] or d["right"]]
    if not parts and k.excluded:  # a record a rule leaves out was not synced: "both apps agree" would be wrong
        return "Not synced, it is excluded: " + "; ".join(REASONS.get(r, r.replace("_", " ")) for r in k.excluded) + "."
    return ("Synced: " + "; ".join(parts) + ".") if parts else "Synced: nothing to change, both apps agree."


def _side(side: str | None) -> Side | None:
    return Side(side) if side in ("left", "right") else None


def manual_routes(r: APIRouter) -> None:
    _record_routes(r)
    _list_routes(r)


def _record_routes(r: APIRouter) -> None:
    @r.post("/ui/syncs/{name}/records/{record_id}/resync", response_model=None)
    async def resync_row(request: Request, name: str, record_id: str, svc: Svc,
                         side: Annotated[SideName, Form()], status: Annotated[Status, Form()] = "failing",
                         activity: Annotated[ActivityKind | None, Form()] = None,
                         search: Annotated[bool, Form()] = False) -> Response:
        """"Sync now" on a record's row: the row again, as the index has it now, with the outcome.
        ``activity``: the row is one of the sync's HubSpot activities of that type (``record_id``
        its id on ``side``), synced as ``TYPE:ID`` (accord.runner.manual). ``search``: the row is
        one of a search's results, which name their status."""
        s = live_sync(svc, known_sync(svc, name))
        asked, rows = (f"{activity}:{record_id}", activity_sync(name, activity)) if activity else (record_id, name)
        note, ok = await _sync_one(svc, name, asked, Side(side), s)
        link = svc.store.links_by_record(rows, Side(side), [record_id]).get(record_id)
        return render_page(request, "_record.html", s=s, r=link, status=status, note=note, ok=ok,
                           record_id=record_id, side=side, search=search)

    @r.post("/ui/syncs/{name}/sync-record", response_model=None)
    async def sync_by_id(request: Request, name: str, svc: Svc, record: Annotated[str, Form()] = "",
                         side: Annotated[str, Form()] = "") -> Response:
        """The sync page's form: a record id of either app (``side`` empty: Accord finds the app)."""
        s = live_sync(svc, known_sync(svc, name))
        if not record.strip():
            return render_page(request, "_outcome.html", note="Enter the record's id, as the app shows it.", ok=False)
        note, ok = await _sync_one(svc, name, record.strip(), _side(side), s)
        return render_page(request, "_outcome.html", note=note, ok=ok)


async def _sync_one(svc: Service, name: str, record_id: str, side: Side | None, s: dict[str, Any]) -> tuple[str, bool]:
    try:
        res = await finished(svc, svc.sync_record(name, record_id, side))
    except HTTPException as e:
        return str(e.detail), False
    return outcome(res, s), True


def _list_routes(r: APIRouter) -> None:
    @r.get("/ui/syncs/{name}/list-preview", response_model=None)
    async def list_preview(request: Request, name: str, svc: Svc,
                           list_name: Annotated[str, Query(alias="list", max_length=500)] = "",
                           side: str = "") -> Response:
        """How many records a list holds, and the question before syncing them all."""
        s = live_sync(svc, known_sync(svc, name))
        try:
            found, listed, ids = await (await svc.scout(name)).list_members(list_name.strip() or None, _side(side))
        except ManualSyncRefused as e:
            return render_page(request, "_list.html", s=s, step="error", error=str(e))
        except Exception as e:  # an app that cannot be read: said in the page
            return render_page(request, "_list.html", s=s, step="error", error=f"{type(e).__name__}: {e}")
        return render_page(request, "_list.html", s=s, step="confirm", list=listed, side=found.value,
                           app=s[found.value]["app"], members=len(ids), sample=ids[:PREVIEW])

    @r.get("/ui/syncs/{name}/list-cancel", response_model=None)
    def list_cancel(request: Request, name: str, svc: Svc) -> Response:
        return render_page(request, "_list.html", s=live_sync(svc, known_sync(svc, name)), step="cancelled")

    @r.post("/ui/syncs/{name}/resync-list", response_model=None)
    async def resync_list(request: Request, name: str, svc: Svc, list_name: Annotated[str, Form(alias="list")],
                          side: Annotated[SideName, Form()]) -> Response:
        s = live_sync(svc, known_sync(svc, name))
        try:
            listed, members, res = await manual_list(svc, name, list_name, Side(side))
        except HTTPException as e:
            return render_page(request, "_list.html", s=s, step="error", error=str(e.detail))
        return render_page(request, "_list.html", s=s, step="done", list=listed, members=members,
                           app=s[side]["app"], note=outcome(res, s))
