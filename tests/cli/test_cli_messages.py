"""Messages of the command line for mistakes people make (issue #19): a wrong URL scheme is exit 3
with a hint, and ``accord check`` writes nothing to any app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from test_cli import accord

from accord.connectors.http import Http, Limits, RetryPolicy, default_answer
from accord.model import TransientError, UnreachableError, error_text
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox


@pytest.fixture(scope="module")
def salesforce() -> Iterator[SalesforceSandbox]:
    sb = SalesforceSandbox()
    sb.start()
    yield sb
    sb.stop()


def test_http_instead_of_https_for_salesforce_is_exit_3_with_a_hint(tmp_path: Path, salesforce: SalesforceSandbox) -> None:
    wrong = salesforce.url.replace("https://", "http://")
    (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
        "state": f"sqlite:///{tmp_path}/accord.db",
        "apps": {"sf": {"type": "salesforce", "instance_url": wrong, "access_token": "t"}, "m": {"type": "memory"}},
        "syncs": [{"name": "contacts", "left": {"app": "m", "object": "contacts"},
                   "right": {"app": "sf", "object": "Contact"}}]}))
    r = accord("check", "-c", "accord.yaml", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "RemoteProtocolError" not in r.stderr
    first, hint = r.stderr.strip().splitlines()
    assert first.startswith(f"accord.yaml: sf at {wrong} unreachable: ")
    assert hint == ("hint: the server hung up without an HTTP answer; if it is served over HTTPS, "
                    "write https:// in the URL")


def test_https_to_a_plain_http_server_is_exit_3_with_a_hint(tmp_path: Path) -> None:
    hs = HubSpotSandbox(SandboxSettings())
    with ServerThread(hs.app) as srv:
        (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
            "state": f"sqlite:///{tmp_path}/accord.db",
            "apps": {"hs": {"type": "hubspot", "token": "t", "base_url": srv.url.replace("http://", "https://")},
                     "m": {"type": "memory"}},
            "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                       "right": {"app": "m", "object": "contacts"}}]}))
        r = accord("check", "-c", "accord.yaml", cwd=tmp_path)
    hs.close()
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().splitlines()[-1] == ("hint: the server does not speak HTTPS on this port; check the "
                                                 "URL's scheme (http:// or https://) and port")


def test_check_never_creates_the_snovio_list(tmp_path: Path) -> None:
    """The list a new sync's first pass would create is only looked up by ``accord check``."""
    hs, sn = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000)), SnovioSandbox()
    with ServerThread(hs.app) as hs_srv, ServerThread(sn.app) as sn_srv:
        (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
            "state": f"sqlite:///{tmp_path}/accord.db",
            "apps": {"hubspot": {"type": "hubspot", "token": "t", "base_url": hs_srv.url},
                     "snovio": {"type": "snovio", "client_id": "c", "client_secret": "s", "base_url": sn_srv.url,
                                "list": "Accord sync"}},
            "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                       "right": {"app": "snovio", "object": "prospects"}}]}))
        lists_before = len(sn.store.lists)
        r = accord("check", "-c", "accord.yaml", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "contacts: ok" in r.stdout
        assert sn.store.list_by_name("Accord sync") is None
        assert len(sn.store.lists) == lists_before
        # the first pass of the sync does create it
        synced = accord("sync", "-c", "accord.yaml", cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        assert sn.store.list_by_name("Accord sync") is not None
    hs.close()


async def test_every_attempt_without_an_answer_is_unreachable_and_the_run_history_keeps_the_hint() -> None:
    """The HTTP layer: a connection dropped, timed out or refused at every attempt is the app being
    unreachable (exit 3), whatever the transport error; one answer in between makes it transient."""
    def layer(*errors: type[httpx.TransportError] | int) -> Http:
        script = list(errors)

        def handler(request: httpx.Request) -> httpx.Response:
            step = script.pop(0)
            if isinstance(step, int):
                return httpx.Response(step, text="answer")
            raise step("Server disconnected without sending a response.", request=request)

        return Http("sf", base_url="http://sf.test", limits=Limits(None), retry=RetryPolicy(2, 0.001, 0.002),
                    classify=lambda r: default_answer(r, "sf", r.text), transport=httpx.MockTransport(handler))

    with pytest.raises(UnreachableError) as caught:
        await layer(httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.RemoteProtocolError).send("GET", "/x", "read")
    assert caught.value.hint.startswith("the server hung up without an HTTP answer")
    assert error_text(caught.value) == ("UnreachableError: sf at http://sf.test unreachable: connection failed: Server "
                                        "disconnected without sending a response. (hint: the server hung up without an "
                                        "HTTP answer; if it is served over HTTPS, write https:// in the URL)")
    with pytest.raises(TransientError):
        await layer(503, httpx.ReadTimeout, httpx.RemoteProtocolError).send("GET", "/x", "read")


def test_status_says_when_the_last_run_finished_as_the_dashboard_does() -> None:
    """`accord status` said "lag 657.5s"; it now says "11 min ago" (the JSON keeps the seconds)."""
    from accord.report import lag_text

    assert [lag_text(s) for s in (None, 0.4, 59.9, 657.5, 7300, 3 * 86400 + 5)] == [
        "-", "0 s ago", "59 s ago", "10 min ago", "2 h ago", "3 d ago"]
