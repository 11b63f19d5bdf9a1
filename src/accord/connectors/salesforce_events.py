"""Salesforce activity history for event sync (accord.runner.events): email and call Tasks
(``TaskSubtype`` Email, ListEmail, Call) and Events (meetings) whose ``WhoId`` is a record of
the sync's object (Contact or Lead), read by SOQL through the connector's query path, newest
last by ``CreatedDate`` (the cursor). The contact's email is read from the record the Who
id names. An activity with no ``WhoId`` (logged on an account or opportunity only) belongs to
no contact: it is reported, never synced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from accord.connectors.salesforce import SalesforceConnector, parse_ts, soql_datetime
from accord.engine.events import AppEvent, EventPage

PREFIXES = {"Contact": ("003",), "Lead": ("00Q",), "Contact+Lead": ("003", "00Q")}  # key prefixes of Who ids
TASK_KINDS = {"Email": "email", "ListEmail": "email", "Call": "call"}
QUERIES = (
    ("Task", "SELECT Id, WhoId, WhatId, Subject, Description, TaskSubtype, Status, CreatedDate FROM Task "
             "WHERE TaskSubtype IN ('Email', 'ListEmail', 'Call')"),
    ("Event", "SELECT Id, WhoId, WhatId, Subject, Description, Location, StartDateTime, CreatedDate FROM Event"),
)


def _event(sobject: str, row: dict[str, Any], prefix: tuple[str, ...]) -> AppEvent | None:
    who = str(row.get("WhoId") or "")
    if who and not who.startswith(prefix):
        return None  # a Lead's activity in a Contact sync (or the reverse): the other sync's
    kind = TASK_KINDS.get(str(row.get("TaskSubtype") or ""), "email") if sobject == "Task" else "meeting"
    at = parse_ts(str(row.get("StartDateTime") or row.get("CreatedDate")))
    detail = str(row.get("Description") or "")
    if sobject == "Event" and row.get("Location"):
        detail = f"Location: {row['Location']}\n{detail}".strip()
    return AppEvent(str(row["Id"]), kind, at, None, who or None, bool(who), str(row.get("Subject") or ""),
                    f"Salesforce {sobject}", detail)


async def events_since(conn: SalesforceConnector, object: str, since: datetime | None) -> AsyncIterator[EventPage]:
    """Pages of the activities of ``object`` records (Contact, Lead, or both: ``Contact+Lead``) created at
    or after ``since``."""
    prefix = PREFIXES[object]
    for sobject, soql in QUERIES:
        where = f" {'AND' if 'WHERE' in soql else 'WHERE'} CreatedDate >= {soql_datetime(since)}" if since else ""
        async for rows in conn._soql(f"{soql}{where} ORDER BY CreatedDate ASC"):
            page = [e for e in (_event(sobject, r, prefix) for r in rows) if e is not None]
            whos = sorted({e.record_id for e in page if e.record_id})
            emails = {r.id: r.properties.get("Email") for r in await conn.read(object, whos, ["Email"])} if whos else {}
            seen = max((parse_ts(str(r["CreatedDate"])) for r in rows if r.get("CreatedDate")), default=None)
            yield EventPage([AppEvent(e.id, e.kind, e.at, str(emails.get(e.record_id or "") or "") or None,
                                      e.record_id, e.contact, e.subject, e.source, e.detail) for e in page], seen)
