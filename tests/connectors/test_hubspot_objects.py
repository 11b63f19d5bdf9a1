"""The HubSpot connector reads and writes any object type: tickets, line items (with their deal),
engagements and custom objects, against the HubSpot sandbox over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow, webhook_object
from accord.model import FieldType
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=6, seed=2, search_rate=1000))
    yield sb
    sb.close()


@pytest.fixture
async def hs(server: ServerThread) -> AsyncIterator[HubSpotConnector]:
    conn = HubSpotConnector("hs", token="pat-test", base_url=server.url, timeout=5, backoff=0.01, lookback=0,
                            limits=Limits(RollingWindow(190, 10.0), RollingWindow(1000, 1.0)))
    yield conn
    await conn.aclose()


async def _scan(hs: HubSpotConnector, object: str, fields: list[str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    async for page in hs.scan(object, fields):
        out.update({r.id: dict(r.properties) for r in page.records})
    return out


async def test_tickets_read_write(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    schema = await hs.describe("tickets")
    assert schema.fields["hs_pipeline_stage"].type == FieldType.ENUM
    assert {o.value for o in schema.fields["hs_ticket_priority"].options} >= {"LOW", "HIGH"}
    made = await hs.create("tickets", [{"subject": f"T{i}", "hs_pipeline_stage": "1", "hs_ticket_priority": "HIGH"}
                                       for i in range(3)])
    assert all(r.ok for r in made)
    ids = [r.id for r in made if r.id]
    cursor = await hs.change_cursor("tickets")
    assert (await _scan(hs, "tickets", ["subject"])) == {i: {"subject": f"T{n}"} for n, i in enumerate(ids)}
    done = await hs.update("tickets", [(ids[0], {"hs_pipeline_stage": "4"})])
    assert done[0].ok and sandbox.get("tickets", ids[0])["properties"]["hs_pipeline"] == "0"
    changed = [r async for page in hs.changes("tickets", cursor, ["hs_pipeline_stage"]) for r in page.records]
    # records sharing the cursor's instant are read again (harmless); the change is there
    assert {r.id: r.properties["hs_pipeline_stage"] for r in changed}[ids[0]] == "4"
    assert [s.label for s in (await hs.pipelines("tickets"))[0].stages] == [
        "New", "Waiting on contact", "Waiting on us", "Closed"]
    assert (await hs.archive("tickets", [ids[1]]))[0].ok
    assert [r.archived for r in await hs.read("tickets", [ids[1]], ["subject"])] == [True]
    found = await hs.find("tickets", "subject", ["T2"], ["subject"])
    assert [r.id for r in found] == [ids[2]]


async def test_line_items_with_their_deal(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    deal = sandbox.records("deals")[0]["id"]
    made = await hs.create("line_items", [{"name": "Seat", "quantity": 3, "price": 12.5}])
    item = made[0].id
    assert item and made[0].ok
    assert (await hs.associate("line_items", "deals", [(item, deal)]))[0].ok
    assert await hs.associations("line_items", [item], "deals") == {item: [deal]}
    assert await hs.associations("deals", [deal], "line_items") == {deal: [item]}
    rec = (await hs.read("line_items", [item], ["quantity", "price"]))[0]
    assert rec.properties == {"quantity": 3, "price": 12.5}


async def test_engagements(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    contact = sandbox.records("contacts")[0]["id"]
    for object, values in (("calls", {"hs_call_body": "Pricing", "hs_call_direction": "OUTBOUND"}),
                           ("notes", {"hs_note_body": "Call back"}), ("tasks", {"hs_task_subject": "Offer"}),
                           ("emails", {"hs_email_subject": "Hi"}), ("meetings", {"hs_meeting_title": "Kick-off"})):
        made = await hs.create(object, [{"hs_timestamp": "2026-03-01T10:00:00.000Z", **values}])
        assert made[0].ok, made[0].error
        assert (await hs.associate(object, "contacts", [(str(made[0].id), contact)]))[0].ok
        assert await hs.associations("contacts", [contact], object) == {contact: [made[0].id]}
        assert list((await _scan(hs, object, list(values))).values()) == [values]


async def test_custom_objects(hs: HubSpotConnector, sandbox: HubSpotSandbox) -> None:
    sandbox.create_schema({
        "name": "my_object", "labels": {"singular": "My object", "plural": "My objects"},
        "primaryDisplayProperty": "title", "requiredProperties": ["title"], "associatedObjects": ["CONTACT"],
        "properties": [{"name": "title", "label": "Title", "type": "string", "fieldType": "text"},
                       {"name": "score", "label": "Score", "type": "number", "fieldType": "number"}]})
    objects = {o.value: o.label for o in await hs.list_objects()}
    assert objects["p_my_object"] == "My objects" and objects["tickets"] == "Tickets"
    schema = await hs.describe("p_my_object")
    assert schema.fields["score"].type == FieldType.NUMBER
    made = await hs.create("p_my_object", [{"title": "A", "score": 3}, {"title": "B", "score": 4}])
    assert all(r.ok for r in made)
    assert sorted(v["score"] for v in (await _scan(hs, "p_my_object", ["title", "score"])).values()) == [3, 4]
    contact = sandbox.records("contacts")[0]["id"]
    first = str(made[0].id)
    assert (await hs.associate("p_my_object", "contacts", [(first, contact)]))[0].ok
    assert await hs.associations("contacts", [contact], "p_my_object") == {contact: [first]}
    sandbox.create_list("Mine", "p_my_object")
    sandbox.list_members("Mine", "p_my_object", add=[first])
    assert await hs.list_members("p_my_object", "Mine") == frozenset({first})


def test_webhook_objects() -> None:
    assert webhook_object({"subscriptionType": "ticket.propertyChange"}) == ("tickets", "propertyChange")
    assert webhook_object({"subscriptionType": "object.creation", "objectTypeId": "0-8"}) == ("line_items", "creation")
