"""HubSpot activities → Salesforce Tasks and Events (issue #20 item 1), against both sandboxes.

Real passes of the contacts sync with ``activities: [...]`` over loopback HTTP(S): types turned
on and off, an activity waiting for its contact, retries that never duplicate (a create whose
answer was lost included), a Task Salesforce rejects, and WhatId from the paired Account and
Opportunity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from test_hubspot_salesforce import World, _hs_contact, hs_server, sf_server, w  # noqa: F401

from accord.associations import AssociationTarget
from accord.demo import sandboxes
from accord.index.activities import activity_sync
from accord.index.store import Store
from accord.model import Side
from accord.runner import SyncRunner
from helpers import accord_sync, sandbox_apps

L, R = Side.LEFT, Side.RIGHT
WHEN = "2026-03-02T10:00:00.000Z"


def _contacts(world: World, activities: list[str], **extra: Any) -> SyncRunner:
    return world.sync("contacts", "contacts", "Contact", activities=activities, **extra)


def _activity(world: World, kind: str, contact: str | None, **props: Any) -> str:
    rid = str(world.hs.user_create(kind, {"hs_timestamp": WHEN, **props})["id"])
    if contact is not None:
        world.hs.associate(kind, rid, "contacts", contact)
    return rid


def _by_subject(world: World, obj: str = "Task") -> dict[str, dict[str, Any]]:
    return {str(r["Subject"]): r for r in world.sf.records(obj)}


def _sf_contact_id(world: World, email: str) -> str:
    return str(world.sf_by_email()[email]["Id"])


async def test_each_type_is_turned_on_and_off_on_its_own(w: World) -> None:  # noqa: F811
    ann = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    call = _activity(w, "calls", ann, hs_call_title="Intro call", hs_call_body="<p>Talked <b>pricing</b></p>",
                     hs_call_direction="OUTBOUND", hs_call_duration="95000")
    _activity(w, "meetings", ann, hs_meeting_title="Demo", hs_meeting_start_time=WHEN,
              hs_meeting_end_time="2026-03-02T11:00:00.000Z", hs_meeting_location="Zoom")
    _activity(w, "notes", ann, hs_note_body="Prefers e-mail\nsecond line")
    _activity(w, "emails", ann, hs_email_subject="Quote", hs_email_text="Here it is")
    _activity(w, "tasks", ann, hs_task_subject="Send contract", hs_task_status="IN_PROGRESS",
              hs_task_priority="HIGH", hs_task_type="TODO")
    _contacts(w, ["calls", "meetings"])
    res = await w.run("contacts")
    assert res.activities is not None and set(res.activities) == {"calls", "meetings"}
    assert res.activities["calls"]["created"] == 1 and res.activities["meetings"]["created"] == 1
    who = _sf_contact_id(w, "ann@acme.com")
    tasks = _by_subject(w)
    assert set(tasks) == {"Intro call"}  # notes, e-mails and tasks are off
    t = tasks["Intro call"]
    assert (t["WhoId"], t["TaskSubtype"], t["Status"], t["CallType"], t["CallDurationInSeconds"]) == (
        who, "Call", "Completed", "Outbound", 95)
    assert t["Description"] == "Talked pricing" and t["ActivityDate"] == "2026-03-02"
    ev = _by_subject(w, "Event")["Demo"]
    assert ev["WhoId"] == who and ev["Location"] == "Zoom"
    assert ev["StartDateTime"].startswith("2026-03-02T10:00:00") and ev["EndDateTime"].startswith("2026-03-02T11:00:00")

    # the other three turned on: only they are written, the call and the meeting are not again
    _contacts(w, ["calls", "meetings", "notes", "emails", "tasks"])
    res = await w.run("contacts")
    assert res.kind == "incremental"  # turning types on does not restart the contacts' initial sync
    assert res.activities is not None
    assert {k: v["created"] for k, v in res.activities.items()} == {
        "calls": 0, "meetings": 0, "notes": 1, "emails": 1, "tasks": 1}
    tasks = _by_subject(w)
    assert set(tasks) == {"Intro call", "Note: Prefers e-mail", "Email: Quote", "Send contract"}
    assert len(w.sf.records("Event")) == 1
    assert tasks["Note: Prefers e-mail"]["Description"] == "Prefers e-mail\nsecond line"
    assert tasks["Note: Prefers e-mail"]["TaskSubtype"] == "Task"
    assert tasks["Email: Quote"]["TaskSubtype"] == "Email"
    assert (tasks["Send contract"]["Status"], tasks["Send contract"]["Priority"]) == ("In Progress", "High")

    # calls turned off: a changed call is no longer copied; the others still are
    _contacts(w, ["meetings", "notes", "emails", "tasks"])
    w.hs.user_update("calls", call, {"hs_call_title": "Intro call (edited)"})
    res = await w.run("contacts")
    assert res.activities is not None and "calls" not in res.activities
    assert "Intro call" in _by_subject(w) and "Intro call (edited)" not in _by_subject(w)
    # on again: the change arrives as an update of the same Task
    _contacts(w, ["calls"])
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["calls"]["updated"] == 1
    assert res.activities["calls"]["created"] == 0
    assert "Intro call (edited)" in _by_subject(w) and len(w.sf.records("Task")) == 4


async def test_an_activity_waits_for_its_contact_and_syncs_once_it_is_paired(w: World) -> None:  # noqa: F811
    bob = str(w.hs.user_create("contacts", _hs_contact("Bob", "Ray", None))["id"])  # no e-mail: not synced
    call = _activity(w, "calls", bob, hs_call_title="Cold call")
    _activity(w, "notes", None, hs_note_body="About nobody")
    _contacts(w, ["calls", "notes"])
    res = await w.run("contacts")
    assert res.activities is not None
    assert res.activities["calls"]["waiting"] == 1 and res.activities["notes"]["excluded"] == 1
    assert w.sf.records("Task") == []
    link = w.link(activity_sync("contacts", "calls"), L, call)
    assert (link.status, link.reason) == ("queued", "waiting_for_contact")
    # the records views of the sync show it, with its reason
    assert w.store.reason_counts("contacts")["queued/waiting_for_contact"] == 1
    assert w.store.reason_counts("contacts")["excluded/no_contact"] == 1
    queued = w.store.records("contacts", "queued")
    assert [(lk.left_id, lk.label) for lk in queued] == [(call, "call: Cold call")]
    assert "not synced yet" in str(queued[0].message)
    # still waiting on the next pass: nothing written, nothing duplicated
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["calls"]["waiting"] == 1
    # another waiting call deleted in HubSpot is no longer waited for
    doomed = _activity(w, "calls", bob, hs_call_title="Deleted call")
    await w.run("contacts")
    w.hs.user_delete("calls", doomed)
    await w.run("contacts")
    gone = w.link(activity_sync("contacts", "calls"), L, doomed)
    assert (gone.status, gone.reason) == ("excluded", "deleted")
    # Bob gets an e-mail: the contacts pass pairs him, and the call follows in the same pass
    w.hs.user_update("contacts", bob, {"email": "bob@x.com"})
    res = await w.run("contacts")
    assert res.counters.created["right"] == 1
    assert res.activities is not None and res.activities["calls"]["created"] == 1
    assert _by_subject(w)["Cold call"]["WhoId"] == _sf_contact_id(w, "bob@x.com")
    assert w.link(activity_sync("contacts", "calls"), L, call).status == "syncing"
    assert "queued/waiting_for_contact" not in w.store.reason_counts("contacts")
    assert w.store.counts("contacts").get("queued", 0) == 0


async def test_passes_and_retries_never_duplicate(w: World) -> None:  # noqa: F811
    ann = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    _activity(w, "calls", ann, hs_call_title="First")
    _contacts(w, ["calls", "meetings"])
    await w.run("contacts")
    assert len(w.sf.records("Task")) == 1
    again = await w.run("contacts")
    full = await w.run("contacts", full=True)
    for res in (again, full):
        assert res.activities is not None and res.activities["calls"]["created"] == 0
        assert res.activities["calls"]["updated"] == 0
    assert full.activities is not None and full.activities["calls"]["unchanged"] == 1
    assert len(w.sf.records("Task")) == 1
    # a create whose answer is lost (carried out, then a 500): not sent again, found by the next pass
    _activity(w, "meetings", ann, hs_meeting_title="Lost answer", hs_meeting_start_time=WHEN)
    w.sf.set_faults(queue=["500_applied:composite"])
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["meetings"]["failed"] == 1
    assert len(w.sf.records("Event")) == 1  # it was made, once
    w.sf.set_faults()
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["meetings"]["created"] == 0
    events = w.sf.records("Event")
    assert len(events) == 1 and events[0]["EndDateTime"].startswith("2026-03-02T10:30:00")  # 30 min by default
    lk = w.link(activity_sync("contacts", "meetings"), L, _hs_id(w, "meetings", "Lost answer"))
    assert (lk.status, lk.right_id) == ("syncing", events[0]["Id"])
    res = await w.run("contacts", full=True)
    assert len(w.sf.records("Event")) == 1 and len(w.sf.records("Task")) == 1


def _hs_id(world: World, kind: str, title: str) -> str:
    return next(str(r["id"]) for r in world.hs.records(kind)
                if title in r["properties"].values())


async def test_an_activity_salesforce_rejects_is_failing_and_the_rest_goes_on(w: World) -> None:  # noqa: F811
    w.sf.add_validation_rule("Task", "Subject = 'Bad call'", "Calls need a proper subject", field="Subject")
    ann = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    bad = _activity(w, "calls", ann, hs_call_title="Bad call")
    _activity(w, "calls", ann, hs_call_title="Good call")
    _contacts(w, ["calls"])
    res = await w.run("contacts")
    assert res.activities is not None
    assert (res.activities["calls"]["created"], res.activities["calls"]["failed"]) == (1, 1)
    assert set(_by_subject(w)) == {"Good call"}
    link = w.link(activity_sync("contacts", "calls"), L, bad)
    assert (link.status, link.category) == ("failing", "custom_code")
    assert "proper subject" in str(link.message)
    assert w.store.reason_counts("contacts") == {"failing/custom_code": 1}
    assert [lk.left_id for lk in w.store.records("contacts", "failing")] == [bad]
    # retried by the next pass (still refused: one more attempt, nothing else written)
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["calls"]["failed"] == 1
    assert w.link(activity_sync("contacts", "calls"), L, bad).attempts == 2 and set(_by_subject(w)) == {"Good call"}
    # fixed in HubSpot: it syncs, once
    w.hs.user_update("calls", bad, {"hs_call_title": "Better call"})
    res = await w.run("contacts")
    assert res.activities is not None and res.activities["calls"]["created"] == 1
    assert set(_by_subject(w)) == {"Good call", "Better call"}
    assert w.store.counts("contacts") == {"syncing": 3}  # Ann and both calls


async def test_what_id_comes_from_the_paired_account_or_opportunity(w: World) -> None:  # noqa: F811
    w.sync("companies", "companies", "Account")
    w.sync("deals", "deals", "Opportunity", stages="auto")
    contacts = _contacts(w, ["calls", "meetings", "notes"])
    contacts.associations = [AssociationTarget("companies", {L: "companies", R: "Account"})]
    contacts.activity_targets = [AssociationTarget("companies", {L: "companies", R: "Account"}),
                                 AssociationTarget("deals", {L: "deals", R: "Opportunity"})]
    acme = str(w.hs.user_create("companies", {"name": "Acme", "domain": "acme.com"})["id"])
    deal = str(w.hs.user_create("deals", {"dealname": "Big deal", "amount": "1000", "pipeline": "default",
                                          "dealstage": "closedwon", "closedate": "2026-04-01"})["id"])
    ann = str(w.hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"])
    w.hs.associate("contacts", ann, "companies", acme, primary=True)
    call = _activity(w, "calls", ann, hs_call_title="Account call")
    w.hs.associate("calls", call, "companies", acme)
    meeting = _activity(w, "meetings", ann, hs_meeting_title="Deal meeting", hs_meeting_start_time=WHEN)
    w.hs.associate("meetings", meeting, "companies", acme)
    w.hs.associate("meetings", meeting, "deals", deal)
    _activity(w, "notes", ann, hs_note_body="Plain")
    for name in ("companies", "deals", "contacts"):
        await w.run(name)
    account = next(r["Id"] for r in w.sf.records("Account") if r["Name"] == "Acme")
    opp = next(r["Id"] for r in w.sf.records("Opportunity") if r["Name"] == "Big deal")
    tasks = _by_subject(w)
    assert tasks["Account call"]["WhatId"] == account
    assert tasks["Note: Plain"].get("WhatId") is None
    assert _by_subject(w, "Event")["Deal meeting"]["WhatId"] == opp  # the deal's Opportunity before the Account
    who = _sf_contact_id(w, "ann@acme.com")
    assert {t["WhoId"] for t in tasks.values()} == {who}


async def test_a_contacts_and_leads_sync_puts_activities_on_the_lead_and_after_conversion_the_contact(
        w: World) -> None:  # noqa: F811
    """On a [Contact, Lead] sync the activity's WhoId is whichever record the contact pairs with;
    after the Lead is converted, new activities go to the converted Contact."""
    lea = str(w.hs.user_create("contacts", _hs_contact("Lea", "Dunn", "lea@acme.com"))["id"])
    _activity(w, "calls", lea, hs_call_title="First call", hs_call_body="hello")
    w.sync("contacts", "contacts", ["Contact", "Lead"], activities=["calls"])
    await w.run("contacts")
    lead = next(r for r in w.sf.records("Lead") if r["Email"] == "lea@acme.com")
    assert not [r for r in w.sf.records("Contact") if r["Email"] == "lea@acme.com"]  # new contacts become Leads
    first = _by_subject(w)["First call"]
    assert first["WhoId"] == lead["Id"] and first["WhatId"] is None
    converted = w.sf.convert_lead(lead["Id"])
    _activity(w, "calls", lea, hs_call_title="Second call", hs_call_body="again")
    await w.run("contacts")
    tasks = _by_subject(w)
    assert tasks["Second call"]["WhoId"] == converted["contactId"]
    assert set(tasks) == {"First call", "Second call"}  # nothing written twice


def _status(cwd: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, "-m", "accord.cli", "status", "-c", "accord.yaml", *extra], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def test_an_activity_associated_with_a_contact_later_syncs_with_the_next_incremental_pass(tmp_path: Path) -> None:
    """Associating an activity with a contact does not change its hs_lastmodifieddate (in HubSpot as
    in the sandbox), so the change feed never brings it back: every incremental pass looks at the
    contacts of the activities read without one, and one that has a contact now syncs. Through
    `accord sync` processes; `accord status` shows what the last run did with activities."""
    with sandboxes() as boxes:
        hs, sf = boxes.hubspot, boxes.salesforce
        ann = hs.user_create("contacts", _hs_contact("Ann", "Lee", "ann@acme.com"))["id"]
        note = hs.user_create("notes", {"hs_timestamp": WHEN, "hs_note_body": "Met at the fair"})["id"]
        alone = hs.user_create("notes", {"hs_timestamp": WHEN, "hs_note_body": "About nobody"})["id"]
        # made a while ago: the change feed does not read them again (it reads again the newest
        # change it saw, and the last 30 s: a note of Ann's made now)
        hs.touch("notes", [note, alone], int(time.time() * 1000) - 600_000)
        fresh = hs.user_create("notes", {"hs_timestamp": WHEN, "hs_note_body": "Called back"})["id"]
        hs.associate("notes", fresh, "contacts", ann)
        (tmp_path / "accord.yaml").write_text(yaml.safe_dump({
            "state": f"sqlite:///{tmp_path}/index.db", "apps": sandbox_apps(boxes, "pat-activities"),
            "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                       "right": {"app": "salesforce", "object": "Contact"}, "activities": ["notes"]}]}))
        [first] = accord_sync(tmp_path)
        assert first["kind"] == "initial"
        assert (first["activities"]["notes"]["created"], first["activities"]["notes"]["excluded"]) == (1, 2)
        assert [t["Subject"] for t in sf.records("Task")] == ["Note: Called back"]
        before = hs.get("notes", note)
        hs.associate("notes", note, "contacts", ann)  # nothing else changes
        after = hs.get("notes", note)
        assert before is not None and after is not None
        assert after["properties"]["hs_lastmodifieddate"] == before["properties"]["hs_lastmodifieddate"]

        [second] = accord_sync(tmp_path)
        assert second["kind"] == "incremental"
        # the note that has a contact now is read and created (the fresh one is read again by the
        # change feed); the one still without a contact is not read, only its contacts looked at
        assert {k: second["activities"]["notes"][k] for k in ("read", "created", "unchanged", "excluded")} == {
            "read": 2, "created": 1, "unchanged": 1, "excluded": 0}
        task = {t["Subject"]: t for t in sf.records("Task")}["Note: Met at the fair"]
        ann_sf = next(c["Id"] for c in sf.records("Contact") if c["Email"] == "ann@acme.com")
        assert task["WhoId"] == ann_sf and len(sf.records("Task")) == 2
        # the run history keeps it: `accord status` shows what the last run did with activities
        [row] = json.loads(_status(tmp_path, "--json"))
        assert row["last_run"]["activities"]["notes"]["created"] == 1
        assert "activities: notes 1 created" in _status(tmp_path)

        [third] = accord_sync(tmp_path)  # written once: nothing more
        assert third["activities"]["notes"]["created"] == 0 and len(sf.records("Task")) == 2
        assert "activities: notes in step" in _status(tmp_path)
        # the note without a contact deleted in HubSpot: a full pass no longer looks at it
        hs.user_delete("notes", alone)
        accord_sync(tmp_path, "--full")
        store = Store(f"sqlite:///{tmp_path}/index.db")
        try:
            links = store.links_by_record(activity_sync("contacts", "notes"), L, [str(note), str(alone)])
            assert (links[str(alone)].status, links[str(alone)].reason) == ("excluded", "deleted")
            assert links[str(note)].status == "syncing"
        finally:
            store.close()
        assert len(sf.records("Task")) == 2
