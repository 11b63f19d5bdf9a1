"""xentral connector (async httpx): addresses (``adressen``) and resubmissions (``wiedervorlagen``).

It talks to xentral's REST API v1 (``/api/v1/…``, a personal access token as bearer). How
it reads and writes (docs/connectors/xentral.md has the why and every assumption):

* ``scan``: keyset paging by id (``filter[0][property]=id&…gt…&sort=id``, up to 1,000 a page),
  which neither skips nor repeats records when others are added meanwhile and is not
  bound by the API's 1,000-page cap.
* ``changes`` of addresses: ``logdatei`` (the row's change timestamp, server-local time,
  one-second resolution) ``>=`` cursor − overlap, walked by (logdatei, id). Resubmissions
  have no change timestamp: their "changes" are a full scan, and the runner skips every
  record whose mapped values equal its stored base (no write, no read of the other app).
* ``read``/``find``: complex filters OR-ing up to 50 ids or values per request.
* writes: one request per record (the API has no batch endpoints), a few at a time;
  addresses created here join the sync's group (default "Hubspot"); the HubSpot status
  lives in an address free field (``hubspot_status`` ↔ ``freifeldN``).
* HTTP: :mod:`accord.connectors.http`. Rate limit: 100 requests a minute per API account (a
  rolling window shared by all connectors of the account, and by every worker in distributed
  mode); 429/5xx/time-outs are retried with backoff, honouring ``Retry-After`` — except a
  create whose outcome is unknown (a 5xx, a read time-out, a dropped connection), which is
  never resent: the runner looks the record up by its match key before sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field, model_validator

from accord.connectors.http import (
    OK,
    Answer,
    Http,
    HttpConnector,
    Limits,
    RetryPolicy,
    default_answer,
)
from accord.connectors.limits import LOCAL, RateLimit
from accord.connectors.oauth import StaticToken, TokenAuth
from accord.connectors.registry import LISTS, PIPELINES, Entry, Sandbox, Vendor
from accord.connectors.settings import AppSettings, setting_error
from accord.engine.options import suggestion
from accord.model import (
    AuthError,
    ConnectorError,
    ContainerMissing,
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Option,
    Page,
    Pipeline,
    Record,
    Stage,
    Value,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)

API = "/api/v1"
ADDRESSES, RESUBMISSIONS = "adressen", "wiedervorlagen"
OBJECTS = (ADDRESSES, RESUBMISSIONS)
STATUS = "hubspot_status"  # the virtual field carrying HubSpot's status, stored in a free field
NO_DATE = "0000-00-00"
CHUNK = 50  # ids or values OR-ed into one complex filter (keeps URLs short)
T = FieldType


@dataclass(frozen=True)
class _Col:
    """How one API column maps to an Accord field: type, flags and wire conversion."""

    type: FieldType
    label: str
    read_only: bool = False
    reference: bool = False  # an id of another row: "0" means none
    options: tuple[Option, ...] = ()


def _cols(**kw: _Col) -> dict[str, _Col]:
    return kw


ADDRESS_COLUMNS = _cols(
    name=_Col(T.TEXT, "Name"), vorname=_Col(T.TEXT, "Vorname"), nachname=_Col(T.TEXT, "Nachname"),
    typ=_Col(T.ENUM, "Typ", options=(Option("firma", "Firma"), Option("herr", "Herr"), Option("frau", "Frau"))),
    titel=_Col(T.TEXT, "Titel"), email=_Col(T.TEXT, "E-Mail"), telefon=_Col(T.TEXT, "Telefon"),
    mobil=_Col(T.TEXT, "Mobil"), telefax=_Col(T.TEXT, "Telefax"), internetseite=_Col(T.TEXT, "Internetseite"),
    strasse=_Col(T.TEXT, "Straße"), plz=_Col(T.TEXT, "PLZ"), ort=_Col(T.TEXT, "Ort"), land=_Col(T.TEXT, "Land"),
    bundesland=_Col(T.TEXT, "Bundesland"), abteilung=_Col(T.TEXT, "Abteilung"),
    ansprechpartner=_Col(T.TEXT, "Ansprechpartner"), ustid=_Col(T.TEXT, "USt-IdNr."),
    sonstiges=_Col(T.TEXT, "Sonstiges"), lead=_Col(T.BOOL, "Lead"), marketingsperre=_Col(T.BOOL, "Marketingsperre"),
    geburtstag=_Col(T.DATE, "Geburtstag"), projekt=_Col(T.NUMBER, "Projekt", reference=True),
    kundennummer=_Col(T.TEXT, "Kundennummer", read_only=True), logdatei=_Col(T.DATETIME, "Geändert", read_only=True),
    **{f"freifeld{i}": _Col(T.TEXT, f"Freifeld {i}") for i in range(1, 11)},
)
RESUBMISSION_COLUMNS = _cols(
    bezeichnung=_Col(T.TEXT, "Bezeichnung"), beschreibung=_Col(T.TEXT, "Beschreibung"),
    betrag=_Col(T.NUMBER, "Betrag"), stages=_Col(T.ENUM, "Stage", reference=True),
    chance=_Col(T.NUMBER, "Chance (%)"), datum_abschluss=_Col(T.DATE, "Abschlussdatum"),
    datum_erinnerung=_Col(T.DATE, "Erinnerung am"), zeit_erinnerung=_Col(T.TEXT, "Erinnerung um"),
    abgeschlossen=_Col(T.BOOL, "Abgeschlossen"), prio=_Col(T.BOOL, "Priorität"),
    adresse=_Col(T.TEXT, "Adresse (ID)", reference=True), projekt=_Col(T.NUMBER, "Projekt", reference=True),
    datum_angelegt=_Col(T.DATE, "Angelegt am", read_only=True), id_ext=_Col(T.TEXT, "Externe ID", read_only=True),
)
COLUMNS = {ADDRESSES: ADDRESS_COLUMNS, RESUBMISSIONS: RESUBMISSION_COLUMNS}


# -- values ---------------------------------------------------------------------------------------
def to_canonical(col: _Col, raw: Any) -> Value:
    """A wire value (the API returns every column as a string) → canonical; blanks become None."""
    if raw is None:
        return None
    s = str(raw).strip()
    if s == "" or (col.reference and s == "0") or (col.type is T.DATE and s == NO_DATE):
        return None
    if col.type is T.BOOL:
        return s == "1"
    if col.type is T.NUMBER:
        try:
            d = Decimal(s)
        except InvalidOperation:
            return s
        return int(d) if d == d.to_integral_value() else float(d)
    if col.type is T.DATE:
        return s[:10]
    return s


def to_wire(col: _Col, value: Value) -> Any:
    """Canonical value → what the API accepts; None clears (xentral stores '' / 0 / 0000-00-00)."""
    if value is None or value == "":
        return 0 if col.type is T.BOOL else ""
    if col.type is T.BOOL:
        return 1 if value else 0
    if col.type is T.NUMBER or (col.reference and str(value).isdigit()):
        return value if isinstance(value, int | float) else str(value)
    if col.type is T.DATE:
        return str(value)[:10]
    return str(value)


# -- cursors ----------------------------------------------------------------------------------------
_STAMP = "%Y-%m-%d %H:%M:%S"


def _parse_stamp(s: str) -> datetime | None:
    try:
        return datetime.strptime(s, _STAMP)
    except ValueError:
        return None


@dataclass(frozen=True)
class Cursor:
    """Resume point of the address change feed: a ``logdatei`` value in the server's local time."""

    stamp: str

    def encode(self) -> str:
        return f"v1|{self.stamp}"

    @staticmethod
    def decode(text: str) -> Cursor:
        kind, _, stamp = text.partition("|")
        if kind != "v1" or _parse_stamp(stamp) is None:
            raise ValueError(f"not a xentral cursor: {text!r}")
        return Cursor(stamp)


