"""The FastAPI application of ``accord run``: REST API, webhook receivers, dashboard, metrics.

This module only assembles the app; the routes live in :mod:`accord.service.routes` and
what they share (auth, CSRF, JSON shapes) in :mod:`accord.service.web`, whose docstring
says which routes need the API token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord import redact
from accord.config import Config
from accord.service.body_limit import MAX_BODY, BodyLimit
from accord.service.core import Service
from accord.service.headers import SecurityHeaders
from accord.service.reloader import ConfigReloader
from accord.service.routes.api import api_router
from accord.service.routes.apps import apps_router
from accord.service.routes.dashboard import dashboard_router
from accord.service.routes.manage_api import manage_router
from accord.service.routes.ops import ops_router
from accord.service.routes.webhooks import webhook_router
from accord.service.web import PKG, Auth, LoginRequired, Throttle, new_token, render_page


def create_app(cfg: Config, service: Service | None = None, *, token: str | None = None, start: bool = True,
               max_body: int = MAX_BODY, api_docs: bool = False, throttle: Throttle | None = None,
               config_path: str | Path | None = None, reload_interval: float = 2.0,
               say: Callable[[str], None] | None = None, **service_kw: Any) -> FastAPI:
    """The service app; ``start=False`` leaves the scheduler and webhook workers off (tests).

    ``api_docs`` serves Swagger UI at /docs (it loads its scripts from a CDN, so it is off
    unless asked for); /openapi.json is always there. ``config_path``: accord.yaml, reloaded
    when it changes or on SIGHUP (accord.service.reloader).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or Service(cfg, **service_kw)
        app.state.service = svc
        if start:
            await svc.start()
        reloader = app.state.reloader = (ConfigReloader(svc, config_path, interval=reload_interval, say=say)
                                         if config_path is not None else None)
        if reloader is not None:
            reloader.start()
        try:
            yield
        finally:
            if reloader is not None:
                await reloader.stop()
            await svc.stop()

    app = FastAPI(title="Accord", version="0.1.0", lifespan=lifespan, docs_url="/docs" if api_docs else None,
                  redoc_url=None, description="Two-way record sync: syncs, record status, exports, resync, run history.")
    app.state.reloader = None
    app.state.auth = Auth(token or new_token(), throttle or Throttle())
    redact.register([app.state.auth.token])
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(StarletteHTTPException, _error_page)
    # the order routes are matched and listed in /docs
    for router in (ops_router(), api_router(), manage_router(), webhook_router(), apps_router(), dashboard_router()):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PKG / "static"), name="static")
    app.add_middleware(BodyLimit, limit=max_body)
    # outermost: the headers go on every answer, the body limit's 413 included
    app.add_middleware(SecurityHeaders, docs_paths=frozenset({"/docs", "/docs/oauth2-redirect"} if api_docs else ()))
    return app


async def _to_login(request: Request, _exc: Exception) -> Response:
    """A dashboard request without a session goes to the login form, which comes back to the
    page asked for (a link from a notification, a bookmark, a session that expired)."""
    path = request.url.path
    if request.method != "GET" or path == "/" or path.startswith(_MACHINE_PATHS):
        return RedirectResponse("/login", status_code=303)
    asked = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': asked})}", status_code=303)


# paths whose errors stay JSON (or htmx fragments' own): the API, htmx calls, webhooks, probes
_MACHINE_PATHS = ("/api/", "/ui/", "/webhooks/", "/static/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")
_TITLES = {404: "Not found", 409: "Not possible right now", 502: "The app did not answer", 503: "Unavailable"}


async def _error_page(request: Request, exc: Exception) -> Response:
    """A page a person opened in the browser (``/syncs/nope``) answers an error as a page with a
    way back, not as ``{"detail": ...}``; API clients, htmx and other callers keep the JSON."""
    assert isinstance(exc, StarletteHTTPException)
    wants_page = (request.method == "GET" and "text/html" in request.headers.get("accept", "")
                  and "hx-request" not in request.headers and isinstance(exc.detail, str)
                  and not request.url.path.startswith(_MACHINE_PATHS))
    if not wants_page:
        return await http_exception_handler(request, exc)
    detail = str(exc.detail)
    message = detail[:1].upper() + detail[1:] + ("" if detail.endswith(".") else ".")
    if detail == "Not Found":  # the router's own answer for a path no route has
        message = f"There is no page {request.url.path}."
    return render_page(request, "message.html", exc.status_code, title=_TITLES.get(exc.status_code, "Something went wrong"),
                       message=message)
