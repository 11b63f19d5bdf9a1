"""Two HubSpot accounts synced two-way through the engine, over real loopback HTTP.

Each "account" is its own :class:`HubSpotSandbox` served by uvicorn (``ServerThread``);
the config is an ordinary ``accord.yaml`` body (``type: hubspot`` apps pointing at the
sandboxes' URLs) parsed by ``parse_config`` and wired by ``Session``; the index is SQLite
in ``tmp_path``. Users edit the accounts with the sandboxes' user-edit methods.

Each scenario runs twice on identically seeded sandbox pairs: once fault-free, once with
faults injected on both accounts (10% 429s, 10% 500s and 10% time-outs, so about 30% of
all requests fail). The connector's retries must make every pass succeed — no second pass
is allowed to converge — and the end state (both accounts' records under the mapping, the
index's status and reason counts) must equal the fault-free run's.

Rate limits stay at the sandbox defaults (190 / 10 s, search 5 / s, and the connector
configured alike): the scenarios make a few dozen calls per account.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector, RollingWindow
from accord.model import Side
from accord.runner import PassResult
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.session import Session

CONTACT_FIELDS = ["firstname", "lastname", "email", "phone", "company", "jobtitle", "country", "city", "industry",
                  "hs_lead_status"]
COMPANY_FIELDS = ["name", "domain", "industry", "phone", "city", "country"]
CLIENT_TIMEOUT = 0.5  # seconds; injected time-outs hang 0.6 s, so the client gives up first
FAULTS = {"rate_429": 0.1, "rate_500": 0.1, "rate_timeout": 0.1, "hang_seconds": CLIENT_TIMEOUT + 0.1}


@dataclass
class Accounts:
    a: HubSpotSandbox
    b: HubSpotSandbox
    session: Session


@contextmanager
def accounts(tmp_path: Path, object: str, seeds: tuple[int, int], records: int) -> Iterator[Accounts]:
    a = HubSpotSandbox(SandboxSettings(records=records, seed=seeds[0]))
    b = HubSpotSandbox(SandboxSettings(records=records, seed=seeds[1]))
    with ServerThread(a.app) as sa, ServerThread(b.app) as sb:
        # unique tokens: connectors of one (URL, token) share rate limits process-wide
        cfg = parse_config({
            "state": f"sqlite:///{tmp_path / f'index-{uuid.uuid4().hex[:8]}.db'}",
            "apps": {"a": {"type": "hubspot", "token": f"a-{uuid.uuid4().hex}", "base_url": sa.url,
                           "timeout": CLIENT_TIMEOUT},
                     "b": {"type": "hubspot", "token": f"b-{uuid.uuid4().hex}", "base_url": sb.url,
                           "timeout": CLIENT_TIMEOUT}},
            "syncs": [{"name": object, "left": {"app": "a", "object": object},
                       "right": {"app": "b", "object": object}}],
        }, env={})
        session = Session(cfg)
        for app in ("a", "b"):
            conn = session.connector(app)
            assert isinstance(conn, HubSpotConnector)
            conn.backoff, conn.max_backoff = 0.02, 0.5  # the defaults (0.5 s doubling) only slow the test down
        try:
            yield Accounts(a, b, session)
        finally:
            a.close()
            b.close()


def live(sb: HubSpotSandbox, object: str) -> list[dict[str, Any]]:
    return [r["properties"] for r in sb.records(object)]


def mapped_state(sb: HubSpotSandbox, object: str, fields: list[str]) -> list[tuple[Any, ...]]:
    """The account's live records under the mapping (ids and timestamps left out), sorted."""
    return sorted(tuple(p.get(f) or "" for f in fields) for p in live(sb, object))


