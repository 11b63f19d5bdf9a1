"""Apps on the dashboard: connecting an account through OAuth 2.0, and each app's connection state.

*Connect* (:meth:`Connections.start`) sends the browser to the vendor's consent page with a
fresh ``state``, a PKCE challenge where the vendor takes one, and a nonce cookie that binds the
answer to the browser that asked; the vendor sends it back to ``/apps/callback``, where
:func:`finish` exchanges the code for a refresh token and stores the app (sealed by the vault,
as every app made on the dashboard). An authorization under way lives 10 minutes, in memory:
the one ``accord run`` process that started it finishes it.

The state an app shows: *failing* while a sync using it failed because the app refused its
credentials (with the hint naming the one to replace) or its last *Test connection* failed;
*connected* when the test passed or a sync using it last ran well; else *not tested*.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from accord import redact
from accord.config import ConfigError, ConfigIssue
from accord.connectors import registry
from accord.connectors.oauth import authorization_url, exchange_code
from accord.model import AuthError
from accord.service import manage
from accord.service.core import Service

PENDING_TTL = 600.0
APP_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


@dataclass
class Pending:
    """One authorization under way: what the callback needs to finish it."""

    vendor: str
    name: str
    client: registry.Client
    verifier: str | None
    redirect_uri: str
    nonce: str  # the cookie of the browser that started it
    expires: float


@dataclass
class Connection:
    state: str = "untested"  # connected | failing | untested
    message: str = ""
    hint: str = ""
    category: str = ""
    checked: float | None = None


class ConnectError(Exception):
    """The connection cannot be made; the message says why and what to do."""


@dataclass
class Connections:
    pending: dict[str, Pending] = field(default_factory=dict)  # by OAuth state
    tested: dict[str, Connection] = field(default_factory=dict)  # by app: the last Test connection

    # -- the authorization-code flow -----------------------------------------------------------------
    def start(self, svc: Service, vendor: str, name: str, client: registry.Client, redirect_uri: str) -> tuple[str, str]:
        """(the consent page's URL, the nonce for the browser's cookie); ConnectError when it cannot start."""
        oauth = registry.vendor(vendor).connect
        if oauth is None:
            raise ConnectError(f"{vendor} apps cannot be connected through OAuth; add one with a token")
        check_name(svc, name, vendor)
        now = time.monotonic()
        self.pending = {k: p for k, p in self.pending.items() if p.expires > now}
        extra = {"optional_scope": oauth.optional_scope} if oauth.optional_scope else {}
        auth = authorization_url(oauth.authorize(client.base_url), client.client_id, redirect_uri, oauth.scope,
                                 pkce=oauth.pkce, **extra)
        nonce = secrets.token_urlsafe(24)
        self.pending[auth.state] = Pending(vendor, name, client, auth.verifier, redirect_uri, nonce,
                                           now + PENDING_TTL)
        return auth.url, nonce

    def take(self, state: str, nonce: str) -> Pending:
        """The authorization ``state`` names, once; ConnectError when unknown, expired or not this browser's."""
        pending = self.pending.pop(state, None)
        if pending is None or pending.expires < time.monotonic():
            raise ConnectError("This authorization is unknown or expired (10 minutes): connect the app again.")
        if not nonce or not secrets.compare_digest(nonce, pending.nonce):
            raise ConnectError("This authorization was started in another browser: connect the app again here.")
        return pending

    # -- states -------------------------------------------------------------------------------------------
    async def test(self, svc: Service, name: str) -> Connection:
        """Ask the app something small with its credentials (renewing them if they must)."""
        conn = svc.session.connector(name)
        try:
            await conn.check()
            result = Connection("connected", "The app answered.", checked=time.time())
        except Exception as e:
            result = Connection("failing", redact.scrub(f"{type(e).__name__}: {e}"), category=getattr(e, "kind", "error"),
                                hint=redact.scrub(getattr(e, "hint", "")), checked=time.time())
        self.tested[name] = result
        return result

    def state(self, svc: Service, name: str) -> Connection:
        tested = self.tested.get(name)
        for sync in list(svc.slots):
            p = svc.problem(sync)  # in distributed mode, read from the run history the workers keep
            if p and p.get("category") == "auth" and p.get("app") == name:
                at = float(p.get("at") or 0)
                if tested is None or (tested.checked or 0) < at:  # a test since then speaks for now
                    return Connection("failing", p["message"], p["hint"], "auth", at)
        if tested is not None:
            return tested
        for s in svc.cfg.syncs:
            runs = svc.store.runs(s.name, limit=1) if name in (s.left.app, s.right.app) else []
            if runs and runs[0].get("status") == "ok":
                return Connection("connected", f"sync {s.name} ran well")
        return Connection()


def check_name(svc: Service, name: str, vendor: str) -> None:
    """An app name fit for URLs and metrics, and free — or an app of the same vendor made on the
    dashboard, which a new connection replaces (reconnecting it)."""
    if not APP_NAME.match(name):
        raise ConnectError("An app name is letters, digits, _ . and - (up to 200).")
    source = svc.registry.source_of_app(name)
    if source == "file":
        raise ConnectError(f"App {name!r} is defined in {svc.registry.file_cfg.source}; choose another name.")
    if source == "api" and svc.cfg.apps[name].type != vendor:
        raise ConnectError(f"An app named {name!r} exists and is not a {vendor} app; choose another name.")


def free_name(svc: Service, vendor: str) -> str:
    """``hubspot``, else ``hubspot-2``, ``hubspot-3`` …: the default name of a new account."""
    n, name = 1, vendor
    while name in svc.cfg.apps:
        n += 1
        name = f"{vendor}-{n}"
    return name


async def finish(svc: Service, pending: Pending, code: str) -> str:
    """Exchange the code for tokens and store the app; returns its name. AuthError or ConfigError say why not."""
    oauth = registry.vendor(pending.vendor).connect
    assert oauth is not None
    c = pending.client
    token = await exchange_code(oauth.token(c.base_url), client_id=c.client_id, client_secret=c.client_secret,
                                code=code, redirect_uri=pending.redirect_uri, verifier=pending.verifier,
                                verify=c.verify)
    if not token.get("refresh_token"):
        raise AuthError("the vendor gave no refresh token", hint="Give the OAuth app the refresh_token / "
                        "offline_access scope, then connect again.")
    settings = oauth.settings(c, token)
    old = svc.cfg.apps.get(pending.name)
    was, now = getattr(old, "account", None), settings.get("account")
    if was and now and was != now:  # the syncs' index holds the other account's record ids
        raise ConnectError(f"App {pending.name!r} is {was}, and this is {now}: connect it under another name "
                           "(two accounts side by side), or disconnect the app first.")
    await manage.save_app(svc, pending.name, settings)
    return pending.name


async def add(svc: Service, vendor: str, name: str, fields: dict[str, str]) -> None:
    """Store an app from the "add with a token" form (blank optional fields left out)."""
    v = registry.vendor(vendor)
    check_name(svc, name, vendor)
    body: dict[str, Any] = {"type": vendor}
    for e in v.paste:
        value = fields.get(e.name, "").strip() if not e.multiline else fields.get(e.name, "").strip() + "\n"
        if value.strip():
            body[e.name] = value if e.multiline else value.strip()
        elif e.required:
            raise ConfigError("app", [ConfigIssue(e.name, f"{e.label} is required")])
    await manage.save_app(svc, name, body)


__all__ = ["PENDING_TTL", "ConnectError", "Connection", "Connections", "Pending", "add", "check_name", "finish",
           "free_name"]
