"""One record's page: opened from a record list, it says why the record is in its status, both
ids, and each mapped field as both apps held it after the last sync."""

from __future__ import annotations

import re

from service_world import World


def _link(page: str, label: str) -> str:
    found = re.search(r'<a href="(/syncs/contacts/records/[0-9a-f]+)">' + re.escape(label) + "</a>", page)
    assert found, page
    return found.group(1)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")


def test_a_synced_record_shows_its_fields_as_both_apps_hold_them(world: World) -> None:
    world.run_pass()
    ann = world.client.get(_link(world.client.get("/syncs/contacts/records", params={"status": "syncing"}).text,
                                 "Ann@x.com"))
    assert ann.status_code == 200
    text = _text(ann.text)
    assert "Ann@x.com syncing a id a1 b id b1" in text
    fields = _text(ann.text[ann.text.index('id="record-fields"'):])
    assert "first_name Ann first_name Ann" in fields and "last_name Lee last_name Lee" in fields
    assert "email Ann@x.com email Ann@x.com" in fields and "phone empty phone empty" in fields
    assert 'hx-post="/ui/syncs/contacts/sync-record"' in ann.text  # "Sync now" from here


def test_a_failing_record_says_why_and_has_no_fields_yet(world: World) -> None:
    world.run_pass()
    bob = _text(world.client.get(_link(world.client.get("/syncs/contacts/records", params={"status": "failing"}).text,
                                       "Bob@x.com")).text)
    assert "failing : rejected by the app's own rules (custom_code)" in bob
    assert "Validation rule: Ray is not allowed" in bob and "What to do: Fix the rule" in bob
    assert "It has no twin in b yet, so no field is synced: it is failing" in bob
    # an excluded record will not get a twin by itself: no "yet"
    no_mail = _text(world.client.get(_link(world.client.get("/syncs/contacts/records",
                                                            params={"status": "excluded"}).text, "No Mail")).text)
    assert "It has no twin in b, so no field is synced: it is excluded" in no_mail
    # a record of another sync, or gone, is a 404 that says so
    other = world.client.get("/syncs/companies/records/" + _link(
        world.client.get("/syncs/contacts/records", params={"status": "failing"}).text, "Bob@x.com").rsplit("/", 1)[1])
    assert other.status_code == 404
    assert world.client.get("/syncs/contacts/records/nope").status_code == 404
