"""Replication: ``/services/data/{v}/sobjects/{t}/updated`` and ``…/deleted`` (getUpdated, getDeleted)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.store import RequestError, fmt_datetime


def parse_window(sb: SalesforceCore, obj_name: str, start: str | None, end: str | None,
                 days: int) -> tuple[datetime, datetime]:
    if not start or not end:
        raise RequestError(400, "MISSING_ARGUMENT", "start and end are required")
    try:
        # the seconds of both bounds are ignored, as getUpdated/getDeleted do
        s = soql.parse_datetime(start.replace(" ", "+")).replace(second=0, microsecond=0)
        e = soql.parse_datetime(end.replace(" ", "+")).replace(second=0, microsecond=0)
    except ValueError as ex:
        raise RequestError(400, "INVALID_REPLICATION_DATE", f"invalid date: {ex}") from ex
    now = sb.org.now()
    if e - s < timedelta(minutes=1):
        # unconfirmed wording; Salesforce returns this code when the window is under a minute
        raise RequestError(400, "INVALID_REPLICATION_DATE", "startDate must be at least one minute greater than endDate")
    oldest = now.replace(second=0) - timedelta(days=days)
    purged = sb.org.purged_before.get(obj_name)
    if s < oldest or (purged is not None and s < purged):
        # unconfirmed wording; the code is the documented one for a start past the delete log
        raise RequestError(400, "INVALID_REPLICATION_DATE", "startDate before org replication enabled date")
    return s, min(e, now)


def register(app: FastAPI, sb: SalesforceCore) -> None:
    # ahead of the record routes: "updated" and "deleted" would otherwise read as record ids
    @app.get("/services/data/{v}/sobjects/{t}/updated")
    async def get_updated(v: str, t: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        s, e = parse_window(sb, obj.name, start, end, sb.settings.updated_window_days)
        return {"ids": sb.org.updated_ids(obj, s, e), "latestDateCovered": fmt_datetime(e)}

    @app.get("/services/data/{v}/sobjects/{t}/deleted")
    async def get_deleted(v: str, t: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        obj = sb.org.obj(t)
        s, e = parse_window(sb, obj.name, start, end, sb.settings.deleted_window_days)
        earliest = sb.org.purged_before.get(obj.name) or sb.org.now().replace(second=0) - timedelta(
            days=sb.settings.deleted_window_days)
        return {
            "deletedRecords": [{"id": i, "deletedDate": fmt_datetime(d)} for i, d in sb.org.deleted(obj, s, e)],
            "earliestDateAvailable": fmt_datetime(earliest),
            "latestDateCovered": fmt_datetime(e),
        }
