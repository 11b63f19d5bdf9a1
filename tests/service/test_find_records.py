"""Finding a sync's records of any status by id, email or name: the index, the API, the dashboard.

"Why is jane@acme.com not in Salesforce?" is the question an admin brings to a sync every day;
with 50,000 records the status lists are no way to answer it."""

from __future__ import annotations

import re

from service_world import World


def test_api_finds_records_of_any_status_by_email_name_or_id(world: World) -> None:
    world.run_pass()
    find = world.client.get

    def found(q: str, **params: object) -> dict[str, object]:
        res = find("/api/syncs/contacts/records/search", params={"q": q, **params})
        assert res.status_code == 200, res.text
        return res.json()

    # a part of an email, in any case: the syncing Ann and the failing Bob and Dee (rejected by b)
    assert {(i["label"], i["status"]) for i in found("X.COM")["items"]} == {
        ("Ann@x.com", "syncing"), ("Cid@x.com", "syncing"), ("Bob@x.com", "failing"), ("Dee@x.com", "failing")}
    ann = found("ann@")["items"]
    assert [(i["label"], i["status"]) for i in ann] == [("Ann@x.com", "syncing")]
    bob = found("bob")["items"][0]
    assert (bob["category"], bob["hint"]) == ("custom_code", "Fix the rule")
    # a record without an email is listed by its name, and says why it is left out
    nomail = found("no mail")["items"]
    assert [(i["label"], i["status"], i["reason"]) for i in nomail] == [("No Mail", "excluded", "no_match_key")]

    # an id of either app, exactly: the pair it belongs to
    left_id, right_id = ann[0]["left_id"], ann[0]["right_id"]
    assert left_id and right_id
    assert [i["label"] for i in found(left_id)["items"]] == ["Ann@x.com"]
    assert [i["label"] for i in found(right_id)["items"]] == ["Ann@x.com"]
    # in label order, whatever the order of the index's rows
    assert [i["label"] for i in found("@")["items"]] == ["Ann@x.com", "Bob@x.com", "Cid@x.com", "Dee@x.com"]

    # what the user types is text, not a pattern; nothing of another sync; a limit with the total
    assert found("%")["total"] == 0 and found("_")["total"] == 0
    assert found("x.com", limit=2)["total"] == 4 and len(found("x.com", limit=2)["items"]) == 2
    assert world.client.get("/api/syncs/companies/records/search", params={"q": "x.com"}).json()["total"] == 0
    assert find("/api/syncs/contacts/records/search", params={"q": ""}).status_code == 422
    assert find("/api/syncs/nope/records/search", params={"q": "ann"}).status_code == 404


def test_dashboard_find_lists_each_record_with_its_status(world: World) -> None:
    world.run_pass()
    sync_page = world.client.get("/syncs/contacts").text
    assert 'id="find-record"' in sync_page and 'action="/syncs/contacts/records"' in sync_page

    page = world.client.get("/syncs/contacts/records", params={"q": " x.com "}).text
    assert "4 records found for “x.com”" in page
    rows = re.findall(r'<tr id="record-[^"]+">.*?</tr>', page, re.S)
    assert len(rows) == 4
    bob = next(r for r in rows if "Bob@x.com" in r)
    assert re.search(r'<span class="status failing">failing</span>: rejected by the app', bob)
    assert '"status": "failing"' in bob and '"search": "1"' in bob  # "Sync now" re-renders it as found
    assert "Export" not in page  # exports are of a status; a search finds a few records
    assert 'value="x.com"' in page  # the form keeps what was typed

    none = world.client.get("/syncs/contacts/records", params={"q": "zed@nowhere"}).text
    assert "No record found for “zed@nowhere”" in none and "No record of this sync matches “zed@nowhere”" in none
    assert "sync it now by its id" in none
    # an empty search is the status list it came from
    assert "2 failing records" in world.client.get("/syncs/contacts/records", params={"q": "  "}).text

    # "Sync now" on a found row: the row again, still naming its status
    ann = world.client.get("/api/syncs/contacts/records/search", params={"q": "ann"}).json()["items"][0]
    again = world.client.post(f"/ui/syncs/contacts/records/{ann['left_id']}/resync",
                              data={"side": "left", "status": "syncing", "search": "1"}).text
    assert '<span class="status syncing">syncing</span>' in again and "Synced" in again