# -- errors -----------------------------------------------------------------------------------------
HINTS = {
    "email": "Fix the email address in the source record; xentral rejects malformed addresses.",
    "land": "xentral stores countries as ISO 3166 codes (DE, AT, CH …): map the country with a value map.",
    "name": "xentral needs a name for every address: map a name, or give the record a first or last name.",
    "bezeichnung": "xentral needs a resubmission title of at least 3 characters: lengthen the deal name.",
    "stages": "The stage does not exist in xentral: check the board's stages and the sync's stages mapping.",
}


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {"error": {"message": resp.text[:300]}}
    return body if isinstance(body, dict) else {"data": body}


def write_error(status: int, body: Mapping[str, Any]) -> WriteError:
    """A legacy-API error body ``{"error": {code, http_code, message, details}}`` as a WriteError."""
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(err, dict)
    code = str(err.get("code", status))
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    assert isinstance(details, dict)
    msg = str(err.get("message") or f"HTTP {status}")
    if details:
        msg += ": " + "; ".join(f"{k}: {' '.join(map(str, v if isinstance(v, list) else [v]))}"
                                for k, v in details.items())
    if status == 404:
        return WriteError(ErrorCategory.DELETED, msg, "The record was deleted in xentral; resync deleted records "
                          "to recreate it.", code)
    if status == 403:
        return WriteError(ErrorCategory.PERMISSIONS, msg, "Give the xentral API account the permission for this "
                          "resource (Administration › API-Account), then resync.", code)
    if status == 429:
        return WriteError(ErrorCategory.RATE_LIMIT, msg, "xentral's rate limit was hit; Accord will retry.", code)
    if status >= 500:
        return WriteError(ErrorCategory.TRANSIENT, msg, "xentral failed temporarily; the record will be retried.", code)
    if status == 400:
        hint = next((HINTS[k] for k in details if k in HINTS), "xentral rejected the values; see the message for "
                    "the field at fault.")
        return WriteError(ErrorCategory.VALIDATION, msg, hint, code)
    return WriteError(ErrorCategory.UNKNOWN, msg, "Unexpected xentral error; see the message.", code)


