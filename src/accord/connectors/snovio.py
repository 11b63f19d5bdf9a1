"""Snov.io connector (async httpx): the prospects of one prospect list.

How it reads and writes (see docs/connectors/snovio.md for the why):

* auth: OAuth client credentials (``POST /v1/oauth/access_token``); the token (one hour) is
  renewed a minute before it expires and once more whenever the API answers 401 (an
  ``httpx.Auth`` flow).
* HTTP: :mod:`accord.connectors.http`. Rate limit: one rolling window per (base URL, client
  id), shared by every connector of that account (every worker in distributed mode), at
  Snov.io's 60 requests a minute; 429s block it for ``Retry-After`` seconds, and
  429/5xx/time-outs are retried with backoff and jitter — except a create whose outcome is
  unknown (a 5xx or a lost answer), which is never resent: the runner looks it up by email.
* the object is ``prospects``: the prospects of the configured list (``apps.X.list``), read
  with ``POST /v1/prospect-list`` page by page (100 a page).
* no change feed: Snov.io has no "changed since" filter and no prospect webhooks, so
  ``changes`` walks the list and keeps the prospects whose ``lastUpdateDate`` is at or after
  the cursor; the cursor also carries the ids the list held, so prospects that left the list
  come back as tombstones (each confirmed with a look-up first: page-number paging can skip a
  row while the list shrinks). ``change_cursor`` walks the list for those ids; the scan that
  follows in the same pass reuses that walk instead of reading the list twice.
* writes: ``add-prospect-to-list`` (``updateContact=1``) creates and updates; a change of the
  primary email goes through ``update-prospect`` and removal through
  ``delete-prospect-from-list``, both designed after Snov.io's conventions (not public).
* several emails: ``email`` is the primary (first) one; ``emails`` lists them all, read-only.
  ``phones`` likewise reads and writes the first phone and keeps the others.
* a custom field deleted in Snov.io: its mapping stops. A fresh ``describe`` no longer lists
  it, so the engine reports the mapping broken and skips it; a sync compiled before the
  deletion still asks for it: reads then return the field's last value seen (never a
  "cleared" value that would wipe the other app), and an update that would write it writes
  the other fields and reports the record failing with ``CUSTOM_FIELD_DELETED``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import math
import time
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from accord.connectors.http import (
    OK,
    Answer,
    Http,
    HttpConnector,
    Limits,
    RenewingAuth,
    RetryPolicy,
    default_answer,
    outcome_unknown,
)
from accord.connectors.limits import LOCAL, Limiter, RateLimit
from accord.connectors.registry import Entry, Sandbox, Vendor
from accord.connectors.settings import AppSettings, Duration, parse_duration
from accord.engine.options import suggestion
from accord.engine.values import iso
from accord.model import (
    AuthError,
    ConnectorError,
    ContainerMissing,
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Page,
    Record,
    Value,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)

log = logging.getLogger("accord.connectors.snovio")

OBJECT = "prospects"
T = FieldType
# Standard prospect fields: name -> (type, writable)
STANDARD: dict[str, tuple[FieldType, bool]] = {
    "firstName": (T.TEXT, True), "lastName": (T.TEXT, True), "email": (T.TEXT, True), "phones": (T.TEXT, True),
    "country": (T.TEXT, True), "locality": (T.TEXT, True), "industry": (T.TEXT, True), "position": (T.TEXT, True),
    "companyName": (T.TEXT, True), "companySite": (T.TEXT, True),
    "name": (T.TEXT, False), "emails": (T.TEXT, False), "lastUpdateDate": (T.DATETIME, False),
}
LABELS = {"firstName": "First name", "lastName": "Last name", "email": "Email (primary)", "phones": "Phone (first)",
          "country": "Country", "locality": "Locality", "industry": "Industry", "position": "Position",
          "companyName": "Company name", "companySite": "Company site", "name": "Full name",
          "emails": "All emails", "lastUpdateDate": "Last update"}
CUSTOM_TYPES = {"number": T.NUMBER, "date": T.DATE}
SNAPSHOT_MAX = 20_000  # prospects of one change_cursor walk kept for the scan that follows it
VERIFY_MAX = 20  # prospects gone from the list confirmed one by one; more: by a second walk

HINTS = {
    "validation": "Snov.io rejected the values; correct them in the source app (e.g. a valid email address).",
    "deleted": "The prospect is no longer in the Snov.io list; resync deleted records to add it again.",
    "custom_field": "The Snov.io custom field used by this mapping was deleted: replace it in the mapping with a new "
                    "custom field (accord.yaml), then run `accord check`. The record's other fields were written.",
    "rate_limit": "Snov.io's limit of 60 requests a minute was hit; Accord will retry. Lower rate_limit if other "
                  "tools share the account.",
    "transient": "Snov.io failed temporarily; the record will be retried.",
    "designed": "This Snov.io API cannot change a prospect's primary email or take it out of a list (the call "
                "Accord uses for it is missing): make the change in Snov.io; see docs/connectors/snovio.md.",
}
# Calls designed after Snov.io's conventions, not in its public API (docs/connectors/snovio.md).
DESIGNED = frozenset({"update-prospect", "delete-prospect-from-list"})


# -- values and cursors ------------------------------------------------------------------------------
def parse_php_date(v: Any) -> datetime | None:
    """Snov.io's ``{"date": "2019-09-11 12:37:58.000000", "timezone": "UTC", …}`` (or an ISO string)."""
    if isinstance(v, Mapping):
        v = v.get("date")
    if not v:
        return None
    try:
        d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _custom_value(ftype: FieldType, v: Any) -> Value:
    s = _text(v)
    if s is None or ftype != T.NUMBER:
        return s[:10] if s is not None and ftype == T.DATE else s
    try:
        f = float(s)
    except ValueError:
        return s
    return int(f) if f.is_integer() else f


