"""Salesforce Bulk API 2.0 for the Salesforce connector: full scans through query jobs and large
write batches through ingest jobs (as Heroku Connect and Airbyte's source do). The org's scarce
resource is its daily API budget: a query job reads 50,000 records a call where REST query pages
take 2,000, and an ingest job writes any number of records in about five calls where sObject
Collections take 200 a call.

Reading
  The scan's first REST page (the lowest Ids) tells the object's size; above the threshold a
  query job reads the records after that page: the scan's SOQL plus ``Id >`` the page's last,
  without ``ORDER BY`` (which would switch off Salesforce's PK chunking). Its CSV result pages
  are followed through ``Sforce-Locator``. A page's cursor is
  ``bulk:<job id>:<locator of the next page>``: a resumed scan reads on from there while the job's
  results are kept (7 days), and starts over otherwise. CSV values are typed as the REST path's
  JSON ones are (numbers, booleans; an empty cell is null), by converters the connector looks up
  once per result page (``_csv_decoder``), not per cell.

Writing
  An ingest job: create, upload the CSV, close (``UploadComplete``), wait for ``JobComplete``,
  then fetch only the result sets that have rows (``successfulResults``, ``failedResults``; a row
  in neither was not processed and fails as transient, to be retried). An update whose rows all
  succeeded needs neither: its ids are the ones sent. Results are matched to the inputs by their echoed CSV row. Per-row
  errors (``sf__Error``: ``CODE:message:fields --``) become failing records with the categories
  of the REST path (:func:`~accord.connectors.salesforce.write_error`). In an insert an empty
  cell leaves a field unset; in an update ``#N/A`` clears it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from accord.connectors.http import outcome_unknown
from accord.model import (
    ConnectorError,
    ErrorCategory,
    Page,
    Record,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)

PAGE = 50_000  # records per result page (maxRecords)
NULL = "#N/A"  # an ingest value that clears the field
_NUMBERS = ("double", "currency", "percent", "int", "long")
_ERROR = re.compile(r"^([A-Z_]+):(.*?)(?::([A-Za-z0-9_,]*))?$", re.S)


class JobFailed(ConnectorError):
    """The job as a whole failed or was aborted (``errorMessage``): no row was processed."""


# -- values ---------------------------------------------------------------------------------------------
def typed(sf_type: str, v: str) -> Any:
    """A CSV cell → the value the REST API's JSON has for it (then canonical() as usual)."""
    if v == "":
        return None
    if sf_type in _NUMBERS:
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() else f
    if sf_type == "boolean":
        return v.lower() == "true"
    return v


def cell(v: Any, clear: bool) -> str:
    """A wire value (salesforce.to_wire) → a CSV cell; None clears the field only when ``clear``."""
    if v is None:
        return NULL if clear else ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def parse_errors(text: str) -> list[dict[str, Any]]:
    """``sf__Error`` → Salesforce error objects (``statusCode``, ``message``, ``fields``)."""
    out: list[dict[str, Any]] = []
    for part in (p.strip() for p in re.split(r"\s--(?:\s|$)", text.strip())):
        if not part:
            continue
        m = _ERROR.match(part)
        if m is None:
            out.append({"statusCode": "UNKNOWN", "message": part, "fields": []})
            continue
        fields = [f for f in (m.group(3) or "").split(",") if f]
        out.append({"statusCode": m.group(1), "message": m.group(2), "fields": fields})
    return out or [{"statusCode": "UNKNOWN", "message": text, "fields": []}]


