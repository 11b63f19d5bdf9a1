"""HubSpot activities → Salesforce Tasks / Events: the pure mapping and plan, and the config key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from accord.config import ACTIVITY_TYPES, ConfigError, config_hash, parse_config
from accord.engine import activities as engine_activities
from accord.engine.activities import Resolved, plan_activity, to_salesforce
from accord.index import Store
from accord.index import activities as index_activities
from accord.index.links import Link, PageWrite
from accord.index.runs import add_counts, sub_counts
from accord.model import Counters, Side
from accord.report import activities_line, activities_text, status_table
from accord.runner import PassResult

WHEN = "2026-03-02T10:00:00.000Z"


def doc(activities: list[str], left: str = "contacts", right: str = "Contact", **extra: Any) -> dict[str, Any]:
    return {"apps": {"hs": {"type": "hubspot", "token": "t"},
                     "sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t"}},
            "syncs": [{"name": "s", "left": {"app": "hs", "object": left}, "right": {"app": "sf", "object": right},
                       "activities": activities, **extra}]}


# -- config ---------------------------------------------------------------------------------
def test_activities_are_allowed_on_hubspot_contacts_with_salesforce_contact_or_lead() -> None:
    assert parse_config(doc(["calls", "meetings"]), env={}).syncs[0].activities == ["calls", "meetings"]
    assert parse_config(doc(["notes"], right="Lead"), env={}).syncs[0].activities == ["notes"]
    assert parse_config(doc(["notes"], direction="left-to-right"), env={}).syncs[0].activities == ["notes"]
    assert parse_config(doc([]), env={}).syncs[0].activities == []


@pytest.mark.parametrize(("left", "right", "extra", "says"), [
    ("companies", "Account", {}, "only on a sync of HubSpot contacts with Salesforce"),
    ("contacts", "Contact", {"direction": "right-to-left"}, "never writes to Salesforce"),
])
def test_activities_elsewhere_are_a_config_error_naming_the_key(left: str, right: str, extra: dict[str, Any],
                                                                  says: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(doc(["calls"], left, right, **extra), "accord.yaml", env={})
    assert e.value.render().startswith("accord.yaml: syncs[0].activities: ")
    assert says in e.value.render()


def test_an_unknown_or_repeated_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(doc(["calls", "faxes"]), "accord.yaml", env={})
    assert "syncs[0].activities[1]" in e.value.render()
    with pytest.raises(ConfigError) as e:
        parse_config(doc(["calls", "calls"]), "accord.yaml", env={})
    assert "listed twice" in e.value.render()


def test_turning_activities_on_keeps_the_sync_fingerprint() -> None:
    off, on = (parse_config(doc(a), env={}).syncs[0] for a in ([], ["calls"]))
    assert config_hash(off) == config_hash(on)  # the contacts' initial sync is not restarted


def test_accord_check_exits_2_on_activities_of_a_companies_sync(tmp_path: Path) -> None:
    cfg = tmp_path / "accord.yaml"
    cfg.write_text(yaml.safe_dump(doc(["calls"], "companies", "Account")))
    r = subprocess.run([sys.executable, "-m", "accord.cli", "check", "-c", str(cfg)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "syncs[0].activities" in r.stdout + r.stderr


# -- mapping --------------------------------------------------------------------------------
def test_each_type_becomes_its_salesforce_record() -> None:
    call = to_salesforce("calls", {"hs_timestamp": WHEN, "hs_call_title": "Intro", "hs_call_body": "<p>a &amp; b</p>",
                                   "hs_call_direction": "INBOUND", "hs_call_duration": 61_400}, "003A", "001A")
    assert call == {"ActivityDate": "2026-03-02", "Subject": "Intro", "TaskSubtype": "Call", "Description": "a & b",
                    "Status": "Completed", "CallType": "Inbound", "CallDurationInSeconds": 61, "WhoId": "003A",
                    "WhatId": "001A"}
    note = to_salesforce("notes", {"hs_timestamp": WHEN, "hs_note_body": "<div>First line</div><div>more</div>"},
                         "003A", None)
    assert (note["Subject"], note["Description"], note["TaskSubtype"]) == ("Note: First line", "First line\nmore", "Task")
    email = to_salesforce("emails", {"hs_timestamp": WHEN, "hs_email_subject": "Hi"}, "003A", None)
    assert (email["Subject"], email["TaskSubtype"]) == ("Email: Hi", "Email")
    task = to_salesforce("tasks", {"hs_timestamp": WHEN, "hs_task_subject": "Call back", "hs_task_type": "CALL",
                                   "hs_task_status": "DEFERRED", "hs_task_priority": "LOW"}, "003A", None)
    assert (task["TaskSubtype"], task["Status"], task["Priority"]) == ("Call", "Deferred", "Low")
    meeting = to_salesforce("meetings", {"hs_timestamp": WHEN, "hs_meeting_title": "Demo"}, "003A", "006A")
    assert meeting == {"Subject": "Demo", "StartDateTime": WHEN, "EndDateTime": "2026-03-02T10:30:00.000Z",
                       "ActivityDateTime": WHEN, "WhoId": "003A", "WhatId": "006A"}


def test_call_outcomes_are_named_and_the_pass_line_says_what_happened() -> None:
    connected = to_salesforce("calls", {"hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"}, "003A", None)
    assert connected["CallDisposition"] == "Connected"
    own = to_salesforce("calls", {"hs_call_disposition": "0c0ffee0-aaaa-bbbb-cccc-000000000000"}, "003A", None)
    assert own["CallDisposition"] == "0c0ffee0-aaaa-bbbb-cccc-000000000000"  # a portal's own outcome: its id
    res = PassResult("contacts", "incremental", Counters(), activities={
        "calls": {"read": 3, "created": 2, "updated": 0, "unchanged": 0, "failed": 1, "waiting": 0, "excluded": 0},
        "notes": {"read": 1, "created": 0, "updated": 0, "unchanged": 1, "failed": 0, "waiting": 0, "excluded": 0}})
    assert activities_line(res) == "contacts activities to Salesforce: calls 2 created, 1 failed; notes in step"
    assert activities_line(PassResult("contacts", "incremental", Counters())) is None
    assert res.as_dict()["activities"]["calls"]["created"] == 2


def test_a_runs_counters_hold_its_activity_counts_and_status_shows_the_last_ones() -> None:
    counts = {"read": 3, "created": 2, "updated": 0, "unchanged": 0, "failed": 1, "waiting": 0, "excluded": 0}
    c = Counters()
    assert "activities" not in c.as_dict()  # a sync that copies none: its runs' counters as before
    c.activities["calls"] = dict(counts)
    assert c.as_dict()["activities"] == {"calls": counts}
    # a pass run in steps sums its pages' counters (accord.index.runs.PageLedger): activities too
    page = sub_counts(c.as_dict(), Counters().as_dict())
    assert page["activities"] == {"calls": {"read": 3, "created": 2, "failed": 1}}
    assert add_counts(add_counts(Counters().as_dict(), page), page)["activities"]["calls"]["created"] == 4
    assert activities_text(c.as_dict()["activities"]) == "calls 2 created, 1 failed"
    assert activities_text(None) == ""
    last = {"kind": "incremental", "status": "ok", "activities": c.as_dict()["activities"]}
    console = Console(width=200, record=True)
    console.print(status_table([{"sync": "contacts", "enabled": True, "counts": {}, "last_run": last,
                                 "lag_seconds": 1.0}]))
    assert "activities: calls 2 created, 1 failed" in console.export_text()


def test_a_lead_gets_no_what_id_and_long_text_is_cut() -> None:
    out = to_salesforce("calls", {"hs_call_title": "x" * 300, "hs_call_body": "y" * 40_000}, "00QA", "001A")
    assert out["WhoId"] == "00QA" and "WhatId" not in out
    assert len(str(out["Subject"])) == 255 and len(str(out["Description"])) == 32_000


def test_plans_wait_exclude_create_update_and_none() -> None:
    props = {"hs_timestamp": WHEN, "hs_call_title": "Intro"}
    assert plan_activity("calls", props, Resolved([], {}), None, False).reason == "no_contact"
    waiting = plan_activity("calls", props, Resolved(["12", "5"], {}), None, False)
    assert (waiting.action, waiting.reason) == ("wait", "waiting_for_contact")
    assert "5, 12" in str(waiting.message)
    created = plan_activity("calls", props, Resolved(["12", "5"], {"12": "003B", "5": "003A"}), None, False)
    assert created.action == "create" and created.values["WhoId"] == "003A"  # the lowest contact id paired
    same = plan_activity("calls", props, Resolved(["5"], {"5": "003A"}), created.payload, True)
    assert same.action == "none"
    changed = plan_activity("calls", {**props, "hs_call_title": "Intro 2", "hs_call_body": None},
                            Resolved(["5"], {"5": "003A"}), {**created.payload, "Description": "old"}, True)
    assert changed.action == "update"
    assert changed.values == {"Subject": "Intro 2", "Description": None}  # TaskSubtype is never updated
    # written once, its contact no longer paired: the Task keeps its WhoId
    kept = plan_activity("calls", props, Resolved(["5"], {}), created.payload, True)
    assert kept.action == "none"


# -- the index --------------------------------------------------------------------------------
def test_the_activity_types_are_the_same_everywhere() -> None:
    assert ACTIVITY_TYPES == engine_activities.KINDS == index_activities.KINDS


def _rows(store: Store, sync: str, *statuses: tuple[str, str | None]) -> None:
    w = PageWrite()
    for i, (status, reason) in enumerate(statuses):
        lk = Link(sync, left_id=f"{sync}-{i}", status=status, reason=reason)
        w.add(lk)
    store.save(sync, w)


def test_a_syncs_records_views_hold_its_activities_and_no_other_syncs_rows(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db")
    _rows(store, "contacts", ("syncing", None), ("excluded", "no_match_key"), ("queued", "waiting_for_association"))
    _rows(store, "contacts/calls", ("syncing", None), ("queued", "waiting_for_contact"), ("failing", None))
    for other in ("contacts2", "contacts-x", "contacts.x", "contacts0", "contacts2/calls"):
        _rows(store, other, ("failing", None))
    store.set_cursor("contacts/notes", Side.LEFT, "c1")
    assert store.counts("contacts") == {"syncing": 2, "excluded": 1, "queued": 2, "failing": 1}
    # a waiting activity shows its reason, as a contact waiting for its company does
    assert store.reason_counts("contacts") == {"excluded/no_match_key": 1, "queued/waiting_for_contact": 1,
                                               "queued/waiting_for_association": 1, "failing/None": 1}
    assert {lk.sync for lk in store.records("contacts")} == {"contacts", "contacts/calls"}
    assert [lk.reason for lk in store.records("contacts", "queued")] == ["waiting_for_association",
                                                                         "waiting_for_contact"]
    assert store.activity_syncs("contacts") == ["contacts/calls", "contacts/notes"]
    copy = Store(f"sqlite:///{tmp_path}/b.db")
    store.clone_sync("contacts", copy)  # a dry run plans against both
    assert copy.counts("contacts") == store.counts("contacts") and copy.cursor("contacts/notes", Side.LEFT) == "c1"
    store.delete_sync("contacts")
    assert store.counts("contacts") == {} and store.cursor("contacts/notes", Side.LEFT) is None
    assert store.counts("contacts2") == {"failing": 2}  # contacts2 and its calls
    assert store.counts("contacts-x") == {"failing": 1}
