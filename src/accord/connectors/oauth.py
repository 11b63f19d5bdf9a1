"""Credentials that renew: the auth flows under the HTTP connectors (docs/connectors/README.md).

A connector's :class:`httpx.Auth` is a :class:`TokenAuth` over one :class:`Credential`, the
thing that gets an access token:

* :class:`StaticToken` — a token used as it is (a HubSpot private-app token, a xentral
  personal access token, a Salesforce session id). Given as ``token_file``, a 401 re-reads the
  file: a token rotated by whoever writes the file is picked up without a restart.
* :class:`RefreshToken` — the OAuth 2.0 refresh-token grant (HubSpot OAuth apps, Salesforce's
  web-server flow): client id, client secret and the refresh token the authorization-code
  flow handed out.
* :class:`JwtBearer` — the OAuth 2.0 JWT bearer grant (RFC 7523; Salesforce's choice for a
  headless server): an assertion signed with the connected app's private key (pyjwt).
* :class:`ClientCredentials` — the client-credentials grant (Salesforce, HubSpot).

:class:`TokenAuth` puts the token on every request, renews it shortly before it expires (when
the vendor says when: ``expires_in``) and **once on a 401** — the request was refused, so not
carried out, and is sent again with the new token. Concurrent requests refused with the same
stale token renew it once between them. Token requests go through the connector's HTTP layer
(:func:`accord.connectors.http.sender_of`), so they are rate limited, counted and retried like
every call, on whichever event loop the refused request was sent from.

When renewal itself is refused (a revoked refresh token, a certificate taken off the connected
app, a rotated secret), :class:`~accord.model.AuthError` carries a ``hint`` naming the
credential to replace; the service shows the sync failing with category ``auth`` and the
next pass after the credential is replaced goes on by itself.

authlib supplies the protocol's pieces (token request bodies, PKCE, token expiry; the
authorization-code flow of the dashboard in :func:`authorization_url` and :func:`exchange_code`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from accord import redact
from accord.connectors.http import OK, Answer, default_answer, sender_of, tls_context
from accord.model import AuthError, ConnectorError

log = logging.getLogger("accord.connectors")

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


@dataclass
class Token:
    """An access token and what came with it (Salesforce: ``instance_url``, ``id``)."""

    access_token: str
    expires_at: float | None = None  # time.time() it expires (None: the vendor does not say)
    extra: dict[str, Any] = field(default_factory=dict)

    def fresh(self, now: float | None = None) -> bool:
        """Not expiring within a tenth of its life (1 to 60 s): a call never leaves with a dying token."""
        if self.expires_at is None:
            return True
        life = float(self.extra.get("expires_in") or 1800)
        return (now or time.time()) < self.expires_at - max(1.0, min(60.0, life / 10))


def token_answer(resp: httpx.Response) -> Answer:
    """A token endpoint's answers: 429 and 5xx are retried (asking for a token is repeatable);
    every other refusal is read by the credential, which knows what to say about it."""
    if resp.status_code == 429 or resp.status_code >= 500:
        return default_answer(resp, "the token endpoint", resp.text[:200])
    return OK


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {"message": resp.text[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


def refusal(body: Mapping[str, Any]) -> tuple[str, str]:
    """(error code, description) of a token endpoint's refusal: OAuth's ``error`` and
    ``error_description``, or HubSpot's ``status`` and ``message``."""
    code = str(body.get("error") or body.get("status") or body.get("category") or "")
    text = str(body.get("error_description") or body.get("message") or code or "refused")
    return code, text


class Credential:
    """What gets an access token for one app. Subclasses say how (:meth:`grant`) and what to
    tell a person when the app refuses it (:meth:`hint`)."""

    #: the setting(s) a person replaces when the app refuses this credential
    setting = "the credential"
    renews = True  # a refused token can be replaced by asking again

    def __init__(self, app: str, vendor: str, token_url: str = "") -> None:
        self.app, self.vendor, self.token_url = app, vendor, token_url

    def grant(self) -> dict[str, str]:
        """The token request's form fields."""
        raise NotImplementedError

    def hint(self, code: str) -> str:
        return (f"Replace {self.setting} of app {self.app!r}: on the dashboard's Apps page, or in accord.yaml "
                "for an app defined there.")

    def refused(self, code: str, text: str) -> AuthError:
        return AuthError(f"{self.vendor} refused {self.setting} of app {self.app!r} ({code or 'refused'}: {text})",
                         hint=self.hint(code), app=self.app)

    async def fetch(self, request: httpx.Request) -> Token:
        """A new access token, asked for through the HTTP layer sending ``request``."""
        http = sender_of(request)
        if http is None:  # not sent through Http.send: no layer to ask through
            raise ConnectorError(f"{self.vendor}: a token request needs the connector's HTTP layer")
        form = self.grant()  # a JWT assertion is signed once per request, retries included
        resp = await http.send("POST", self.token_url, "oauth/token", authed=False, classify=token_answer,
                               content=prepare_token_request(**form), headers=FORM)
        body = _body(resp)
        if resp.status_code >= 400 or not body.get("access_token"):
            raise self.refused(*refusal(body))
        return self.accept(body)

    def accept(self, body: dict[str, Any]) -> Token:
        token = OAuth2Token(dict(body))  # authlib: expires_in → expires_at
        redact.register([str(body["access_token"])])  # never in a log line or a run's error
        expires = token.get("expires_at")
        return Token(str(body["access_token"]), float(expires) if expires else None, dict(body))


