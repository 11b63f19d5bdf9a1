"""The xentral sandbox over loopback HTTP: auth, paging, filters, errors, groups, resubmissions, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.sandbox.server import ServerThread
from accord.sandbox.xentral import SandboxSettings, XentralSandbox, install

TOKEN = "xentral-pat"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[XentralSandbox, str]]:
    sb = XentralSandbox(SandboxSettings(token=TOKEN, rate_limit=10_000))
    with ServerThread(sb.app) as srv:
        yield sb, srv.url


@pytest.fixture()
def sb(served: tuple[XentralSandbox, str]) -> Iterator[XentralSandbox]:
    sandbox = served[0]
    sandbox.reset()
    sandbox.settings.rate_limit = 10_000
    install(sandbox.store)
    yield sandbox


@pytest.fixture()
def api(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1] + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5) as c:
        yield c


def _addr(api: httpx.Client, **body: Any) -> dict[str, Any]:
    r = api.post("/adressen", json={"name": "X", **body})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_auth_missing_and_wrong_token(served: tuple[XentralSandbox, str], sb: XentralSandbox) -> None:
    url = served[1] + "/api/v1/adressen"
    r = httpx.get(url)
    assert r.status_code == 401 and r.json()["error"]["code"] == 7411
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = httpx.get(url, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"] == {
        "code": 7414, "http_code": 401, "message": "API account is invalid or inactive.",
        "href": served[1] + "/api/docs.html#error-7414"}


def test_every_value_is_a_string_and_paging_has_a_pagination_object(api: httpx.Client) -> None:
    for i in range(5):
        _addr(api, name=f"P{i}", email=f"p{i}@x.de", lead=1)
    body = api.get("/adressen", params={"items": 2, "page": 3}).json()
    assert body["pagination"] == {"items_per_page": 2, "items_current": 1, "items_total": 5, "page_current": 3,
                                  "page_last": 3}
    row = body["data"][0]
    assert row["id"] == "5" and row["lead"] == "1" and row["projekt"] == "0" and row["geburtstag"] == "0000-00-00"
    assert row["kundennummer"] and row["logdatei"][:4].isdigit() and row["gruppen"] == []
    # items above 1000 (or not a number) fall back to the default of 20, silently, as OpenXE does
    assert api.get("/adressen", params={"items": 5000}).json()["pagination"]["items_per_page"] == 20


def test_an_empty_list_is_a_404(api: httpx.Client) -> None:
    r = api.get("/adressen", params={"email_equals": "nobody@x.de"})
    assert r.status_code == 404 and r.json()["error"]["code"] == 7452


def test_simple_filters_compare_case_insensitively(api: httpx.Client) -> None:
    _addr(api, name="Anna Berg", email="Anna@Example.de")
    _addr(api, name="Bert Berg", email="bert@example.de")
    assert [a["name"] for a in api.get("/adressen", params={"email_equals": "anna@example.DE"}).json()["data"]] == [
        "Anna Berg"]
    assert len(api.get("/adressen", params={"name": "berg"}).json()["data"]) == 2
    assert api.get("/adressen", params={"name_startswith": "bert"}).json()["data"][0]["email"] == "bert@example.de"
    r = api.get("/adressen", params={"shoe_size": "42"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 7454


def test_complex_filters_with_or_and_comparisons_and_sorting(api: httpx.Client) -> None:
    ids = [_addr(api, name=f"N{i}", email=f"n{i}@x.de")["id"] for i in range(6)]
    params = {"filter[0][property]": "email", "filter[0][expression]": "eq", "filter[0][value]": "N1@X.DE",
              "filter[1][property]": "email", "filter[1][value]": "n4@x.de", "filter[1][operation]": "OR",
              "sort": "-id"}
    assert [a["id"] for a in api.get("/adressen", params=params).json()["data"]] == [ids[4], ids[1]]
    params = {"filter[0][property]": "id", "filter[0][expression]": "gt", "filter[0][value]": ids[3], "sort": "id"}
    assert [a["id"] for a in api.get("/adressen", params=params).json()["data"]] == ids[4:]
    params = {"filter[0][property]": "email", "filter[0][expression]": "like", "filter[0][value]": "n%@x.de",
              "filter[1][property]": "id", "filter[1][expression]": "lte", "filter[1][value]": "2"}
    assert len(api.get("/adressen", params=params).json()["data"]) == 2  # numeric, not text: "10" > "2"
    r = api.get("/adressen", params={"sort": "shoe_size"})
    assert r.status_code == 400 and "shoe_size" in r.json()["error"]["message"]


def test_create_validation_errors_list_each_field(api: httpx.Client) -> None:
    r = api.post("/adressen", json={"email": "not-an-email", "land": "Germany", "lead": "yes", "kundennummer": "1"})
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == 7453 and err["message"] == "Validation error"
    assert set(err["details"]) == {"name", "email", "land", "lead", "kundennummer"}
    r = api.post("/adressen", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 7455


def test_update_moves_logdatei_only_when_a_value_changes(api: httpx.Client, sb: XentralSandbox) -> None:
    a = _addr(api, name="Clock", email="c@x.de")
    time.sleep(1.05)  # logdatei has one-second resolution
    same = api.put(f"/adressen/{a['id']}", json={"email": "c@x.de"}).json()["data"]
    assert same["logdatei"] == a["logdatei"]
    changed = api.put(f"/adressen/{a['id']}", json={"telefon": "0301234"}).json()["data"]
    assert changed["logdatei"] > a["logdatei"] and changed["telefon"] == "0301234"
    # the path names the address: an id in the body is ignored, the customer number too
    assert api.put(f"/adressen/{a['id']}", json={"id": "999", "ort": "Köln"}).json()["data"]["id"] == a["id"]


def test_addresses_cannot_be_deleted_through_the_api_and_deleted_ones_vanish(api: httpx.Client,
                                                                             sb: XentralSandbox) -> None:
    a = _addr(api, name="Gone", email="g@x.de")
    r = api.delete(f"/adressen/{a['id']}")
    assert r.status_code == 405 and r.json()["error"]["code"] == 7432
    sb.user_delete_address(a["id"])  # a delete in the UI flags the row
    assert api.get(f"/adressen/{a['id']}").status_code == 404
    assert api.get("/adressen", params={"email_equals": "g@x.de"}).status_code == 404
    assert api.put(f"/adressen/{a['id']}", json={"ort": "x"}).status_code == 404


def test_groups_membership_and_the_group_filter(api: httpx.Client, sb: XentralSandbox) -> None:
    hub = sb.group_id("Hubspot")
    r = api.post("/gruppen", json={"name": "Newsletter", "kennziffer": "news"})
    assert r.status_code == 201 and r.json()["success"] is True
    news = r.json()["data"]["id"]
    dup = api.post("/gruppen", json={"name": "Again", "kennziffer": "NEWS"})
    assert dup.status_code == 400 and "kennziffer" in dup.json()["error"]["details"]
    a = _addr(api, name="In", email="in@x.de", gruppen=[{"id": hub}])
    b = _addr(api, name="Both", email="both@x.de", gruppen=[{"kennziffer": "hubspot"}, {"id": news}])
    _addr(api, name="Out", email="out@x.de")
    assert [g["name"] for g in b["gruppen"]] == ["Hubspot", "Newsletter"]
    members = api.get("/adressen", params={"gruppe": hub, "items": 100}).json()["data"]
    assert {m["id"] for m in members} == {a["id"], b["id"]}
    assert [m["id"] for m in api.get("/adressen", params={"gruppe": "news"}).json()["data"]] == [b["id"]]
    assert api.get("/gruppen", params={"name_exakt": "hubspot"}).json()["data"][0]["id"] == hub
    bad = api.post("/adressen", json={"name": "X", "gruppen": [{"id": "999"}]})
    assert bad.status_code == 400 and "gruppen" in bad.json()["error"]["details"]


def test_free_field_labels(api: httpx.Client) -> None:
    rows = api.get("/adressfreifelder", params={"items": 100}).json()["data"]
    assert [r["spalte"] for r in rows] == [f"freifeld{i}" for i in range(1, 11)]
    assert rows[0]["bezeichnung"] == "Hubspot Status"
    assert api.put("/adressfreifelder/3", json={"bezeichnung": "Branche"}).json()["data"]["spalte"] == "freifeld3"
    assert api.get("/adressfreifelder", params={"bezeichnung": "branche"}).json()["data"][0]["id"] == "3"


def test_resubmissions_boards_stages_and_validation(api: httpx.Client, sb: XentralSandbox) -> None:
    boards = api.get("/wiedervorlagen/boards").json()["data"]
    assert [b["name"] for b in boards] == ["Hubspot"]
    stages = api.get("/wiedervorlagen/stages", params={"view": boards[0]["id"], "sort": "sort"}).json()["data"]
    assert [s["name"] for s in stages][:2] == ["Appointment Scheduled", "Qualified To Buy"]
    r = api.post("/wiedervorlagen", json={"bezeichnung": "ab", "stages": "999", "chance": 150})
    assert r.status_code == 400
    assert set(r.json()["error"]["details"]) == {"bezeichnung", "stages", "chance", "datum_erinnerung",
                                                 "zeit_erinnerung"}
    r = api.post("/wiedervorlagen", json={"bezeichnung": "Big deal", "betrag": "1500,5", "stages": stages[0]["id"],
                                          "datum_erinnerung": "2025-03-01", "zeit_erinnerung": "09:00"})
    assert r.status_code == 201 and r.json()["success"] is True
    d = r.json()["data"]
    assert (d["betrag"], d["zeit_erinnerung"], d["datum_abschluss"], d["id_ext"]) == ("1500.50", "09:00:00",
                                                                                       "0000-00-00", "")
    assert api.post("/wiedervorlagen", json={"bezeichnung": "x" * 5, "id_ext": "9"}).status_code == 400
    up = api.put(f"/wiedervorlagen/{d['id']}", json={"betrag": 2000, "stages": stages[1]["id"]})
    assert up.status_code == 200 and (up.json()["data"]["betrag"], up.json()["data"]["stages"]) == ("2000.00",
                                                                                                    stages[1]["id"])
    assert api.get("/wiedervorlagen", params={"stages": stages[1]["id"]}).json()["data"][0]["id"] == d["id"]
    assert api.delete(f"/wiedervorlagen/{d['id']}").status_code == 405


def test_rate_limit_answers_429_with_retry_after(api: httpx.Client, sb: XentralSandbox) -> None:
    sb.settings.rate_limit = 3
    codes = [api.get("/adressfreifelder") for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[0].headers["X-RateLimit-Limit"] == "3" and codes[1].headers["X-RateLimit-Remaining"] == "1"
    assert int(codes[3].headers["Retry-After"]) >= 1 and codes[3].headers["X-RateLimit-Remaining"] == "0"
    assert sb.counters["rate_limited"] == 1


def test_unknown_routes_and_injected_faults(api: httpx.Client, sb: XentralSandbox) -> None:
    r = api.get("/artikelx")
    assert r.status_code == 404 and r.json()["error"]["code"] == 7431
    sb.set_faults(rate_500=1.0)
    r = api.get("/adressfreifelder")
    assert r.status_code == 500 and r.json()["error"]["code"] == 7499
    sb.set_faults(rate_500=0.0, rate_429=1.0, retry_after=2)
    r = api.get("/adressfreifelder")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_seed_is_deterministic() -> None:
    a, b = XentralSandbox(SandboxSettings(records=12, seed=3)), XentralSandbox(SandboxSettings(records=12, seed=3))
    strip = [{k: v for k, v in r.items() if k != "logdatei"} for r in a.addresses()]
    assert strip == [{k: v for k, v in r.items() if k != "logdatei"} for r in b.addresses()]
    assert 0 < len(a.members("Hubspot")) < 12 and len(a.resubmissions()) == 6
