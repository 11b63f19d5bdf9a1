"""HubSpot activities → Salesforce Tasks and Events: the pure part (no I/O).

HubSpot keeps calls, emails, meetings, notes and tasks as CRM objects ("engagements")
associated with contacts, companies and deals. A HubSpot contacts ↔ Salesforce Contact/Lead
sync with ``activities: [...]`` copies the listed types one way to Salesforce
(accord.runner.activities reads and writes; this module decides what to write):

* meetings become Events; calls, emails, notes and tasks become Tasks with ``TaskSubtype``
  Call / Email / Task (notes are Tasks with the body in ``Description``, as HubSpot's own
  Salesforce integration writes them);
* ``WhoId`` is the Salesforce record paired with the activity's HubSpot contact (the first
  of its contacts, by id, that is paired); ``WhatId`` the Opportunity paired with its deal,
  else the Account paired with its company. Salesforce refuses a ``WhatId`` beside a Lead's
  ``WhoId``, so an activity of a Lead has none;
* an activity none of whose contacts is paired yet waits (queued, ``waiting_for_contact``);
  one with no contact at all is excluded (``no_contact``);
* an activity already written is updated with the fields that changed since the values last
  written (its base); ``TaskSubtype`` is set on create only (Salesforce cannot update it).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from accord.model import Value

Kind = Literal["calls", "emails", "meetings", "notes", "tasks"]
KINDS: tuple[Kind, ...] = ("calls", "emails", "meetings", "notes", "tasks")

# the queued reason of an activity whose contacts are not synced yet, the excluded reason of one
# without any contact (both shown in the records views like any record's reason)
WAITING_FOR_CONTACT = "waiting_for_contact"
NO_CONTACT = "no_contact"

# the HubSpot properties each type is read with
SOURCE_FIELDS: dict[Kind, tuple[str, ...]] = {
    "calls": ("hs_timestamp", "hs_call_title", "hs_call_body", "hs_call_direction", "hs_call_duration",
              "hs_call_status", "hs_call_disposition"),
    "emails": ("hs_timestamp", "hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_direction",
               "hs_email_status"),
    "meetings": ("hs_timestamp", "hs_meeting_title", "hs_meeting_body", "hs_meeting_start_time",
                 "hs_meeting_end_time", "hs_meeting_location", "hs_meeting_outcome"),
    "notes": ("hs_timestamp", "hs_note_body"),
    "tasks": ("hs_timestamp", "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority",
              "hs_task_type"),
}
# Salesforce fields written on create only (not updateable)
CREATE_ONLY = frozenset({"TaskSubtype"})
SUBJECT_MAX, DESCRIPTION_MAX = 255, 32000
LEAD_PREFIX = "00Q"  # Salesforce key prefix of Lead ids

_TASK_STATUS = {"NOT_STARTED": "Not Started", "IN_PROGRESS": "In Progress", "WAITING": "Waiting on someone else",
                "COMPLETED": "Completed", "DEFERRED": "Deferred"}
_PRIORITY = {"HIGH": "High", "MEDIUM": "Normal", "NONE": "Normal", "LOW": "Low"}
_SUBTYPE = {"CALL": "Call", "EMAIL": "Email", "TODO": "Task"}
_CALL_TYPE = {"INBOUND": "Inbound", "OUTBOUND": "Outbound"}
# HubSpot's default call outcomes: ``hs_call_disposition`` holds the outcome's id (HubSpot's calls
# API guide lists these); an outcome a portal added itself is written as its id
_OUTCOMES = {"73a0d17f-1163-4015-bdd5-ec830791da20": "No answer", "b2cf5968-551e-4856-9783-52b3da59a7d0":
             "Left voicemail", "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "Left live message",
             "9d9162e7-6cf3-4944-bf63-4dff82258764": "Busy", "f240bbac-87c9-4f6e-bf70-924b57d47db7": "Connected",
             "17b47fee-58de-441e-a44c-c6300d46f273": "Wrong number"}


def target_object(kind: str) -> str:
    """The Salesforce object an activity type becomes."""
    return "Event" if kind == "meetings" else "Task"


def label(kind: str) -> str:
    """A type's name in messages: "call", "email" …"""
    return kind[:-1]


