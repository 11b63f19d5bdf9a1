"""The Snov.io sandbox over HTTP: Snov.io's paths, parameters (form or JSON), answers and limits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox

PHP_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.000000$")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SnovioSandbox, str]]:
    sb = SnovioSandbox()
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


@pytest.fixture
def sb(served: tuple[SnovioSandbox, str]) -> SnovioSandbox:
    sb = served[0]
    sb.reset()
    sb.clear_faults()
    sb.settings.rate_limit, sb.settings.rate_window = 100_000, 1.0
    sb.settings.client_secret, sb.settings.token_ttl = None, 3600.0
    return sb


@pytest.fixture
def http(served: tuple[SnovioSandbox, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1], timeout=5) as c:
        yield c


def _token(http: httpx.Client, **extra: str) -> str:
    r = http.post("/v1/oauth/access_token", data={"grant_type": "client_credentials", "client_id": "cid",
                                                  "client_secret": "secret", **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _auth(http: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(http)}"}


def test_client_credentials_token(sb: SnovioSandbox, http: httpx.Client) -> None:
    body = http.post("/v1/oauth/access_token", json={"grant_type": "client_credentials", "client_id": "cid",
                                                     "client_secret": "s"}).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) == 40
    bad = http.post("/v1/oauth/access_token", data={"grant_type": "password", "client_id": "c", "client_secret": "s"})
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    sb.settings.client_secret = "right"
    wrong = http.post("/v1/oauth/access_token", data={"grant_type": "client_credentials", "client_id": "c",
                                                      "client_secret": "wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_the_token_goes_in_the_header_or_any_parameter(sb: SnovioSandbox, http: httpx.Client) -> None:
    t = _token(http)
    assert http.get("/v1/get-user-lists", headers={"Authorization": f"Bearer {t}"}).status_code == 200
    assert http.get("/v1/get-user-lists", params={"access_token": t}).status_code == 200
    assert http.post("/v1/lists", data={"access_token": t, "name": "Form"}).status_code == 200
    assert http.post("/v1/lists", json={"access_token": t, "name": "Json"}).status_code == 200
    missing = http.get("/v1/get-user-lists")
    assert missing.status_code == 401 and missing.json()["error"] == "access_denied"
    assert http.get("/v1/get-user-lists", params={"access_token": "forged"}).json()["hint"].startswith("Access token "
                                                                                                       "could not")
    sb.expire_tokens()
    expired = http.get("/v1/get-user-lists", params={"access_token": t})
    assert expired.status_code == 401 and "expired" in expired.json()["hint"]


def test_lists(sb: SnovioSandbox, http: httpx.Client) -> None:
    h = _auth(http)
    made = http.post("/v1/lists", headers=h, data={"name": "From HubSpot"}).json()
    assert made["success"] is True and isinstance(made["data"]["id"], int)
    gone = sb.create_list("Old")
    sb.delete_list(gone)
    lists = http.get("/v1/get-user-lists", headers=h).json()
    assert isinstance(lists, list)  # a bare array, as Snov.io answers
    by_name = {x["name"]: x for x in lists}
    assert by_name["From HubSpot"]["contacts"] == 0 and by_name["From HubSpot"]["isDeleted"] is False
    assert PHP_DATE.match(by_name["From HubSpot"]["creationDate"]["date"])
    assert by_name["From HubSpot"]["creationDate"]["timezone"] == "UTC"
    assert by_name["Old"]["isDeleted"] is True and by_name["Old"]["deletionDate"] is not None
    assert http.post("/v1/lists", headers=h, data={"name": " "}).status_code == 400


def test_prospect_list_pages(sb: SnovioSandbox, http: httpx.Client) -> None:
    lid = sb.create_list("Leads")
    for i in range(5):
        sb.user_add(lid, emails=[f"p{i}@x.com"], firstName=f"P{i}")
    h = _auth(http)
    p2 = http.post("/v1/prospect-list", headers=h, data={"listId": lid, "page": 2, "perPage": 2}).json()
    assert p2["success"] and p2["list"]["name"] == "Leads" and p2["list"]["contacts"] == 5
    assert [p["firstName"] for p in p2["prospects"]] == ["P2", "P3"]
    p = p2["prospects"][0]
    assert p["emails"][0]["email"] == "p2@x.com" and PHP_DATE.match(p["lastUpdateDate"]["date"])
    assert p["lists"] == [{"id": lid, "name": "Leads"}]
    assert http.post("/v1/prospect-list", headers=h, json={"listId": lid, "page": 3, "perPage": 2}).json()[
        "prospects"][0]["firstName"] == "P4"
    too_big = http.post("/v1/prospect-list", headers=h, data={"listId": lid, "perPage": 101})
    assert too_big.status_code == 400 and "perPage" in too_big.json()["errors"]
    unknown = http.post("/v1/prospect-list", headers=h, data={"listId": 42})
    assert unknown.status_code == 404 and unknown.json() == {"success": False, "errors": "List with id '42' not found"}


def test_add_prospect_to_list_form_and_json(sb: SnovioSandbox, http: httpx.Client) -> None:
    sb.add_field("Lead source")
    lid, other = sb.create_list("Leads"), sb.create_list("Other")
    h = _auth(http)
    r = http.post("/v1/add-prospect-to-list", headers=h, data={
        "email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "phones[]": ["+1 555 0100", "+1 555 0199"],
        "country": "Germany", "locality": "Berlin", "position": "CTO", "companyName": "Acme",
        "companySite": "https://acme.example", "industry": "Retail", "customFields[Lead source]": "Webinar",
        "customFields[No such field]": "ignored", "listId": lid})
    assert r.json()["success"] and r.json()["added"] is True and r.json()["updated"] is False
    pid = r.json()["id"]
    ann = sb.by_email(lid)["ann@x.com"]
    assert ann["phones"] == ["+1 555 0100", "+1 555 0199"] and ann["customFields"] == {"Lead source": "Webinar"}
    assert ann["currentJob"] == [{"companyName": "Acme", "position": "CTO", "site": "https://acme.example"}]
    assert ann["name"] == "Ann Lee"
    # the same person again, found by email: updated only with updateContact, added to the other list
    again = http.post("/v1/add-prospect-to-list", headers=h, json={
        "email": "ANN@x.com", "firstName": "Anna", "listId": other, "updateContact": False}).json()
    assert again == {"success": True, "id": pid, "added": True, "updated": False}
    assert sb.by_email(lid)["ann@x.com"]["firstName"] == "Ann" and len(sb.by_email(lid)["ann@x.com"]["lists"]) == 2
    upd = http.post("/v1/add-prospect-to-list", headers=h, json={
        "email": "ann@x.com", "firstName": "Anna", "phones": ["+49 1"], "customFields": {"Lead source": ""},
        "listId": lid, "updateContact": 1}).json()
    assert upd == {"success": True, "id": pid, "added": False, "updated": True}
    ann = sb.by_email(lid)["ann@x.com"]
    assert (ann["firstName"], ann["phones"], ann["customFields"]["Lead source"]) == ("Anna", ["+49 1"], None)
    bad = http.post("/v1/add-prospect-to-list", headers=h, data={"email": "no-at-sign", "listId": lid})
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    assert http.post("/v1/add-prospect-to-list", headers=h, data={"email": "x@y.com"}).status_code == 400


def test_adding_to_a_list_updates_last_update_date(sb: SnovioSandbox, http: httpx.Client) -> None:
    lid, other = sb.create_list("Leads"), sb.create_list("Other")
    pid = sb.user_add(lid, emails=["a@x.com"])
    from datetime import timedelta

    sb.store.prospects[pid].updated -= timedelta(days=3)
    before = sb.by_email()["a@x.com"]["lastUpdateDate"]["date"]
    http.post("/v1/add-prospect-to-list", headers=_auth(http), data={"email": "a@x.com", "listId": other})
    assert sb.by_email()["a@x.com"]["lastUpdateDate"]["date"] > before


def test_lookups(sb: SnovioSandbox, http: httpx.Client) -> None:
    sb.add_field("Score", "number")
    lid = sb.create_list("Leads")
    pid = sb.user_add(lid, emails=["main@x.com", "alt@y.com"], firstName="M", custom={"Score": "7"})
    h = _auth(http)
    one = http.post("/v1/get-prospect-by-id", headers=h, data={"id": pid}).json()
    assert one["success"] and one["data"]["customFields"] == {"Score": "7"}
    assert http.post("/v1/get-prospect-by-id", headers=h, data={"id": "nope"}).json()["success"] is False
    by_alt = http.post("/v1/get-prospects-by-email", headers=h, data={"email": "ALT@y.com"}).json()
    assert by_alt["success"] and [p["id"] for p in by_alt["data"]] == [pid]
    missing = http.post("/v1/get-prospects-by-email", headers=h, data={"email": "no.one@x.com"})
    assert missing.status_code == 200
    assert missing.json() == {"success": False, "errors": "Prospect with email 'no.one@x.com' not found"}
    fields = http.get("/v1/prospect-custom-fields", headers=h).json()
    assert fields == [{"key": "customFields['Score']", "label": "Score", "required": False, "type": "number"}]
    nan = http.post("/v1/add-prospect-to-list", headers=h, data={"email": "n@x.com", "customFields[Score]": "many",
                                                                  "listId": lid})
    assert nan.status_code == 400


def test_designed_update_and_delete(sb: SnovioSandbox, http: httpx.Client) -> None:
    lid, other = sb.create_list("Leads"), sb.create_list("Other")
    pid = sb.user_add(lid, emails=["old@x.com", "alt@y.com"], firstName="A")
    sb.user_add(lid, emails=["taken@x.com"])
    h = _auth(http)
    r = http.post("/v1/update-prospect", headers=h, data={"id": pid, "email": "new@x.com", "lastName": "B"}).json()
    assert r == {"success": True, "id": pid, "updated": True}
    p = sb.prospects(lid)[0]
    assert [e["email"] for e in p["emails"]] == ["new@x.com", "alt@y.com"] and p["lastName"] == "B"
    dup = http.post("/v1/update-prospect", headers=h, data={"id": pid, "email": "taken@x.com"})
    assert dup.status_code == 400 and "already exists" in dup.json()["errors"]["email"]
    sb.store.lists[other].members[pid] = None
    assert http.post("/v1/delete-prospect-from-list", headers=h, data={"id": pid, "listId": lid}).json()["deleted"]
    assert pid in sb.store.prospects  # still in "Other"
    assert http.post("/v1/delete-prospect-from-list", headers=h, data={"id": pid, "listId": other}).json()["deleted"]
    assert pid not in sb.store.prospects  # in no list any more: deleted


def test_rate_limit_and_faults(sb: SnovioSandbox, http: httpx.Client) -> None:
    sb.settings.rate_limit, sb.settings.rate_window = 3, 30.0
    h = _auth(http)  # the token request counts too
    assert [http.get("/v1/get-user-lists", headers=h).status_code for _ in range(3)] == [200, 200, 429]
    limited = http.get("/v1/get-user-lists", headers=h)
    assert limited.status_code == 429 and limited.json()["success"] is False
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert sb.counters["rate_limited"] == 2
    assert http.get("/_sandbox/").status_code == 200  # admin routes are not limited
    sb.settings.rate_limit = 100_000
    sb.set_faults(rate_500=1.0)
    assert http.get("/v1/get-user-lists", headers=h).status_code == 500
    sb.set_faults(rate_500=0.0, rate_429=1.0, retry_after=2)
    r = http.get("/v1/get-user-lists", headers=h)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_admin_routes_seed_and_edit(sb: SnovioSandbox, http: httpx.Client) -> None:
    first = http.post("/_sandbox/seed", json={"records": 30, "seed": 7}).json()
    emails = sorted(sb.by_email())
    http.post("/_sandbox/reset")
    assert http.post("/_sandbox/seed", json={"records": 30, "seed": 7}).json() == first
    assert sorted(sb.by_email()) == emails  # same seed, same data
    summary = http.get("/_sandbox/").json()
    assert summary["prospects"] == 30 and sum(summary["lists"].values()) == 30
    assert summary["customFields"] == ["Lead source", "Seniority"]
    assert any(len(p["emails"]) == 2 for p in sb.prospects())
    lid = http.post("/_sandbox/lists", json={"name": "Mine"}).json()["id"]
    pid = http.post("/_sandbox/prospects", json={"listId": lid, "emails": ["me@x.com"], "firstName": "Me"}).json()["id"]
    assert http.patch(f"/_sandbox/prospects/{pid}", json={"lastName": "Too"}).json()["name"] == "Me Too"
    assert http.delete("/_sandbox/custom-fields/Seniority").json() == {"deleted": True}
    assert all("Seniority" not in p["customFields"] for p in sb.prospects())
    assert http.delete(f"/_sandbox/prospects/{pid}").json() == {"deleted": True}
    assert http.post("/_sandbox/tokens/expire").status_code == 200
