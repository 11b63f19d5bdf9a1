"""HubSpot sandbox: the read endpoints third-party clients call (singer's tap-hubspot, for the peer benchmark).

tap-hubspot lists contacts with ``associations=tickets,companies,deals`` and, before syncing,
asks for the portal's custom object schemas (``GET /crm/v3/schemas``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from test_hubspot_sandbox_http import conforms

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

AUTH = {"Authorization": "Bearer pat-test"}
CONTACTS = "CRM_Contacts_Rollouts_424_v3_contacts.json"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(SandboxSettings())
    yield sb
    sb.close()


@pytest.fixture
def http(sandbox: HubSpotSandbox) -> Iterator[httpx.Client]:
    with ServerThread(sandbox.app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c:
        yield c


def test_list_and_get_with_associations(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    ann = sandbox.user_create("contacts", {"email": "ann@x.com"})["id"]
    bob = sandbox.user_create("contacts", {"email": "bob@x.com"})["id"]
    acme = sandbox.user_create("companies", {"name": "Acme"})["id"]
    deal = sandbox.user_create("deals", {"dealname": "D"})["id"]
    sandbox.associate("contacts", ann, "companies", acme)
    sandbox.associate("contacts", ann, "deals", deal)

    page = http.get("/crm/v3/objects/contacts", params={"associations": "tickets,companies,deals", "limit": 10}).json()
    conforms(CONTACTS, "/crm/v3/objects/contacts", "get", "200", page)
    by_id = {r["id"]: r for r in page["results"]}
    # unknown types (tickets: not in this portal) are ignored, types without associations left out
    assert set(by_id[ann]["associations"]) == {"companies", "deals"}
    assert "associations" not in by_id[bob]
    companies = by_id[ann]["associations"]["companies"]["results"]
    assert {c["id"] for c in companies} == {acme}
    assert all(c["type"] in ("contact_to_company", "contact_to_company_unlabeled") for c in companies)
    assert by_id[ann]["associations"]["deals"]["results"] == [{"id": deal, "type": "contact_to_deal"}]

    one = http.get(f"/crm/v3/objects/contacts/{ann}", params={"associations": "company"}).json()
    conforms(CONTACTS, "/crm/v3/objects/contacts/{contactId}", "get", "200", one)
    assert set(one["associations"]) == {"companies"}
    assert "associations" not in http.get(f"/crm/v3/objects/contacts/{ann}").json()


def test_custom_object_schemas(sandbox: HubSpotSandbox, http: httpx.Client) -> None:
    r = http.get("/crm/v3/schemas")
    assert r.status_code == 200 and r.json() == {"results": []}
    assert sandbox.counters["schemas"] == 1  # counted like every API call
    assert httpx.get(f"{http.base_url}/crm/v3/schemas").status_code == 401


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_id_range_search_answers_as_a_general_search_would(sandbox: HubSpotSandbox, direction: str) -> None:
    """A search bounded and sorted by hs_object_id takes the sorted-id path; adding any other
    filter takes the general one. Both give the same page, total and paging."""
    sandbox.seed(300, seed=2)
    ids = sorted(int(c["id"]) for c in sandbox.records("contacts"))
    for rid in ids[10:20]:
        sandbox.user_delete("contacts", rid)  # archived records are never found
    store = sandbox.store
    lo, hi = ids[5], ids[-40]
    for bounds in ([("GT", lo), ("LT", hi)], [("GTE", lo), ("LTE", hi)], [("EQ", ids[3])], []):
        filters = [{"propertyName": "hs_object_id", "operator": op, "value": str(v)} for op, v in bounds]
        general = [*filters, {"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}]
        for after in (0, 50, 240):
            def body(fs: list[dict[str, object]], after: int = after) -> dict[str, object]:
                return {"filterGroups": [{"filters": fs}] if fs else [], "limit": 100, "after": after,
                        "sorts": [{"propertyName": "hs_object_id", "direction": direction}],
                        "properties": ["email"]}
            assert store._id_range_query("contacts", body(filters)["filterGroups"], body(filters)["sorts"], "")  # type: ignore[arg-type]
            assert store.search("contacts", body(filters), 10_000) == store.search("contacts", body(general), 10_000)
