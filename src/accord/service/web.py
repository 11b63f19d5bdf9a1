"""What the service's routes share: authentication (the API token, dashboard sessions, the
throttle on failed attempts, CSRF), the ``Svc`` dependency, the JSON shapes of syncs and
records, and the dashboard's page rendering.

Auth: every ``/api`` route and dashboard page needs the API token as ``Authorization:
Bearer TOKEN``, or the ``accord_session`` cookie the dashboard's login form sets: a random
session id stored (hashed) in the index, expiring after :data:`SESSION_TTL`, revoked by
logging out and by changing the API token — never the token itself. Wrong bearer tokens and
failed logins are counted per client address; past a few, the address must wait, longer
after each further failure (:class:`Throttle`, answered 429 with ``Retry-After``). Webhooks
are authenticated by the vendor's signature instead; ``/healthz`` is open; ``/metrics``
is open too (scrapers rarely send tokens; bind to a private interface or proxy it).

Layering: app.py builds the app from the routers in routes/, which build on this module;
nothing here imports a router or the app.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from accord import redact
from accord.config import ConfigError, SyncConfig, object_label
from accord.engine.mapping import BrokenMapping
from accord.index.store import Link
from accord.model import Side
from accord.report import activities_text
from accord.runner import ManualSyncRefused, PassResult
from accord.runner.index_guard import index_issue
from accord.service.core import Service

COOKIE = "accord_session"
CSRF_HEADER = "x-csrf-token"
STATUSES = ("syncing", "failing", "excluded", "queued")
MIN_TOKEN_LENGTH = 24  # `accord run` refuses a shorter ACCORD_API_TOKEN
SESSION_TTL = 12 * 3600.0  # a dashboard login lasts a working day
ONE_TIME_TTL = 3600.0  # a one-time login link (`accord demo` prints one) works once, within an hour
PKG = Path(__file__).parent

templates = Jinja2Templates(directory=str(PKG / "templates"))  # autoescaped: every page is built here
ARROWS = {"two-way": "↔", "left-to-right": "→", "right-to-left": "←"}


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """A stored UTC time as people read it: "12 s ago", "5 min ago", "3 h ago", else the date."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = ((now or datetime.now(UTC)) - when).total_seconds()
    if secs < 0:
        return "just now"
    if secs < 60:
        return f"{int(secs)} s ago"
    if secs < 3600:
        return f"{int(secs // 60)} min ago"
    if secs < 86400:
        return f"{int(secs // 3600)} h ago"
    return when.strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["ago"] = ago

# Why a sync's last job stopped (problem_of's category), as its summary row says it
PROBLEMS = {"auth": "credentials refused", "unreachable": "app unreachable", "rate_limited": "rate limited",
            "budget": "API budget spent", "container_missing": "list or table missing", "transient": "app error"}
templates.env.filters["problem"] = lambda category: PROBLEMS.get(str(category), "error")
templates.env.filters["num"] = lambda n: f"{int(n or 0):,}"  # 12,345

# A status/reason key of the index (``excluded/no_match_key``) as a person reads it on the
# dashboard; the API and exports keep the keys.
REASONS = {
    "filtered": "left out by a filter", "no_match_key": "no match key (e.g. no e-mail)",
    "duplicate": "duplicate in its app", "unmapped_stage": "stage not mapped", "not_in_list": "not in the sync's list",
    "deleted": "deleted", "waiting_for_association": "waiting for an associated record",
    "validation": "value rejected", "duplicates": "duplicate in the other app", "permissions": "no permission",
    "custom_code": "rejected by the app's own rules", "associations": "association not written",
    "rate_limit": "rate limited", "not_found": "record gone", "transient": "app briefly unavailable",
    "outcome_unknown": "create unconfirmed: resync by hand",
    # queued, waiting for something named
    "waiting_for_contact": "waiting for its contact", "delete_pending": "delete found, carried out at the pass's end",
    "delete_held": "delete waiting for your confirmation", "delete_confirmed": "delete confirmed, carried out next pass",
}


def reason_label(key: str) -> str:
    status, _, reason = key.partition("/")
    return f"{status}: {REASONS.get(reason, reason.replace('_', ' '))}" if reason else key


templates.env.filters["reason"] = reason_label
# a bare reason or error category (``no_match_key``) in words
templates.env.filters["why"] = lambda key: REASONS.get(str(key), str(key).replace("_", " "))
# the objects of a side as people name them ("Contact+Lead" is the connector's name for both)
templates.env.filters["object"] = lambda o: object_label(str(o))
templates.env.globals["ARROWS"] = ARROWS
# a run's HubSpot activities to Salesforce, per type ("calls 2 created, 1 failed; notes in step")
templates.env.filters["activities"] = activities_text


