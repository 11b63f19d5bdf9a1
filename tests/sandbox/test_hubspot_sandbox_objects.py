"""Every CRM object type the official hubspot-api-client exposes answers in the sandbox, driven by
that client: properties, list pages, create and read; custom object schemas; timeline events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import AssociationSpec, BatchInputPublicAssociationMultiPost
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.schemas import ObjectSchemaEgg, ObjectTypeDefinitionLabels, ObjectTypePropertyCreate
from hubspot.crm.timeline import (
    BatchInputTimelineEvent,
    TimelineEvent,
    TimelineEventTemplateCreateRequest,
    TimelineEventTemplateToken,
)

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

TS = "2026-03-01T10:00:00.000Z"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings(records=5, seed=3, search_rate=1000))
    yield sb
    sb.close()


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> Iterator[Any]:
    with ServerThread(sandbox.app) as srv:
        # event templates are called with the developer account's API key (hapikey), the rest with the token
        yield hubspot.Client.create(access_token="pat-test", api_key="dev-key", host=srv.url)


def _error(call: Callable[[], Any]) -> tuple[int, str]:
    """(status, body) of the API error a call raises (each client module has its own ApiException)."""
    with pytest.raises(Exception) as err:  # each module its own ApiException: checked below
        call()
    assert type(err.value).__name__.endswith("Exception") and hasattr(err.value, "status")
    return int(err.value.status), str(err.value.body)


# object type -> (the client's API of it, its type id, properties of a valid create, a property it reads by default)
OBJECTS: dict[str, tuple[Callable[[Any], Any], str, dict[str, str], str]] = {
    "contacts": (lambda c: c.crm.contacts, "0-1", {"email": "ada@example.com", "firstname": "Ada"}, "email"),
    "companies": (lambda c: c.crm.companies, "0-2", {"name": "Acme", "domain": "acme.example"}, "domain"),
    "deals": (lambda c: c.crm.deals, "0-3", {"dealname": "Big one", "amount": "1200", "pipeline": "default",
                                             "dealstage": "qualifiedtobuy"}, "dealstage"),
    "tickets": (lambda c: c.crm.tickets, "0-5", {"subject": "Printer on fire", "hs_pipeline_stage": "1",
                                                 "hs_ticket_priority": "HIGH"}, "hs_pipeline_stage"),
    "products": (lambda c: c.crm.products, "0-7", {"name": "Widget", "price": "9.5", "hs_sku": "W-1"}, "price"),
    "line_items": (lambda c: c.crm.line_items, "0-8", {"name": "Widget", "quantity": "3", "price": "9.5"}, "quantity"),
    "calls": (lambda c: c.crm.objects.calls, "0-48", {"hs_timestamp": TS, "hs_call_body": "Talked pricing",
                                                      "hs_call_direction": "OUTBOUND"}, "hs_call_body"),
    "emails": (lambda c: c.crm.objects.emails, "0-49", {"hs_timestamp": TS, "hs_email_subject": "Hello",
                                                        "hs_email_direction": "EMAIL"}, "hs_email_subject"),
    "meetings": (lambda c: c.crm.objects.meetings, "0-47", {"hs_timestamp": TS, "hs_meeting_title": "Kick-off",
                                                            "hs_meeting_start_time": TS}, "hs_meeting_start_time"),
    "notes": (lambda c: c.crm.objects.notes, "0-46", {"hs_timestamp": TS, "hs_note_body": "Call back"}, "hs_note_body"),
    "tasks": (lambda c: c.crm.objects.tasks, "0-27", {"hs_timestamp": TS, "hs_task_subject": "Send offer"},
              "hs_task_status"),
}


@pytest.mark.parametrize("object_type", list(OBJECTS))
def test_every_crm_object_type(client: Any, object_type: str) -> None:
    api, type_id, values, default_prop = OBJECTS[object_type]
    props = {p.name: p for p in client.crm.properties.core_api.get_all(object_type).results}
    assert set(values) <= set(props) and "hs_object_id" in props
    assert {p.name for p in client.crm.properties.core_api.get_all(type_id).results} == set(props)
    before = api(client).basic_api.get_page(limit=100)
    made = api(client).basic_api.create(SimplePublicObjectInputForCreate(properties=values))
    assert made.id and made.properties["hs_object_id"] == made.id
    got = api(client).basic_api.get_by_id(made.id, properties=list(values))
    assert {k: got.properties[k] for k in values} == {
        k: made.properties[k] for k in values}
    page = api(client).basic_api.get_page(limit=100)
    assert len(page.results) == len(before.results) + 1
    assert default_prop in page.results[-1].properties  # what a read without properties returns
    # the generic objects API, by name and by object type id
    by_id = client.crm.objects.basic_api.get_by_id(type_id, made.id, properties=list(values))
    assert by_id.id == made.id
    assert any(r.id == made.id for r in client.crm.objects.basic_api.get_page(object_type, limit=100).results)
    found = client.crm.objects.search_api.do_search(object_type, PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": made.id}]}],
        properties=list(values), limit=10, after="0", sorts=[]))
    assert [r.id for r in found.results] == [made.id]


def test_required_properties_and_batches(client: Any) -> None:
    status, body = _error(lambda: client.crm.objects.notes.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"hs_note_body": "x"})))
    assert status == 400 and "hs_timestamp" in body
    status, body = _error(lambda: client.crm.tickets.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"subject": "x"})))
    assert status == 400 and "hs_pipeline_stage" in body
    ticket = client.crm.tickets.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"subject": "x", "hs_pipeline_stage": "2"}))
    assert ticket.properties["hs_pipeline"] == "0"  # the default pipeline
    made = client.crm.line_items.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        {"properties": {"name": f"L{i}", "quantity": str(i + 1), "price": "2"}} for i in range(3)]))
    ids = sorted(r.id for r in made.results)
    read = client.crm.line_items.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": i} for i in ids], properties=["quantity"], properties_with_history=[]))
    assert sorted(r.properties["quantity"] for r in read.results) == ["1", "2", "3"]
    pipes = client.crm.pipelines.pipelines_api.get_all("tickets").results
    assert pipes[0].id == "0" and [s.metadata["ticketState"] for s in pipes[0].stages][-1] == "CLOSED"


def test_unknown_object_type(client: Any) -> None:
    status, body = _error(lambda: client.crm.properties.core_api.get_all("widgets"))
    assert status == 400 and "Unable to infer object type from: widgets" in body
    assert _error(lambda: client.crm.objects.basic_api.get_page("p_widgets"))[0] == 400


def test_engagement_and_line_item_associations(client: Any, sandbox: HubSpotSandbox) -> None:
    deal = sandbox.records("deals")[0]["id"]
    contact = sandbox.records("contacts")[0]["id"]
    item = client.crm.line_items.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"name": "Seat", "quantity": "2", "price": "10"},
        associations=[{"to": {"id": deal}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                       "associationTypeId": 20}]}]))
    back = client.crm.associations.v4.basic_api.get_page("deals", deal, "line_items")
    assert [str(r.to_object_id) for r in back.results] == [item.id]
    assert [t.type_id for t in back.results[0].association_types] == [19]
    note = client.crm.objects.notes.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": TS, "hs_note_body": "met"}))
    client.crm.associations.v4.batch_api.create("notes", "contacts", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": note.id}, "to": {"id": contact},
         "types": [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=202)]}]))
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact, "notes")
    assert [(str(r.to_object_id), r.association_types[0].type_id) for r in page.results] == [(note.id, 201)]
    with_assoc = client.crm.objects.notes.basic_api.get_by_id(note.id, associations=["contacts"])
    assert with_assoc.associations["contacts"].results[0].type == "note_to_contact"


def test_custom_object_schema(client: Any, sandbox: HubSpotSandbox) -> None:
    schema = client.crm.schemas.core_api.create(ObjectSchemaEgg(
        name="cars", labels=ObjectTypeDefinitionLabels(singular="Car", plural="Cars"),
        primary_display_property="model", required_properties=["model"], searchable_properties=["vin"],
        secondary_display_properties=["vin"], associated_objects=["CONTACT"],
        properties=[ObjectTypePropertyCreate(name="model", label="Model", type="string", field_type="text"),
                    ObjectTypePropertyCreate(name="vin", label="VIN", type="string", field_type="text",
                                             has_unique_value=True),
                    ObjectTypePropertyCreate(name="year", label="Year", type="number", field_type="number")]))
    assert schema.object_type_id.startswith("2-")
    assert schema.fully_qualified_name == f"p{sandbox.settings.portal_id}_cars"
    assert {p.name for p in schema.properties} >= {"model", "vin", "year", "hs_object_id"}
    assert [s.name for s in client.crm.schemas.core_api.get_all().results] == ["cars"]
    assert client.crm.schemas.core_api.get_by_id(schema.object_type_id).name == "cars"
    for path in (schema.fully_qualified_name, "p_cars", schema.object_type_id):
        made = client.crm.objects.basic_api.create(path, SimplePublicObjectInputForCreate(
            properties={"model": f"Model {path}", "vin": f"VIN-{path}", "year": "2021"}))
        assert made.properties["model"] == f"Model {path}"
    cars = client.crm.objects.basic_api.get_page("p_cars", limit=10, properties=["model", "year"])
    assert len(cars.results) == 3 and {r.properties["year"] for r in cars.results} == {"2021"}
    assert sandbox.records("p_cars")[0]["properties"]["vin"].startswith("VIN-")
    props = client.crm.properties.core_api.get_all("p_cars").results
    assert "vin" in {p.name for p in props}
    assert _error(lambda: client.crm.objects.basic_api.create(  # its required property missing
        "p_cars", SimplePublicObjectInputForCreate(properties={"year": "1999"})))[0] == 400
    # the schema's association with contacts is usable
    contact = sandbox.records("contacts")[0]["id"]
    car = cars.results[0].id
    labels = client.crm.associations.v4.schema.definitions_api.get_all("p_cars", "contacts").results
    client.crm.associations.v4.batch_api.create("p_cars", "contacts", BatchInputPublicAssociationMultiPost(inputs=[
        {"from": {"id": car}, "to": {"id": contact},
         "types": [AssociationSpec(association_category="USER_DEFINED", association_type_id=labels[0].type_id)]}]))
    assert [str(r.to_object_id) for r in client.crm.associations.v4.basic_api.get_page(
        "contacts", contact, "p_cars").results] == [car]


def test_timeline_events(client: Any, sandbox: HubSpotSandbox) -> None:
    contact = sandbox.records("contacts")[1]
    template = client.crm.timeline.templates_api.create(1000001, TimelineEventTemplateCreateRequest(
        name="Webinar", object_type="contacts", header_template="Registered for {{webinarName}}",
        detail_template="At {{#formatDate timestamp}}{{/formatDate}}",
        tokens=[TimelineEventTemplateToken(name="webinarName", label="Webinar", type="string")]))
    assert template.id and template.tokens[0].name == "webinarName"
    assert [t.id for t in client.crm.timeline.templates_api.get_all(1000001).results] == [template.id]
    event = client.crm.timeline.events_api.create(TimelineEvent(
        event_template_id=template.id, object_id=contact["id"], tokens={"webinarName": "CRM 101"}, id="ev-1"))
    assert event.id == "ev-1" and event.object_id == contact["id"]
    # the client reads no answer from a batch create (its spec declares none): the events show on the record
    client.crm.timeline.events_api.create_batch(BatchInputTimelineEvent(inputs=[
        TimelineEvent(event_template_id=template.id, email=contact["properties"]["email"],
                      tokens={"webinarName": "CRM 201"}, id="ev-2")]))
    assert client.crm.timeline.events_api.get_by_id(template.id, "ev-1").tokens == {"webinarName": "CRM 101"}
    on_record = sandbox.timeline_events("contacts", contact["id"])
    assert [(e["id"], e["tokens"]["webinarName"]) for e in on_record] == [("ev-1", "CRM 101"), ("ev-2", "CRM 201")]
    assert _error(lambda: client.crm.timeline.events_api.create(TimelineEvent(  # a token the template lacks
        event_template_id=template.id, object_id=contact["id"], tokens={"other": "x"}, id="ev-3")))[0] == 400
