"""xentral's process starters as syncs of ``accord run`` (docs/connectors/xentral.md).

The configuration is the one in the docs, run by the real :class:`Service` against the HubSpot
and xentral sandboxes over loopback HTTP: each job polls at its own period, and a job whose
previous run is still going is skipped, never run alongside it. The module's queue and
contacts jobs are one sync (two syncs on one object pair are refused).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from accord.config import Config, parse_config
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.sandbox.xentral import SandboxSettings as XSettings
from accord.sandbox.xentral import XentralSandbox, install
from accord.service.core import Service

DOC = Path(__file__).parents[2] / "docs" / "connectors" / "xentral.md"
CONTACTS, DEALS = "hubspot-contacts", "hubspot-deals"


def documented_config() -> dict[str, Any]:
    """The accord.yaml of the docs' "three periodic jobs" section."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    raw: dict[str, Any] = yaml.safe_load(next(b for b in blocks if DEALS in b))
    return raw


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[HubSpotSandbox, str, XentralSandbox, str]]:
    hs = HubSpotSandbox(SandboxSettings(search_rate=1000, rate_limit=10_000))
    xt = XentralSandbox(XSettings(rate_limit=10_000))
    with ServerThread(hs.app) as hs_srv, ServerThread(xt.app) as xt_srv:
        yield hs, hs_srv.url, xt, xt_srv.url
    hs.close()


@pytest.fixture()
def apps(sandboxes: tuple[HubSpotSandbox, str, XentralSandbox, str]) -> tuple[HubSpotSandbox, str, XentralSandbox, str]:
    hs, _, xt, _ = sandboxes
    hs.reset()
    xt.reset()
    install(xt.store)
    return sandboxes


def config(tmp: Path, hs_url: str, xt_url: str, **polls: str) -> Config:
    raw = documented_config()
    raw["state"] = f"sqlite:///{tmp}/index.db"
    raw["apps"]["hubspot"] |= {"base_url": hs_url, "search_rate": 1000, "rate_limit": 10_000}
    raw["apps"]["xentral"] |= {"rate_limit": 100_000}
    for s in raw["syncs"]:
        if s["name"] in polls:
            s["poll"] = polls[s["name"]]
    return parse_config(raw, env={"HUBSPOT_TOKEN": f"pat-{tmp.name}", "XENTRAL_URL": xt_url, "XENTRAL_TOKEN": "xt"})


async def until(cond: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_the_documented_jobs_poll_every_10_and_60_minutes(tmp_path: Path) -> None:
    cfg = parse_config({**documented_config(), "state": f"sqlite:///{tmp_path}/i.db"},
                       env={"HUBSPOT_TOKEN": "t", "XENTRAL_URL": "http://127.0.0.1:9", "XENTRAL_TOKEN": "t"})
    svc = Service(cfg, schedule=False)
    assert {name: svc.interval(slot.cfg) for name, slot in svc.slots.items()} == {CONTACTS: 600.0, DEALS: 3600.0}
    contacts = cfg.sync(CONTACTS)
    assert (contacts.direction, contacts.inclusion and contacts.inclusion.list) == ("two-way", "Hubspot")
    svc.store.close()


async def test_each_job_runs_at_its_own_period(tmp_path: Path, apps: tuple[HubSpotSandbox, str, XentralSandbox, str],
                                               ) -> None:
    hs, hs_url, xt, xt_url = apps
    ann = xt.user_create_address({"vorname": "Ann", "nachname": "Lee", "email": "ann@x.com"}, ["Hubspot"])
    hs.user_create("contacts", {"firstname": "Cy", "lastname": "Do", "email": "cy@x.com"})
    hs.user_create("deals", {"dealname": "Job deal", "amount": "100", "pipeline": "default",
                             "dealstage": "closedwon"})
    svc = Service(config(tmp_path, hs_url, xt_url, **{CONTACTS: "0.2s"}), tick=0.02)
    await svc.start()
    try:
        await until(lambda: len(svc.store.runs(CONTACTS)) >= 4 and svc.store.runs(DEALS))
        await until(lambda: not any(s.lock.locked() for s in svc.slots.values()))
        # the hourly job ran once (its first pass starts at once), the contacts job every 0.2 s
        assert len(svc.store.runs(DEALS)) == 1
        assert [r["kind"] for r in svc.store.runs(CONTACTS)][-1] == "initial"
        emails = {r["properties"]["email"] for r in hs.records("contacts")}
        assert emails == {"ann@x.com", "cy@x.com"}
        assert "cy@x.com" in {a["email"] for a in xt.addresses()}
        assert [r["bezeichnung"] for r in xt.resubmissions()] == ["Job deal"]
        # a xentral edit reaches HubSpot through the 10-minute job, without waiting for the hourly one
        xt.user_update_address(ann, {"telefon": "030 99"})
        await until(lambda: next(r for r in hs.records("contacts")
                                 if r["properties"]["email"] == "ann@x.com")["properties"].get("phone") == "030 99")
        assert len(svc.store.runs(DEALS)) == 1
    finally:
        await svc.stop()


async def test_a_job_still_running_is_skipped_not_overlapped(tmp_path: Path,
                                                             apps: tuple[HubSpotSandbox, str, XentralSandbox, str],
                                                             ) -> None:
    hs, hs_url, xt, xt_url = apps
    for i in range(6):
        xt.user_create_address({"vorname": f"P{i}", "nachname": "Slow", "email": f"p{i}@x.com"}, ["Hubspot"])
    xt.set_faults(latency=0.1)  # a slow instance: one contacts pass takes longer than its period
    svc = Service(config(tmp_path, hs_url, xt_url, **{CONTACTS: "0.05s"}), tick=0.02)
    await svc.start()
    slot = svc.slot(CONTACTS)
    try:
        await until(lambda: slot.skipped >= 3 and len(svc.store.runs(CONTACTS)) >= 2, timeout=20)
    finally:
        await svc.stop()
        xt.set_faults(latency=0.0)
    runs = sorted(svc.store.runs(CONTACTS, limit=100), key=lambda r: r["id"])
    finished = [r for r in runs if r["finished_at"]]
    for prev, nxt in itertools.pairwise(finished):
        assert nxt["started_at"] >= prev["finished_at"], (prev, nxt)  # one after the other, never together
    assert slot.skipped >= 3  # the scheduler fired while the previous pass ran: those jobs were skipped
    metric = f'accord_jobs_skipped_total{{kind="incremental",sync="{CONTACTS}"}} {float(slot.skipped)}'
    assert metric in svc.metrics.render().decode()
    assert len({r["properties"]["email"] for r in hs.records("contacts")}) == 6