class StaticToken(Credential):
    """A token used as it is; from ``token_file`` when given (re-read on a 401)."""

    def __init__(self, app: str, vendor: str, token: str | None = None, token_file: str | None = None,
                 setting: str = "the token", where: str = "") -> None:
        super().__init__(app, vendor)
        self.token, self.file, self.where = token, token_file, where
        self.setting = f"{setting} ({token_file})" if token_file else setting
        self.renews = token_file is not None

    def hint(self, code: str) -> str:
        made = f" Get a new one in {self.where}." if self.where else ""
        if self.file:
            return f"Write the app's current token to {self.file}: Accord reads it again on the next call.{made}"
        return super().hint(code) + made

    def current(self) -> str:
        if self.file is None:
            return self.token or ""
        try:
            return Path(self.file).read_text().strip()
        except OSError as e:
            raise AuthError(f"{self.vendor} app {self.app!r}: cannot read {self.file}: {e.strerror}",
                            hint=f"Put the token in {self.file} (readable by Accord).", app=self.app) from e

    async def fetch(self, request: httpx.Request) -> Token:
        return Token(self.current())


class RefreshToken(Credential):
    """OAuth 2.0 refresh-token grant; a refresh token the app rotates is kept (in memory)."""

    setting = "the refresh token"

    def __init__(self, app: str, vendor: str, token_url: str, client_id: str, client_secret: str | None,
                 refresh_token: str) -> None:
        super().__init__(app, vendor, token_url)
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token

    def grant(self) -> dict[str, str]:
        out = {"grant_type": "refresh_token", "refresh_token": self.refresh_token, "client_id": self.client_id}
        if self.client_secret:
            out["client_secret"] = self.client_secret
        return out

    def hint(self, code: str) -> str:
        if code.lower() in ("invalid_client", "invalid_client_id", "bad_client_id", "unauthorized_client"):
            return (f"The client id or secret of app {self.app!r} was refused: replace client_id and client_secret "
                    "with the OAuth app's current ones, then reconnect it on the Apps page.")
        return (f"The refresh token of app {self.app!r} was revoked or expired (the app was uninstalled, or the "
                "user's access removed): reconnect it on the dashboard's Apps page (Reconnect), or replace "
                "refresh_token in accord.yaml for an app defined there.")

    def accept(self, body: dict[str, Any]) -> Token:
        rotated = body.get("refresh_token")
        if rotated and rotated != self.refresh_token:
            redact.register([str(rotated)])
            log.warning("%s app %r: the refresh token was rotated; the new one is kept until Accord stops "
                        "(turn refresh token rotation off for this app, or reconnect after a restart)",
                        self.vendor, self.app)
            self.refresh_token = str(rotated)
        return super().accept(body)


class ClientCredentials(Credential):
    """OAuth 2.0 client-credentials grant."""

    setting = "the client id and secret"

    def __init__(self, app: str, vendor: str, token_url: str, client_id: str, client_secret: str) -> None:
        super().__init__(app, vendor, token_url)
        self.client_id, self.client_secret = client_id, client_secret

    def grant(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}

    def hint(self, code: str) -> str:
        return (f"The client id or secret of app {self.app!r} was refused, or the client-credentials flow is off: "
                "replace client_id and client_secret with the connected app's consumer key and secret, and check "
                "that 'Enable Client Credentials Flow' and its run-as user are set.")


