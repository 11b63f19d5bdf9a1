"""The dashboard's Apps page: every app and its connection state, *Connect HubSpot* / *Connect
Salesforce* (OAuth 2.0's authorization-code flow, with PKCE), adding an app with a token,
*Test connection*, and disconnecting (the steps themselves: :mod:`accord.service.connections`).

Every route needs the dashboard's session except ``/apps/callback``, where the vendor sends
the browser back: a top-level navigation from another site carries no SameSite=Strict
session cookie, so the callback is bound instead to the ``state`` it issued and to the
nonce cookie (SameSite=Lax) of the browser that started the connection.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accord import redact
from accord.config import ConfigError
from accord.connectors import registry
from accord.model import ConnectorError
from accord.service import manage
from accord.service.connections import ConnectError, Connections, add, check_name, finish, free_name
from accord.service.core import Service
from accord.service.web import Svc, dashboard_auth, render_page

NONCE = "accord_oauth"
PUBLIC_URL = "ACCORD_PUBLIC_URL"  # where browsers reach `accord run`, when a proxy is in front of it


def connections_of(request: Request) -> Connections:
    found: Connections | None = getattr(request.app.state, "connections", None)
    if found is None:
        found = request.app.state.connections = Connections()
    return found


def redirect_uri(request: Request) -> str:
    """The callback the vendor sends the browser back to (register it with the OAuth app)."""
    base = os.environ.get(PUBLIC_URL) or str(request.base_url)
    return base.rstrip("/") + "/apps/callback"


def config_file(svc: Service) -> str | None:
    """The name of the configuration file Accord was started with (None: none, as in the demo,
    whose configuration is built in memory)."""
    path = Path(svc.registry.file_cfg.source)
    return path.name if path.is_file() else None


def row(svc: Service, conns: Connections, name: str) -> dict[str, Any]:
    a = svc.cfg.apps[name]
    v = registry.vendor(a.type)
    source = svc.registry.source_of_app(name)
    return {"name": name, "type": a.type, "vendor": v.label, "account": _account(svc, name),
            "signs_in": v.signs_in(a), "source": source, "file": config_file(svc), "c": conns.state(svc, name),
            "syncs": [s.name for s in svc.cfg.syncs if name in (s.left.app, s.right.app)],
            "reconnect": v.connect is not None and source == "api"}


def _account(svc: Service, name: str) -> str:
    """The account an app signs in to: as it was connected, else as its syncs' passes last found
    it ("HubSpot account 12345678"); empty until a pass has run (or where the app cannot tell)."""
    given = getattr(svc.cfg.apps[name], "account", None)
    if given:
        return str(given)
    for s in svc.cfg.syncs:
        for side, end in (("left", s.left), ("right", s.right)):
            state = svc.store.sync_state(s.name) if end.app == name else None
            if state is not None and (account := (state.accounts or {}).get(side)):
                return str(account)
    return ""


def _vendors() -> list[registry.Vendor]:
    return [v for v in registry.vendors() if v.connect is not None or v.paste]


def apps_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)
    guarded = APIRouter(dependencies=[Depends(dashboard_auth)])
    _list_routes(guarded)
    _connect_routes(guarded)
    _add_routes(guarded)
    r.include_router(guarded)
    _callback_route(r)
    return r


def _list_routes(r: APIRouter) -> None:
    @r.get("/apps", response_model=None)
    def apps(request: Request, svc: Svc, connected: str = "") -> Response:
        conns = connections_of(request)
        return render_page(request, "apps.html", apps=[row(svc, conns, n) for n in svc.cfg.apps],
                           vendors=_vendors(), config_file=config_file(svc), connected=connected if connected in svc.cfg.apps else "")

    @r.post("/ui/apps/{name}/test", response_model=None)
    async def test(request: Request, name: str, svc: Svc) -> Response:
        if name not in svc.cfg.apps:
            raise HTTPException(404, f"no app named {name!r}")
        conns = connections_of(request)
        await conns.test(svc, name)
        return render_page(request, "_app_row.html", a=row(svc, conns, name), error=None)

    @r.post("/ui/apps/{name}/disconnect", response_model=None)
    async def disconnect(request: Request, name: str, svc: Svc) -> Response:
        try:
            await manage.delete_app(svc, name)
        except KeyError as e:
            raise HTTPException(404, f"no app named {name!r}") from e
        except manage.Conflict as e:  # in use, or defined in accord.yaml: say so in the row
            return render_page(request, "_app_row.html", a=row(svc, connections_of(request), name), error=str(e))
        connections_of(request).tested.pop(name, None)
        return Response(headers={"HX-Redirect": "/apps"})


def _oauth_defaults(svc: Service, vendor: registry.Vendor) -> dict[str, Any]:
    """The connect form's values: the ``oauth:`` client of accord.yaml for this vendor, if any."""
    assert vendor.connect is not None
    client = svc.cfg.oauth.get(vendor.type)
    return {"client_id": client.client_id if client else "", "has_secret": bool(client and client.client_secret),
            "base_url": (client.base_url if client and client.base_url else vendor.connect.base_url),
            "verify": client.verify if client and client.verify is not True else ""}


