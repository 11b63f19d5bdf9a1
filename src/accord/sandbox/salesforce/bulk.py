"""Bulk API 2.0 jobs of the Salesforce sandbox, independent of HTTP: query jobs (a SOQL snapshot
served as CSV pages behind ``Sforce-Locator``) and ingest jobs (CSV rows saved one by one through
the org's save rules, each row's outcome kept for ``successfulResults``, ``failedResults`` and
``unprocessedrecords``).

A job moves ``UploadComplete`` (query) or ``Open`` → ``UploadComplete`` (ingest) → ``InProgress``
→ ``JobComplete``. The work is done when the job is submitted (query) or closed (ingest); how
many status reads it stays in progress for is ``SandboxSettings.bulk_polls`` (0: complete at once).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.schema import SField, SObject
from accord.sandbox.salesforce.store import Org, RecordError, RequestError, SfError, fmt_datetime

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
DEFAULT_MAX_RECORDS = 50_000  # results per page when the client names no maxRecords
NULL = "#N/A"  # an ingest value that clears the field (an empty value leaves it as it is)


@dataclass
class Job:
    id: str
    kind: str  # "query" or "ingest"
    operation: str
    object: str
    created: datetime
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    query: str | None = None
    state: str = "Open"
    polls_left: int = 0
    error: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # query: the result rows; ingest: the uploaded ones
    uploaded: bool = False
    successful: list[tuple[str, bool, list[str]]] = field(default_factory=list)  # (sf__Id, sf__Created, row)
    failed: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (sf__Id, sf__Error, row)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self, version: str, full: bool) -> dict[str, Any]:
        """The job's JSON as the create, the job info and the listing return it."""
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": "0055g00000ABCDEAAA", "createdDate": fmt_datetime(self.created),
            "systemModstamp": fmt_datetime(self.created), "state": self.state, "concurrencyMode": "Parallel",
            "contentType": "CSV", "apiVersion": float(version.lstrip("v")), "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.external_id:
            out["externalIdFieldName"] = self.external_id
        if self.kind == "ingest":
            out["contentUrl"] = f"services/data/{version}/jobs/ingest/{self.id}/batches"
        if full:
            out["jobType"] = "V2Query" if self.kind == "query" else "V2Ingest"
            done = self.state == "JobComplete"
            if self.kind == "query":
                out["numberRecordsProcessed"] = len(self.rows) if done else 0
            else:
                out["numberRecordsProcessed"] = len(self.successful) + len(self.failed) if done else 0
                out["numberRecordsFailed"] = len(self.failed) if done else 0
            out.update(retries=0, totalProcessingTime=0, apiActiveProcessingTime=0, apexProcessingTime=0)
            if self.error:
                out["errorMessage"] = self.error
        return out


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = "COMMA", line_ending: str = "LF") -> str:
    """CSV as Bulk API 2.0 serves it: every value quoted, the job's delimiter and line ending."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=DELIMITERS[delimiter], lineterminator=LINE_ENDINGS[line_ending],
                   quoting=csv.QUOTE_ALL)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def csv_value(f: SField, v: Any) -> str:
    """One stored value as a query result's CSV cell (null: empty)."""
    if v is None:
        return ""
    if f.type == "datetime" and isinstance(v, datetime):
        return fmt_datetime(v)[:-5] + "Z"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return v.isoformat()
    if f.type in ("double", "currency", "percent"):
        return repr(float(v))
    return str(v)


_TEXT_TYPES = frozenset({"id", "reference", "string", "email", "phone", "url", "textarea", "picklist",
                         "multipicklist", "combobox"})