def _wire(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def _emails(raw: Mapping[str, Any]) -> list[str]:
    out = []
    for e in raw.get("emails") or []:
        v = e.get("email") if isinstance(e, Mapping) else e
        if _text(v):
            out.append(str(v).strip())
    if not out and _text(raw.get("email")):
        out.append(str(raw["email"]).strip())
    return out


def _custom_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    cf = raw.get("customFields")
    if isinstance(cf, Mapping):
        return dict(cf)
    if isinstance(cf, list):  # [{"label"|"name": …, "value": …}]
        return {str(x.get("label") or x.get("name")): x.get("value") for x in cf if isinstance(x, Mapping)}
    return {}


@dataclass(frozen=True)
class Cursor:
    """``lastUpdateDate`` to read from (epoch seconds) and the ids the list held then (``None``: unknown)."""

    ts: int
    ids: tuple[str, ...] | None = None

    def encode(self) -> str:
        if self.ids is None:
            return f"v1:{self.ts}:-"
        packed = base64.urlsafe_b64encode(zlib.compress("\n".join(sorted(self.ids)).encode(), 9)).decode()
        return f"v1:{self.ts}:{packed}"

    @staticmethod
    def decode(text: str) -> Cursor:
        parts = text.split(":", 2)
        if len(parts) != 3 or parts[0] != "v1":
            raise ValueError(f"not a Snov.io cursor: {text[:40]!r}")
        if parts[2] == "-":
            return Cursor(int(parts[1]))
        raw = zlib.decompress(base64.urlsafe_b64decode(parts[2])).decode()
        return Cursor(int(parts[1]), tuple(x for x in raw.split("\n") if x))


def _server_time(resp: httpx.Response) -> int:
    try:
        return int(parsedate_to_datetime(resp.headers["date"]).timestamp())
    except (KeyError, TypeError, ValueError):
        return int(time.time()) - 5  # no Date header: our clock, with a margin for skew


def _body(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return {"success": False, "errors": resp.text[:300]}


def _message(body: Any) -> str:
    if not isinstance(body, Mapping):
        return str(body)[:300]
    err = next((body[k] for k in ("errors", "message", "error_description", "error", "detail") if body.get(k)), "")
    if isinstance(err, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in err.items())
    return str(err)


class SnovioConnector(HttpConnector):
    vendor = "snovio"
    container_setting = "list"
    batch_size = 100  # each prospect is one request anyway; this only bounds a batch's results

    def __init__(
        self,
        name: str,
        *,
        client_id: str,
        client_secret: str,
        list_name: str,
        base_url: str = "https://api.snov.io",
        token_url: str | None = None,
        create_list: bool = True,
        rate_limit: int = 60,
        rate_window: float = 60.0,
        page_size: int = 100,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        overlap: int = 1,
        window: Limiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url or f"{self.base_url}/v1/oauth/access_token"
        self.client_id, self.client_secret = client_id, client_secret
        self.list_ref, self.create_list = str(list_name), create_list
        self.page_size = max(1, min(100, page_size))
        self.overlap = overlap  # seconds re-read before the cursor: lastUpdateDate has whole seconds
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.http = Http("Snov.io", base_url=self.base_url, auth=RenewingAuth(self._access_token), timeout=timeout, app=self.name,
                         limits=Limits(window), retry=RetryPolicy(max_retries, backoff, max_backoff),
                         classify=self._answer, headers={"Accept": "application/json"}, transport=transport)
        if window is None:
            self.use_limiters(LOCAL)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._list_id: int | None = None
        self._list_size = 0
        self._custom: dict[str, tuple[str, FieldType]] = {}  # exposed name -> (Snov.io label, type)
        self._ever_custom: dict[str, tuple[str, FieldType]] = {}  # every custom field seen since start
        self._frozen: dict[str, dict[str, Value]] = {}  # custom field -> prospect id -> last value read
        self._state: dict[str, tuple[list[str], list[str]]] = {}  # prospect id -> (emails, phones) last read
        self._snapshot: list[list[dict[str, Any]]] | None = None  # the walk of the last change_cursor

    # -- limits and transport ------------------------------------------------------------------------
    def rate_limits(self) -> list[RateLimit]:
        return [RateLimit("requests", self.rate_limit, self.rate_window)]

    def credential(self) -> str:
        return hashlib.sha256(f"{self.base_url}\x00{self.client_id}".encode()).hexdigest()[:16]

    @property
    def window(self) -> Limiter | None:
        limits = self.http.limits
        return limits.window if isinstance(limits, Limits) else None

    def _answer(self, resp: httpx.Response) -> Answer:
        """What a Snov.io answer means for the HTTP layer (connectors/http.py)."""
        status = resp.status_code
        if status < 400 or (status == 401 and "authorization" not in resp.request.headers):
            return OK  # the token request's own refusal: _access_token explains it
        message = _message(_body(resp))
        if status == 401:  # still refused after the auth flow renewed the token once
            return Answer(error=AuthError(f"Snov.io refused the access token: {message}"))
        answer = default_answer(resp, "Snov.io", message)
        if status == 429 and answer.wait is None:
            # the account's minute is spent (perhaps by another tool): everyone waits a while
            return Answer(retry=True, limited=True, wait=self.rate_window / 4, block=True, problem=answer.problem)
        return answer

    async def _send(self, method: str, url: str, kind: str, *, data: Mapping[str, Any] | None = None,
                    params: Mapping[str, Any] | None = None, token: bool = True,
                    repeatable: bool = True) -> httpx.Response:
        """One API call through the HTTP layer (the rate limit, the token, retries); a create is
        not ``repeatable``."""
        return await self.http.send(method, url, kind, data=data, params=params, authed=token, repeatable=repeatable)

    async def _access_token(self, force: bool = False) -> str:
        async with self._token_lock:
            if not force and self._token and time.monotonic() < self._token_expires:
                return self._token
            resp = await self._send("POST", self.token_url, "oauth/access_token", token=False, data={
                "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
            body = _body(resp)
            if resp.status_code >= 400 or not isinstance(body, Mapping) or not body.get("access_token"):
                raise AuthError(f"Snov.io rejected the client credentials of app {self.name!r}: {_message(body)} — "
                                "check client_id and client_secret (Snov.io › Account › API)")
            self._token = str(body["access_token"])
            life = float(body.get("expires_in") or 3600)
            # renewed a little early (a tenth of its life, 1 to 60 s): a call never leaves with a dying token
            self._token_expires = time.monotonic() + life - max(1.0, min(60.0, life / 10))
            return self._token

    async def _ok(self, method: str, path: str, kind: str, **kw: Any) -> tuple[Any, httpx.Response]:
        """A call that must succeed (reads, metadata): HTTP errors raise ConnectorError."""
        resp = await self._send(method, path, kind, **kw)
        body = _body(resp)
        if resp.status_code == 404 and kind in ("prospect-list", "add-prospect-to-list", "delete-prospect-from-list"):
            raise self._list_gone(_message(body))
        if resp.status_code >= 400:
            raise ConnectorError(f"Snov.io {method} {path}: HTTP {resp.status_code} {_message(body)}")
        return body, resp

    # -- metadata ------------------------------------------------------------------------------------
    async def check(self) -> None:
        # `accord check` answers in seconds and changes nothing: the list is only looked up
        saved, self.max_retries = self.max_retries, min(self.max_retries, 1)
        try:
            await self._list_or_creatable()
        finally:
            self.max_retries = saved

    # -- the list (the sync's container) ---------------------------------------------------------
    async def list_id(self) -> int:
        """The configured list's id, by id or name; ContainerMissing when the account has none.

        Never created here: a list that vanished would come back empty and every prospect of
        the sync would look deleted. check_container creates it, when the runner allows.
        """
        if self._list_id is None:
            found, live = await self._find_list()
            if found is None:
                raise self._no_list(live)
        assert self._list_id is not None
        return self._list_id

    async def check_container(self, object: str, *, create: bool) -> None:
        self._check_object(object)
        self._list_id = None  # looked up afresh each pass: the list may have gone since the last one
        found, live = await self._find_list()
        if found is not None:
            return
        if not (create and self.create_list):
            raise self._no_list(live)
        body, _ = await self._ok("POST", "/v1/lists", "lists", data={"name": self.list_ref})
        data = body.get("data") if isinstance(body.get("data"), Mapping) else body
        self._list_id, self._list_size = int(data["id"]), 0
        log.info("app %s: created the Snov.io list %r (id %s)", self.name, self.list_ref, self._list_id)

    def container_key(self, object: str) -> tuple[str, str] | None:
        return (self.list_ref, str(self._list_id)) if self._list_id is not None else None

    async def follow_container(self, object: str, name: str, key: str) -> str | None:
        if name != self.list_ref:
            return None  # the config names another list now: not this one
        _, live = await self._find_list()
        found = next((x for x in live if str(x.get("id")) == key), None)
        if found is None:
            return None
        self._list_id, self._list_size = int(found["id"]), int(found.get("contacts") or 0)
        return str(found.get("name"))

    async def setting_issues(self) -> tuple[list[tuple[str, str]], list[str]]:
        found, live = await self._find_list()
        if found is not None:
            return [], []
        names = [str(x.get("name")) for x in live]
        hint = suggestion(self.list_ref, names)
        if hint:  # a list of a similar name: a typo would sync into a new, empty list
            return [("list", f"Snov.io has no list {self.list_ref!r}{hint}")], []
        return [], [f"apps.{self.name}.list: Snov.io has no list {self.list_ref!r} yet; the first pass of a sync "
                    "creates it (create_list)"]

    async def _list_or_creatable(self) -> None:
        """The list exists, or ``create_list`` lets the first pass of a new sync create it."""
        if self._list_id is not None:
            return
        found, live = await self._find_list()
        if found is None and not self.create_list:
            raise self._no_list(live)

    async def _find_list(self) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
        """The configured list (remembered with its size) and the account's live lists."""
        lists, _ = await self._ok("GET", "/v1/get-user-lists", "get-user-lists")
        if isinstance(lists, Mapping):  # some answers wrap the array
            lists = lists.get("data") or []
        live = [x for x in lists if isinstance(x, Mapping) and not x.get("isDeleted")]
        found = next((x for x in live if str(x.get("id")) == self.list_ref), None) or next(
            (x for x in live if str(x.get("name", "")).strip() == self.list_ref.strip()), None)
        if found is not None:
            self._list_id, self._list_size = int(found["id"]), int(found.get("contacts") or 0)
        return found, live

    def _no_list(self, live: Sequence[Mapping[str, Any]]) -> ContainerMissing:
        names = ", ".join(repr(str(x.get("name"))) for x in live) or "none"
        if not self.create_list:
            todo = f"Create the list {self.list_ref!r} in Snov.io, or set apps.{self.name}.create_list: true."
            return ContainerMissing(
                f"app {self.name!r}: Snov.io has no list {self.list_ref!r} (lists: {names}); create it or set "
                f"apps.{self.name}.create_list: true", app=self.name, key=f"apps.{self.name}.list",
                container=f"the Snov.io list {self.list_ref!r}",
                hint=todo, fresh_hint=todo)
        self._list_id = None
        return ContainerMissing(f"app {self.name!r}: Snov.io has no list {self.list_ref!r} (lists: {names})",
                                **self._gone_details())

    def _list_gone(self, detail: str) -> ContainerMissing:
        """The list went away while in use (Snov.io answered 404 for it)."""
        self._list_id = None
        self._snapshot = None
        return ContainerMissing(f"app {self.name!r}: the Snov.io list {self.list_ref!r} no longer exists ({detail})",
                                **self._gone_details())

    def _gone_details(self) -> dict[str, Any]:
        key = f"apps.{self.name}.list"
        return {"app": self.name, "container": f"the Snov.io list {self.list_ref!r}", "key": key,
                "creatable": self.create_list,
                "hint": f"If the list {self.list_ref!r} was deleted, restore it in Snov.io; or point {key} at the list "
                        "that holds the sync's prospects now."}

    async def _refresh_custom(self) -> None:
        body, _ = await self._ok("GET", "/v1/prospect-custom-fields", "prospect-custom-fields")
        rows = body.get("data", []) if isinstance(body, Mapping) else body
        custom: dict[str, tuple[str, FieldType]] = {}
        for row in rows or []:
            label = str(row.get("label") or row.get("name") or "").strip()
            if not label:
                continue
            exposed = label if label not in STANDARD else f"customFields[{label}]"
            custom[exposed] = (label, CUSTOM_TYPES.get(str(row.get("type", "string")), T.TEXT))
        for gone in set(self._custom) - set(custom):
            log.warning("app %s: the Snov.io custom field %r was deleted; mappings that use it stop", self.name, gone)
        self._custom = custom
        self._ever_custom.update(custom)

    def _check_object(self, object: str) -> None:
        if object != OBJECT:
            raise ConnectorError(f"Snov.io has no object {object!r}; its object is {OBJECT!r} (the prospects of "
                                 f"apps.{self.name}.list)")

    async def describe(self, object: str) -> ObjectSchema:
        self._check_object(object)
        await self._list_or_creatable()
        await self._refresh_custom()
        fields = {n: FieldSchema(n, t, LABELS[n], read_only=not w, required=n == "email") for n, (t, w) in
                  STANDARD.items()}
        fields.update({n: FieldSchema(n, t, label) for n, (label, t) in self._custom.items()})
        return ObjectSchema(object, fields)

    # -- records -----------------------------------------------------------------------------------------
    def _record(self, raw: Mapping[str, Any], fields: Sequence[str] | None) -> Record:
        pid = str(raw["id"])
        emails = _emails(raw)
        phones = [str(p).strip() for p in raw.get("phones") or [] if _text(p)]
        self._state[pid] = (emails, phones)
        job = next(iter(raw.get("currentJob") or []), None) or {}
        updated = parse_php_date(raw.get("lastUpdateDate"))
        values: dict[str, Value] = {
            "firstName": _text(raw.get("firstName")), "lastName": _text(raw.get("lastName")),
            "email": emails[0] if emails else None, "emails": ", ".join(emails) or None,
            "phones": phones[0] if phones else None,
            "country": _text(raw.get("country")), "locality": _text(raw.get("locality")),
            "industry": _text(raw.get("industry")),
            "position": _text(raw.get("position", job.get("position"))),
            "companyName": _text(raw.get("companyName", job.get("companyName"))),
            "companySite": _text(raw.get("companySite", job.get("site"))),
            "name": _text(raw.get("name")), "lastUpdateDate": iso(updated) if updated else None,
        }
        cvals = _custom_values(raw)
        for exposed, (label, ftype) in self._custom.items():
            values[exposed] = _custom_value(ftype, cvals.get(label))
        self._remember(pid, values, fields)
        for exposed in self._ever_custom.keys() - self._custom.keys():
            # deleted since a sync was compiled: its last value, so the field reads as unchanged
            values[exposed] = self._frozen.get(exposed, {}).get(pid)
        if fields is not None:
            values = {f: values.get(f) for f in fields}
        return Record(pid, values, updated_at=iso(updated) if updated else None)

    def _remember(self, pid: str, values: Mapping[str, Value], fields: Sequence[str] | None) -> None:
        """Keep the values of requested (mapped) custom fields: if the field is deleted, reads go on
        returning them, and the engine sees no change instead of a cleared value."""
        for exposed in self._custom:
            if exposed in values and (fields is None or exposed in fields):
                self._frozen.setdefault(exposed, {})[pid] = values[exposed]

    def _remember_raw(self, raw: Mapping[str, Any], fields: Sequence[str]) -> None:
        cvals = _custom_values(raw)
        self._remember(str(raw["id"]), {n: _custom_value(t, cvals.get(label)) for n, (label, t) in self._custom.items()
                                        if n in fields}, fields)

    def _in_list(self, raw: Mapping[str, Any], list_id: int) -> bool:
        lists = raw.get("lists")
        if lists is None:
            return True  # an answer without list membership: trust the caller's scope
        return any(str(x.get("id") if isinstance(x, Mapping) else x) == str(list_id) for x in lists)

    async def _walk(self) -> AsyncIterator[tuple[list[dict[str, Any]], httpx.Response]]:
        """The list's prospects page by page, each once; walked a second time if the list changed meanwhile
        (page numbers shift when prospects leave it, so a walk can skip one)."""
        lid = await self.list_id()
        seen: set[str] = set()
        for _ in range(2):
            page, counts = 1, set()
            while True:
                body, resp = await self._ok("POST", "/v1/prospect-list", "prospect-list",
                                            data={"listId": lid, "page": page, "perPage": self.page_size})
                rows = [r for r in body.get("prospects") or [] if isinstance(r, Mapping) and r.get("id") is not None]
                total = int((body.get("list") or {}).get("contacts") or 0)
                counts.add(total)
                fresh = [dict(r) for r in rows if str(r["id"]) not in seen]
                seen.update(str(r["id"]) for r in fresh)
                yield fresh, resp
                if len(rows) < self.page_size or page * self.page_size >= total:
                    break  # the list's own count saves asking for an empty page after a full one
                page += 1
            self._list_size = max(*counts, len(seen))
            if len(counts) == 1 and len(seen) >= counts.pop():
                return

    def _threshold(self) -> int:
        """Above this many look-ups, walking the whole list costs fewer requests."""
        return max(3, math.ceil(self._list_size / self.page_size))

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        self._check_object(object)
        await self._refresh_custom()
        if self._snapshot is not None:
            # The walk change_cursor made for this pass: records edited since are re-read by the
            # next incremental pass (their lastUpdateDate is after the cursor), so it is safe.
            for n, rows in enumerate(self._snapshot, 1):
                yield Page([self._record(r, fields) for r in rows], str(n))
            self._snapshot = None
            return
        n = 0
        async for rows, _ in self._walk():
            n += 1
            yield Page([self._record(r, fields) for r in rows], str(n))

    async def change_cursor(self, object: str) -> str:
        self._check_object(object)
        ts: int | None = None
        ids: list[str] = []
        pages: list[list[dict[str, Any]]] = []
        async for rows, resp in self._walk():
            ts = _server_time(resp) if ts is None else ts
            ids += [str(r["id"]) for r in rows]
            pages.append(rows)
        self._snapshot = pages if len(ids) <= SNAPSHOT_MAX else None
        return Cursor(ts if ts is not None else int(time.time()), tuple(ids)).encode()

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        self._check_object(object)
        self._snapshot = None
        start = Cursor.decode(cursor)
        await self._refresh_custom()
        since = start.ts - self.overlap
        new_ts: int | None = None
        seen: set[str] = set()
        async for rows, resp in self._walk():
            new_ts = _server_time(resp) if new_ts is None else new_ts
            seen.update(str(r["id"]) for r in rows)
            changed = []
            for r in rows:
                d = parse_php_date(r.get("lastUpdateDate"))
                if d is None or d.timestamp() >= since:
                    changed.append(self._record(r, fields))
                else:
                    self._remember_raw(r, fields)
            if changed:
                yield Page(changed, start.encode())  # resuming from here re-reads the list: harmless
        missing = [i for i in start.ids or () if i not in seen]
        gone = await self._confirm_gone(missing) if missing else set()
        keep = seen | (set(missing) - gone)  # not confirmed gone: looked for again next time
        yield Page([Record(i, {}, archived=True) for i in sorted(gone)],
                   Cursor(new_ts if new_ts is not None else start.ts, tuple(keep)).encode())

    async def _confirm_gone(self, missing: list[str]) -> set[str]:
        """Ids a walk did not return that really left the list (deleted or removed from it)."""
        lid = await self.list_id()
        if len(missing) > max(VERIFY_MAX, self._threshold()):
            seen: set[str] = set()
            async for rows, _ in self._walk():
                seen.update(str(r["id"]) for r in rows)
            return set(missing) - seen
        gone = set()
        for pid in missing:
            body, _ = await self._ok("POST", "/v1/get-prospect-by-id", "get-prospect-by-id", data={"id": pid})
            if not (isinstance(body, Mapping) and body.get("success") and self._in_list(body.get("data") or {}, lid)):
                gone.add(pid)
        return gone

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        self._check_object(object)
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return []
        lid = await self.list_id()
        if len(wanted) > self._threshold():
            want = set(wanted)
            return [self._record(r, fields) async for rows, _ in self._walk() for r in rows if str(r["id"]) in want]
        out = []
        for pid in wanted:
            body, _ = await self._ok("POST", "/v1/get-prospect-by-id", "get-prospect-by-id", data={"id": pid})
            raw = body.get("data") if isinstance(body, Mapping) and body.get("success") else None
            if isinstance(raw, Mapping) and self._in_list(raw, lid):
                out.append(self._record(raw, fields))
        return out

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        self._check_object(object)
        wanted = {str(v).strip().lower() for v in values if v not in (None, "")}
        if not wanted:
            return []
        lid = await self.list_id()
        if field != "email" or len(wanted) > self._threshold():
            hits = []
            async for rows, _ in self._walk():
                for r in rows:
                    rec = self._record(r, None)
                    if str(rec.properties.get(field) or "").strip().lower() in wanted:
                        hits.append(Record(rec.id, {f: rec.properties.get(f) for f in fields}, rec.updated_at))
            return hits
        out: dict[str, Record] = {}
        for email in sorted(wanted):
            body, _ = await self._ok("POST", "/v1/get-prospects-by-email", "get-prospects-by-email",
                                     data={"email": email})
            if not (isinstance(body, Mapping) and body.get("success")):
                continue  # {"success": false, "errors": "Prospect with email … not found"}
            for raw in body.get("data") or []:
                emails = _emails(raw)
                if self._in_list(raw, lid) and emails and emails[0].lower() == email:
                    out[str(raw["id"])] = self._record(raw, fields)
        return list(out.values())

    # -- writing ----------------------------------------------------------------------------------------------
    def _form(self, props: Mapping[str, Value], phones: list[str] | None) -> tuple[dict[str, Any], list[str]]:
        """Request parameters for ``props``; also the custom fields that no longer exist (left out)."""
        form: dict[str, Any] = {}
        dropped = []
        for k, v in props.items():
            if k == "phones":
                rest = (phones or [])[1:]
                form["phones[]"] = ([_wire(v)] if v not in (None, "") else []) + rest or [""]
            elif k in STANDARD:
                if STANDARD[k][1]:
                    form[k] = _wire(v)
            elif k in self._custom:
                form[f"customFields[{self._custom[k][0]}]"] = _wire(v)
            else:
                dropped.append(k)
        return form, dropped

    def _dropped_error(self, dropped: list[str]) -> WriteError:
        names = ", ".join(repr(d) for d in dropped)
        return WriteError(ErrorCategory.VALIDATION,
                          f"Snov.io custom field {names} no longer exists: the mapping that uses it has stopped "
                          "syncing", HINTS["custom_field"], "CUSTOM_FIELD_DELETED")

    async def _unknown_fields(self, items: Sequence[Mapping[str, Value]]) -> None:
        """Before writing custom fields, make sure they still exist: Snov.io ignores unknown ones
        silently, so a field deleted since the last look would be "written" nowhere."""
        if any(k not in STANDARD for props in items for k in props):
            await self._refresh_custom()  # one request per batch of up to 100 writes

    def _write_error(self, resp: httpx.Response, body: Any) -> WriteError:
        msg = _message(body) or f"HTTP {resp.status_code}"
        if resp.status_code == 429:
            return WriteError(ErrorCategory.RATE_LIMIT, msg, HINTS["rate_limit"], "429")
        if resp.status_code >= 500:
            return WriteError(ErrorCategory.TRANSIENT, msg, HINTS["transient"], str(resp.status_code))
        if "not found" in msg.lower():
            return WriteError(ErrorCategory.DELETED, msg, HINTS["deleted"], "NOT_FOUND")
        if "already exists" in msg.lower():
            return WriteError(ErrorCategory.DUPLICATES, msg, "Another Snov.io prospect has this email: merge the two "
                              "prospects in Snov.io, then resync.", "DUPLICATE")
        return WriteError(ErrorCategory.VALIDATION, msg, HINTS["validation"], str(resp.status_code))

    async def _write(self, path: str, kind: str, form: Mapping[str, Any],
                     repeatable: bool = True) -> tuple[str | None, WriteError | None]:
        """One write; (prospect id, None) or (None, error). A deleted list raises (it stops the sync)."""
        self._snapshot = None  # the list changes: a later scan must read it again
        resp = await self._send("POST", path, kind, data=form, repeatable=repeatable)
        body = _body(resp)
        if resp.status_code in (404, 405) and kind in DESIGNED and "list" not in _message(body).lower():
            return None, WriteError(ErrorCategory.UNKNOWN, f"Snov.io has no {path} ({_message(body)})",
                                    HINTS["designed"], "UNSUPPORTED")
        if resp.status_code == 404 and kind != "update-prospect" and "list" in _message(body).lower():
            raise self._list_gone(_message(body))
        if resp.status_code >= 400 or not (isinstance(body, Mapping) and body.get("success")):
            return None, self._write_error(resp, body)
        return (str(body["id"]) if body.get("id") is not None else None), None

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        self._check_object(object)
        lid = await self.list_id()
        await self._unknown_fields(items)
        out: list[WriteResult] = []
        for props in items:
            try:
                out.append(await self._create_one(props, lid))
            except WriteOutcomeUnknown as e:  # this one may exist: the runner looks it (and the rest) up
                e.results = [*out, *[None] * (len(items) - len(out))]
                raise
        return out

    async def _create_one(self, props: Mapping[str, Value], lid: int) -> WriteResult:
        form, dropped = self._form(props, None)
        if dropped:
            # the prospect is still created (its id must not be lost); the warning names the field
            log.warning("app %s: creating a prospect without the deleted custom field(s) %s", self.name, dropped)
        pid, err = await self._write("/v1/add-prospect-to-list", "add-prospect-to-list",
                                     {**form, "listId": lid, "updateContact": 1}, repeatable=False)
        if err is not None:
            return WriteResult.failure(err)
        if pid is None:
            pid = await self._id_by_email(str(props.get("email") or ""), lid)
        if pid is None:  # Snov.io said it was added, and it cannot be found: the same as a lost answer
            raise outcome_unknown("Snov.io add-prospect-to-list answered without an id")
        self._list_size += 1
        self._remember(pid, props, None)
        return WriteResult.success(pid)

    async def _id_by_email(self, email: str, lid: int) -> str | None:
        found = await self.find(OBJECT, "email", [email], ["email"]) if email else []
        return found[0].id if found else None

    async def _current(self, pid: str) -> tuple[list[str], list[str]] | None:
        if pid not in self._state:
            body, _ = await self._ok("POST", "/v1/get-prospect-by-id", "get-prospect-by-id", data={"id": pid})
            if not (isinstance(body, Mapping) and body.get("success")):
                return None
            self._record({**(body.get("data") or {}), "id": pid}, [])
        return self._state.get(pid)

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        self._check_object(object)
        lid = await self.list_id()
        await self._unknown_fields([props for _, props in items])
        out: list[WriteResult] = []
        for pid, props in items:
            current = await self._current(str(pid))
            if current is None:
                out.append(WriteResult.failure(WriteError(ErrorCategory.DELETED, f"Prospect {pid} not found",
                                                          HINTS["deleted"], "NOT_FOUND"), pid))
                continue
            emails, phones = current
            primary = emails[0] if emails else ""
            stored: Record | None = None
            if "email" in props and (_text(props["email"]) or "").lower() == primary.lower():
                # Snov.io finds prospects by email whatever the case and keeps its own spelling:
                # that spelling becomes the base, so the next pass sees no change to send back
                props = {k: v for k, v in props.items() if k != "email"}
                stored = Record(str(pid), {"email": primary or None})
            form, dropped = self._form(props, phones)
            err: WriteError | None = None
            if "email" in props:
                _, err = await self._write("/v1/update-prospect", "update-prospect", {**form, "id": pid})
            elif form:
                _, err = await self._write("/v1/add-prospect-to-list", "add-prospect-to-list",
                                           {**form, "email": primary, "listId": lid, "updateContact": 1})
            if err is not None:
                out.append(WriteResult.failure(err, pid))
                continue
            self._state.pop(str(pid), None)  # re-read before the next update of this prospect
            self._remember(str(pid), props, None)
            out.append(WriteResult.failure(self._dropped_error(dropped), pid) if dropped
                       else WriteResult.success(pid, stored))
        return out

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        """Take the prospects out of the list (Snov.io deletes a prospect that is in no list)."""
        self._check_object(object)
        lid = await self.list_id()
        out = []
        for pid in ids:
            _, err = await self._write("/v1/delete-prospect-from-list", "delete-prospect-from-list",
                                       {"id": pid, "listId": lid})
            out.append(WriteResult.failure(err, pid) if err else WriteResult.success(pid))
            self._state.pop(str(pid), None)
        return out


class SnovioSettings(AppSettings):
    """A Snov.io account. ``list`` (name or id) is the prospect list that syncs: its prospects
    are the ``prospects`` object, and records created from the other app land in it."""

    type: Literal["snovio"]
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    base_url: str = "https://api.snov.io"
    token_url: str | None = None  # default: {base_url}/v1/oauth/access_token
    list: str = Field(min_length=1)
    create_list: bool = True  # create the list when the account has none of that name
    rate_limit: int = Field(default=60, gt=0, description="requests per rate_window (Snov.io: 60 a minute)")
    rate_window: Duration = 60.0
    page_size: int = Field(default=100, gt=0, le=100)
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("rate_window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> float:
        return parse_duration(v)


def from_config(name: str, app: Any) -> SnovioConnector:
    """Build the connector from an ``apps:`` entry (:class:`SnovioSettings`)."""
    return SnovioConnector(
        name,
        client_id=app.client_id,
        client_secret=app.client_secret,
        list_name=app.list,
        base_url=app.base_url,
        token_url=app.token_url,
        create_list=app.create_list,
        rate_limit=app.rate_limit,
        rate_window=app.rate_window,
        page_size=app.page_size,
        timeout=app.timeout,
    )


VENDOR = Vendor(
    "snovio", "Snov.io", SnovioSettings, from_config,
    limits=lambda app: [RateLimit("requests", app.rate_limit, app.rate_window)],
    sandbox=Sandbox("accord.sandbox.snovio",
                    "Snov.io sandbox on http://{host}:{port}  ({records} prospects; --token is the client secret)",
                    expiring=True),
    paste=(Entry("client_id", "API user ID", hint="Snov.io › Account › API"),
           Entry("client_secret", "API secret", secret=True), Entry("list", "Prospect list (name or id)")),
    signs_in=lambda app: "API client credentials",
)

__all__ = ["VENDOR", "Cursor", "SnovioConnector", "SnovioSettings", "from_config", "parse_php_date"]