def to_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def read_csv(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return (rows[0], rows[1:]) if rows else ([], [])


# -- jobs -----------------------------------------------------------------------------------------------
class Calls(Protocol):
    """What the jobs need of the Salesforce connector (its HTTP layer, limits and API budget)."""

    name: str

    async def _json(self, method: str, path: str, **kw: Any) -> Any: ...

    async def _request(self, method: str, path: str, *, idempotent: bool = True, **kw: Any) -> httpx.Response: ...

    def _csv_decoder(self, header: Sequence[str], fields: Sequence[str],
                     schema: Mapping[str, Any]) -> Callable[[Sequence[str]], Record]: ...


class Bulk:
    """Bulk API 2.0 calls of one connector; ``write_error`` maps Salesforce error objects to a
    WriteError (the REST path's categories)."""

    def __init__(self, conn: Calls, write_error: Callable[[Sequence[Mapping[str, Any]]], WriteError], *,
                 page: int = PAGE, poll: float = 0.05, ingest_poll: float = 0.5, max_poll: float = 10.0,
                 timeout: float = 3600.0) -> None:
        self.conn = conn
        self.write_error = write_error
        self.page = page
        self.poll, self.ingest_poll, self.max_poll, self.timeout = poll, ingest_poll, max_poll, timeout

    async def _wait(self, kind: str, job_id: str, partial: bool = False) -> dict[str, Any]:
        """Poll the job until it is done: the first look at once (small jobs are done by then),
        then at intervals doubling up to ``max_poll``. A query job's from ``poll`` (50 ms): a scan
        waits for it, and one done in a second is seen within ~0.1 s of it, where a half-second
        start waits longer than the job took; an ingest job's from ``ingest_poll`` (0.5 s):
        writes are many jobs, and each status read counts against the org's daily API budget.
        A failed or aborted job raises :class:`JobFailed`, unless ``partial`` and it processed
        rows (an ingest job's results then say which)."""
        first = self.poll if kind == "query" else self.ingest_poll
        delay, waited = 0.0, 0.0
        while True:
            info: dict[str, Any] = await self.conn._json("GET", f"jobs/{kind}/{job_id}")
            state = info.get("state")
            if state == "JobComplete":
                return info
            if state in ("Failed", "Aborted"):
                if partial and int(info.get("numberRecordsProcessed") or 0):
                    return info
                raise JobFailed(f"{self.conn.name}: Bulk API {kind} job {job_id} {state}: "
                                f"{info.get('errorMessage') or 'no message'}")
            if waited > self.timeout:
                raise ConnectorError(f"{self.conn.name}: Bulk API {kind} job {job_id} still {state} after "
                                     f"{waited:.0f} s")
            delay = min(self.max_poll, max(first, delay * 2))
            await asyncio.sleep(delay)
            waited += delay

    # -- query ----------------------------------------------------------------------------------------
    async def query(self, soql: str) -> str:
        """Submit a query job; its id once it is complete."""
        job = await self.conn._json("POST", "jobs/query", json={"operation": "query", "query": soql,
                                                                "contentType": "CSV", "columnDelimiter": "COMMA",
                                                                "lineEnding": "LF"})
        await self._wait("query", str(job["id"]))
        return str(job["id"])

    async def results(self, job_id: str, locator: str = "") -> AsyncIterator[tuple[list[str], list[list[str]], str]]:
        """The job's result pages from ``locator`` on: (header, rows, the next page's locator or "null")."""
        while True:
            params: dict[str, Any] = {"maxRecords": self.page}
            if locator:
                params["locator"] = locator
            resp = await self.conn._request("GET", f"jobs/query/{job_id}/results", params=params,
                                            headers={"Accept": "text/csv"})
            if resp.status_code == 404:
                raise LookupError(job_id)
            if resp.status_code >= 400:
                raise ConnectorError(f"{self.conn.name}: Bulk API results of {job_id}: HTTP {resp.status_code} "
                                     f"{resp.text[:200]}")
            header, rows = read_csv(resp.text)
            locator = resp.headers.get("sforce-locator") or "null"
            yield header, rows, locator
            if locator == "null":
                return

    async def scan(self, object: str, select: str, fields: Sequence[str], schema: Mapping[str, Any], *,
                   where: str = "", job_id: str | None = None, locator: str = "") -> AsyncIterator[Page]:
        """Pages of a scan through a query job (a new one unless ``job_id``), cursor ``bulk:job:locator``."""
        if job_id is None:
            job_id = await self.query(f"SELECT {select} FROM {object}" + (f" WHERE {where}" if where else ""))
        async for header, rows, nxt in self.results(job_id, locator):
            decode = self.conn._csv_decoder(header, fields, schema)
            yield Page([decode(r) for r in rows], cursor=f"bulk:{job_id}:{nxt}")

    # -- ingest ---------------------------------------------------------------------------------------
    async def ingest(self, operation: str, object: str, items: Sequence[Mapping[str, Any]],
                     ids: Sequence[str | None]) -> list[WriteResult]:
        """Write ``items`` (wire values, an ``Id`` in each for an update) through one ingest job."""
        clear = operation != "insert"
        header = list(dict.fromkeys(k for it in items for k in it))
        rows = [[cell(it[k], clear) if k in it else "" for k in header] for it in items]
        job = await self.conn._json("POST", "jobs/ingest", json={"object": object, "operation": operation,
                                                                 "contentType": "CSV", "columnDelimiter": "COMMA",
                                                                 "lineEnding": "LF"})
        job_id = str(job["id"])
        try:
            # not resent: a second upload of the rows would add them twice
            up = await self.conn._request("PUT", f"jobs/ingest/{job_id}/batches", idempotent=False,
                                          content=to_csv(header, rows).encode(), headers={"Content-Type": "text/csv"})
            if up.status_code >= 400:
                raise ConnectorError(f"{self.conn.name}: Bulk API upload to {job_id}: HTTP {up.status_code} "
                                     f"{up.text[:200]}")
        except (ConnectorError, WriteOutcomeUnknown):
            # an open job processes nothing: abort it, and no record was written
            await self.conn._request("PATCH", f"jobs/ingest/{job_id}", json={"state": "Aborted"})
            raise
        closed = await self.conn._request("PATCH", f"jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        try:
            if closed.status_code >= 400:  # e.g. a retried close of a job the first attempt closed
                info = await self.conn._json("GET", f"jobs/ingest/{job_id}")
                if info.get("state") == "Open":
                    raise ConnectorError(f"{self.conn.name}: Bulk API close of {job_id}: HTTP {closed.status_code}")
            info = await self._wait("ingest", job_id, partial=True)
            return await self._outcomes(job_id, info, header, rows, ids)
        except JobFailed:  # nothing was processed: the caller may write the rows another way
            raise
        except ConnectorError as e:  # closed: rows may have been written, which ones cannot be told
            if operation == "insert":
                raise outcome_unknown(f"{self.conn.name}: Bulk API ingest job {job_id}: {e}") from e
            raise

    async def _outcomes(self, job_id: str, info: Mapping[str, Any], header: list[str], rows: list[list[str]],
                        ids: Sequence[str | None]) -> list[WriteResult]:
        processed, failed = int(info.get("numberRecordsProcessed") or 0), int(info.get("numberRecordsFailed") or 0)
        if not failed and processed == len(rows) and all(ids):
            return [WriteResult.success(str(i)) for i in ids]  # an update that all went through: no result to read
        by_row: dict[tuple[str, ...], deque[WriteResult]] = defaultdict(deque)

        async def fetch(which: str) -> list[list[str]]:
            resp = await self.conn._request("GET", f"jobs/ingest/{job_id}/{which}", headers={"Accept": "text/csv"})
            if resp.status_code >= 400:
                raise ConnectorError(f"{self.conn.name}: Bulk API {which} of {job_id}: HTTP {resp.status_code}")
            return read_csv(resp.text)[1]  # sf__Id, sf__Created or sf__Error, then the row as uploaded

        # only the result sets that have rows: each is an API call
        if processed > failed:
            for r in await fetch("successfulResults"):
                by_row[tuple(r[2:])].append(WriteResult.success(r[0]))
        if failed:
            for r in await fetch("failedResults"):
                err = self.write_error(parse_errors(r[1]))
                by_row[tuple(r[2:])].append(WriteResult.failure(err, r[0] or None))
        out: list[WriteResult] = []
        for row, given in zip(rows, ids, strict=True):
            q = by_row.get(tuple(row))
            res = q.popleft() if q else None
            if res is None:  # not processed (the job stopped early): nothing happened to it
                res = WriteResult.failure(WriteError(ErrorCategory.TRANSIENT, "Salesforce did not process this "
                                                     "record in its Bulk API job; it will be retried.",
                                                     code="UNPROCESSED"), given)
            elif given and not res.ok and not res.id:
                res = WriteResult.failure(res.error, given) if res.error else res
            out.append(res)
        return out
