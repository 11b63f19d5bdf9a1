"""A misspelled xentral group used to exclude every address silently: ``accord check`` (accord.checks)
names the groups xentral has (and Snov.io's lists), with a "did you mean", and looks them up
without creating any."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.checks import app_findings, check_sync
from accord.config import parse_config
from accord.connectors.hubspot import RollingWindow
from accord.connectors.memory import MemoryApp
from accord.connectors.xentral import Limits, XentralConnector
from accord.index import Store
from accord.runner import SyncRunner
from accord.sandbox.server import ServerThread
from accord.sandbox.xentral import SandboxSettings, XentralSandbox, install


@pytest.fixture
def url() -> Iterator[tuple[XentralSandbox, str]]:
    sb = XentralSandbox(SandboxSettings(rate_limit=10_000))
    install(sb.store)
    sb.create_group("Newsletter")
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


def _conn(url: str, group: str) -> XentralConnector:
    return XentralConnector("xentral", base_url=url, token="pat", backoff=0.01, timeout=5, group=group,
                            limits=Limits(RollingWindow(10_000, 60.0)))


async def test_the_apps_group(url: tuple[XentralSandbox, str]) -> None:
    sb, base = url
    before = len(sb.store.groups)
    for group, errors, notes in (("Hubspot", [], []),
                                 ("Hubspt", [("apps.xentral.group", "xentral has no group 'Hubspt'; did you mean "
                                                                   "'Hubspot'?")], []),
                                 ("Brand new", [], ["apps.xentral.group: xentral has no group 'Brand new' yet; the first "
                                                    "pass of a sync of addresses creates it"])):
        conn = _conn(base, group)
        found = await app_findings(conn, "apps.xentral")
        assert ([(i.path, i.message) for i in found[0]], found[1]) == (errors, notes)
        await conn.aclose()
    assert len(sb.store.groups) == before  # looked up, never created


async def test_an_inclusion_group_that_does_not_exist(url: tuple[XentralSandbox, str]) -> None:
    _, base = url
    cfg = parse_config({"apps": {"hubspot": {"type": "memory"}, "xentral": {"type": "xentral", "base_url": base,
                                                                            "token": "pat"}},
                        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                                   "right": {"app": "xentral", "object": "adressen"},
                                   "inclusion": {"side": "right", "list": "Newsleter"}}]}, env={})
    conn = _conn(base, "Hubspot")
    runner = SyncRunner(cfg.syncs[0], Store("sqlite://"), MemoryApp("hubspot"), conn, path="syncs[0]")
    found = await check_sync(runner)
    assert [(i.path, i.message) for i in found.errors] == [
        ("syncs[0].inclusion.list", "app 'xentral' has no adressen list 'Newsleter' (a sync stops on an inclusion "
                                    "list that does not exist); did you mean 'Newsletter'?")]
    await conn.aclose()


async def test_the_snovio_list() -> None:
    from accord.connectors.snovio import SnovioConnector
    from accord.sandbox.snovio import SnovioSandbox

    sb = SnovioSandbox(rate_limit=100_000, rate_window=1.0)
    sb.create_list("From HubSpot")
    with ServerThread(sb.app) as srv:
        for name, errors, notes in (("From HubSpot", [], []),
                                    ("From HubSpot ", [], []),  # Snov.io list names: spaces trimmed
                                    ("From HubSpt", [("apps.snov.list", "Snov.io has no list 'From HubSpt'; did you "
                                                                        "mean 'From HubSpot'?")], []),
                                    ("Webinar leads", [], ["apps.snov.list: Snov.io has no list 'Webinar leads' yet; the "
                                                           "first pass of a sync creates it (create_list)"])):
            conn = SnovioConnector("snov", client_id="cid", client_secret="secret", list_name=name,
                                   base_url=srv.url, window=RollingWindow(100_000, 1.0), backoff=0.01, timeout=5.0)
            found = await app_findings(conn, "apps.snov")
            assert ([(i.path, i.message) for i in found[0]], found[1]) == (errors, notes), name
            await conn.aclose()
    assert [x.name for x in sb.store.lists.values()] == ["From HubSpot"]  # nothing created
