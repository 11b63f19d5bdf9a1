"""OAuth client credentials: ``POST /v1/oauth/access_token``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import SnovioCore
from accord.sandbox.snovio.routes.common import params_of


def register(app: FastAPI, sb: SnovioCore) -> None:
    @app.post("/v1/oauth/access_token")
    async def access_token(request: Request) -> JSONResponse:
        p = await params_of(request)
        if p.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "The authorization grant "
                                 "type is not supported by the authorization server.", "message": "The authorization "
                                 "grant type is not supported by the authorization server."}, status_code=400)
        cid, secret = str(p.get("client_id") or ""), str(p.get("client_secret") or "")
        if not sb.credentials_ok(cid, secret):
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed",
                                 "message": "Client authentication failed"}, status_code=401)
        ttl = sb.settings.token_ttl
        return JSONResponse({"access_token": sb.store.issue_token(cid, ttl), "token_type": "Bearer",
                             "expires_in": int(ttl)})