@dataclass(frozen=True)
class Resolved:
    """What the index knows about an activity's associated records."""

    contacts: Sequence[str]  # its HubSpot contact ids
    paired: Mapping[str, str]  # HubSpot contact id → the paired Salesforce Contact/Lead id
    what: str | None = None  # the paired Opportunity (else Account) id, if any


@dataclass(frozen=True)
class ActivityPlan:
    """What to do with one activity: ``create`` / ``update`` (``values`` to send), ``none``
    (in step), ``wait`` or ``exclude`` (``reason``, ``message``). ``payload``: every field
    as it should be in Salesforce now (the base once written)."""

    action: Literal["create", "update", "none", "wait", "exclude"]
    payload: dict[str, Value] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)
    reason: str | None = None
    message: str | None = None


def plan_activity(kind: str, props: Mapping[str, Value], resolved: Resolved, base: Mapping[str, Any] | None,
                  written: bool) -> ActivityPlan:
    """The plan of one HubSpot activity; ``written``: it has a Salesforce twin whose fields
    were last written as ``base``."""
    if not resolved.contacts and not written:
        return ActivityPlan("exclude", reason=NO_CONTACT,
                            message=f"the {label(kind)} is not associated with any HubSpot contact")
    who = next((resolved.paired[c] for c in sorted(resolved.contacts, key=id_order) if c in resolved.paired), None)
    if who is None and not written:
        return ActivityPlan("wait", reason=WAITING_FOR_CONTACT,
                            message=f"the {label(kind)}'s contact is not synced yet "
                                    f"(HubSpot contact {', '.join(sorted(resolved.contacts, key=id_order))}); "
                                    "it syncs once the contact does")
    if who is None and base is not None:  # written once; its contact is no longer paired: keep the old one
        who = _str(base.get("WhoId"))
    payload = to_salesforce(kind, props, who, resolved.what)
    if not written:
        return ActivityPlan("create", payload, dict(payload))
    before = dict(base or {})
    changed = {k: v for k, v in payload.items() if k not in CREATE_ONLY and before.get(k) != v}
    # a field written before and now empty in HubSpot is cleared
    changed.update({k: None for k, v in before.items()
                    if k not in payload and k not in CREATE_ONLY and v is not None})
    if not changed:
        return ActivityPlan("none", {**payload, **{k: v for k, v in before.items() if k in CREATE_ONLY}})
    return ActivityPlan("update", {**payload, **{k: v for k, v in before.items() if k in CREATE_ONLY}}, changed)