def by_key(sb: HubSpotSandbox, object: str, key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in live(sb, object):
        if p.get(key):
            assert p[key] not in out, f"duplicate {key} {p[key]} in {object}"
            out[p[key]] = p
    return out


def find_id(sb: HubSpotSandbox, object: str, key: str, value: str) -> str:
    return next(r["id"] for r in sb.records(object) if r["properties"].get(key) == value)


async def run(acc: Accounts, object: str, faults: bool) -> PassResult:
    if faults:
        for seed, sb in enumerate((acc.a, acc.b)):
            sb.set_faults(**FAULTS, seed=seed + 7)
    try:
        return await acc.session.runner(object).run()  # must succeed: retries absorb every fault
    finally:
        acc.a.clear_faults()
        acc.b.clear_faults()


def fault_count(acc: Accounts, kinds: tuple[str, ...] = ("429", "500", "timeout")) -> int:
    return sum(sb.counters[f"fault_{k}"] for sb in (acc.a, acc.b) for k in kinds)


# -- contacts ------------------------------------------------------------------------------------------
async def contacts_scenario(tmp_path: Path, faults: bool) -> dict[str, Any]:
    with accounts(tmp_path, "contacts", (1, 2), 150) as acc:
        a, b = acc.a, acc.b
        seeded_a = live(a, "contacts")
        # 30 of A's contacts also exist in B, with conflicting values and an extra city
        overlap = seeded_a[:30]
        for i, p in enumerate(overlap):
            b.user_create("contacts", {"email": p["email"].upper(), "firstname": p["firstname"],
                                       "lastname": p["lastname"], "phone": f"+49 30 {i:04d}",
                                       "jobtitle": "From B", "city": f"B-City {i}"})
        a.user_create("contacts", {"firstname": "No", "lastname": "Email"})  # no match key: excluded
        only_b = {p["email"] for p in live(b, "contacts")} - {p["email"] for p in seeded_a}
        assert len(only_b) == 150

        res = await run(acc, "contacts", faults)
        assert res.kind == "initial"
        c = res.counters
        assert (c.linked, c.created, c.failed) == (30, {"left": 150, "right": 120}, {"left": 0, "right": 0})
        ea, eb = by_key(a, "contacts", "email"), by_key(b, "contacts", "email")
        assert set(ea) == set(eb) and len(ea) == 300  # one record per email on each side: no duplicates
        assert len(live(a, "contacts")) == 301 and len(live(b, "contacts")) == 300
        for i, p in enumerate(overlap):
            # A (left) wins conflicts; B's value fills A's blank city
            assert eb[p["email"]]["phone"] == p["phone"] and eb[p["email"]]["jobtitle"] == p["jobtitle"]
            assert ea[p["email"]]["city"] == eb[p["email"]]["city"] == f"B-City {i}"
        assert acc.session.store.counts("contacts") == {"syncing": 300, "excluded": 1}

        # Incremental: users edit, create and delete in both accounts.
        ids_a = [str(x) for x in sorted(int(find_id(a, "contacts", "email", p["email"])) for p in seeded_a[40:50])]
        only_b_sorted = sorted(only_b)
        for n, rid in enumerate(ids_a[:5]):
            a.user_update("contacts", rid, {"phone": f"+1 555 {n:04d}", "jobtitle": "Edited in A"})
        for n, email in enumerate(only_b_sorted[:5]):
            b.user_update("contacts", find_id(b, "contacts", "email", email), {"city": f"Edited in B {n}"})
        a.user_create("contacts", {"email": "new.in.a@example.com", "firstname": "New", "lastname": "InA"})
        b.user_create("contacts", {"email": "new.in.b@example.com", "firstname": "New", "lastname": "InB"})
        deleted_a = [a.get("contacts", rid)["properties"]["email"] for rid in ids_a[5:7]]  # type: ignore[index]
        for rid in ids_a[5:7]:
            a.user_delete("contacts", rid)
        deleted_b = only_b_sorted[5:7]
        for email in deleted_b:
            b.user_delete("contacts", find_id(b, "contacts", "email", email))

        res = await run(acc, "contacts", faults)
        assert res.kind == "incremental"
        assert res.counters.created == {"left": 1, "right": 1}
        ea, eb = by_key(a, "contacts", "email"), by_key(b, "contacts", "email")
        for n, rid in enumerate(ids_a[:5]):
            email = a.get("contacts", rid)["properties"]["email"]  # type: ignore[index]
            assert eb[email]["phone"] == f"+1 555 {n:04d}" and eb[email]["jobtitle"] == "Edited in A"
        for n, email in enumerate(only_b_sorted[:5]):
            assert ea[email]["city"] == f"Edited in B {n}"
        assert {"new.in.a@example.com", "new.in.b@example.com"} <= set(ea) & set(eb)
        # deletes are marked, not propagated: the twins stay
        assert len(ea) == 300 - 2 + 2 and len(eb) == 300 - 2 + 2
        assert set(eb) - set(ea) == set(deleted_a) and set(ea) - set(eb) == set(deleted_b)
        assert acc.session.store.reason_counts("contacts") == {"excluded/no_match_key": 1, "failing/deleted": 4}
        assert acc.session.store.counts("contacts") == {"syncing": 298, "excluded": 1, "failing": 4}

        again = await run(acc, "contacts", faults)  # echoes of the pass's own writes are skipped
        assert sum(again.counters.created.values()) + sum(again.counters.updated.values()) == 0
        if faults:
            assert fault_count(acc) >= 10 and fault_count(acc, ("timeout",)) >= 1, [dict(a.counters), dict(b.counters)]
        return {"a": mapped_state(a, "contacts", CONTACT_FIELDS), "b": mapped_state(b, "contacts", CONTACT_FIELDS),
                "status": acc.session.store.counts("contacts"),
                "reasons": acc.session.store.reason_counts("contacts")}


@pytest.mark.timeout(120)
async def test_contacts_two_accounts_fault_free_and_with_faults_end_equal(tmp_path: Path) -> None:
    clean = await contacts_scenario(tmp_path, faults=False)
    faulty = await contacts_scenario(tmp_path, faults=True)
    assert faulty == clean


# -- companies -----------------------------------------------------------------------------------------
def company(name: str, domain: str, **extra: str) -> dict[str, str]:
    return {"name": name, "domain": domain, **extra}


async def companies_scenario(tmp_path: Path, faults: bool) -> dict[str, Any]:
    with accounts(tmp_path, "companies", (3, 4), 0) as acc:
        a, b = acc.a, acc.b
        for i in range(60):
            a.user_create("companies", company(f"Alpha {i}", f"alpha{i}.com", city="Berlin", industry="RETAIL"))
            b.user_create("companies", company(f"Beta {i}", f"beta{i}.io", city="Paris"))
        for i in range(15):  # in both accounts: same name and domain, conflicting values
            a.user_create("companies", company(f"Both {i}", f"both{i}.de", city="Hamburg", phone=f"+49 40 {i}"))
            b.user_create("companies", company(f"Both {i}", f"both{i}.de", city="Lyon", industry="FINANCIAL_SERVICES"))
        b.user_create("companies", company("Beta 0", "beta-dup.io"))  # same name as Beta 0: a duplicate in B

        res = await run(acc, "companies", faults)
        assert res.kind == "initial"
        assert (res.counters.linked, res.counters.created) == (15, {"left": 60, "right": 60})
        names_a = sorted(p["name"] for p in live(a, "companies"))
        names_b = sorted(p["name"] for p in live(b, "companies"))
        assert names_a == sorted({*names_b}) and len(names_a) == 135  # no duplicates created
        assert len(names_b) == 136  # B's own duplicate stays, excluded
        na = by_key(a, "companies", "name")
        nb = {p["name"]: p for p in live(b, "companies") if p.get("domain") != "beta-dup.io"}
        for i in range(15):
            assert nb[f"Both {i}"]["city"] == na[f"Both {i}"]["city"] == "Hamburg"  # A wins
            assert nb[f"Both {i}"]["phone"] == f"+49 40 {i}"  # blanks filled both ways
            assert na[f"Both {i}"]["industry"] == "FINANCIAL_SERVICES"
        assert acc.session.store.reason_counts("companies") == {"excluded/duplicate": 1}
        assert acc.session.store.counts("companies") == {"syncing": 135, "excluded": 1}

        a.user_update("companies", find_id(a, "companies", "name", "Alpha 1"), {"city": "Munich"})
        b.user_update("companies", find_id(b, "companies", "name", "Beta 2"), {"phone": "+33 1 22"})
        a.user_update("companies", find_id(a, "companies", "name", "Beta 3"), {"industry": "AUTOMOTIVE"})
        a.user_create("companies", company("New A", "new-a.com"))
        b.user_create("companies", company("New B", "new-b.com"))
        a.user_delete("companies", find_id(a, "companies", "name", "Alpha 5"))
        b.user_delete("companies", find_id(b, "companies", "name", "Alpha 6"))

        res = await run(acc, "companies", faults)
        assert res.counters.created == {"left": 1, "right": 1}
        na = by_key(a, "companies", "name")
        nb = {p["name"]: p for p in live(b, "companies") if p.get("domain") != "beta-dup.io"}
        assert nb["Alpha 1"]["city"] == "Munich" and na["Beta 2"]["phone"] == "+33 1 22"
        assert nb["Beta 3"]["industry"] == "AUTOMOTIVE"
        assert {"New A", "New B"} <= set(na) & set(nb)
        assert "Alpha 5" in nb and "Alpha 5" not in na and "Alpha 6" in na and "Alpha 6" not in nb
        assert acc.session.store.reason_counts("companies") == {"excluded/duplicate": 1, "failing/deleted": 2}
        if faults:
            assert fault_count(acc) >= 5 and fault_count(acc, ("timeout",)) >= 1, [dict(a.counters), dict(b.counters)]
        return {"a": mapped_state(a, "companies", COMPANY_FIELDS), "b": mapped_state(b, "companies", COMPANY_FIELDS),
                "status": acc.session.store.counts("companies"),
                "reasons": acc.session.store.reason_counts("companies")}


@pytest.mark.timeout(120)
async def test_companies_two_accounts_fault_free_and_with_faults_end_equal(tmp_path: Path) -> None:
    clean = await companies_scenario(tmp_path, faults=False)
    faulty = await companies_scenario(tmp_path, faults=True)
    assert faulty == clean


# -- a full pass and the lagging search index -------------------------------------------------------------
@pytest.mark.timeout(120)
async def test_full_pass_does_not_delete_a_contact_search_cannot_see_yet(tmp_path: Path) -> None:
    """A full scan reads HubSpot from both ends, the top through search. A contact created
    seconds ago is not in search's index yet and sits above the search lane's first page,
    so the scan misses it; the runner reads it by id before counting it as deleted."""
    with accounts(tmp_path, "contacts", (3, 4), 150) as acc:
        a, b = acc.a, acc.b
        assert (await acc.session.runner("contacts").run()).kind == "initial"
        a.set_search_lag(60.0)
        new = a.user_create("contacts", {"email": "fresh@example.com", "firstname": "Fresh", "lastname": "Lag"})
        await acc.session.runner("contacts").sync_records(Side.LEFT, [new["id"]])  # as its webhook would
        assert "fresh@example.com" in by_key(b, "contacts", "email")
        conn = acc.session.connector("a")
        assert isinstance(conn, HubSpotConnector)
        reads = conn.calls["batch_read"]
        # One list call per 3 s: the list lane's second page (which holds the new contact) waits
        # while the search lane reads the top and ends both lanes. Otherwise it is a race
        # between the two lanes, and a list lane that wins reads the contact itself.
        conn.limits = replace(conn.limits, general=RollingWindow(1, 3.0))

        res = await acc.session.runner("contacts").run(full=True)

        assert res.kind == "full" and conn.calls["batch_read"] > reads  # missed by the scan, found by id
        assert "fresh@example.com" in by_key(b, "contacts", "email") and a.get("contacts", new["id"])
        assert acc.session.store.reason_counts("contacts") == {}
        assert acc.session.store.counts("contacts") == {"syncing": len(by_key(a, "contacts", "email"))}
