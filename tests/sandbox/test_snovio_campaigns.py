"""The Snov.io sandbox's campaigns over HTTP: get-user-campaigns, the v1 statistics and the v2
recipients-activity report, in Snov.io's shapes, with its limits (31-day windows, pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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
def http(served: tuple[SnovioSandbox, str]) -> Iterator[httpx.Client]:
    served[0].reset()
    with httpx.Client(base_url=served[1], timeout=5) as c:
        r = c.post("/v1/oauth/access_token", data={"grant_type": "client_credentials", "client_id": "c",
                                                   "client_secret": "s"})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


def _campaign(http: httpx.Client, sb: SnovioSandbox, created: datetime) -> int:
    lid = sb.create_list("Outreach")
    sb.user_add(lid, emails=["ann@x.com"], firstName="Ann", lastName="Lee", country="Spain")
    r = http.post("/_sandbox/campaigns", json={"name": "Spring", "listId": lid, "createdAt": created.isoformat()})
    assert r.status_code == 201
    return int(r.json()["id"])


def test_campaigns_and_their_v1_statistics(http: httpx.Client, served: tuple[SnovioSandbox, str]) -> None:
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    cid = _campaign(http, served[0], t0)
    for i, kind in enumerate(("sent", "open", "click", "reply", "bounce")):
        r = http.post(f"/_sandbox/campaigns/{cid}/events", json={"type": kind, "email": "ann@x.com",
                                                                 "at": (t0 + timedelta(hours=i)).isoformat()})
        assert r.status_code == 201
    [c] = http.get("/v1/get-user-campaigns").json()
    assert (c["id"], c["campaign"], c["status"], c["created_at"]) == (cid, "Spring", "Active", int(t0.timestamp()))
    [sent] = http.get("/v1/emails-sent", params={"campaignId": cid}).json()
    assert (sent["userEmail"], sent["userName"], sent["campaign"]) == ("ann@x.com", "Ann Lee", "Spring")
    assert PHP_DATE.match(sent["sentDate"]["date"]) and sent["sentDate"]["timezone"] == "UTC"
    [opened] = http.get("/v1/get-emails-opened", params={"campaignId": cid}).json()
    assert opened["prospectEmail"] == "ann@x.com" and opened["visitedAt"]["date"].startswith("2026-03-01 10:30:00")
    assert opened["prospectId"] and opened["campaignId"] == cid and opened["id"]
    assert len(http.get("/v1/get-emails-clicked", params={"campaignId": cid}).json()) == 1
    assert len(http.get("/v1/get-emails-replies", params={"campaignId": cid}).json()) == 1
    assert http.get("/v1/get-emails-opened", params={"campaignId": cid, "offset": 1}).json() == []
    assert http.get("/v1/get-emails-opened", params={"campaignId": 1}).status_code == 404
    assert http.get("/v1/get-emails-opened").status_code == 400
    assert httpx.get(f"{served[1]}/v1/get-user-campaigns").status_code == 401  # no token


def test_recipients_activity_has_every_type_in_31_day_windows_and_pages(http: httpx.Client,
                                                                        served: tuple[SnovioSandbox, str]) -> None:
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    cid = _campaign(http, served[0], t0)
    for i, kind in enumerate(("sent", "open", "click", "reply", "bounce")):
        http.post(f"/_sandbox/campaigns/{cid}/events", json={"type": kind, "email": "ann@x.com",
                                                             "at": (t0 + timedelta(days=i * 10)).isoformat()})
    path = f"/v2/campaigns/{cid}/recipients-activity"
    body = http.get(path, params={"dateFrom": "2026-03-01", "dateTo": "2026-03-31", "limit": 2}).json()
    assert [r["event_type"] for r in body["data"]] == ["sent", "open"]
    assert body["pagination"] == {"total": 4, "offset": 0, "limit": 2, "has_more": True}
    row = body["data"][0]
    assert (row["event_time"], row["recipient_email"], row["recipient_name"], row["country"]) == (
        "2026-03-01 09:30:00", "ann@x.com", "Ann Lee", "Spain")
    rest = http.get(path, params={"dateFrom": "2026-03-01", "dateTo": "2026-03-31", "offset": 2}).json()
    assert [r["event_type"] for r in rest["data"]] == ["click", "reply"] and not rest["pagination"]["has_more"]
    later = http.get(path, params={"dateFrom": "2026-04-01", "dateTo": "2026-04-30"}).json()
    assert [r["event_type"] for r in later["data"]] == ["bounce"]
    too_long = http.get(path, params={"dateFrom": "2026-03-01", "dateTo": "2026-04-02"})
    assert too_long.status_code == 400 and "31 days" in too_long.text
    assert http.get(path, params={"dateTo": "2026-03-02"}).status_code == 400  # dateFrom is required


def test_seeded_accounts_have_campaign_events() -> None:
    sb = SnovioSandbox(records=30, seed=3)
    campaigns = sb.campaigns.user_campaigns()
    assert len(campaigns) == 2
    assert sum(len(c.events) for c in sb.campaigns.campaigns.values()) > 10
    kinds = {e.type for c in sb.campaigns.campaigns.values() for e in c.events}
    assert {"sent", "open"} <= kinds
    again = SnovioSandbox(records=30, seed=3)
    assert [(e.email, e.type) for e in again.campaigns.campaigns[campaigns[0]["id"]].events] == [
        (e.email, e.type) for e in sb.campaigns.campaigns[campaigns[0]["id"]].events]