def to_salesforce(kind: str, props: Mapping[str, Value], who: str | None, what: str | None) -> dict[str, Value]:
    """The Salesforce Task / Event fields of a HubSpot activity (blank fields left out)."""
    p = props
    out: dict[str, Value] = {}
    when = _str(p.get("hs_timestamp"))
    if kind == "meetings":
        start = _str(p.get("hs_meeting_start_time")) or when
        end = _str(p.get("hs_meeting_end_time"))
        if start and not end:  # Salesforce needs an end or a duration: HubSpot's default length
            end = _plus(start, minutes=30)
        out.update(Subject=_subject(_str(p.get("hs_meeting_title")) or "Meeting"),
                   Description=_text(p.get("hs_meeting_body")),
                   StartDateTime=start, EndDateTime=end, ActivityDateTime=start,
                   Location=_clip(_str(p.get("hs_meeting_location")), SUBJECT_MAX))
    else:
        out["ActivityDate"] = when[:10] if when else None
        if kind == "calls":
            out.update(Subject=_subject(_str(p.get("hs_call_title")) or "Call"), TaskSubtype="Call",
                       Description=_text(p.get("hs_call_body")), Status="Completed",
                       CallType=_CALL_TYPE.get(_str(p.get("hs_call_direction")) or ""),
                       CallDurationInSeconds=_seconds(p.get("hs_call_duration")),
                       CallDisposition=_clip(_outcome(p.get("hs_call_disposition")), SUBJECT_MAX))
        elif kind == "emails":
            body = _text(p.get("hs_email_text")) or _text(p.get("hs_email_html"))
            out.update(Subject=_subject("Email: " + (_str(p.get("hs_email_subject")) or "(no subject)")),
                       TaskSubtype="Email", Description=body, Status="Completed")
        elif kind == "notes":
            body = _text(p.get("hs_note_body"))
            first = (body or "").strip().splitlines()[0] if body and body.strip() else ""
            out.update(Subject=_subject(f"Note: {first}" if first else "Note"), TaskSubtype="Task",
                       Description=body, Status="Completed")
        elif kind == "tasks":
            out.update(Subject=_subject(_str(p.get("hs_task_subject")) or "Task"),
                       TaskSubtype=_SUBTYPE.get(_str(p.get("hs_task_type")) or "", "Task"),
                       Description=_text(p.get("hs_task_body")),
                       Status=_TASK_STATUS.get(_str(p.get("hs_task_status")) or "", "Not Started"),
                       Priority=_PRIORITY.get(_str(p.get("hs_task_priority")) or "", "Normal"))
        else:
            raise ValueError(f"unknown activity type {kind!r}")
    out["WhoId"] = who
    # Salesforce: "a Lead cannot be related to an Account or Opportunity" (FIELD_INTEGRITY_EXCEPTION)
    out["WhatId"] = what if who is None or not who.startswith(LEAD_PREFIX) else None
    return {k: v for k, v in out.items() if v is not None and v != ""}


def pick_what(opportunities: Sequence[str], accounts: Sequence[str]) -> str | None:
    """``WhatId``: the paired Opportunity of the activity's deal (the narrower record), else its company's Account."""
    return next(iter(opportunities), None) or next(iter(accounts), None)


def activity_label(kind: str, props: Mapping[str, Value]) -> str:
    """What the records views show for an activity: its type and subject."""
    subject = to_salesforce(kind, props, None, None).get("Subject")
    return _clip(f"{label(kind)}: {subject}", 320) or label(kind)


# -- values ---------------------------------------------------------------------------------
def _str(v: Value | Any) -> str | None:
    if v is None or v == "":
        return None
    return str(v)


def _clip(s: str | None, n: int) -> str | None:
    return None if s is None else s[:n]


def _subject(s: str) -> str:
    return " ".join(s.split())[:SUBJECT_MAX]


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/h\d)\s*/?\s*>", re.IGNORECASE)


def _text(v: Value | Any) -> str | None:
    """HubSpot's rich-text bodies as plain text (Salesforce's Description is a text area)."""
    s = _str(v)
    if s is None:
        return None
    if "<" in s:
        s = html.unescape(_TAG.sub("", _BREAK.sub("\n", s)))
    s = "\n".join(line.rstrip() for line in s.strip().splitlines())
    return s[:DESCRIPTION_MAX] or None


def _outcome(v: Value | Any) -> str | None:
    s = _str(v)
    return None if s is None else _OUTCOMES.get(s, s)


def _seconds(v: Value | Any) -> int | None:
    """HubSpot's call duration is in milliseconds; Salesforce's in seconds."""
    if v is None or v == "":
        return None
    try:
        return round(float(str(v)) / 1000)
    except ValueError:
        return None


def _plus(iso: str, *, minutes: int) -> str:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00")) + timedelta(minutes=minutes)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def id_order(i: str) -> tuple[int, str]:
    return (int(i), "") if i.isdigit() else (1 << 62, i)
