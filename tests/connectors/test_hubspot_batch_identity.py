"""HubSpot batch results are matched to their inputs by identity, never by position.

What was wrong: when a batch answer echoed no ``objectWriteTraceId``, the connector took the
results to be in input order (HubSpot documents no order), so two companies created in one
batch could be linked to each other's ids; and an input it could not account for was sent
again alone, which for a create is a blind resend. The sandbox's ``shuffle_batch_results``
answers in random order without trace ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits
from accord.connectors.limits import RollingWindow
from accord.model import Side, WriteOutcomeUnknown
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.session import Session


@pytest.fixture
def shuffled() -> Iterator[tuple[HubSpotSandbox, str]]:
    sb = HubSpotSandbox(SandboxSettings(shuffle_batch_results=True, seed=5))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url
    sb.close()


def _conn(url: str) -> HubSpotConnector:
    return HubSpotConnector("hs", token=f"t-{uuid.uuid4().hex}", base_url=url, backoff=0.01,
                            limits=Limits(RollingWindow(10_000, 10.0), RollingWindow(1000, 1.0)))


async def test_created_records_get_their_own_ids(shuffled: tuple[HubSpotSandbox, str]) -> None:
    sb, url = shuffled
    conn = _conn(url)
    names = [f"Co {i}" for i in range(40)]
    res = await conn.create("companies", [{"name": n, "domain": f"co{i}.com"} for i, n in enumerate(names)])
    assert all(r.ok for r in res)
    assert [sb.get("companies", str(r.id))["properties"]["name"] for r in res] == names  # type: ignore[index]
    # contacts without an email are created, with one they are upserted (matched by email)
    people = [{"firstname": f"P{i}", "lastname": "Lee"} for i in range(10)]
    people += [{"email": f"p{i}@x.com", "firstname": f"E{i}"} for i in range(10)]
    res = await conn.create("contacts", people)
    assert [sb.get("contacts", str(r.id))["properties"]["firstname"] for r in res] == [  # type: ignore[index]
        p["firstname"] for p in people]
    # updates are matched by id
    ids = [str(r.id) for r in res]
    res = await conn.update("contacts", [(i, {"lastname": f"L{n}"}) for n, i in enumerate(ids)])
    assert [r.id for r in res] == ids
    assert [sb.get("contacts", i)["properties"]["lastname"] for i in ids] == [  # type: ignore[index]
        f"L{n}" for n in range(len(ids))]
    await conn.aclose()


async def test_results_that_fit_several_inputs_are_not_guessed_nor_sent_again(
        shuffled: tuple[HubSpotSandbox, str]) -> None:
    sb, url = shuffled
    conn = _conn(url)
    items = [{"name": "Same"}, {"name": "Other", "city": "Rome"}, {"name": "Same"}]
    with pytest.raises(WriteOutcomeUnknown) as caught:
        await conn.create("companies", items)
    known = caught.value.results
    assert known is not None and len(known) == 3
    assert known[0] is None and known[2] is None  # either id could be either input's
    assert known[1] is not None and known[1].ok
    assert sb.get("companies", str(known[1].id))["properties"]["city"] == "Rome"  # type: ignore[index]
    assert sb.counters["batch_create"] == 1  # never sent again
    assert len(sb.records("companies")) == 3
    await conn.aclose()


@pytest.mark.timeout(120)
async def test_two_companies_created_in_one_batch_are_linked_to_their_own_ids(tmp_path: Path) -> None:
    a, b = HubSpotSandbox(SandboxSettings()), HubSpotSandbox(SandboxSettings(shuffle_batch_results=True, seed=3))
    for i in range(30):
        a.user_create("companies", {"name": f"Co {i}", "domain": f"co{i}.com", "city": f"City {i}"})
    with ServerThread(a.app) as sa, ServerThread(b.app) as sbv:
        cfg = parse_config({
            "state": f"sqlite:///{tmp_path / 'index.db'}",
            "apps": {"a": {"type": "hubspot", "token": f"a-{uuid.uuid4().hex}", "base_url": sa.url},
                     "b": {"type": "hubspot", "token": f"b-{uuid.uuid4().hex}", "base_url": sbv.url}},
            "syncs": [{"name": "companies", "left": {"app": "a", "object": "companies"},
                       "right": {"app": "b", "object": "companies"},
                       "mappings": [{"left": "city", "right": "city"}]}],
        }, env={})
        session = Session(cfg)
        try:
            res = await session.runner("companies").run()
            assert res.counters.created["right"] == 30
            links = [lk for chunk in session.store.iter_links("companies") for lk in chunk]
            assert len(links) == 30
            for lk in links:
                left, right = a.get("companies", str(lk.id_of(Side.LEFT))), b.get("companies", str(lk.id_of(Side.RIGHT)))
                assert left is not None and right is not None
                assert left["properties"]["name"] == right["properties"]["name"]
            # an edit follows the link: it lands on the company of the same name
            first = next(r for r in a.records("companies") if r["properties"]["name"] == "Co 7")
            a.user_update("companies", first["id"], {"city": "Lisbon"})
            await session.runner("companies").run(full=True)
            assert {r["properties"]["name"]: r["properties"]["city"] for r in b.records("companies")}["Co 7"] == "Lisbon"
            assert len(b.records("companies")) == 30
        finally:
            await session.aclose()
            a.close()
            b.close()
