"""The one HTTP layer under every HTTP connector (HubSpot, Salesforce, Snov.io, xentral).

A connector *declares* how its app behaves and :class:`Http` does the rest, the same way for
every vendor:

* **rate limits** — the connector's :class:`LimitSet` names the limiters each kind of call
  passes (:mod:`accord.connectors.limits`: rolling windows in one process, PostgreSQL buckets
  shared by every worker in distributed mode). Every request the client sends takes its
  limiters and is counted — retries, and requests an auth flow sends on its own (a renewal
  after a 401), included: the client's event hooks do it, so no request slips past them.
* **retries** — :class:`RetryPolicy`: exponential backoff with jitter, capped; a
  ``Retry-After`` given in seconds or as an HTTP date is honoured (never negative; one longer
  than ``max_wait`` ends the call with the wait attached instead of sleeping through it); a
  429 pauses every user of the limit.
* **classification** — what an answer means (retry, rate limited, auth failure, a budget
  spent …) is the connector's ``classify`` hook over :func:`default_answer`.
* **the one rule for writes that may have happened** — a request sent with
  ``repeatable=False`` (a create) whose outcome is unknown (a 5xx, a read time-out, a
  connection dropped after sending) is never sent again: it raises
  :class:`~accord.model.WriteOutcomeUnknown` and the runner looks the records up by match key.
  A 429, a 423 or a connection that was never made mean the request surely was not carried
  out, so those are retried. Connectors that cannot match a batch answer to their inputs
  raise through :func:`outcome_unknown`, the same rule.
* **auth** — an :class:`httpx.Auth` per connector (:class:`BearerToken` for static tokens):
  ``auth_flow`` is where renewing a credential once on a 401 and resending belongs.
"""

from __future__ import annotations

import asyncio
import copy
import math
import random
import ssl
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from accord.connectors.base import ApiCounters, Connector
from accord.connectors.limits import Limiter, LimiterFactory, RateLimit
from accord.model import (
    AuthError,
    ConnectorError,
    RateLimited,
    TransientError,
    UnreachableError,
    WriteOutcomeUnknown,
    WriteResult,
)

_CALL = "accord.call"  # request extension: the call a request belongs to (its kind, the limiters it holds)
_COUNT_LOCK = threading.Lock()  # connectors of one app count from several threads (a scan's reader)