def commands(text: str) -> Markup:
    """A message's `backticked` commands and keys as <code>, the rest escaped."""
    return Markup("").join(Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
                           for i, part in enumerate(str(text).split("`")))


templates.env.filters["commands"] = commands

Via = Literal["bearer", "session"]


# -- the API token, sessions and the throttle ------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0  # no attempt is checked before this time
    last: float = 0.0


@dataclass
class Throttle:
    """Failed authentications per client address: the first ``free`` cost nothing; after each
    further one the address waits ``base`` seconds, doubled each time up to ``cap``. An
    address with no failure for ``forget`` seconds starts afresh; at most ``clients``
    addresses are remembered (the longest quiet go first)."""

    free: int = 5
    base: float = 1.0
    cap: float = 300.0
    forget: float = 3600.0
    clients: int = 10_000
    _seen: dict[str, _Failures] = field(default_factory=dict)

    def retry_after(self, client: str) -> float:
        f = self._seen.get(client)
        return max(0.0, f.until - time.monotonic()) if f else 0.0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        f = self._seen.get(client)
        if f is None or now - f.last > self.forget:
            f = self._seen[client] = _Failures()
        f.count, f.last = f.count + 1, now
        if f.count > self.free:
            f.until = now + min(self.cap, self.base * 2 ** min(f.count - self.free - 1, 30))
        if len(self._seen) > self.clients:  # forget the quietest tenth at once: no sort per request
            for key in sorted(self._seen, key=lambda k: self._seen[k].last)[:max(1, self.clients // 10)]:
                del self._seen[key]

    def succeeded(self, client: str) -> None:
        self._seen.pop(client, None)


@dataclass
class Auth:
    """The app's API token, its fingerprint (what sessions are stored under) and the throttle."""

    token: str
    throttle: Throttle = field(default_factory=Throttle)
    fingerprint: str = ""
    once: dict[str, float] = field(default_factory=dict)  # hashes of one-time login codes → expiry

    def __post_init__(self) -> None:
        # stretched: the index holds this, and must not make guessing the token cheap
        self.fingerprint = hashlib.pbkdf2_hmac("sha256", self.token.encode(), b"accord-session-v1", 50_000).hex()

    def token_ok(self, got: str) -> bool:
        return bool(got) and hmac.compare_digest(got.encode(), self.token.encode())

    def one_time_code(self, ttl: float = ONE_TIME_TTL) -> str:
        """A code for a one-time login link (``/login/once/CODE``): it opens one session, then is void."""
        now = time.time()
        self.once = {k: exp for k, exp in self.once.items() if exp > now}
        code = secrets.token_urlsafe(32)
        self.once[session_key(code)] = now + ttl  # only its hash is kept, as for sessions
        return code

    def redeem(self, code: str) -> bool:
        """Whether ``code`` is a one-time login code still unused and unexpired; it is void from now on."""
        expires = self.once.pop(session_key(code), None)
        return expires is not None and expires > time.time()


def auth_of(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


def one_time_login_url(app: Any, base_url: str) -> str:
    """A link that logs a browser in once (the demo prints it): ``BASE/login/once/CODE``."""
    auth: Auth = app.state.auth
    return f"{base_url.rstrip('/')}/login/once/{auth.one_time_code()}"


def client_of(request: Request) -> str:
    """The client's address (behind a proxy: the one uvicorn's --forwarded-allow-ips trusts)."""
    return request.client.host if request.client else "unknown"


def session_key(session_id: str) -> str:
    """What the index stores of a session id: its hash (a copy of the index opens no session)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def too_many(wait: float) -> HTTPException:
    return HTTPException(429, f"too many failed attempts from this address; retry in {math.ceil(wait)} s",
                         headers={"Retry-After": str(math.ceil(wait))})


def check_throttle(request: Request) -> None:
    """429 while the client's address must wait after failed attempts."""
    wait = auth_of(request).throttle.retry_after(client_of(request))
    if wait > 0:
        raise too_many(wait)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def authenticate(request: Request) -> Via | None:
    """How the request is authenticated (None: not at all); 429 while its address is throttled.
    A wrong bearer token counts as a failure of the address; a stale cookie does not (session
    ids cannot be guessed: it is only a login that expired)."""
    auth = auth_of(request)
    via: Via | None = None
    bearer = _bearer(request)
    if bearer is not None:
        check_throttle(request)
        if auth.token_ok(bearer):
            via = "bearer"
        else:
            auth.throttle.failed(client_of(request))
    else:
        sid = request.cookies.get(COOKIE, "")
        if sid and service_of(request).store.session_valid(session_key(sid), auth.fingerprint):
            via = "session"
    request.state.auth_via = via
    return via


def open_session(request: Request) -> str:
    """A new session for a successful login: its id, for the cookie."""
    sid = secrets.token_urlsafe(32)
    service_of(request).store.open_session(session_key(sid), auth_of(request).fingerprint, SESSION_TTL)
    return sid


def close_session(request: Request) -> None:
    sid = request.cookies.get(COOKIE, "")
    if sid:
        service_of(request).store.close_session(session_key(sid))


def csrf_token(request: Request) -> str:
    """The CSRF value of the request's session, put in the dashboard's pages (htmx sends it as a header)."""
    sid = request.cookies.get(COOKIE, "")
    return hmac.new(auth_of(request).token.encode(), f"accord-csrf:{sid}".encode(), "sha256").hexdigest()


async def csrf_ok(request: Request, via: Via) -> bool:
    """Session-authenticated writes must carry the page's CSRF token (Bearer calls need not:
    a browser never adds that header on its own)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or via == "bearer":
        return True
    got = request.headers.get(CSRF_HEADER, "")
    if not got and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                                        "multipart/form-data")):
        got = str((await request.form()).get("csrf_token", ""))
    return bool(got) and hmac.compare_digest(got.encode(), csrf_token(request).encode())


async def require_token(request: Request) -> None:
    via = authenticate(request)
    if via is None:
        raise HTTPException(401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"})
    if not await csrf_ok(request, via):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")


# -- documented answers ----------------------------------------------------------------------
_ANSWERS = {
    400: "the body is not what the route reads",
    401: "missing or wrong API token (or signature, for webhooks)",
    403: "a write authenticated by the dashboard's cookie without the page's CSRF token",
    404: "no such sync, app, object or record",
    409: "refused as things stand (read-only in accord.yaml, in use, a pass already running)",
    412: "If-Match named settings that have changed since: GET them again",
    413: "request body over the limit (5 MiB)",
    429: "too many failed attempts from this address: wait Retry-After seconds",
    502: "the app behind this answer cannot be read (unreachable, or it refused the credentials)",
    503: "the service is shutting down (distributed mode: or Temporal cannot be reached)",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for status codes a route answers besides its success and 422."""
    return {code: {"description": _ANSWERS[code]} for code in codes}


AUTH_ANSWERS = answers(401, 403, 413, 429)  # every token-protected route


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


async def manual_list(svc: Service, name: str, list_name: str | None, side: Side | None) -> tuple[str, int, PassResult]:
    """(list, members, result) of a list a person asked to sync; failures answer as in :func:`finished`."""
    got: list[Any] = []

    async def job() -> PassResult | None:
        listed, members, res = await svc.sync_list(name, list_name, side)
        got.extend((listed, members))
        return res

    res = await finished(svc, job())
    return str(got[0]), int(got[1]), res


async def finished(svc: Service, job: Awaitable[PassResult | None]) -> PassResult:
    """The result of a pass started by a request; its failure is the answer, never a 500: 409 for a
    sync whose settings cannot run or that another process is running, 502 for an app that
    failed, 503 while shutting down."""
    try:
        res = await job
    except ManualSyncRefused as e:  # a record in neither app (404), in both, or no list to sync (409)
        raise HTTPException(404 if e.reason == "not_found" else 409, str(e)) from e
    except ConfigError as e:
        raise HTTPException(409, redact.scrub(f"the sync's settings cannot run: {e}")) from e
    except Exception as e:
        raise HTTPException(502, redact.scrub(f"the pass failed: {type(e).__name__}: {e}")) from e
    if res is None and svc.stopping:
        raise HTTPException(503, "the service is shutting down")
    if res is None:  # the sync's lease is held elsewhere (Service._locked logged by whom)
        raise HTTPException(409, "another process is running a pass of this sync; try again when it is done")
    return res


# -- JSON shapes --------------------------------------------------------------------------------
def link_json(lk: Link) -> dict[str, Any]:
    return {"id": lk.id, "left_id": lk.left_id, "right_id": lk.right_id, "label": lk.label, "status": lk.status,
            "reason": lk.reason, "category": lk.category, "message": lk.message, "hint": lk.hint,
            "left_deleted": lk.left_deleted, "right_deleted": lk.right_deleted, "attempts": lk.attempts,
            "updated_at": lk.updated_at}


def sync_json(svc: Service, name: str) -> dict[str, Any]:
    slot = svc.slot(name)  # KeyError: a config reload removed the sync (sync_list leaves it out)
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
        # ``enabled: false`` in its configuration (the file, or its stored settings): off whatever the switch says
        "off_in_config": not s.enabled,
        "initial_done": bool(state and state.initial_done),
        "poll_seconds": svc.interval(s),
        "reconcile_seconds": svc.reconcile,
        "counts": {st: svc.store.counts(name).get(st, 0) for st in STATUSES},
        "last_run": runs[0] if runs else None,
        "running": svc.progress(name).running,  # the distributed service reads it from the index
        "skipped_jobs": slot.skipped,
        "deletes_held": svc.store.deletes_hold(name),  # deletes waiting for a confirmation (accord.index.holds)
        # an app that could not be used in the last job: {category (auth …), message, hint, app}
        "problem": svc.problem(name),
        # why its passes are refused (renamed, sides changed under its pairs: accord.runner.index_guard)
        "refused": refused_because(svc, name),
        # the sync's own mappings (and stage copy) its last pass skipped, the rest syncing:
        # [{path, reason}]; default mappings an app lacks a field of are not listed (accord check says them)
        "skipped_mappings": skipped_mappings(slot.cfg, slot.runner.broken),
    }


_MAPPING_AT = re.compile(r"\.mappings\[(\d+)\](?:\.(left|right))?$")


def skipped_mappings(s: SyncConfig, broken: Sequence[BrokenMapping]) -> list[dict[str, Any]]:
    """The sync's own mappings (and its stage copy) a pass skipped, as people read them:
    ``{path, reason, mapping: "notes ↔ notes" | None (stages), app: the app the reason is
    about | None}``. A default mapping an app lacks a field of is no fault (``accord check``
    notes it): not listed."""
    out: list[dict[str, Any]] = []
    for b in broken:
        if b.default:
            continue
        m = _MAPPING_AT.search(b.path)
        mapping = app = None
        if m is not None and int(m.group(1)) < len(s.mappings):
            cfg = s.mappings[int(m.group(1))]
            mapping = f"{cfg.left} ↔ {cfg.right}"
            app = getattr(s, m.group(2)).app if m.group(2) else None
        out.append({"path": b.path, "reason": b.reason, "mapping": mapping, "app": app})
    return out


def refused_because(svc: Service, name: str) -> str | None:
    """What a pass of ``name`` would be refused for (renamed, sides changed, another account
    under its pairs: accord.runner.index_guard), as the dashboard and the API say it."""
    runner = svc.slot(name).runner
    issue = index_issue(svc.store, runner.cfg, runner.ctx.path, runner.accounts)
    return issue.message if issue else None


def sync_list(svc: Service) -> list[dict[str, Any]]:
    """Every running sync as :func:`sync_json` shows it; one a reload removes meanwhile is left out."""
    out = []
    for name in list(svc.slots):
        try:
            out.append(sync_json(svc, name))
        except KeyError:  # removed by a config reload since the list was taken
            continue
    return out


def live_sync(svc: Service, name: str) -> dict[str, Any]:
    """A sync as the dashboard shows it: :func:`sync_json` with its pass's progress."""
    slot = svc.slot(name)
    inclusion = slot.cfg.inclusion
    return {**sync_json(svc, name), "progress": svc.progress(name).as_dict(),
            "inclusion_list": inclusion.list if inclusion else None}


def live_syncs(svc: Service) -> list[dict[str, Any]]:
    """:func:`live_sync` of every running sync; one a config reload removes meanwhile is left out."""
    out = []
    for name in list(svc.slots):
        try:
            out.append(live_sync(svc, name))
        except KeyError:
            continue
    return out


# -- dashboard pages ----------------------------------------------------------------------------
class LoginRequired(Exception):
    """A dashboard request without a valid session: app.py answers it with a redirect to /login."""


def render_page(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """A dashboard template (autoescaped), with the CSRF token its forms and htmx calls send back."""
    logged_in = getattr(request.state, "auth_via", None) is not None
    return templates.TemplateResponse(request, template, {"csrf": csrf_token(request), "logged_in": logged_in, **ctx},
                                      status_code=status_code)


async def dashboard_auth(request: Request) -> None:
    """Every dashboard route but the login form's: a session (or the bearer token) first, then
    the CSRF token of writes — before the route's own parameters are validated, so a visitor
    who is not logged in is sent to the login form, never told what a form lacks."""
    if request.url.path in ("/login", "/logout") or request.url.path.startswith("/login/once/"):
        return
    via = authenticate(request)
    if via is None:
        raise LoginRequired()
    if not await csrf_ok(request, via):
        raise HTTPException(403, "missing or wrong CSRF token (reload the page)")
