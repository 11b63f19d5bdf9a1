"""The official hubspot-api-client, pointed at the sandbox over loopback, works unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicGdprDeleteInput,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.lists import ListCreateRequest
from hubspot.crm.properties import PropertyCreate

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

N = 30


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=N, seed=7, search_rate=1000))
    yield sb
    sb.close()


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> Iterator[Any]:
    with ServerThread(sandbox.app) as srv:
        yield hubspot.Client.create(access_token="pat-test", host=srv.url)


def test_list_pages_and_get_all(client: Any) -> None:
    page = client.crm.contacts.basic_api.get_page(limit=7, properties=["email", "phone"])
    assert len(page.results) == 7
    assert set(page.results[0].properties) == {"email", "phone"}
    assert page.paging.next.link.startswith("http://127.0.0.1:")
    everyone = client.crm.contacts.get_all(properties=["email"])
    assert len(everyone) == N
    assert len({c.id for c in everyone}) == N
    assert all("@" in c.properties["email"] for c in everyone)
    assert len(client.crm.companies.get_all()) == N
    deal = client.crm.deals.get_all()[0]
    assert {"dealname", "amount", "dealstage", "pipeline", "hs_lastmodifieddate"} <= set(deal.properties)


def test_read_create_update_archive(client: Any, sandbox: HubSpotSandbox) -> None:
    api = client.crm.contacts.basic_api
    made = api.create(SimplePublicObjectInputForCreate(properties={"email": "Ada@Example.COM", "firstname": "Ada"}))
    assert made.properties["email"] == "ada@example.com"  # HubSpot lower-cases emails
    assert made.properties["hs_object_id"] == made.id
    by_email = api.get_by_id("ada@example.com", id_property="email", properties=["firstname"])
    assert by_email.id == made.id and by_email.properties["firstname"] == "Ada"
    updated = api.update(made.id, SimplePublicObjectInput(properties={"lastname": "Lovelace"}))
    assert updated.properties["lastname"] == "Lovelace"
    assert updated.updated_at >= made.updated_at
    api.archive(made.id)
    with pytest.raises(ApiException) as err:
        api.get_by_id(made.id)
    assert err.value.status == 404
    assert api.get_by_id(made.id, archived=True).archived is True
    assert sandbox.get("contacts", made.id)["archived"] is True


def test_batch_endpoints(client: Any) -> None:
    batch = client.crm.contacts.batch_api
    created = batch.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"email": f"b{i}@example.com", "firstname": f"B{i}"}} for i in range(3)]))
    ids = sorted(r.id for r in created.results)
    assert len(ids) == 3
    read = batch.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in [*ids, "424242"]],
                                                         properties=["firstname"], properties_with_history=[]))
    assert sorted(r.id for r in read.results) == ids
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context["ids"] == ["424242"]
    upd = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": i, "properties": {"jobtitle": "CTO"}} for i in ids]))
    assert {r.properties["jobtitle"] for r in upd.results} == {"CTO"}
    ups = batch.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"id": "b0@example.com", "idProperty": "email", "properties": {"firstname": "Bee"}},
        {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "New"}}]))
    by_email = {r.properties["email"]: r for r in ups.results}
    assert by_email["b0@example.com"].new is False and by_email["new@example.com"].new is True
    batch.archive(BatchInputSimplePublicObjectId(inputs=[{"id": i} for i in ids]))
    again = batch.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids], properties=[],
                                                          properties_with_history=[]))
    assert again.results == [] and len(again.errors[0].context["ids"]) == 3


def test_search(client: Any, sandbox: HubSpotSandbox) -> None:
    search = client.crm.contacts.search_api
    target = sandbox.records("contacts")[3]["properties"]
    res = search.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "email", "operator": "EQ", "value": target["email"].upper()}]}],
        properties=["email", "firstname"], limit=10, after="0", sorts=[]))
    assert res.total == 1 and res.results[0].properties["firstname"] == target["firstname"]
    # sorted ascending by the change cursor, paged with `after`
    seen: list[str] = []
    after = "0"
    while True:
        page = search.do_search(PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "0"}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=["lastmodifieddate"], limit=11, after=after))
        seen += [r.properties["lastmodifieddate"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == N and seen == sorted(seen)
    leads = search.do_search(PublicObjectSearchRequest(filter_groups=[
        {"filters": [{"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead", "customer"]}]},
        {"filters": [{"propertyName": "hs_lead_status", "operator": "NOT_HAS_PROPERTY"}]}],
        properties=["lifecyclestage"], limit=100, after="0", sorts=[]))
    expected = [c for c in sandbox.records("contacts") if c["properties"].get("lifecyclestage") in ("lead", "customer")
                or not c["properties"].get("hs_lead_status")]
    assert leads.total == len(expected) > 0


def test_properties_and_pipelines(client: Any) -> None:
    props = {p.name: p for p in client.crm.properties.core_api.get_all("contacts").results}
    assert props["email"].type == "string"
    assert props["lifecyclestage"].type == "enumeration" and props["lifecyclestage"].options
    assert props["hs_object_id"].modification_metadata.read_only_value is True
    assert props["num_associated_deals"].calculated is True
    made = client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="accord_source", label="Accord source", type="string", field_type="text", group_name="contactinformation"))
    assert made.name == "accord_source"
    assert any(p.name == "accord_source" for p in client.crm.properties.core_api.get_all("contacts").results)
    pipes = client.crm.pipelines.pipelines_api.get_all("deals").results
    assert pipes[0].id == "default" and [s.id for s in pipes[0].stages][-2:] == ["closedwon", "closedlost"]


def test_associations_v4(client: Any, sandbox: HubSpotSandbox) -> None:
    contact = sandbox.records("contacts")[0]
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact["id"], "companies")
    assert len(page.results) == 1
    assert {t.type_id for t in page.results[0].association_types} == {1, 279}
    company = str(page.results[0].to_object_id)
    back = client.crm.associations.v4.basic_api.get_page("companies", company, "contacts")
    assert contact["id"] in {str(r.to_object_id) for r in back.results}
    new_company = sandbox.records("companies")[-1]["id"]
    client.crm.associations.v4.batch_api.create("contacts", "companies", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": contact["id"]}, "to": {"id": new_company},
         "types": [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)]}]))
    read = client.crm.associations.v4.batch_api.get_page("contacts", "companies",
                                                         BatchInputPublicFetchAssociationsBatchRequest(
                                                             inputs=[{"id": contact["id"]}]))
    assert {str(t.to_object_id) for t in read.results[0].to} == {company, new_company}


def test_lists_v3(client: Any, sandbox: HubSpotSandbox) -> None:
    made = client.crm.lists.lists_api.create(ListCreateRequest(name="Sync to Salesforce", object_type_id="0-1",
                                                               processing_type="MANUAL"))
    list_id = made.list.list_id
    ids = [c["id"] for c in sandbox.records("contacts")[:5]]
    added = client.crm.lists.memberships_api.add(list_id, ids)
    assert sorted(added.records_ids_added) == sorted(ids)
    found = client.crm.lists.lists_api.get_by_name("Sync to Salesforce", "0-1")
    assert found.list.list_id == list_id and found.list.size == 5
    page = client.crm.lists.memberships_api.get_page(list_id, limit=3)
    assert len(page.results) == 3 and page.paging.next.after
    rest = client.crm.lists.memberships_api.get_page(list_id, after=page.paging.next.after, limit=3)
    assert sorted(r.record_id for r in page.results + rest.results) == sorted(ids)
    client.crm.lists.memberships_api.remove(list_id, ids[:2])
    assert sandbox.list_members("Sync to Salesforce") == sorted(ids[2:], key=int)


def test_merge_makes_a_new_record_that_the_old_ids_read_as(client: Any, sandbox: HubSpotSandbox) -> None:
    """HubSpot's merge since 2023: both records archived, a new id holding the primary's values
    over the other's, ``hs_merged_object_ids``, both associations; old ids read as the new one."""
    api = client.crm.contacts.basic_api
    a = api.create(SimplePublicObjectInputForCreate(properties={"email": "ann@merge.example", "firstname": "Ann"}))
    b = api.create(SimplePublicObjectInputForCreate(properties={"email": "ann.b@merge.example", "firstname": "Annie",
                                                                "jobtitle": "CFO"}))
    company = client.crm.companies.get_all()[0]
    sandbox.store.associate("contacts", int(b.id), "companies", int(company.id))
    merged = api.merge(PublicMergeInput(primary_object_id=a.id, object_id_to_merge=b.id))
    assert merged.id not in (a.id, b.id)
    assert merged.properties["email"] == "ann@merge.example"  # the primary's value wins
    assert merged.properties["firstname"] == "Ann"
    assert merged.properties["jobtitle"] == "CFO"  # the other's where the primary has none
    assert set(merged.properties["hs_merged_object_ids"].split(";")) == {a.id, b.id}
    for old in (a.id, b.id):  # reads by an old id answer with the merged record
        assert api.get_by_id(old, properties=["email"]).id == merged.id
    got = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=b.id)], properties=["email"], properties_with_history=[]))
    assert [r.id for r in got.results] == [merged.id]
    archived = {c.id for c in client.crm.contacts.get_all(archived=True)}
    assert {a.id, b.id} <= archived and merged.id not in archived
    assert sandbox.store.associated("contacts", int(merged.id), "companies").keys() == {int(company.id)}
    with pytest.raises(ApiException) as e:
        api.merge(PublicMergeInput(primary_object_id=merged.id, object_id_to_merge=merged.id))
    assert e.value.status == 400


def test_gdpr_delete_removes_the_record_for_good(client: Any, sandbox: HubSpotSandbox) -> None:
    api = client.crm.contacts.basic_api
    c = api.create(SimplePublicObjectInputForCreate(properties={"email": "gone@gdpr.example"}))
    events: list[dict[str, Any]] = []
    sandbox.store.on_events = events.extend
    api.purge(PublicGdprDeleteInput(object_id="gone@gdpr.example", id_property="email"))
    assert [e["subscriptionType"] for e in events] == ["contact.privacyDeletion"]
    with pytest.raises(ApiException) as e:
        api.get_by_id(c.id)
    assert e.value.status == 404
    assert c.id not in {x.id for x in client.crm.contacts.get_all(archived=True)}  # nothing to restore
