"""Salesforce's OAuth 2.0 endpoints: ``/services/oauth2/authorize`` and ``/services/oauth2/token``.

The authorize page is the "Allow Access?" page a user sees when a connected app asks for access
(Allow / Deny; PKCE S256 when the client sends a challenge). The token endpoint answers the
authorization-code, refresh-token, JWT bearer (``urn:ietf:params:oauth:grant-type:jwt-bearer``:
an RS256 assertion whose iss is the consumer key, sub the username, aud the login URL, exp
within minutes, checked against the connected app's certificate) and client-credentials grants
with ``access_token``, ``instance_url``, ``id``, ``token_type``, ``issued_at`` and
``signature`` (the web-server flow adds ``refresh_token`` and ``scope``); refusals are OAuth's
``{"error", "error_description"}``. Sessions expire after ``token_ttl`` seconds (the gate then
answers 401 ``INVALID_SESSION_ID``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from accord.connectors.oauth import JWT_BEARER, salesforce_signature
from accord.sandbox.oauth import consent_page, error_page, redirect
from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.tls import public_key_of

LOGIN_HOSTS = ("https://login.salesforce.com", "https://test.salesforce.com")


def _refuse(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def register(app: FastAPI, sb: SalesforceCore) -> None:
    _consent_routes(app, sb)
    _token_routes(app, sb)


def _consent_routes(app: FastAPI, sb: SalesforceCore) -> None:
    @app.get("/services/oauth2/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("response_type") != "code":
            return HTMLResponse(error_page("OAuth error", "error=unsupported_response_type"), 400)
        if not sb.oauth.known(q.get("client_id", "")):
            return HTMLResponse(error_page("OAuth error", "error=invalid_client_id&error_description=client "
                                           "identifier invalid"), 400)
        if not q.get("redirect_uri"):
            return HTMLResponse(error_page("OAuth error", "error=redirect_uri_mismatch"), 400)
        fields = {k: q.get(k, "") for k in ("client_id", "redirect_uri", "scope", "state", "code_challenge",
                                            "code_challenge_method")}
        scopes = [{"api": "Manage user data via APIs (api)", "refresh_token": "Perform requests at any time "
                   "(refresh_token, offline_access)"}.get(s, s) for s in (q.get("scope") or "api refresh_token").split()]
        page = consent_page(title="Allow Access?", client="Accord", account=f"{sb.settings.username} "
                            f"(org {sb.settings.org_id})", scopes=scopes, action="/services/oauth2/authorize",
                            fields=fields, note="To revoke access at any time, go to your personal settings.")
        return HTMLResponse(page)

    @app.post("/services/oauth2/authorize", response_model=None)
    async def decide(request: Request) -> Response:
        f = {k: str(v) for k, v in (await request.form()).items()}
        uri, state = f.get("redirect_uri", ""), f.get("state", "")
        if not sb.oauth.known(f.get("client_id", "")) or not uri:
            return HTMLResponse(error_page("OAuth error", "error=invalid_client_id"), 400)
        if f.get("decision") != "allow":
            return RedirectResponse(redirect(uri, {"error": "access_denied", "error_description":
                                                   "end-user denied authorization", "state": state}), 302)
        code = sb.oauth.new_code(f["client_id"], uri, f.get("scope", ""), f.get("code_challenge"),
                                 f.get("code_challenge_method", "plain"))
        return RedirectResponse(redirect(uri, {"code": code, "state": state}), 302)


def _session(sb: SalesforceCore, request: Request, client_id: str, refresh: str | None,
             scope: str = "api", hand_out: bool = True) -> JSONResponse:
    """A new session; ``refresh``: the refresh token it came from (handed out unless ``hand_out`` is False)."""
    access, _ = sb.oauth.new_access(client_id, refresh)
    s = sb.settings
    id_url = f"{_base(request)}/id/{s.org_id}/{s.user_id}"
    issued_at = str(int(time.time() * 1000))
    body: dict[str, Any] = {"access_token": access, "signature": salesforce_signature(s.client_secret, id_url,
                                                                                     issued_at),
                            "scope": scope, "instance_url": _base(request), "id": id_url, "token_type": "Bearer",
                            "issued_at": issued_at}
    if refresh is not None and hand_out:
        body["refresh_token"] = refresh
    return JSONResponse(body)


def _jwt(sb: SalesforceCore, request: Request, assertion: str) -> JSONResponse:
    import jwt

    s = sb.settings
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _refuse("invalid_grant", "invalid assertion")
    if not sb.oauth.known(str(claims.get("iss", ""))):
        return _refuse("invalid_client_id", "client identifier invalid")
    if s.jwt_certificate is None:
        return _refuse("invalid_app_access", "user is not admin approved to access this app")
    try:
        jwt.decode(assertion, public_key_of(s.jwt_certificate), algorithms=[header.get("alg", "RS256")],
                   audience=[*LOGIN_HOSTS, _base(request)], options={"require": ["exp", "sub", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        return _refuse("invalid_grant", "expired authorization code")
    except jwt.InvalidAudienceError:
        return _refuse("invalid_grant", "audience is invalid")
    except (jwt.PyJWTError, ValueError):
        return _refuse("invalid_grant", "invalid assertion")
    if float(claims["exp"]) > time.time() + 300:
        return _refuse("invalid_grant", "invalid assertion: exp too far in the future")
    if claims.get("sub") != s.username:
        return _refuse("invalid_grant", "user hasn't approved this consumer")
    return _session(sb, request, str(claims["iss"]), None)


def _token_routes(app: FastAPI, sb: SalesforceCore) -> None:
    @app.post("/services/oauth2/token", response_model=None)
    async def token(request: Request) -> Response:
        f = {k: str(v) for k, v in (await request.form()).items()}
        grant, cid = f.get("grant_type", ""), f.get("client_id", "")
        if grant == JWT_BEARER:
            return _jwt(sb, request, f.get("assertion", ""))
        if grant not in ("authorization_code", "refresh_token", "client_credentials"):
            return _refuse("unsupported_grant_type", "grant type not supported")
        if not sb.oauth.known(cid):
            return _refuse("invalid_client_id", "client identifier invalid")
        if "client_secret" in f and not sb.oauth.client_ok(cid, f["client_secret"]):
            return _refuse("invalid_client", "invalid client credentials")
        if grant == "authorization_code":
            got = sb.oauth.redeem(f.get("code", ""), cid, f.get("redirect_uri", ""), f.get("code_verifier"))
            if got == "redirect_uri":
                return _refuse("redirect_uri_mismatch", "redirect_uri must match configuration")
            if isinstance(got, str):
                return _refuse("invalid_grant", "invalid authorization code")
            return _session(sb, request, cid, sb.oauth.new_refresh(cid), got.scope or "api refresh_token")
        if grant == "refresh_token":
            refresh = f.get("refresh_token", "")
            if sb.oauth.refresh_client(refresh) != cid:
                return _refuse("invalid_grant", "expired access/refresh token")
            return _session(sb, request, cid, refresh, hand_out=False)  # the refresh token goes on (no rotation)
        if not sb.settings.client_credentials or "client_secret" not in f:
            return _refuse("invalid_grant", "no client credentials user enabled")
        return _session(sb, request, cid, None)