def _connect_routes(r: APIRouter) -> None:
    @r.get("/apps/connect/{vendor}", response_model=None)
    def connect_form(request: Request, vendor: str, svc: Svc, name: str = "") -> Response:
        v = _oauth_vendor(vendor)
        return render_page(request, "apps_connect.html", v=v, o=v.connect, f=_oauth_defaults(svc, v), error=None,
                           name=name or free_name(svc, vendor), callback=redirect_uri(request))

    @r.post("/apps/connect/{vendor}", response_model=None)
    async def connect(request: Request, vendor: str, svc: Svc, name: Annotated[str, Form()] = "",
                      client_id: Annotated[str, Form()] = "", client_secret: Annotated[str, Form()] = "",
                      base_url: Annotated[str, Form()] = "", verify: Annotated[str, Form()] = "") -> Response:
        v = _oauth_vendor(vendor)
        assert v.connect is not None
        configured = svc.cfg.oauth.get(vendor)
        secret = client_secret.strip() or (configured.client_secret if configured else None)
        client = registry.Client(client_id.strip(), secret or None, base_url.strip() or v.connect.base_url,
                                 verify.strip() or True)
        try:
            if not client.client_id:
                raise ConnectError(f"The OAuth app's {v.connect.client_label.lower()} is required.")
            url, nonce = connections_of(request).start(svc, vendor, name.strip(), client, redirect_uri(request))
        except ConnectError as e:
            f = {**_oauth_defaults(svc, v), "client_id": client.client_id, "base_url": client.base_url}
            return render_page(request, "apps_connect.html", 422, v=v, o=v.connect, f=f, error=str(e), name=name,
                               callback=redirect_uri(request))
        # a page that moves on to the vendor (not a redirect: the form's CSP allows posting only here)
        resp = render_page(request, "apps_go.html", v=v, url=url)
        resp.set_cookie(NONCE, nonce, max_age=600, httponly=True, samesite="lax", path="/apps/callback",
                        secure=request.url.scheme == "https")
        return resp


def _oauth_vendor(vendor: str) -> registry.Vendor:
    v = registry.find(vendor)
    if v is None or v.connect is None:
        raise HTTPException(404, f"{vendor!r} apps are not connected through OAuth")
    return v


def _add_routes(r: APIRouter) -> None:
    @r.get("/apps/add/{vendor}", response_model=None)
    def add_form(request: Request, vendor: str, svc: Svc) -> Response:
        v = _paste_vendor(vendor)
        return render_page(request, "apps_add.html", v=v, name=free_name(svc, vendor), values={}, error=None)

    @r.post("/apps/add/{vendor}", response_model=None)
    async def add_app(request: Request, vendor: str, svc: Svc) -> Response:
        v = _paste_vendor(vendor)
        form = {k: str(x) for k, x in (await request.form()).items()}
        name = form.get("name", "").strip()
        try:
            await add(svc, vendor, name, form)
        except (ConnectError, manage.Conflict) as e:
            error = str(e)
        except ConfigError as e:
            error = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in e.issues)
        else:
            return RedirectResponse(f"/apps?connected={name}", status_code=303)
        values = {e.name: form.get(e.name, "") for e in v.paste if not e.secret}
        return render_page(request, "apps_add.html", 422, v=v, name=name, values=values, error=redact.scrub(error))


def _paste_vendor(vendor: str) -> registry.Vendor:
    v = registry.find(vendor)
    if v is None or not v.paste:
        raise HTTPException(404, f"no form to add a {vendor!r} app")
    return v


def _callback_route(r: APIRouter) -> None:
    @r.get("/apps/callback", response_model=None)
    async def callback(request: Request, svc: Svc, state: str = "", code: str = "", error: str = "",
                       error_description: str = "") -> Response:
        conns = connections_of(request)
        try:
            pending = conns.take(state, request.cookies.get(NONCE, ""))
            label = registry.vendor(pending.vendor).label
            if error:
                raise ConnectError(f"{label} did not connect: {error_description or error}.")
            check_name(svc, pending.name, pending.vendor)
            name = await finish(svc, pending, code)
        except (ConnectError, ConnectorError, ConfigError, manage.Conflict) as e:
            hint = getattr(e, "hint", "")
            resp = _failed(request, redact.scrub(f"{e} {hint}".strip()))
        else:
            conns.tested.pop(name, None)
            resp = render_page(request, "apps_done.html", name=name, vendor=label)
        resp.delete_cookie(NONCE, path="/apps/callback")
        return resp


def _failed(request: Request, message: str) -> HTMLResponse:
    return render_page(request, "apps_done.html", 400, name=None, error=message)