# -- retry policy -----------------------------------------------------------------------------------
@dataclass
class RetryPolicy:
    """How often and how patiently a call is tried again."""

    max_retries: int = 8
    backoff: float = 0.5  # first delay (seconds), doubled per attempt
    max_backoff: float = 30.0
    max_wait: float = 300.0  # longest Retry-After waited within a call; longer ends the call

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter (half to all of the capped delay)."""
        return min(self.max_backoff, self.backoff * 2.0**attempt) * random.uniform(0.5, 1.0)


def retry_after(resp: httpx.Response) -> float | None:
    """The response's ``Retry-After`` in seconds: a number, or an HTTP date (taken against the
    response's own ``Date`` when it has one, so a skewed local clock does not matter); never
    negative; None when absent or unreadable."""
    value = resp.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        seconds = (when - (_http_date(resp.headers.get("date", "")) or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- classification ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """What one response (or transport failure) means for the call that got it."""

    retry: bool = False  # try again after backoff (and ``wait``)
    carried_out: bool = False  # the app may have carried the request out: never resent when not repeatable
    wait: float | None = None  # seconds the app asked to wait (Retry-After)
    block: bool = False  # every user of the call's limiters waits ``wait`` (the limit is spent)
    limited: bool = False  # a rate limit: RateLimited when the retries run out
    problem: str = ""
    error: ConnectorError | None = None  # raised at once when not retried, or when the retries run out


OK = Answer()


def default_answer(resp: httpx.Response, label: str, message: str) -> Answer:
    """401: the credential; 429: rate limited, not carried out; 5xx: may have been carried out."""
    status = resp.status_code
    problem = f"HTTP {status}: {message}"
    if status == 401:
        return Answer(error=AuthError(f"{label} rejected the credentials: {message}"), problem=problem)
    if status == 429:
        wait = retry_after(resp)
        return Answer(retry=True, limited=True, wait=wait, block=wait is not None, problem=problem)
    if status >= 500:
        return Answer(retry=True, carried_out=True, wait=retry_after(resp), problem=problem)
    return OK


def transport_hint(e: httpx.TransportError, base_url: str) -> str:
    """What to check when a request got no HTTP answer at all: the scheme, the port, the certificate."""
    text = str(e)
    if isinstance(e, httpx.RemoteProtocolError | httpx.ReadError) and base_url.startswith("http://"):
        # a TLS server hangs up on plain HTTP: the classic sign of http:// where https:// belongs
        return ("the server hung up without an HTTP answer; if it is served over HTTPS, "
                "write https:// in the URL")
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "wrong version number" in text:
        return "the server does not speak HTTPS on this port; check the URL's scheme (http:// or https://) and port"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "the server's TLS certificate is not trusted; set the app's verify: to your CA certificate file"
    if isinstance(e, httpx.ConnectError):
        return "check the URL (host and port) and that the app or proxy is running and reachable from here"
    if isinstance(e, httpx.TimeoutException):
        return "the app did not answer in time; check the URL and the network, or try again later"
    return "check the URL and the network between this machine and the app"


def transport_answer(e: httpx.TransportError) -> Answer:
    """A request that failed without an answer: was it (perhaps) carried out?"""
    not_sent = isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    problem = f"timed out ({type(e).__name__})" if isinstance(e, httpx.TimeoutException) else f"connection failed: {e}"
    return Answer(retry=True, carried_out=not not_sent, problem=problem)


# -- limits and counting ----------------------------------------------------------------------------
class LimitSet(Protocol):
    """The limiters of one app credential, shared by its connectors, and the calls they let through."""

    calls: Counter[str]

    def limiters(self, kind: str) -> Sequence[Limiter]:
        """The limiters a call of ``kind`` passes, in the order they are taken."""
        ...


@dataclass
class Limits:
    """A :class:`LimitSet` of one limiter for every call (None: unlimited)."""

    window: Limiter | None = None
    calls: Counter[str] = field(default_factory=Counter)

    def limiters(self, kind: str) -> Sequence[Limiter]:
        return (self.window,) if self.window is not None else ()


@dataclass
class _Call:
    kind: str
    held: list[Limiter] = field(default_factory=list)
    http: Http | None = None  # the layer that sends it: an auth flow sends its token requests through it

    def release(self) -> None:
        while self.held:
            self.held.pop().release()


# -- auth ------------------------------------------------------------------------------------------
class BearerToken(httpx.Auth):
    """A static token (a private-app token, a personal access token) as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class RenewingAuth(httpx.Auth):
    """A token from ``get(force)``, renewed once and the request sent again when the app answers 401."""

    def __init__(self, get: Callable[[bool], Awaitable[str]]) -> None:
        self.get = get

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.get(False)}"
        response = yield request
        if response.status_code == 401:  # expired or revoked: not carried out, so safe to send again
            request.headers["Authorization"] = f"Bearer {await self.get(True)}"
            yield request


def sender_of(request: httpx.Request) -> Http | None:
    """The :class:`Http` sending ``request`` (its client, on this event loop): an auth flow sends
    its own token requests through it, limited, counted and retried like every call."""
    call = request.extensions.get(_CALL)
    return call.http if isinstance(call, _Call) else None


