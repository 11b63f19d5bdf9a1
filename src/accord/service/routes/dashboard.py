"""The dashboard: server-rendered Jinja2 pages, htmx (vendored in static/) for the live parts.

Pages: login (token → a session cookie), sync summary (per sync counts
syncing/failing/excluded, enable/disable, live progress), one sync (reasons, run history,
resync deleted with a preview, held deletes with a confirmation step), record lists by
status with error category and hint, export links. Every route but the login form's needs
a session (``dashboard_auth``, which runs before any parameter is validated).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accord.config import ConfigError
from accord.engine.mapping import SyncSpec
from accord.index.activities import family
from accord.index.holds import HoldChanged, NotConfirmable
from accord.index.store import Link
from accord.model import Side
from accord.service import manage
from accord.service.core import PassNotRequested, Service
from accord.service.routes.manual_ui import manual_routes
from accord.service.routes.setup import setup_router
from accord.service.web import (
    COOKIE,
    SESSION_TTL,
    STATUSES,
    Svc,
    auth_of,
    client_of,
    close_session,
    dashboard_auth,
    finished,
    known_sync,
    live_sync,
    live_syncs,
    open_session,
    render_page,
    sync_json,
)

PAGE_SIZE = 50
FOUND_SHOWN = 100  # a search's results listed (a search that finds more says so: refine it)
MAX_PAGE = 10_000_000  # 500 million records: past any index, and within every database's integers
SideName = Literal["left", "right"]


def dashboard_router() -> APIRouter:
    r = APIRouter(include_in_schema=False, dependencies=[Depends(dashboard_auth)])
    r.include_router(setup_router())
    _login_routes(r)
    _summary_routes(r)
    _sync_routes(r)
    _record_routes(r)
    _rename_delete_routes(r)
    manual_routes(r)
    return r


def _login_routes(r: APIRouter) -> None:
    """The token typed once; the browser keeps a session id, never the token."""

    @r.get("/login")
    def login_form(request: Request, next: str = "") -> HTMLResponse:
        return render_page(request, "login.html", error=None, next=local_path(next))

    @r.post("/login", response_model=None)
    async def login(request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
        auth, client = auth_of(request), client_of(request)
        wait = auth.throttle.retry_after(client)
        back = local_path(next)
        if wait > 0:
            resp = render_page(request, "login.html", 429, error=f"Too many failed attempts: try again in {wait:.0f} s.",
                               next=back)
            resp.headers["Retry-After"] = str(int(wait) + 1)
            return resp
        if not auth.token_ok(token.strip()):
            auth.throttle.failed(client)
            return render_page(request, "login.html", 401, error="Wrong token.", next=back)
        auth.throttle.succeeded(client)
        return _logged_in(request, back)

    @r.get("/login/once/{code}", response_model=None)
    def login_once(request: Request, code: str) -> Response:
        """A one-time login link (``accord demo`` prints one): a session, and the link is void."""
        auth, client = auth_of(request), client_of(request)
        wait = auth.throttle.retry_after(client)
        if wait > 0 or not auth.redeem(code):
            if wait <= 0:
                auth.throttle.failed(client)
            return render_page(request, "login.html", 401 if wait <= 0 else 429,
                               error="This login link was used already or has expired. Log in with the API token.")
        auth.throttle.succeeded(client)
        return _logged_in(request)

    @r.post("/logout")
    def logout(request: Request) -> RedirectResponse:
        close_session(request)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp


def local_path(asked: str) -> str:
    """``asked`` if it is a page of this dashboard (a path, with its query), else "": never
    another site (``//evil.example``, ``https://…``, ``/\\evil``), never the login pages."""
    if not asked.startswith("/") or asked.startswith(("//", "/\\")) or "\\" in asked or asked.startswith("/login"):
        return ""
    return asked if all(c.isprintable() for c in asked) else ""


def _logged_in(request: Request, back: str = "") -> RedirectResponse:
    """A new session for the browser (replacing its previous one), and on to the page it asked
    for (``back``, a local path) or the summary."""
    close_session(request)
    resp = RedirectResponse(back or "/", status_code=303)
    resp.set_cookie(COOKIE, open_session(request), max_age=int(SESSION_TTL), httponly=True, samesite="strict",
                    secure=request.url.scheme == "https")
    return resp


def _config_file(svc: Service) -> str | None:
    """The config file syncs "from accord.yaml" come from (None: the demo's, given in code)."""
    source = svc.registry.file_cfg.source
    return source if Path(source).is_file() else None


def _row(request: Request, svc: Service, name: str, confirm: str | None = None, focus: str | None = None) -> Response:
    return render_page(request, "_row.html", s=live_sync(svc, name), confirm=confirm, focus=focus)


def _summary_routes(r: APIRouter) -> None:
    """The summary page and its rows, which reload themselves (htmx) for live counts and progress."""

    @r.get("/", response_model=None)
    def summary(request: Request, svc: Svc) -> Response:
        reloader = request.app.state.reloader
        return render_page(request, "summary.html", syncs=live_syncs(svc),
                           config_problem=reloader.problem if reloader is not None else None)

    @r.get("/ui/syncs/{name}/row", response_model=None)
    def row(request: Request, name: str, svc: Svc, confirm: Literal["disable"] | None = None,
            focus: Literal["toggle"] | None = None) -> Response:
        """The sync's row; ``confirm=disable``: with the question before disabling it (not reloading)."""
        return _row(request, svc, known_sync(svc, name), confirm, focus)

    @r.post("/ui/syncs/{name}/toggle", response_model=None)
    def toggle(request: Request, name: str, svc: Svc, view: Literal["row", "state"] = "row") -> Response:
        known_sync(svc, name)
        if svc.enabled(name) or svc.slot(name).cfg.enabled:  # one off in its configuration stays off (no button)
            svc.store.set_enabled(name, not svc.enabled(name))
        if view == "state":
            return render_page(request, "_state.html", s=live_sync(svc, name), confirm=None, focus="toggle",
                               file=_config_file(svc))
        return _row(request, svc, name, focus="toggle")

    @r.post("/ui/syncs/{name}/run", response_model=None)
    async def run_now(request: Request, name: str, svc: Svc) -> Response:
        known_sync(svc, name)
        if not svc.enabled(name):  # "No pass runs and webhooks are ignored until you enable it again"
            return render_page(request, "_progress.html", name=name, p=svc.progress(name).as_dict(), off=True)
        if not svc.busy(name):
            with contextlib.suppress(PassNotRequested):  # logged; the progress shows no pass starting
                await svc.request_pass(name)
        return render_page(request, "_progress.html", name=name, p=svc.progress(name).as_dict(), starting=True)

    @r.get("/ui/syncs/{name}/progress", response_model=None)
    def progress(request: Request, name: str, svc: Svc) -> Response:
        p = svc.progress(known_sync(svc, name)).as_dict()
        return render_page(request, "_progress.html", name=name, p=p, starting=False, off=not svc.enabled(name))


def _sync_routes(r: APIRouter) -> None:
    """One sync: its page and the parts of it that reload themselves or ask before acting."""

    @r.get("/syncs/{name}", response_model=None)
    def detail(request: Request, name: str, svc: Svc) -> Response:
        known_sync(svc, name)
        return render_page(request, "sync.html", s=live_sync(svc, name), reasons=svc.store.reason_counts(name),
                           runs=svc.store.runs(name, limit=30), name=name, p=svc.progress(name).as_dict(),
                           starting=False, confirm=None, focus=None, file=_config_file(svc))

    @r.get("/ui/syncs/{name}/counts", response_model=None)
    def counts(request: Request, name: str, svc: Svc) -> Response:
        known_sync(svc, name)
        return render_page(request, "_counts.html", s=live_sync(svc, name), reasons=svc.store.reason_counts(name))

    @r.get("/ui/syncs/{name}/runs", response_model=None)
    def runs(request: Request, name: str, svc: Svc) -> Response:
        return render_page(request, "_runs.html", s=live_sync(svc, known_sync(svc, name)), name=name,
                           runs=svc.store.runs(name, limit=30))

    @r.get("/ui/syncs/{name}/state", response_model=None)
    def state(request: Request, name: str, svc: Svc, confirm: Literal["disable", "delete", "rename"] | None = None,
              focus: Literal["toggle", "delete", "rename"] | None = None) -> Response:
        """The sync's state and its toggle, delete and edit buttons; ``confirm``: the question first."""
        return render_page(request, "_state.html", s=live_sync(svc, known_sync(svc, name)), confirm=confirm, focus=focus,
                           file=_config_file(svc))

def _record_routes(r: APIRouter) -> None:
    """A sync's records by status; recreating deleted records; held deletes."""

    @r.get("/syncs/{name}/records", response_model=None)
    def records(request: Request, name: str, svc: Svc, status: str = "failing",
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, reason: str | None = None,
                q: Annotated[str | None, Query(max_length=320)] = None) -> Response:
        """The records of a status, or of one of its reasons (a reason chip of the sync page);
        ``q``: the records of any status that an id, an email or a name finds."""
        known_sync(svc, name)
        if status not in STATUSES:
            raise HTTPException(404, f"unknown status {status!r}")
        if q is not None and q.strip():
            found, total = svc.store.find_records(name, q, limit=FOUND_SHOWN)
            return render_page(request, "records.html", s=sync_json(svc, name), status=status, reason=None, items=found,
                               page=1, total=total, pages=1, note=None, q=q.strip(), search=True)
        items = svc.store.records(name, status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, reason=reason)
        total = svc.store.records_total(name, status, reason)
        return render_page(request, "records.html", s=sync_json(svc, name), status=status, reason=reason, items=items,
                           page=page, total=total, pages=max(1, -(-total // PAGE_SIZE)), note=None, q=None, search=False)

    @r.get("/syncs/{name}/records/{link_id}", response_model=None)
    def record(request: Request, name: str, link_id: str, svc: Svc) -> Response:
        """One record of a sync: its status and why, both ids, and each mapped field's value as
        both apps held it after the last sync (the bases of its three-way merge)."""
        known_sync(svc, name)
        link = svc.store.links_by_id([link_id]).get(link_id)
        if link is None or link.sync not in family(name):  # the sync's own rows, or its activities'
            raise HTTPException(404, f"sync {name!r} has no record {link_id!r} (it may have been removed since)")
        return render_page(request, "record.html", s=sync_json(svc, name), r=link,
                           fields=field_values(svc.slot(name).runner.ctx.spec, link))

    @r.get("/ui/syncs/{name}/deleted", response_model=None)
    async def deleted_preview(request: Request, name: str, side: SideName, svc: Svc) -> Response:
        links = await svc.slot(known_sync(svc, name)).runner.deleted_preview(Side(side))
        return render_page(request, "_deleted.html", name=name, side=side, items=links[:50], total=len(links), result=None,
                           app=_app_of(svc, name, side), other=_app_of(svc, name, Side(side).other.value))

    @r.post("/ui/syncs/{name}/resync-deleted", response_model=None)
    async def resync_deleted(request: Request, name: str, side: Annotated[SideName, Form()], svc: Svc) -> Response:
        try:  # the outcome goes into the page (htmx swaps only a 2xx answer in)
            res = await finished(svc, svc.resync_deleted(known_sync(svc, name), Side(side)))
        except HTTPException as e:
            if e.status_code == 404:
                raise
            return render_page(request, "_deleted.html", name=name, side=side, items=[], total=0, result=None,
                               error=str(e.detail), app=_app_of(svc, name, side), other=_app_of(svc, name, Side(side).other.value))
        return render_page(request, "_deleted.html", name=name, side=side, items=[], total=0,
                           result=res.counters.created[side], app=_app_of(svc, name, side), other=_app_of(svc, name, Side(side).other.value))

    @r.get("/ui/syncs/{name}/held", response_model=None)
    def held(request: Request, name: str, svc: Svc, step: Literal["show", "confirm"] = "confirm") -> Response:
        """The held deletes; ``confirm``: the confirmation step, saying what confirming will do."""
        hold = svc.store.deletes_hold(known_sync(svc, name))
        return render_page(request, "_held.html", s=sync_json(svc, name), hold=hold, step=step, error=None)

    @r.post("/ui/syncs/{name}/confirm-deletes", response_model=None)
    async def confirm_deletes(request: Request, name: str, svc: Svc, hold: Annotated[int, Form()]) -> Response:
        known_sync(svc, name)
        try:
            done = svc.confirm_deletes(name, hold)
        except (HoldChanged, NotConfirmable) as e:  # a pass changed the hold meanwhile: show it again
            return render_page(request, "_held.html", s=sync_json(svc, name), hold=svc.store.deletes_hold(name),
                               step="show", error=str(e))
        return render_page(request, "_held.html", s=sync_json(svc, name), hold=done, step="done", error=None)


def _rename_delete_routes(r: APIRouter) -> None:
    """Renaming a sync made here (its index goes with it) and deleting it."""

    @r.post("/ui/syncs/{name}/rename", response_model=None)
    async def rename(request: Request, name: str, svc: Svc, new: Annotated[str, Form(alias="name")] = "") -> Response:
        known_sync(svc, name)
        new = new.strip()
        try:
            await manage.rename_sync(svc, name, new)
        except (manage.Conflict, ConfigError) as e:  # said in the form, which stays open
            why = str(e) if isinstance(e, manage.Conflict) else "; ".join(i.message for i in e.issues)
            return render_page(request, "_state.html", s=live_sync(svc, name), confirm="rename", focus=None,
                               file=_config_file(svc), error=why, tried=new)
        return Response(headers={"HX-Redirect": f"/syncs/{new}"})  # htmx opens the renamed sync's page

    @r.post("/ui/syncs/{name}/delete", response_model=None)
    async def delete(request: Request, name: str, svc: Svc) -> Response:
        try:
            await manage.delete_sync(svc, known_sync(svc, name))
        except manage.Conflict as e:
            raise HTTPException(409, str(e)) from e
        return Response(headers={"HX-Redirect": "/"})  # htmx navigates to the summary


def field_values(spec: SyncSpec | None, link: Link) -> list[tuple[str, Any, str, Any]]:
    """(left field, its value, right field, its value) per mapping the pair has a base for, as
    the sync's mappings name them; by base key when the mappings are not compiled yet (no pass
    in this process) or a key belongs to none of them (a mapping removed since)."""
    left, right = link.left_base or {}, link.right_base or {}
    out, named = [], set()
    for m in spec.mappings if spec is not None else ():
        k = m.base_key
        if k in left or k in right:
            out.append((m.left, left.get(k), m.right, right.get(k)))
            named.add(k)
    out += [(k, left.get(k), k, right.get(k)) for k in sorted({*left, *right} - named)]
    return out


def _app_of(svc: Service, name: str, side: str) -> str:
    """The app on a side of a sync, for messages (people know apps, not sides)."""
    cfg = svc.slot(name).cfg
    return cfg.left.app if side == "left" else cfg.right.app
