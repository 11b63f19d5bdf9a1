"""The HTTP layer under every HTTP connector (accord/connectors/http.py), against scripted answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from accord.connectors.http import Http, Limits, RenewingAuth, RetryPolicy, default_answer, retry_after
from accord.connectors.limits import LearnedLimit, RollingWindow
from accord.model import RateLimited, UnreachableError, WriteOutcomeUnknown

Script = list[Callable[[httpx.Request], httpx.Response]]


def _http(script: Script, *, auth: httpx.Auth | None = None, window: RollingWindow | None = None) -> Http:
    def handler(request: httpx.Request) -> httpx.Response:
        return script.pop(0)(request)

    return Http("Test", base_url="http://app.test", limits=Limits(window), auth=auth,
                classify=lambda r: default_answer(r, "Test", r.text), retry=RetryPolicy(3, 0.001, 0.002),
                transport=httpx.MockTransport(handler))


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, headers=headers, text="answer")


def fails(error: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def raise_(request: httpx.Request) -> httpx.Response:
        raise error("scripted", request=request)
    return raise_


def test_retry_after_in_seconds_or_as_an_http_date_and_never_negative() -> None:
    date = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "-5"})) == 0.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None
    # an HTTP date counts from the answer's own Date, whatever the local clock says
    later = {"Retry-After": format_datetime(date + timedelta(seconds=7), usegmt=True),
             "Date": format_datetime(date, usegmt=True)}
    assert retry_after(httpx.Response(429, headers=later)) == 7.0
    past = {"Retry-After": format_datetime(date - timedelta(seconds=7), usegmt=True),
            "Date": format_datetime(date, usegmt=True)}
    assert retry_after(httpx.Response(429, headers=past)) == 0.0


@pytest.mark.parametrize("first", [status(500), status(503), fails(httpx.ReadTimeout), fails(httpx.ReadError),
                                   fails(httpx.RemoteProtocolError)])
async def test_a_create_that_may_have_happened_is_never_sent_again(first: Callable[..., httpx.Response]) -> None:
    script: Script = [first, status(201)]
    http = _http(script)
    with pytest.raises(WriteOutcomeUnknown):
        await http.send("POST", "/things", "create", repeatable=False, json={})
    assert http.api_calls == 1 and len(script) == 1


@pytest.mark.parametrize("first", [status(429, **{"Retry-After": "0"}), fails(httpx.ConnectError),
                                   fails(httpx.ConnectTimeout)])
async def test_a_create_that_surely_was_not_carried_out_is_retried(first: Callable[..., httpx.Response]) -> None:
    http = _http([first, status(201)])
    assert (await http.send("POST", "/things", "create", repeatable=False, json={})).status_code == 201
    assert http.api_calls == 2 and http.retries == 1


async def test_reads_are_retried_and_the_last_failure_says_what_it_was() -> None:
    http = _http([status(500), fails(httpx.ReadTimeout), status(200)])
    assert (await http.send("GET", "/things", "list")).status_code == 200
    http = _http([fails(httpx.ConnectError)] * 4)
    with pytest.raises(UnreachableError):
        await http.send("GET", "/things", "list")
    http = _http([status(429, **{"Retry-After": "0"})] * 4)
    with pytest.raises(RateLimited):
        await http.send("GET", "/things", "list")


async def test_a_wait_longer_than_the_cap_ends_the_call_with_the_wait() -> None:
    http = _http([status(429, **{"Retry-After": "3600"}), status(200)])
    with pytest.raises(RateLimited) as caught:
        await http.send("GET", "/things", "list")
    assert caught.value.retry_after == 3600.0 and http.api_calls == 1


async def test_every_request_holds_its_limiter_and_is_counted_auth_renewals_included() -> None:
    tokens = iter(["old", "new"])
    renewed: list[bool] = []

    async def token(force: bool) -> str:
        renewed.append(force)
        return next(tokens)

    window = RollingWindow(100, 10.0)
    http = _http([status(401), lambda r: httpx.Response(200, text=r.headers["Authorization"])],
                 auth=RenewingAuth(token), window=window)
    resp = await http.send("GET", "/things", "list")
    assert resp.text == "Bearer new" and renewed == [False, True]
    assert http.calls == {"list": 2} and len(window._done) == 2 and window._in_flight == 0
    # a request that fails before its answer gives its slot back too
    http = _http([fails(httpx.ReadTimeout)], window=window)
    with pytest.raises(WriteOutcomeUnknown):
        await http.send("POST", "/things", "create", repeatable=False)
    assert window._in_flight == 0


async def test_a_learned_limit_applies_once_the_app_names_it() -> None:
    made: list[int] = []

    def make(n: int) -> RollingWindow:
        made.append(n)
        return RollingWindow(n, 1.0)

    learned = LearnedLimit(make)
    await learned.acquire()  # no limit known yet: passes
    learned.learn(10)
    learned.learn(10)
    learned.release()  # gives back the acquire made before the limit was known, not the window's
    await learned.acquire()
    assert made == [10] and learned.limit == 10
    learned.release()


async def test_hubspot_learns_an_oauth_apps_per_second_limit_from_its_answers() -> None:
    from accord.connectors.hubspot import HubSpotConnector
    from accord.connectors.hubspot import Limits as HubSpotLimits

    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"results": []}, headers={"X-HubSpot-RateLimit-Secondly": "10",
                                                                   "X-HubSpot-RateLimit-Secondly-Remaining": "9"})

    limits = HubSpotLimits(RollingWindow(100, 10.0), RollingWindow(5, 1.0))
    conn = HubSpotConnector("hs", token="oauth", base_url="http://hs.test", limits=limits,
                            transport=httpx.MockTransport(app))
    assert limits.secondly.limit is None
    await conn.check()
    assert limits.secondly.limit == 10
    assert limits.limiters("list") == (limits.general, limits.secondly) and limits.limiters("search") == (limits.search,)
    await conn.aclose()