def tls_context(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """One TLS context per connector (making one costs ~50 ms); a str is a CA bundle file."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context() if verify is True else verify


# -- the layer ---------------------------------------------------------------------------------------
Classify = Callable[[httpx.Response], Answer]


class Http:
    """One connector's HTTP client with the layer's limits, counting, retries and write rule."""

    def __init__(self, label: str, *, base_url: str, limits: LimitSet, classify: Classify,
                 auth: httpx.Auth | None = None, retry: RetryPolicy | None = None, timeout: float = 30.0,
                 verify: bool | str | ssl.SSLContext = True, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 before: Callable[[], Awaitable[None]] | None = None,
                 observe: Callable[[httpx.Response], None] | None = None, app: str = "") -> None:
        self.label, self.base_url = label, base_url.rstrip("/")
        self.app = app  # the app's name in accord.yaml: refused credentials name it (the Apps page shows it)
        self.limits, self.classify, self.auth = limits, classify, auth
        self.retry = retry or RetryPolicy()
        self.before, self.observe = before, observe  # hooks around every attempt (a budget check, header reading)
        self.calls: Counter[str] = Counter()  # requests this connector sent, by kind (retries included)
        self.retries = 0  # attempts after the first, all calls together
        self._timeout, self._headers, self._transport = timeout, dict(headers or {}), transport
        self._tls = tls_context(verify)
        self.client = self._client()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout, verify=self._tls,
                                 transport=self._transport, headers=self._headers, auth=self.auth,
                                 event_hooks={"request": [self._take], "response": [self._give_back]})

    def clone(self) -> Http:
        """This layer with a client of its own (for another thread's event loop): limits, counts,
        policy and auth are shared."""
        twin = copy.copy(self)
        twin.client = twin._client()
        return twin

    async def aclose(self) -> None:
        await self.client.aclose()

    @property
    def api_calls(self) -> int:
        return sum(self.calls.values())

    # -- every request the client sends ------------------------------------------------------------
    async def _take(self, request: httpx.Request) -> None:
        call = request.extensions.get(_CALL)
        if not isinstance(call, _Call):  # sent by the client without send(): still limited and counted
            call = request.extensions[_CALL] = _Call("other")
        for limiter in self.limits.limiters(call.kind):
            await limiter.acquire()
            call.held.append(limiter)
        with _COUNT_LOCK:
            self.calls[call.kind] += 1
            if self.limits.calls is not self.calls:
                self.limits.calls[call.kind] += 1

    async def _give_back(self, response: httpx.Response) -> None:
        call = response.request.extensions.get(_CALL)
        if isinstance(call, _Call):
            call.release()

    async def _once(self, method: str, url: str, kind: str, authed: bool, kw: dict[str, Any]) -> httpx.Response:
        call = _Call(kind, http=self)
        request = self.client.build_request(method, url, extensions={_CALL: call}, **kw)
        try:
            if authed:
                return await self.client.send(request)
            return await self.client.send(request, auth=None)
        finally:
            call.release()  # a request that failed before its answer still gives its slots back

    async def once(self, method: str, url: str, kind: str, **kw: Any) -> httpx.Response:
        """One attempt, limited and counted, without :meth:`send`'s hooks and retries (a call the
        ``before`` hook itself makes)."""
        return await self._once(method, url, kind, True, kw)

    # -- one call -------------------------------------------------------------------------------------
    async def send(self, method: str, url: str, kind: str, *, repeatable: bool = True, authed: bool = True,
                   classify: Classify | None = None, **kw: Any) -> httpx.Response:
        """One API call within the limits, tried again while its answers say so; returns the
        first answer that is not retried. ``repeatable=False``: see the module docstring.
        ``classify``: this call's own reading of answers (a token endpoint's), over the connector's."""
        last, answered = OK, False
        failed: httpx.TransportError | None = None  # the last attempt's failure without an answer
        classify = classify or self.classify
        for attempt in range(self.retry.max_retries + 1):
            if self.before is not None:
                await self.before()
            try:
                resp = await self._once(method, url, kind, authed, kw)
            except httpx.TransportError as e:
                last, failed = transport_answer(e), e
            else:
                if self.observe is not None:
                    self.observe(resp)
                last, failed, answered = classify(resp), None, True
                if not last.retry:
                    if last.error is not None:
                        raise self._named(last.error)
                    return resp
                if last.block and last.wait is not None:
                    for limiter in self.limits.limiters(kind):
                        limiter.block(last.wait)
            if last.carried_out and not repeatable:
                raise outcome_unknown(f"{self.label} {method} {url}: {last.problem}")
            if attempt == self.retry.max_retries or (last.wait or 0.0) > self.retry.max_wait:
                break
            self.retries += 1
            await asyncio.sleep(max(last.wait or 0.0, self.retry.delay(attempt)))
        # never an HTTP answer, however often tried: the app cannot be reached (exit 3), with what to check
        raise self._gave_up(method, url, last, failed if not answered else None)

    def _named(self, err: ConnectorError) -> ConnectorError:
        if isinstance(err, AuthError) and not err.app:
            err.app = self.app
        return err

    def _gave_up(self, method: str, url: str, last: Answer, unreachable: httpx.TransportError | None) -> ConnectorError:
        if last.error is not None:
            return self._named(last.error)
        if last.limited:
            return RateLimited(f"{self.label} rate limit: {last.problem}", retry_after=last.wait)
        if unreachable is not None:
            err = UnreachableError(f"{self.label} at {self.base_url} unreachable: {last.problem}")
            err.hint = transport_hint(unreachable, self.base_url)
            return err
        return TransientError(f"{self.label} {method} {url} failed after {self.retry.max_retries + 1} "
                              f"attempts: {last.problem}", retry_after=last.wait)