def _answer(resp: httpx.Response) -> Answer:
    """What a xentral answer means for the HTTP layer (connectors/http.py)."""
    status = resp.status_code
    if status < 400:
        return OK
    message = write_error(status, _json(resp)).message
    if status == 401:
        return Answer(error=AuthError(f"xentral rejected the API token: {message}"))
    return default_answer(resp, "xentral", message)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "hubspot"


# -- the connector --------------------------------------------------------------------------------
PATS = "xentral › your user › Personal Access Tokens (create one; the old one can be deleted)"


class XentralConnector(HttpConnector):
    vendor = "xentral"
    container_setting = "group"
    batch_size = 50  # records per runner batch; each is its own request

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        token: str | None = None,
        token_file: str | None = None,
        group: str = "Hubspot",
        board: str = "Hubspot",
        status_field: str = "Hubspot Status",
        timezone: str = "Europe/Berlin",
        rate_limit: int = 100,
        rate_window: float = 60.0,
        page_size: int = 1000,
        overlap: float = 60.0,
        concurrency: int = 4,
        timeout: float = 30.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        limits: Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        if not (token or token_file):
            raise ValueError("give a personal access token (token or token_file)")
        self.base_url, self.token = base_url.rstrip("/"), token or token_file or ""
        # a personal access token does not renew; given as a file, a 401 reads the file again
        self.auth = TokenAuth(StaticToken(name, "xentral", token, token_file, setting="the personal access token",
                                          where=PATS))
        self.group, self.board, self.status_field = group, board, status_field
        self.tz = ZoneInfo(timezone)
        self.page_size = max(1, min(1000, page_size))
        self.overlap = timedelta(seconds=overlap)
        self.rate_limit, self.rate_window = rate_limit, rate_window  # requests per window (xentral: 100 a minute)
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self.http = Http("xentral", base_url=self.base_url, auth=self.auth, timeout=timeout, app=self.name,
                         limits=limits or Limits(), retry=RetryPolicy(max_retries, backoff, max_backoff),
                         classify=_answer, headers={"Accept": "application/json"}, transport=transport)
        if limits is None:
            self.use_limiters(LOCAL)
        self._status_col: str | None = None
        self._schemas: dict[str, ObjectSchema] = {}
        self._group_id: str | None = None
        self._group_ids: dict[str, str] = {}  # group name as asked for -> id, as last looked up (list_key)
        self._stages: list[Pipeline] | None = None

    # -- limits and transport ------------------------------------------------------------------------
    def rate_limits(self) -> list[RateLimit]:
        return [RateLimit("requests", self.rate_limit, self.rate_window)]

    def credential(self) -> str:
        return hashlib.sha256(f"{self.base_url}\x00{self.token}".encode()).hexdigest()[:16]

    async def _request(self, method: str, path: str, kind: str, *, json: Any = None,
                       params: Mapping[str, Any] | None = None, repeatable: bool = True) -> httpx.Response:
        """One API call through the HTTP layer; a create is not ``repeatable``."""
        return await self.http.send(method, path, kind, json=json, params=params, repeatable=repeatable)

    async def _get_list(self, path: str, kind: str, params: Mapping[str, Any],
                        clock: list[datetime] | None = None) -> list[dict[str, Any]]:
        """A list call; the API answers an empty result with 404 (code 7452), which is just empty.
        An empty ``clock`` gets the server time the query ran at, or earlier (``Date`` less the
        round trip)."""
        sent = asyncio.get_running_loop().time()
        resp = await self._request("GET", f"{API}/{path}", kind, params=params)
        if clock is not None and not clock:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                clock.append(parsedate_to_datetime(resp.headers["Date"])
                             - timedelta(seconds=asyncio.get_running_loop().time() - sent))
        if resp.status_code == 404 and str(_json(resp).get("error", {}).get("code")) == "7452":
            return []
        if resp.status_code >= 400:
            self._raise(resp, "GET", path)
        data = _json(resp).get("data")
        return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []

    def _raise(self, resp: httpx.Response, method: str, path: str) -> None:
        err = write_error(resp.status_code, _json(resp))
        if err.category == ErrorCategory.PERMISSIONS:
            raise AuthError(f"{err.message} — {err.hint}")
        raise ConnectorError(f"xentral {method} {path}: HTTP {resp.status_code} {err.message} — {err.hint}")

    async def _all(self, path: str, kind: str, params: Mapping[str, Any] | None = None, after: int = 0,
                   ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row of a list with an id above ``after``, keyset-paged by id."""
        last = after
        while True:
            rows = await self._get_list(path, kind, {
                **(params or {}), "sort": "id", "items": self.page_size,
                "filter[0][property]": "id", "filter[0][expression]": "gt", "filter[0][value]": str(last)})
            if rows:
                yield rows
            if len(rows) < self.page_size:
                return
            last = max(int(r["id"]) for r in rows)

    # -- metadata -------------------------------------------------------------------------------------
    def _check_object(self, object: str) -> dict[str, _Col]:
        if object not in COLUMNS:
            raise ConnectorError(f"xentral has no object {object!r}; use one of {', '.join(OBJECTS)}")
        return COLUMNS[object]

    async def check(self) -> None:
        saved, self.max_retries = self.max_retries, min(self.max_retries, 1)
        try:
            await self._get_list("adressfreifelder", "free_fields", {"items": 1})
        finally:
            self.max_retries = saved

    async def describe(self, object: str) -> ObjectSchema:
        if object not in self._schemas:
            cols = self._check_object(object)
            fields = {n: FieldSchema(n, c.type, c.label, read_only=c.read_only, options=c.options)
                      for n, c in cols.items()}
            if object == ADDRESSES:
                labels = {r["spalte"]: str(r.get("bezeichnung") or "")
                          for r in await self._get_list("adressfreifelder", "free_fields", {"items": 100})}
                for col, label in labels.items():
                    if col in fields and label:
                        fields[col] = FieldSchema(col, T.TEXT, f"{label} ({col})")
                self._status_col = self._resolve_status(labels)
                if self._status_col is not None:
                    # free values: the HubSpot lead status codes (NEW, OPEN …), checked by HubSpot
                    fields[STATUS] = FieldSchema(STATUS, T.ENUM, f"HubSpot status ({self._status_col})")
            else:
                stages = [s for p in await self.pipelines(object) for s in p.stages]
                fields["stages"] = FieldSchema("stages", T.ENUM, "Stage",
                                               options=tuple(Option(s.id, s.label) for s in stages))
            self._schemas[object] = ObjectSchema(object, fields)
        return self._schemas[object]

    def _resolve_status(self, labels: Mapping[str, str]) -> str | None:
        """``status_field`` names a free field by column (``freifeld3``) or by its label."""
        if re.fullmatch(r"freifeld\d+", self.status_field):
            return self.status_field if self.status_field in labels else None
        wanted = self.status_field.casefold()
        return next((col for col, label in labels.items() if label.casefold() == wanted), None)

    async def pipelines(self, object: str) -> list[Pipeline]:
        """The stages of the configured board: only resubmissions there can sync (others stay unmapped)."""
        if object != RESUBMISSIONS:
            raise NotImplementedError(f"xentral has no pipelines for {object}")
        if self._stages is None:
            boards = await self._get_list("wiedervorlagen/boards", "boards", {"name": self.board, "items": 100})
            # the list's name filter is a LIKE (`%`, `_` wildcards): a board named exactly so is the board
            exact = [b for b in boards if str(b["name"]).casefold() == self.board.casefold()]
            out = []
            for b in exact or boards:
                rows = await self._get_list("wiedervorlagen/stages", "stages",
                                            {"view": b["id"], "sort": "sort", "items": 1000})
                out.append(Pipeline(str(b["id"]), str(b["name"]),
                                    tuple(Stage(str(s["id"]), str(s["name"])) for s in rows)))
            self._stages = out
        return list(self._stages)

    def creates_stages(self, object: str) -> bool:
        return object == RESUBMISSIONS

    async def ensure_stages(self, object: str, pipeline: str, labels: Sequence[str]) -> list[Stage]:
        """A stage of the board ``pipeline`` for each label: the board's own (same label, compared
        case-insensitively), else a new one, added as xentral's HubSpot module adds HubSpot's deal
        stages to its board: ``name`` and ``kurzbezeichnung`` the label, ``sort`` counting on from
        the board's highest. The board's stages are read first (another process may have added
        some); none is ever changed or deleted."""
        if object != RESUBMISSIONS:
            raise NotImplementedError(f"xentral has no stages for {object}")
        rows = await self._get_list("wiedervorlagen/stages", "stages", {"view": pipeline, "sort": "sort", "items": 1000})
        have: dict[str, Stage] = {}
        for r in rows:
            have.setdefault(str(r["name"]).casefold().strip(), Stage(str(r["id"]), str(r["name"])))
        sort = max((int(r.get("sort") or 0) for r in rows), default=0)
        out: list[Stage] = []
        try:
            for label in labels:
                key = label.casefold().strip()
                if key not in have:
                    sort += 1
                    resp = await self._request("POST", f"{API}/wiedervorlagen/stages", "stages_create", json={
                        "name": label, "kurzbezeichnung": label, "view": pipeline, "sort": sort})
                    if resp.status_code >= 400:
                        self._raise(resp, "POST", "wiedervorlagen/stages")
                    data = _json(resp).get("data")
                    if not isinstance(data, dict) or "id" not in data:
                        raise ConnectorError("xentral answered a new stage without its id")
                    have[key] = Stage(str(data["id"]), str(data.get("name") or label))
                out.append(have[key])
        finally:
            self._stages = None  # the board changed (or may have): read it again
            self._schemas.pop(RESUBMISSIONS, None)
        return out

    # -- records ----------------------------------------------------------------------------------------
    def _to_utc(self, stamp: str | None) -> str | None:
        d = _parse_stamp(stamp or "")
        if d is None:
            return None
        return d.replace(tzinfo=self.tz).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _record(self, object: str, raw: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        cols = COLUMNS[object]
        names = list(fields) if fields is not None else [*cols, STATUS]
        props: dict[str, Value] = {}
        for n in names:
            if n == STATUS:
                props[n] = to_canonical(ADDRESS_COLUMNS["freifeld1"], raw.get(self._status_col or ""))
            elif n in cols:
                props[n] = to_canonical(cols[n], raw.get(n))
                if n == "logdatei":
                    props[n] = self._to_utc(raw.get(n))
        if object == ADDRESSES:
            return Record(str(raw["id"]), props, updated_at=self._to_utc(raw.get("logdatei")))
        created = f"{raw.get('datum_angelegt', '')} {raw.get('zeit_angelegt') or '00:00:00'}"
        return Record(str(raw["id"]), props, created_at=self._to_utc(created))

    def _wire(self, object: str, props: Mapping[str, Value]) -> dict[str, Any]:
        cols = COLUMNS[object]
        out: dict[str, Any] = {}
        for k, v in props.items():
            if k == STATUS:
                if self._status_col is None:
                    raise ConnectorError(f"xentral: no address free field named {self.status_field!r} for the "
                                         "HubSpot status")
                out[self._status_col] = to_wire(ADDRESS_COLUMNS["freifeld1"], v)
            elif k in cols and not cols[k].read_only:
                out[k] = to_wire(cols[k], v)
            else:
                raise ConnectorError(f"xentral: {object}.{k} is not a writable field")
        return out

    def _column(self, object: str, field_name: str) -> str:
        if field_name == STATUS:
            if self._status_col is None:
                raise ConnectorError(f"xentral: no address free field named {self.status_field!r}")
            return self._status_col
        return field_name

    def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return self.scan_from(object, fields, "0")

    async def scan_from(self, object: str, fields: Sequence[str], after: str) -> AsyncIterator[Page]:  # type: ignore[override]
        """Scan pages carry the last id they hold as cursor: a scan resumes after it."""
        self._check_object(object)
        if object == ADDRESSES and STATUS in fields:
            await self.describe(object)
        got = False
        async for rows in self._all(object, "scan", after=int(after or 0)):
            got = True
            yield Page([self._record(object, r, fields) for r in rows], str(max(int(r["id"]) for r in rows)))
        if not got:
            yield Page([])

    async def change_cursor(self, object: str) -> str:
        self._check_object(object)
        if object == RESUBMISSIONS:
            return "scan"  # no change timestamp: every incremental pass compares a full scan with the index
        # The server's clock (its Date header) in its own time zone, as logdatei is written.
        resp = await self._request("GET", f"{API}/adressfreifelder", "clock", params={"items": 1})
        try:
            now = parsedate_to_datetime(resp.headers["Date"])
        except (KeyError, TypeError, ValueError):
            now = datetime.now(UTC)
        return Cursor(now.astimezone(self.tz).strftime(_STAMP)).encode()

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        self._check_object(object)
        if object == RESUBMISSIONS:
            async for page in self.scan(object, fields):
                yield Page(page.records, "scan")
            return
        if STATUS in fields:
            await self.describe(object)
        start = _parse_stamp(Cursor.decode(cursor).stamp)
        assert start is not None
        ts = (start - self.overlap).strftime(_STAMP)
        last_id, page_no, any_page = -1, 1, False
        clock: list[datetime] = []  # the server time of the pass's first query
        while True:
            rows = await self._get_list(object, "changes", {
                "sort": "logdatei,id", "items": self.page_size, "page": page_no,
                "filter[0][property]": "logdatei", "filter[0][expression]": "gte", "filter[0][value]": ts}, clock)
            new = [r for r in rows if (str(r["logdatei"]), int(r["id"])) > (ts, last_id)]
            if new:
                any_page = True
                yield Page([self._record(object, r, fields) for r in new], Cursor(str(new[-1]["logdatei"])).encode())
            if len(rows) < self.page_size:
                break
            if new:
                ts, last_id, page_no = str(new[-1]["logdatei"]), int(new[-1]["id"]), 1
            else:
                page_no += 1  # a full page of records changed within one second: page through the ties
                if page_no > 1000:
                    raise ConnectorError("xentral: more than a million address changes within one second")
        if self.overlap and clock:
            # The whole feed is read: the next pass re-reads the overlap before the time this one
            # read at, not before the newest change it saw (that would re-read a bulk write on
            # every pass until something newer changed). A change committed late lies within it.
            read_at = clock[0].astimezone(self.tz).replace(tzinfo=None)
            yield Page([], Cursor(max(start, read_at).strftime(_STAMP)).encode())
        elif not any_page:
            yield Page([], None)

    async def _by_values(self, object: str, column: str, values: Sequence[str],
                         fields: Sequence[str]) -> list[Record]:
        out: list[Record] = []
        for i in range(0, len(values), CHUNK):
            chunk = values[i:i + CHUNK]
            params: dict[str, Any] = {"items": 1000}
            for j, v in enumerate(chunk):
                params |= {f"filter[{j}][property]": column, f"filter[{j}][expression]": "eq",
                           f"filter[{j}][value]": v, f"filter[{j}][operation]": "OR"}
            out.extend(self._record(object, r, fields) for r in await self._get_list(object, "lookup", params))
        return out

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        self._check_object(object)
        if object == ADDRESSES and STATUS in fields:
            await self.describe(object)
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found = {r.id: r for r in await self._by_values(object, "id", wanted, fields)}
        # deleted addresses (geloescht) and removed resubmissions are gone from the API: tombstones
        return [found.get(i) or Record(i, {}, archived=True) for i in wanted]

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        self._check_object(object)
        if object == ADDRESSES:
            await self.describe(object)
        vals = list(dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip()))
        return await self._by_values(object, self._column(object, field), vals, fields)

    # -- writes --------------------------------------------------------------------------------------------
    async def _each(self, items: Sequence[Any], one: Callable[[Any], Awaitable[WriteResult]]) -> list[WriteResult]:
        """``one`` per item, a few at a time. When an outcome is unknown the others still finish
        (none is left running), and the exception carries the outcomes that are known."""
        async def guarded(item: Any) -> WriteResult:
            async with self._sem:
                return await one(item)

        done = await asyncio.gather(*(guarded(i) for i in items), return_exceptions=True)
        unknown = next((d for d in done if isinstance(d, WriteOutcomeUnknown)), None)
        failed = next((d for d in done if isinstance(d, BaseException) and not isinstance(d, WriteOutcomeUnknown)),
                      None)
        if unknown is not None:
            unknown.results = [d if isinstance(d, WriteResult) else None for d in done]
            raise unknown
        if failed is not None:
            raise failed
        return [d for d in done if isinstance(d, WriteResult)]

    def _result(self, object: str, resp: httpx.Response, rid: str | None) -> WriteResult:
        if resp.status_code >= 400:
            return WriteResult.failure(write_error(resp.status_code, _json(resp)), rid)
        data = _json(resp).get("data")
        if not isinstance(data, dict) or "id" not in data:
            return WriteResult.failure(WriteError(ErrorCategory.UNKNOWN, "xentral answered without the record"), rid)
        rec = self._record(object, data, None)
        return WriteResult.success(rec.id, rec)

    async def check_container(self, object: str, *, create: bool) -> None:
        if object != ADDRESSES:
            return  # resubmissions live on the board, which describe checks
        self._group_id = None  # looked up afresh each pass: the group may have gone since the last one
        await self._ensure_group(create=create)

    async def _ensure_group(self, *, create: bool = False) -> str:
        """The id of the sync group. Created (as xentral's HubSpot module does) only with
        ``create``, which the runner gives a sync that never ran: a group that vanished would
        come back empty, and every address of the sync would look out of it."""
        if self._group_id is None:
            found = await self._get_list("gruppen", "groups", {"name_exakt": self.group, "items": 10})
            if found:
                self._group_id = str(found[0]["id"])
            elif not create:
                raise self._group_gone(self.group, f"apps.{self.name}.group")
            else:
                resp = await self._request("POST", f"{API}/gruppen", "groups_create",
                                           json={"name": self.group, "kennziffer": _slug(self.group), "art": "gruppe"})
                if resp.status_code >= 400:
                    self._raise(resp, "POST", "gruppen")
                self._group_id = str(_json(resp)["data"]["id"])
        return self._group_id

    # a group renamed in xentral keeps its id: the index remembers it (accord.runner)
    def list_key(self, object: str, list_name: str) -> str | None:
        return self._group_ids.get(list_name) if object == ADDRESSES else None

    async def list_name_of(self, object: str, key: str) -> str | None:
        return await self._group_name(key) if object == ADDRESSES else None

    def container_key(self, object: str) -> tuple[str, str] | None:
        return (self.group, self._group_id) if object == ADDRESSES and self._group_id is not None else None

    async def follow_container(self, object: str, name: str, key: str) -> str | None:
        if object != ADDRESSES or name != self.group:
            return None  # the config names another group now: not this one
        now = await self._group_name(key)
        if now is not None:
            self._group_id = key
        return now

    async def _group_name(self, gid: str) -> str | None:
        """The name of group ``gid`` now; None once it is gone."""
        resp = await self._request("GET", f"{API}/gruppen/{gid}", "groups")
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            self._raise(resp, "GET", "gruppen")
        return str((_json(resp).get("data") or {}).get("name") or "") or None

    def _group_gone(self, group: str, key: str | None) -> ContainerMissing:
        """``key``: the config key naming the group (None: the sync's inclusion list, which the runner names)."""
        own = group.casefold() == self.group.casefold()
        return ContainerMissing(
            f"app {self.name!r}: the xentral group {group!r} does not exist", app=self.name,
            container=f"the xentral group {group!r}", key=key, creatable=own,
            hint=f"Restore the group {group!r} in xentral with its members, or change "
                 f"{key or 'the inclusion list'} to the group that holds the synced addresses now.",
            fresh_hint=f"Check the name: xentral has no group {group!r}. Create it in xentral, or change "
                       f"{key or 'the inclusion list'} to a group it has.")

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        self._check_object(object)
        await self.describe(object)
        gid = await self._ensure_group() if object == ADDRESSES and items else None

        async def one(props: Mapping[str, Value]) -> WriteResult:
            body = self._wire(object, props)
            if object == ADDRESSES:
                if not body.get("name"):
                    # xentral needs a display name; a person's is "first last"
                    body["name"] = " ".join(str(body.get(k) or "") for k in ("vorname", "nachname")).strip() \
                        or str(body.get("email") or "")
                body["gruppen"] = [{"id": gid}]
            else:
                # a resubmission needs a reminder date and time: the close date (or today), 09:00
                body.setdefault("datum_erinnerung", body.get("datum_abschluss") or
                                datetime.now(self.tz).date().isoformat())
                if not body["datum_erinnerung"]:
                    body["datum_erinnerung"] = datetime.now(self.tz).date().isoformat()
                body.setdefault("zeit_erinnerung", "09:00:00")
            resp = await self._request("POST", f"{API}/{object}", "create", json=body, repeatable=False)
            return self._result(object, resp, None)

        return await self._each(items, one)

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        self._check_object(object)
        await self.describe(object)

        async def one(item: tuple[str, Mapping[str, Value]]) -> WriteResult:
            rid, props = item
            resp = await self._request("PUT", f"{API}/{object}/{rid}", "update", json=self._wire(object, props))
            return self._result(object, resp, rid)

        return await self._each(items, one)

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        self._check_object(object)
        if object == RESUBMISSIONS:
            err = WriteError(ErrorCategory.PERMISSIONS, "xentral's API cannot delete resubmissions",
                             "Delete the resubmission in xentral by hand, or use deletes: mark for this sync.",
                             "NO_DELETE")
            return [WriteResult.failure(err, i) for i in ids]

        async def one(rid: str) -> WriteResult:
            # A delete in xentral flags the address (geloescht); the API has no DELETE.
            resp = await self._request("PUT", f"{API}/{object}/{rid}", "archive", json={"geloescht": 1})
            if resp.status_code == 404:
                return WriteResult.success(rid)  # already gone
            res = self._result(object, resp, rid)
            return WriteResult.success(rid) if res.ok else res

        return await self._each(list(ids), one)

    # -- the group as an inclusion list ----------------------------------------------------------------------
    async def list_objects(self) -> list[Option]:
        return [Option(ADDRESSES, "Adressen (addresses)"), Option(RESUBMISSIONS, "Wiedervorlagen (resubmissions)")]

    async def inclusion_lists(self, object: str) -> list[Option]:
        if object != ADDRESSES:
            raise NotImplementedError(f"xentral groups hold addresses, not {object}")
        out: list[Option] = []
        async for rows in self._all("gruppen", "groups"):
            out += [Option(str(r["name"]), str(r["name"])) for r in rows if r.get("name")]
        return sorted(out, key=lambda o: o.label.casefold())

    async def setting_issues(self) -> tuple[list[tuple[str, str]], list[str]]:
        names = [o.value for o in await self.inclusion_lists(ADDRESSES)]
        if self.group.casefold() in {n.casefold() for n in names}:
            return [], []
        hint = suggestion(self.group, names)
        if hint:  # a group of a similar name: a typo would put new addresses in a new, empty group
            return [("group", f"xentral has no group {self.group!r}{hint}")], []
        return [], [f"apps.{self.name}.group: xentral has no group {self.group!r} yet; the first pass of a "
                    "sync of addresses creates it"]

    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        if object != ADDRESSES:
            raise NotImplementedError(f"xentral groups hold addresses, not {object}")
        found = await self._get_list("gruppen", "groups", {"name_exakt": list_name, "items": 10})
        if not found:
            # not "nobody is a member": that would stop every address of the sync (see _ensure_group)
            raise self._group_gone(list_name, None)
        gid = self._group_ids[list_name] = str(found[0]["id"])
        if list_name.casefold() == self.group.casefold():
            self._group_id = gid
        members: set[str] = set()
        async for rows in self._all(ADDRESSES, "members", {"gruppe": gid}):
            members.update(str(r["id"]) for r in rows)
        return frozenset(members)


class XentralSettings(AppSettings):
    """A xentral instance (REST API v1 under ``base_url``/api/v1, a personal access token)."""

    type: Literal["xentral"]
    base_url: str
    token: str | None = Field(default=None, min_length=1)
    token_file: str | None = None  # a file holding the token, re-read on a 401 (a rotated token)
    account: str | None = None  # shown on the Apps page
    group: str = "Hubspot"  # addresses created from the other app join this group
    board: str = "Hubspot"  # the resubmission board whose stages deals sync with
    status_field: str = "Hubspot Status"  # address free field (label or freifeldN) holding the HubSpot status
    timezone: str = "Europe/Berlin"  # the instance's clock: logdatei timestamps are local time
    rate_limit: int = Field(default=100, gt=0, description="requests per minute")
    page_size: int = Field(default=1000, gt=0, le=1000)
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_token(self) -> XentralSettings:
        if bool(self.token) == bool(self.token_file):
            raise setting_error("XentralSettings", "token", "give the personal access token as token or as "
                                "token_file (one of them)")
        return self


def from_config(name: str, app: Any) -> XentralConnector:
    """Build the connector from an ``apps:`` entry (:class:`XentralSettings`)."""
    return XentralConnector(
        name,
        base_url=app.base_url,
        token=getattr(app, "token", None),
        token_file=getattr(app, "token_file", None),
        group=getattr(app, "group", "Hubspot"),
        board=getattr(app, "board", "Hubspot"),
        status_field=getattr(app, "status_field", "Hubspot Status"),
        timezone=getattr(app, "timezone", "Europe/Berlin"),
        rate_limit=getattr(app, "rate_limit", 100),
        page_size=getattr(app, "page_size", 1000),
        timeout=getattr(app, "timeout", 30.0),
    )


VENDOR = Vendor(
    "xentral", "xentral", XentralSettings, from_config,
    limits=lambda app: [RateLimit("requests", app.rate_limit, 60.0)],
    sandbox=Sandbox("accord.sandbox.xentral", "xentral sandbox on http://{host}:{port}/api/v1  ({records} addresses, "
                    "group, board and stages of the HubSpot module)"),
    capabilities=frozenset({LISTS, PIPELINES}),
    paste=(Entry("base_url", "Instance URL", hint="https://yourcompany.xentral.biz"),
           Entry("token", "Personal access token", secret=True, hint=PATS)),
    signs_in=lambda app: "personal access token" + (f" from {app.token_file}" if app.token_file else ""),
)

__all__ = ["ADDRESSES", "RESUBMISSIONS", "STATUS", "VENDOR", "Cursor", "Limits", "XentralConnector", "XentralSettings",
           "from_config"]
