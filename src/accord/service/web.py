"""What the service's routes share: the API token and CSRF checks, the ``Svc`` dependency,
the JSON shapes of syncs and records, and the dashboard's page rendering.

Auth: every ``/api`` route and dashboard page needs the API token, as ``Authorization:
Bearer TOKEN`` or the ``accord_token`` cookie set by the dashboard's login form. Webhooks
are authenticated by the vendor's signature instead; ``/healthz`` is open; ``/metrics``
is open too (scrapers rarely send tokens; bind to a private interface or proxy it).

Layering: app.py builds the app from the routers in routes/, which build on this module;
nothing here imports a router or the app.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from accord.index.store import Link
from accord.service.core import Service

COOKIE = "accord_token"
CSRF_HEADER = "x-csrf-token"
STATUSES = ("syncing", "failing", "excluded", "queued")
PKG = Path(__file__).parent

templates = Jinja2Templates(directory=str(PKG / "templates"))


# -- the API token and CSRF -----------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(24)


def _presented(request: Request) -> tuple[str, bool]:
    """The token the request carries and whether it came from the dashboard's cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    return request.cookies.get(COOKIE, ""), True


def authorized(request: Request) -> bool:
    want: str = request.app.state.token
    got, _ = _presented(request)
    return bool(got) and hmac.compare_digest(got.encode(), want.encode())


def csrf_token(request: Request) -> str:
    """Per-token CSRF value the dashboard puts in its pages (htmx sends it as a header)."""
    return hmac.new(str(request.app.state.token).encode(), b"accord-csrf", "sha256").hexdigest()


async def csrf_ok(request: Request) -> bool:
    """Cookie-authenticated writes must carry the page's CSRF token (Bearer calls need not)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not _presented(request)[1]:
        return True
    got = request.headers.get(CSRF_HEADER, "")
    if not got and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                                        "multipart/form-data")):
        got = str((await request.form()).get("csrf_token", ""))
    return bool(got) and hmac.compare_digest(got.encode(), csrf_token(request).encode())


async def require_token(request: Request) -> None:
    if not authorized(request):
        raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})
    if not await csrf_ok(request):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")


# -- the service ------------------------------------------------------------------------------
def service_of(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


Svc = Annotated[Service, Depends(service_of)]


def known_sync(svc: Service, name: str) -> str:
    """``name`` if the service runs such a sync, else 404."""
    if name not in svc.slots:
        raise HTTPException(404, f"no sync named {name!r}")
    return name


# -- JSON shapes --------------------------------------------------------------------------------
def link_json(lk: Link) -> dict[str, Any]:
    return {"id": lk.id, "left_id": lk.left_id, "right_id": lk.right_id, "label": lk.label, "status": lk.status,
            "reason": lk.reason, "category": lk.category, "message": lk.message, "hint": lk.hint,
            "left_deleted": lk.left_deleted, "right_deleted": lk.right_deleted, "attempts": lk.attempts,
            "updated_at": lk.updated_at}


def sync_json(svc: Service, name: str) -> dict[str, Any]:
    slot = svc.slot(name)
    s = slot.cfg
    state = svc.store.sync_state(name)
    runs = svc.store.runs(name, limit=1)
    return {
        "name": name,
        "source": "file" if svc.registry.in_file(name) else "api",  # every running sync is one or the other
        "left": {"app": s.left.app, "object": s.left.object, "vendor": svc.cfg.vendor(s.left.app)},
        "right": {"app": s.right.app, "object": s.right.object, "vendor": svc.cfg.vendor(s.right.app)},
        "direction": s.direction,
        "enabled": svc.enabled(name),
        "initial_done": bool(state and state.initial_done),
        "poll_seconds": svc.interval(s),
        "reconcile_seconds": svc.reconcile,
        "counts": {st: svc.store.counts(name).get(st, 0) for st in STATUSES},
        "last_run": runs[0] if runs else None,
        "running": slot.tracker.state.running,
        "skipped_jobs": slot.skipped,
        "deletes_held": svc.store.deletes_hold(name),  # deletes waiting for a confirmation (accord.index.holds)
    }


# -- dashboard pages ----------------------------------------------------------------------------
def render_page(request: Request, template: str, **ctx: Any) -> HTMLResponse:
    """A dashboard template, with the CSRF token its forms and htmx calls send back."""
    return templates.TemplateResponse(request, template, {"csrf": csrf_token(request), **ctx})


def login_redirect(request: Request) -> RedirectResponse | None:
    """Where a dashboard page sends a visitor without the token: the login form."""
    return None if authorized(request) else RedirectResponse("/login", status_code=303)


async def dashboard_csrf(request: Request) -> None:
    """Logged-in form posts and htmx calls must carry the page's CSRF token."""
    if request.url.path not in ("/login", "/logout") and authorized(request) and not await csrf_ok(request):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")