def outcome_unknown(what: str, results: Sequence[WriteResult | None] | None = None) -> WriteOutcomeUnknown:
    """The one answer to a write that may have happened: never sent again blindly. ``results``:
    per input, the outcome where it is known (None where it is not)."""
    return WriteOutcomeUnknown(f"{what}; it may have been carried out", results=results)


# -- the connectors' side ----------------------------------------------------------------------------
class HttpConnector(Connector):
    """A connector over :class:`Http`: declares its limits (:meth:`rate_limits`) and how to hold
    them (:meth:`limit_set`); the retry knobs and call counts are the layer's."""

    http: Http

    def rate_limits(self) -> list[RateLimit]:
        """The limits the app enforces for this connector's credential."""
        return []

    def credential(self) -> str:
        """A stable name of the app credential (never the secret itself): limiters are shared by it."""
        raise NotImplementedError

    def limit_set(self, made: dict[str, Limiter], make: LimiterFactory) -> LimitSet:
        """The connector's :class:`LimitSet` from the limiters of :meth:`rate_limits`, by name."""
        return Limits(next(iter(made.values()), None))

    def limiter_key(self, name: str) -> str:
        return f"{self.vendor}:{self.credential()}:{name}"

    def use_limiters(self, make: LimiterFactory, limits: Sequence[RateLimit] | None = None) -> None:
        calls = self.http.limits.calls
        declared = self.rate_limits() if limits is None else limits
        made = {rl.name: make.make(self.limiter_key(rl.name), rl) for rl in declared}
        held = self.limit_set(made, make)
        held.calls = calls  # the app's call counts go on
        self.http.limits = held

    # -- the layer's knobs and counts, under the names the connectors always had ----------------------
    @property
    def limits(self) -> Any:
        return self.http.limits

    @limits.setter
    def limits(self, value: Any) -> None:
        self.http.limits = value

    @property
    def max_retries(self) -> int:
        return self.http.retry.max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self.http.retry.max_retries = value

    @property
    def backoff(self) -> float:
        return self.http.retry.backoff

    @backoff.setter
    def backoff(self, value: float) -> None:
        self.http.retry.backoff = value

    @property
    def max_backoff(self) -> float:
        return self.http.retry.max_backoff

    @max_backoff.setter
    def max_backoff(self, value: float) -> None:
        self.http.retry.max_backoff = value

    @property
    def calls(self) -> Counter[str]:
        return self.http.calls

    @property
    def api_calls(self) -> int:
        return self.http.api_calls

    @property
    def _http(self) -> httpx.AsyncClient:
        return self.http.client

    def counters(self) -> ApiCounters:
        return ApiCounters(api_calls=self.http.api_calls)

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["OK", "Answer", "BearerToken", "Http", "HttpConnector", "LimitSet", "Limits", "RenewingAuth",
           "RetryPolicy", "default_answer", "outcome_unknown", "retry_after", "sender_of", "tls_context",
           "transport_answer", "transport_hint"]
