"""HubSpot's OAuth 2.0: the install (consent) page and the token endpoint.

``GET /oauth/authorize`` is the page app.hubspot.com shows when a user installs an app: the app,
the account and the scopes, and Connect / Cancel; it sends the browser back to the app's redirect
URI with ``code`` (or ``error=access_denied``). ``POST /oauth/v1/token`` answers the
authorization-code, refresh-token and client-credentials grants in HubSpot's shape
(``token_type``, ``refresh_token``, ``access_token``, ``expires_in``; errors as ``status`` and
``message``, e.g. ``BAD_REFRESH_TOKEN``), and ``GET /oauth/v1/access-tokens/{token}`` says whose
token it is. Access tokens expire after ``token_ttl`` seconds (the gate answers 401
``EXPIRED_AUTHENTICATION``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.oauth import consent_page, error_page, redirect

SCOPES = {"crm.objects.contacts.read": "View contacts", "crm.objects.contacts.write": "Edit contacts",
          "crm.objects.companies.read": "View companies", "crm.objects.companies.write": "Edit companies",
          "crm.objects.deals.read": "View deals", "crm.objects.deals.write": "Edit deals",
          "crm.schemas.contacts.read": "View property settings", "crm.lists.read": "View lists", "oauth": "Basic OAuth",
          "tickets": "View and edit tickets", "e-commerce": "View and edit products and line items",
          "crm.objects.custom.read": "View custom objects", "crm.objects.custom.write": "Edit custom objects",
          "crm.schemas.custom.read": "View custom object definitions", "sales-email-read": "Read email activities",
          "timeline": "Write events on records' timelines"}


def _bad(status: str, message: str, code: int = 400) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "correlationId": str(uuid.uuid4()),
                         "requestId": uuid.uuid4().hex}, status_code=code)


def register(app: FastAPI, sb: HubSpotCore) -> None:
    _consent_routes(app, sb)
    _token_routes(app, sb)


def _consent_routes(app: FastAPI, sb: HubSpotCore) -> None:
    @app.get("/oauth/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if not sb.oauth.known(q.get("client_id", "")):
            return HTMLResponse(error_page("Authorization failed", "Unknown or missing client_id"), 400)
        if not q.get("redirect_uri"):
            return HTMLResponse(error_page("Authorization failed", "Missing redirect_uri"), 400)
        # the sandbox account has every tier, so optional scopes are granted with the required ones
        asked = q.get("scope", "").split() + [s for s in q.get("optional_scope", "").split()
                                              if s not in q.get("scope", "").split()]
        scopes = [SCOPES.get(s, s) for s in asked]
        fields = {k: q.get(k, "") for k in ("client_id", "redirect_uri", "state", "code_challenge",
                                            "code_challenge_method")} | {"scope": " ".join(asked)}
        page = consent_page(title="Connect to HubSpot", client="Accord", scopes=scopes, action="/oauth/authorize",
                            account=f"{sb.settings.hub_domain} (Hub ID {sb.settings.portal_id})", fields=fields,
                            allow="Connect app", deny="Cancel")
        return HTMLResponse(page)

    @app.post("/oauth/authorize", response_model=None)
    async def decide(request: Request) -> Response:
        f = {k: str(v) for k, v in (await request.form()).items()}
        uri, state = f.get("redirect_uri", ""), f.get("state", "")
        if not sb.oauth.known(f.get("client_id", "")) or not uri:
            return HTMLResponse(error_page("Authorization failed", "Unknown client or redirect_uri"), 400)
        if f.get("decision") != "allow":
            return RedirectResponse(redirect(uri, {"error": "access_denied", "error_description": "The user "
                                                   "declined to install the app", "state": state}), 302)
        code = sb.oauth.new_code(f["client_id"], uri, f.get("scope", ""), f.get("code_challenge"),
                                 f.get("code_challenge_method", "plain"))
        return RedirectResponse(redirect(uri, {"code": code, "state": state}), 302)


def _tokens(sb: HubSpotCore, client_id: str, refresh: str | None) -> JSONResponse:
    access, ttl = sb.oauth.new_access(client_id, refresh)
    body: dict[str, Any] = {"token_type": "bearer", "access_token": access, "expires_in": int(ttl),
                            "hub_id": sb.settings.portal_id}
    if refresh is not None:
        body["refresh_token"] = refresh
    return JSONResponse(body)


def _token_routes(app: FastAPI, sb: HubSpotCore) -> None:
    @app.post("/oauth/v1/token", response_model=None)
    async def token(request: Request) -> Response:
        f = {k: str(v) for k, v in (await request.form()).items()}
        grant, cid = f.get("grant_type", ""), f.get("client_id", "")
        if not sb.oauth.known(cid):
            return _bad("BAD_CLIENT_ID", "missing or unknown client id")
        if not sb.oauth.client_ok(cid, f.get("client_secret")):
            return _bad("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if grant == "authorization_code":
            got = sb.oauth.redeem(f.get("code", ""), cid, f.get("redirect_uri", ""), f.get("code_verifier"))
            if got == "redirect_uri":
                return _bad("BAD_REDIRECT_URI", "redirect_uri does not match the one authorized")
            if got == "verifier":
                return _bad("BAD_AUTH_CODE", "code_verifier does not match the code_challenge")
            if isinstance(got, str):
                return _bad("BAD_AUTH_CODE", "missing or unknown auth code")
            return _tokens(sb, cid, sb.oauth.new_refresh(cid))
        if grant == "refresh_token":
            refresh = f.get("refresh_token", "")
            if sb.oauth.refresh_client(refresh) != cid:
                return _bad("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            return _tokens(sb, cid, refresh)
        if grant == "client_credentials":
            return _tokens(sb, cid, None)
        return _bad("BAD_GRANT_TYPE", f"unsupported grant_type {grant!r}")

    @app.get("/oauth/v1/access-tokens/{token}", response_model=None)
    async def token_info(token: str) -> Response:
        issued = sb.oauth.info(token)
        if issued is None or sb.oauth.check(token) != "ok":
            return _bad("BAD_ACCESS_TOKEN", "missing or unknown access token", 404)
        s = sb.settings
        return JSONResponse({"token": token, "user": "sandbox-user@example.com", "hub_domain": s.hub_domain,
                             "scopes": list(SCOPES), "hub_id": s.portal_id, "app_id": s.app_id,
                             "expires_in": int(issued.expires - time.time()), "user_id": s.user_id,
                             "token_type": "access"})
