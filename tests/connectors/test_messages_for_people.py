"""Messages people read (issue #19): a vendor's refusal as one sentence naming the field and the
value, app names instead of left/right, and a hint that fits the failure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector, Limits, RollingWindow
from accord.connectors.hubspot import write_error as hubspot_error
from accord.connectors.salesforce import write_error as salesforce_error
from accord.engine.mapping import compile_sync
from accord.engine.planner import PairInput, plan_deleted, plan_pair
from accord.model import ContainerMissing, FieldSchema, FieldType, ObjectSchema, Record, Side
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.hubspot.store import validation_error
from accord.sandbox.server import ServerThread


def test_hubspot_refusal_is_one_sentence_with_property_and_value() -> None:
    allowed = ["ACCOUNTING", "RETAIL"]
    err = validation_error([("industry", "INVALID_OPTION", f"Electronics was not one of the allowed options: {allowed}")])
    e = hubspot_error(400, err.body())
    assert e.message == "HubSpot refused 'Electronics' for the property industry: it is not one of the property's options."
    assert "[" not in e.message and "isValid" not in e.message
    assert e.hint.startswith("Add 'Electronics' to the options of the HubSpot property industry, or give it a "
                             "counterpart in the mapping's value map")
    # the same answer without errors[] (only the JSON in the message), two properties
    two = validation_error([("email", "INVALID_EMAIL", "not-an-email is not a valid email address."),
                            ("industry", "INVALID_OPTION", "X was not one of the allowed options: [A]")])
    e = hubspot_error(400, {"category": "VALIDATION_ERROR", "message": two.body()["message"]})
    assert e.message == ("HubSpot refused 'not-an-email' for the property email: it is not a valid email address; "
                         "HubSpot refused 'X' for the property industry: it is not one of the property's options.")


def test_salesforce_picklist_refusal_names_field_and_value() -> None:
    e = salesforce_error([{"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           "message": "Status: bad value for restricted picklist field: Hot", "fields": ["Status__c"]}])
    assert e.message == "Salesforce refused 'Hot' for the field Status__c: it is not one of the picklist's values"
    assert "Status__c" in e.hint and "value map" in e.hint
    e = salesforce_error([{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
                           "fields": ["LastName"]}])
    assert e.message == "Salesforce needs a value in LastName (a required field)"
    e = salesforce_error([{"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: jö@x.com",
                           "fields": ["Email"]}])
    assert e.message == "Salesforce refused 'jö@x.com' for the field Email: it is not a valid email address"
    assert e.category == "validation" and "Email" in e.hint


def _spec(**extra: object) -> object:
    cfg = parse_config({"apps": {"hubspot": {"type": "memory"}, "salesforce": {"type": "memory"}},
                        "syncs": [{"name": "c", "left": {"app": "hubspot", "object": "contacts"},
                                   "right": {"app": "salesforce", "object": "contacts"}, **extra}]}, env={})
    schema = ObjectSchema("contacts", {n: FieldSchema(n, FieldType.TEXT) for n in ("first_name", "last_name", "email")})
    spec, issues = compile_sync(cfg.syncs[0], "memory", "memory", schema, schema)
    assert not issues
    return spec


def test_planner_messages_name_the_apps() -> None:
    spec = _spec()
    marked = plan_deleted(spec, Side.RIGHT, Record("h1", {"email": "a@x.com"}))  # type: ignore[arg-type]
    assert marked.message == "the record was deleted in salesforce"
    assert marked.hint is not None and "recreate it in salesforce" in marked.hint and "delete it in hubspot too" in marked.hint
    assert "left" not in marked.message and "right app" not in marked.hint
    gone = plan_deleted(_spec(deletes="propagate"), Side.LEFT, Record("s1", {}))  # type: ignore[arg-type]
    assert gone.message == "deleted in hubspot; deleted in salesforce too"
    listed = _spec(inclusion={"side": "left", "list": "Sync to Salesforce"})
    out = plan_pair(listed, PairInput(Record("h1", {"email": "a@x.com"}), None, in_list=False))  # type: ignore[arg-type]
    assert out.message == "the record is not in the inclusion list 'Sync to Salesforce' of hubspot"
    nokey = plan_pair(spec, PairInput(None, Record("s1", {"first_name": "A"}), has_key=False))  # type: ignore[arg-type]
    assert nokey.message == "the record has no email in salesforce to match it by"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=5, seed=1, search_rate=1000))
    yield sb
    sb.close()


@pytest.fixture
async def hs(sandbox: HubSpotSandbox) -> AsyncIterator[HubSpotConnector]:
    with ServerThread(sandbox.app) as server:
        conn = HubSpotConnector("hubspot", token="pat", base_url=server.url, timeout=5, backoff=0.01,
                                limits=Limits(RollingWindow(1000, 10.0), RollingWindow(1000, 1.0)))
        yield conn
        await conn.aclose()


async def test_a_missing_inclusion_list_says_so_and_how_to_fix_it(hs: HubSpotConnector, sandbox: HubSpotSandbox,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.create_list("Sync to Salesforce")
    assert [o.value for o in await hs.inclusion_lists("contacts")] == ["Sync to Salesforce"]
    assert await hs.inclusion_lists("companies") == []
    # deleted between the look-up by name and the read of its members
    real = hs._list_id

    async def then_deleted(obj: str, name: str) -> str:
        list_id = await real(obj, name)
        sandbox.delete_list(name)
        return list_id

    monkeypatch.setattr(hs, "_list_id", then_deleted)
    with pytest.raises(ContainerMissing) as e:
        await hs.list_members("contacts", "Sync to Salesforce")
    assert "HubSpot has no contacts list 'Sync to Salesforce'" in str(e.value)
    assert e.value.hint.startswith("Restore the list 'Sync to Salesforce' in HubSpot")
    assert "deleted or merged" not in e.value.hint
