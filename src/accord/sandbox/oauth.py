"""The authorization server the HubSpot and Salesforce sandboxes share: consent, codes, tokens.

What a vendor's real one does, in memory: an authorize page with Allow / Deny that sends the
browser back to the client's redirect URI with a code (PKCE S256 checked when the client sent
a challenge), refresh tokens that last until revoked, and access tokens that expire after
``ttl`` seconds (``accord sandbox --token-ttl``). The vendors' routes (``routes/oauth.py`` of
each sandbox) give the answers each vendor's shape; this module only keeps the state.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import FastAPI

CODE_TTL = 600.0  # an authorization code is redeemable for 10 minutes, once


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    method: str
    expires: float


@dataclass
class Issued:
    """An access token: its client, when it expires (time.time()), the refresh token it came from."""

    client_id: str
    expires: float
    refresh: str | None = None


@dataclass
class OAuthServer:
    """Clients (id → secret) and what was issued to them. ``ttl()`` is read at each issue, so a
    changed setting applies to the next token."""

    clients: Callable[[], dict[str, str]]  # read at each use: a changed setting applies at once
    ttl: Callable[[], float]
    prefix: str  # issued access tokens start with it: any other bearer is not this server's
    codes: dict[str, Code] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token → client id
    access: dict[str, Issued] = field(default_factory=dict)
    issued: int = 0  # access tokens issued
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- clients ---------------------------------------------------------------------------------
    def known(self, client_id: str) -> bool:
        return client_id in self.clients()

    def client_ok(self, client_id: str, secret: str | None) -> bool:
        want = self.clients().get(client_id)
        return want is not None and secret is not None and secrets.compare_digest(want, secret)

    # -- codes -------------------------------------------------------------------------------------
    def new_code(self, client_id: str, redirect_uri: str, scope: str, challenge: str | None, method: str) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = Code(client_id, redirect_uri, scope, challenge or None, method or "plain",
                                    time.time() + CODE_TTL)
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str, verifier: str | None) -> Code | str:
        """The code's grant, or why it cannot be redeemed ("code", "redirect_uri", "verifier")."""
        with self.lock:
            grant = self.codes.pop(code, None)  # once only, whatever the outcome
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return "code"
        if grant.redirect_uri != redirect_uri:
            return "redirect_uri"
        if grant.challenge is not None:
            if not verifier:
                return "verifier"
            got = create_s256_code_challenge(verifier) if grant.method == "S256" else verifier
            if not secrets.compare_digest(got, grant.challenge):
                return "verifier"
        return grant

    # -- tokens ------------------------------------------------------------------------------------
    def new_refresh(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh[token] = client_id
        return token

    def refresh_client(self, token: str) -> str | None:
        with self.lock:
            return self.refresh.get(token)

    def new_access(self, client_id: str, refresh: str | None = None) -> tuple[str, float]:
        """(a new access token, its lifetime in seconds)."""
        ttl = float(self.ttl())
        token = self.prefix + secrets.token_urlsafe(40)
        with self.lock:
            now = time.time()
            # forget long-expired tokens: a long run with short-lived tokens must not pile them up
            if len(self.access) > 10_000:
                self.access = {k: v for k, v in self.access.items() if v.expires > now - 3600}
            self.access[token] = Issued(client_id, now + ttl, refresh)
            self.issued += 1
        return token, ttl

    def check(self, token: str) -> str:
        """``ok``, ``expired`` (by how long: see :meth:`expired_for`), ``unknown`` (looks like ours,
        never issued or revoked) or ``foreign`` (not one of this server's: a private-app token)."""
        if not token.startswith(self.prefix):
            return "foreign"
        with self.lock:
            issued = self.access.get(token)
        if issued is None:
            return "unknown"
        return "ok" if issued.expires > time.time() else "expired"

    def expired_for(self, token: str) -> float:
        with self.lock:
            issued = self.access.get(token)
        return max(0.0, time.time() - issued.expires) if issued else 0.0

    def info(self, token: str) -> Issued | None:
        with self.lock:
            return self.access.get(token)

    def expire_tokens(self) -> int:
        """Every access token expires now (the next call with one gets the vendor's 401)."""
        with self.lock:
            now = time.time()
            for issued in self.access.values():
                issued.expires = min(issued.expires, now - 1)
            return len(self.access)

    def revoke(self, refresh: str | None = None) -> int:
        """Revoke one refresh token (None: all of them), and the access tokens it gave."""
        with self.lock:
            gone = [r for r in self.refresh if refresh is None or r == refresh]
            for r in gone:
                del self.refresh[r]
            self.access = {k: v for k, v in self.access.items() if v.refresh not in gone}
            return len(gone)


def token_admin_routes(app: FastAPI, server: OAuthServer) -> None:
    """The test hooks every sandbox that issues tokens has: expire them all, revoke them all."""

    @app.post("/_sandbox/oauth/expire")
    async def expire_tokens() -> dict[str, int]:
        return {"expired": server.expire_tokens()}

    @app.post("/_sandbox/oauth/revoke")
    async def revoke() -> dict[str, int]:
        return {"revoked": server.revoke()}


def redirect(uri: str, params: Mapping[str, str]) -> str:
    """``uri`` with ``params`` added to its query."""
    return uri + ("&" if "?" in uri else "?") + urlencode({k: v for k, v in params.items() if v is not None})


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:34rem;margin:3rem auto;color:#213343}}
.box{{border:1px solid #cbd6e2;border-radius:.4rem;padding:1.5rem}} button{{padding:.5rem 1.2rem;margin-right:.6rem}}
li{{margin:.2rem 0}} .who{{color:#516f90}}</style></head>
<body><div class="box"><h1>{title}</h1>
<p><strong id="client">{client}</strong> wants access to <span class="who" id="account">{account}</span>.</p>
<p>It will be able to:</p><ul id="scopes">{scopes}</ul>
<form method="post" action="{action}">{hidden}
<button type="submit" name="decision" value="allow" id="allow">{allow}</button>
<button type="submit" name="decision" value="deny" id="deny">{deny}</button>
</form><p class="who">{note}</p></div></body></html>"""


def consent_page(*, title: str, client: str, account: str, scopes: list[str], action: str,
                 fields: Mapping[str, str], allow: str = "Allow", deny: str = "Deny", note: str = "") -> str:
    """The vendor's consent page: who asks, for which account, what it may do, and Allow / Deny
    (a form posting ``fields`` back with ``decision``)."""
    e = html.escape
    hidden = "".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in fields.items() if v)
    items = "".join(f"<li>{e(s)}</li>" for s in scopes) or "<li>read and write your records</li>"
    return _PAGE.format(title=e(title), client=e(client), account=e(account), scopes=items, action=e(action),
                        hidden=hidden, allow=e(allow), deny=e(deny), note=e(note))


def error_page(title: str, message: str) -> str:
    e = html.escape
    return f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{e(title)}</title></head>" \
           f"<body><h1>{e(title)}</h1><p id=\"error\">{e(message)}</p></body></html>"


__all__ = ["CODE_TTL", "Code", "Issued", "OAuthServer", "consent_page", "error_page", "redirect"]