class JwtBearer(Credential):
    """OAuth 2.0 JWT bearer grant: an assertion (iss: client id, sub: username, aud: the login
    URL, exp: in 3 minutes) signed RS256 with the private key whose certificate the connected
    app holds. ``private_key_file`` is re-read at each renewal: a replaced key file is used at once."""

    setting = "the private key"

    def __init__(self, app: str, vendor: str, token_url: str, client_id: str, username: str, audience: str,
                 private_key: str | None = None, private_key_file: str | None = None) -> None:
        super().__init__(app, vendor, token_url)
        self.client_id, self.username, self.audience = client_id, username, audience
        self.private_key, self.key_file = private_key, private_key_file
        if private_key_file:
            self.setting = f"the private key ({private_key_file})"

    def key(self) -> str:
        if self.key_file is None:
            return self.private_key or ""
        try:
            return Path(self.key_file).read_text()
        except OSError as e:
            raise AuthError(f"{self.vendor} app {self.app!r}: cannot read {self.key_file}: {e.strerror}",
                            hint=f"Put the connected app's private key (PEM) in {self.key_file}.", app=self.app) from e

    def assertion(self) -> str:
        import jwt  # pyjwt: only apps on this flow need it loaded

        claims = {"iss": self.client_id, "sub": self.username, "aud": self.audience, "exp": int(time.time()) + 180}
        try:
            return jwt.encode(claims, self.key(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as e:
            raise AuthError(f"{self.vendor} app {self.app!r}: the private key cannot sign ({e})",
                            hint=f"Replace {self.setting} with the PEM private key of the connected app's "
                            "certificate.", app=self.app) from e

    def grant(self) -> dict[str, str]:
        return {"grant_type": JWT_BEARER, "assertion": self.assertion()}

    def hint(self, code: str) -> str:
        return (f"The JWT assertion of app {self.app!r} was refused: check that the connected app's certificate "
                f"belongs to {self.setting}, that its consumer key is client_id, that user {self.username!r} "
                "exists and is pre-authorized (connected app › Manage › Profiles or Permission Sets; 'Admin "
                "approved users are pre-authorized'), and that login_url is the org's login host.")


class TokenAuth(httpx.Auth):
    """``Authorization: Bearer`` from a :class:`Credential`: renewed before it expires and once on
    a 401, and the refused request sent again."""

    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.token: Token | None = None
        self.renewals = 0  # tokens fetched after the first (expired, or refused with a 401)
        # one lock per event loop: a HubSpot scan reads ahead on a thread of its own
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def current(self, request: httpx.Request, refused: str | None = None) -> str:
        """A token fit to send: the one held, unless it is about to expire or is ``refused``."""
        held = self.token
        if held is not None and held.access_token != refused and held.fresh():
            return held.access_token
        async with self._lock():
            held = self.token  # another request may have renewed it while this one waited
            if held is not None and held.access_token != refused and held.fresh():
                return held.access_token
            token = await self.credential.fetch(request)
            if refused is not None and token.access_token == refused:  # nothing new to send
                raise self.credential.refused("401", "the token was refused and no other can be had")
            if held is not None:
                self.renewals += 1
            self.token = token
            return token.access_token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.current(request)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()  # the refusal's body says why
        if not self.credential.renews:
            raise self.credential.refused(*refusal(_body(response)))
        # expired or revoked: not carried out, so safe to send again, once
        request.headers["Authorization"] = f"Bearer {await self.current(request, refused=token)}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            raise self.credential.refused(*refusal(_body(response)))

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")


# -- the authorization-code flow (the dashboard's "Connect") ---------------------------------------------
@dataclass(frozen=True)
class Authorization:
    """One authorization request under way: where to send the browser, and what the callback needs."""

    url: str
    state: str
    verifier: str | None  # PKCE code verifier (None: the vendor takes no PKCE)


def authorization_url(authorize_url: str, client_id: str, redirect_uri: str, scope: str = "",
                      pkce: bool = True, **extra: str) -> Authorization:
    """The vendor's consent page for this client, with a fresh ``state`` and (``pkce``) an S256 challenge."""
    state = generate_token(32)
    verifier = generate_token(64) if pkce else None
    params: dict[str, str] = dict(extra)
    if verifier is not None:
        params.update(code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    url = prepare_grant_uri(authorize_url, client_id, "code", redirect_uri=redirect_uri, scope=scope or None,
                            state=state, **params)
    return Authorization(url, state, verifier)


async def exchange_code(token_url: str, *, client_id: str, client_secret: str | None, code: str, redirect_uri: str,
                        verifier: str | None, verify: bool | str = True, timeout: float = 30.0,
                        transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any]:
    """The token endpoint's answer to an authorization code (access and refresh token, and what the
    vendor adds); AuthError says why it was refused."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id}
    if client_secret:
        form["client_secret"] = client_secret
    if verifier:
        form["code_verifier"] = verifier
    async with httpx.AsyncClient(timeout=timeout, verify=tls_context(verify), transport=transport) as client:
        try:
            resp = await client.post(token_url, data=form, headers=FORM)
        except httpx.HTTPError as e:
            raise ConnectorError(f"the token endpoint {token_url} could not be reached: {e}") from e
    body = _body(resp)
    if resp.status_code >= 400 or not body.get("access_token"):
        code_, text = refusal(body)
        raise AuthError(f"the token endpoint refused the authorization code ({code_ or resp.status_code}: {text})",
                        hint="Check the client id and secret, and that the redirect URI registered with the app "
                        f"is {redirect_uri}.")
    redact.register([str(v) for k, v in body.items() if k in ("access_token", "refresh_token", "id_token")])
    return body


def salesforce_signature(client_secret: str, id_url: str, issued_at: str) -> str:
    """Salesforce's ``signature`` of a token answer: base64 HMAC-SHA256 of id + issued_at under the
    consumer secret (the sandbox signs with it; a client may check it)."""
    digest = hmac.new(client_secret.encode(), f"{id_url}{issued_at}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


__all__ = ["JWT_BEARER", "Authorization", "ClientCredentials", "Credential", "JwtBearer", "RefreshToken",
           "StaticToken", "Token", "TokenAuth", "authorization_url", "exchange_code", "refusal",
           "salesforce_signature", "token_answer"]