def _cells(fields: list[SField], rows: list[dict[str, Any]]) -> list[list[str]]:
    """The rows' CSV cells (``csv_value``), a column at a time: text columns, most of them, skip
    the per-value type dispatch (a query job of 50,000 rows formats half a million cells)."""
    columns = []
    for f in fields:
        values = [r.get(f.name) for r in rows]
        if f.type in _TEXT_TYPES:  # a text column's values are mostly str, as they are
            columns.append([v if type(v) is str else csv_value(f, v) for v in values])
        else:
            columns.append([csv_value(f, v) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in rows]


def error_text(errors: list[SfError]) -> str:
    """``sf__Error``: ``CODE:message:fields --`` per error, as Salesforce writes it."""
    return " ".join(f"{e.code}:{e.message}:{','.join(e.fields)} --" for e in errors)


class BulkJobs:
    """The org's Bulk API 2.0 jobs (kept until the sandbox is reset, as real ones are for 7 days)."""

    def __init__(self, org: Org, polls: int = 0) -> None:
        self.org = org
        self.polls = polls
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.jobs.clear()

    def _new_id(self) -> str:
        n = next(self._ids)
        return f"7505g{n:010d}AAA"[:18]

    def get(self, kind: str, id: str) -> Job:
        job = self.jobs.get(id)
        if job is None or job.kind != kind:
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def listing(self, kind: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.kind == kind]

    def status(self, kind: str, id: str) -> Job:
        """The job as a status read sees it: one poll nearer to complete."""
        job = self.get(kind, id)
        with self._lock:
            if job.state in ("UploadComplete", "InProgress"):
                if job.polls_left > 0:
                    job.polls_left -= 1
                    job.state = "InProgress"
                else:
                    job.state = "JobComplete"
        return job

    # -- query jobs -------------------------------------------------------------------
    def create_query(self, body: dict[str, Any]) -> Job:
        op = body.get("operation") or "query"
        if op not in QUERY_OPERATIONS:
            raise RequestError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {op}")
        q = body.get("query")
        if not q:
            raise RequestError(400, "INVALIDJOB", "InvalidJob : query is required")
        delim, ending = _format(body)
        try:
            parsed = soql.parse(str(q))
        except soql.SoqlError as e:
            raise RequestError(400, "INVALIDJOB", f"InvalidJob : {e.code}: {e.message}") from e
        if parsed.fields is None:
            raise RequestError(400, "INVALIDJOB", "InvalidJob : Aggregate queries are not supported by Bulk API 2.0")
        obj = parsed.sobject
        rows = self.org.query(parsed, include_deleted=op == "queryAll")
        with self.org.lock:  # the snapshot the job serves, as of its creation
            cells = _cells([obj.fields[n] for n in parsed.fields], rows)
        job = Job(self._new_id(), "query", op, obj.name, self.org.now(), delim, ending, query=str(q),
                  state="UploadComplete", polls_left=self.polls, header=list(parsed.fields), rows=cells)
        with self._lock:
            self.jobs[job.id] = job
        return job

    def results(self, id: str, locator: str | None, max_records: int | None) -> tuple[str, str, int]:
        """A page of a query job's results: (CSV, the next page's locator or "null", its row count)."""
        job = self.get("query", id)
        if job.state != "JobComplete":
            raise RequestError(400, "INVALIDJOBSTATE", f"Job is not in a valid state for this operation: {job.state}")
        start = 0
        if locator:
            try:
                start = int(base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode())
            except ValueError as e:
                raise RequestError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from e
            if not 0 <= start <= len(job.rows):
                raise RequestError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
        n = DEFAULT_MAX_RECORDS if not max_records or max_records <= 0 else max_records
        page = job.rows[start:start + n]
        end = start + len(page)
        nxt = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(job.rows) else "null"
        return csv_text(job.header, page, job.delimiter, job.line_ending), nxt, len(page)

    # -- ingest jobs ------------------------------------------------------------------
    def create_ingest(self, body: dict[str, Any]) -> Job:
        op = body.get("operation")
        if op not in INGEST_OPERATIONS:
            raise RequestError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {op}")
        if (body.get("contentType") or "CSV") != "CSV":
            raise RequestError(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        obj = self.org.obj(str(body.get("object") or ""))
        ext = body.get("externalIdFieldName")
        if op == "upsert":
            f = obj.field(str(ext or ""))
            if f is None or not (f.external_id or f.name == "Id"):
                raise RequestError(400, "INVALIDJOB", f"InvalidJob : External ID field does not exist or is not "
                                   f"accessible: {ext}")
            ext = f.name
        delim, ending = _format(body)
        job = Job(self._new_id(), "ingest", str(op), obj.name, self.org.now(), delim, ending,
                  external_id=str(ext) if op == "upsert" else None, polls_left=self.polls)
        with self._lock:
            self.jobs[job.id] = job
        return job

    def upload(self, id: str, data: bytes) -> None:
        job = self.get("ingest", id)
        if job.state != "Open":
            raise RequestError(409, "INVALIDJOBSTATE", f"Job is not in a valid state for this operation: {job.state}")
        text = data.decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter])
        rows = [r for r in reader if r]
        if not rows:
            raise RequestError(400, "INVALIDBATCH", "InvalidBatch : The CSV is empty")
        header, data_rows = [h.strip() for h in rows[0]], rows[1:]
        if job.header and header != job.header:
            raise RequestError(400, "INVALIDBATCH", "InvalidBatch : the header differs from the first upload's")
        job.header = header
        job.rows.extend(data_rows)
        job.uploaded = True

    def set_state(self, kind: str, id: str, state: str | None) -> Job:
        job = self.get(kind, id)
        with self._lock:
            if state == "Aborted":
                if job.state in ("JobComplete", "Failed", "Aborted"):
                    raise RequestError(400, "INVALIDJOBSTATE", f"Job is already {job.state}")
                job.state = "Aborted"
                if kind == "ingest":
                    job.unprocessed = list(job.rows)
                return job
            if state != "UploadComplete" or kind != "ingest":
                raise RequestError(400, "INVALIDJOBSTATE", f"Invalid state: {state}")
            if job.state != "Open":
                raise RequestError(400, "INVALIDJOBSTATE", f"Job is not in a valid state for this operation: {job.state}")
            if not job.uploaded:
                job.state, job.error = "Failed", "InvalidBatch : no data was uploaded"
                return job
            job.state = "UploadComplete"
        self._process(job)
        return job

    def _process(self, job: Job) -> None:
        obj = self.org.obj(job.object)
        bad = [h for h in job.header if obj.field(h) is None]
        if bad:
            job.state, job.error = "Failed", f"InvalidBatch : Field name not found : {bad[0]}"
            job.unprocessed = list(job.rows)
            return
        names = [str(f.name) for h in job.header if (f := obj.field(h)) is not None]
        for row in job.rows:
            values = dict(zip(names, row, strict=False))
            try:
                id, created = self._save(job, obj, values)
                job.successful.append((id, created, row))
            except RecordError as e:
                job.failed.append((values.get("Id", ""), error_text(e.errors), row))
            except RequestError as e:
                job.failed.append((values.get("Id", ""), error_text([e.error]), row))

    def _save(self, job: Job, obj: SObject, raw: dict[str, str]) -> tuple[str, bool]:
        op = job.operation
        if op in ("delete", "hardDelete"):
            return self.org.delete(obj.name, raw.get("Id", "")), False
        # an empty cell leaves the field alone; #N/A clears it
        values: dict[str, Any] = {k: (None if v == NULL else v) for k, v in raw.items() if v != ""}
        if op == "insert":
            return self.org.create(obj.name, values), True
        if op == "update":
            id = values.pop("Id", None)
            if not id:
                raise RecordError(SfError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]))
            return self.org.update(obj.name, str(id), values), False
        ext = job.external_id or "Id"
        key = values.pop(ext, None)
        if not key:
            raise RecordError(SfError("MISSING_ARGUMENT", f"{ext} not specified", [ext]))
        with self.org.lock:
            hits = self.org.find_by(obj, ext, key) if ext != "Id" else []
            if len(hits) > 1:
                raise RecordError(SfError("DUPLICATE_EXTERNAL_ID", f"{ext}: more than one record found for "
                                          f"external id field: {[h['Id'] for h in hits]}", [ext]))
            if ext == "Id":
                return self.org.update(obj.name, str(key), values), False
            if hits:
                return self.org.update(obj.name, str(hits[0]["Id"]), values), False
            return self.org.create(obj.name, {**values, ext: key}), True

    def ingest_results(self, id: str, which: str) -> str:
        job = self.get("ingest", id)
        if which == "unprocessedrecords":
            return csv_text(job.header, job.unprocessed, job.delimiter, job.line_ending)
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise RequestError(400, "INVALIDJOBSTATE", f"Job is not in a valid state for this operation: {job.state}")
        if which == "successfulResults":
            return csv_text(["sf__Id", "sf__Created", *job.header],
                            [[i, "true" if c else "false", *r] for i, c, r in job.successful],
                            job.delimiter, job.line_ending)
        return csv_text(["sf__Id", "sf__Error", *job.header], [[i, e, *r] for i, e, r in job.failed],
                        job.delimiter, job.line_ending)


def _format(body: dict[str, Any]) -> tuple[str, str]:
    delim = str(body.get("columnDelimiter") or "COMMA")
    ending = str(body.get("lineEnding") or "LF")
    if delim not in DELIMITERS or ending not in LINE_ENDINGS:
        raise RequestError(400, "INVALIDJOB", f"InvalidJob : unsupported columnDelimiter {delim} or lineEnding {ending}")
    return delim, ending
