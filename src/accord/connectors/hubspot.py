"""HubSpot CRM v3 connector (async httpx): any CRM object type (contacts, companies, deals, tickets,
products, line items, calls, emails, meetings, notes, tasks, custom objects) and custom properties.

How it reads and writes (see docs/connectors/hubspot.md for the why):

* ``scan``: the list endpoint (100 a page) from the lowest id up and CRM search (200 a page)
  from the highest down, at once, until they meet (:mod:`accord.connectors.hubspot_scan`).
* ``changes``: CRM search on ``lastmodifieddate`` (contacts) / ``hs_lastmodifieddate``
  (others), walking (timestamp, id) pairs so no query ever pages past HubSpot's
  10,000-result cap, re-reading a look-back window for the search index lag, then listing
  ``archived=true`` records for tombstones.
* writes: batch endpoints, 100 inputs each, one ``WriteResult`` per input (207 errors are
  mapped back by ``objectWriteTraceId``/ids; a batch rejected as a whole is bisected).
  Contacts with an email are created by ``batch/upsert`` on ``email`` so a retried create
  never makes a duplicate.
* HTTP: :mod:`accord.connectors.http` (retries, Retry-After, the rule for creates whose
  outcome is unknown, call counting). Rate limits: one :class:`Limits` per (base URL, token)
  shared by every connector of that app: a rolling window for the 10-second limit, a separate
  one for search's 5/s, and, for OAuth apps, the per-second limit HubSpot announces in
  ``X-HubSpot-RateLimit-Secondly``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import hashlib
import hmac
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Literal

import httpx
import orjson
from pydantic import Field, model_validator

from accord.connectors.background import in_thread
from accord.connectors.base import Associated, AssociationKind, WebhookChanges
from accord.connectors.http import (
    OK,
    Answer,
    Http,
    HttpConnector,
    LimitSet,
    RetryPolicy,
    default_answer,
    outcome_unknown,
    retry_after,
)
from accord.connectors.hubspot_scan import ScanPosition, two_lane_scan
from accord.connectors.limits import LOCAL, LearnedLimit, Limiter, LimiterFactory, RateLimit
from accord.connectors.limits import RollingWindow as RollingWindow  # re-exported: its old home
from accord.connectors.oauth import Credential, RefreshToken, StaticToken, TokenAuth
from accord.connectors.registry import (
    ASSOCIATIONS,
    LISTS,
    PIPELINES,
    WEBHOOKS,
    Client,
    Entry,
    OAuthApp,
    Sandbox,
    Vendor,
)
from accord.connectors.settings import AppSettings, setting_error
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

BATCH = 100
SEARCH_PAGE = 200
# The standard object types and their type ids; any other name (a custom object's ``p_<name>``,
# fullyQualifiedName or ``2-…`` type id) is passed to HubSpot as it is: the properties API says
# whether the portal has it.
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5", "products": "0-7",
                   "line_items": "0-8", "calls": "0-48", "emails": "0-49", "meetings": "0-47", "notes": "0-46",
                   "tasks": "0-27"}
OBJECT_LABELS = {"line_items": "Line items"}
MODIFIED = {"contacts": "lastmodifieddate"}  # every other object: hs_lastmodifieddate
# Requests per rolling 10 s by account tier (FIELD-NOTES / HubSpot usage guidelines).
RATE_TIERS = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190, "burst": 250, "oauth": 110}
# Default (unlabelled) association type ids, HUBSPOT_DEFINED; other pairs (custom objects) are
# looked up in the portal's association schema (/crm/v4/associations/{from}/{to}/labels).
ASSOC_TYPE_IDS = {("contacts", "companies"): 279, ("companies", "contacts"): 280, ("deals", "contacts"): 3,
                  ("contacts", "deals"): 4, ("deals", "companies"): 341, ("companies", "deals"): 342,
                  ("contacts", "tickets"): 15, ("tickets", "contacts"): 16, ("tickets", "companies"): 339,
                  ("companies", "tickets"): 340, ("deals", "tickets"): 27, ("tickets", "deals"): 28,
                  ("deals", "line_items"): 19, ("line_items", "deals"): 20}
# engagements ↔ contacts, companies, deals, tickets: object → engagement (engagement → object is one more)
for _eng, _ids in {"calls": (193, 181, 205, 219), "emails": (197, 185, 209, 223), "meetings": (199, 187, 211, 225),
                   "notes": (201, 189, 213, 227), "tasks": (203, 191, 215, 229)}.items():
    for _obj, _tid in zip(("contacts", "companies", "deals", "tickets"), _ids, strict=True):
        ASSOC_TYPE_IDS[(_obj, _eng)], ASSOC_TYPE_IDS[(_eng, _obj)] = _tid, _tid + 1
# The primary association types ("Primary company"): a record has at most one, and HubSpot
# moves it when another association of the pair is given the type.
PRIMARY_TYPE_IDS = {("contacts", "companies"): 1, ("deals", "companies"): 5, ("tickets", "companies"): 26}
# Parents a record holds in a property of its own rather than as an association: a line item names
# its product in hs_product_id (HubSpot defines no line item ↔ product association), read and
# written as a single-valued association so the association pass and create-time parents use it.
PROPERTY_PARENTS = {("line_items", "products"): "hs_product_id"}
# legacy webhook subscriptions' prefixes (contact.creation …)
WEBHOOK_OBJECTS = {"contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
                   "product": "products", "line_item": "line_items"}
# generic webhook subscriptions (object.creation …) name the object by objectTypeId
WEBHOOK_TYPE_IDS = {type_id: object for object, type_id in OBJECT_TYPE_IDS.items()}


def webhook_object(event: Mapping[str, Any]) -> tuple[str | None, str]:
    """(object, action) of a webhook event, in either form HubSpot sends: the legacy
    ``contact.propertyChange``, or a generic subscription's ``object.propertyChange`` with
    ``objectTypeId`` ``0-1`` (contacts), ``0-2`` (companies), ``0-3`` (deals) …"""
    prefix, _, action = str(event.get("subscriptionType", "")).partition(".")
    if prefix == "object":
        return WEBHOOK_TYPE_IDS.get(str(event.get("objectTypeId", ""))), action
    return WEBHOOK_OBJECTS.get(prefix), action


# the ids merged into a record (";"-separated): HubSpot sets it on the record a merge makes
MERGED_IDS = "hs_merged_object_ids"


def merged_ids(raw: Mapping[str, Any]) -> list[str]:
    """The ids merged into a record as the API answers it (its ``hs_merged_object_ids``)."""
    value = (raw.get("properties") or {}).get(MERGED_IDS)
    return [i for i in str(value).split(";") if i] if value else []


def _moves(results: Iterable[Mapping[str, Any]], ids: Collection[str]) -> dict[str, str]:
    """Of ``ids`` read by id, those merged away: a read by a merged-away id answers with the
    record it was merged into (whose ``hs_merged_object_ids`` names it) → that record's id."""
    return {old: str(r["id"]) for r in results for old in merged_ids(r) if old in ids and old != str(r["id"])}


def modified_prop(object: str) -> str:
    return MODIFIED.get(object, "hs_lastmodifieddate")


# -- values -------------------------------------------------------------------------------------
def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CANONICAL_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _iso(value: str) -> str:
    """A HubSpot timestamp (epoch ms or ISO) as canonical ISO; HubSpot's own form passes as is."""
    return value if len(value) == 24 and _CANONICAL_ISO.fullmatch(value) else _iso_ms(_to_ms(value))


def _to_ms(value: str) -> int:
    """Epoch ms from HubSpot's epoch-ms strings, ISO datetimes or ISO dates."""
    v = value.strip()
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if len(v) == 10:
        return int(datetime.combine(date.fromisoformat(v), datetime.min.time(), UTC).timestamp() * 1000)
    dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return round((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


@dataclass(frozen=True)
class _Prop:
    type: str = "string"
    field_type: str = "text"

    @property
    def multi(self) -> bool:
        return self.type == "enumeration" and self.field_type == "checkbox"

    @property
    def boolean(self) -> bool:
        return self.type == "bool" or self.field_type == "booleancheckbox"

    @cached_property
    def kind(self) -> str:
        """How ``to_canonical`` reads it: bool, number, date, datetime, multi or text (per record: decided once)."""
        if self.boolean:
            return "bool"
        if self.type in ("number", "date", "datetime"):
            return self.type
        return "multi" if self.multi else "text"


_TEXT = _Prop()  # properties the schema does not list are read as text


def to_canonical(prop: _Prop, raw: Any) -> Value:
    """HubSpot wire string → canonical value (see accord.model); blanks become None."""
    if raw is None or raw == "":
        return None
    s = str(raw)
    kind = prop.kind
    if kind == "text":
        return s
    try:
        if kind == "bool":
            return s.strip().lower() == "true"
        if kind == "number":
            try:
                return int(s)
            except ValueError:
                f = float(s)
                return int(f) if f.is_integer() else f
        if kind == "date":
            return _iso_ms(_to_ms(s))[:10]
        if kind == "datetime":
            return _iso(s)
    except ValueError:
        return s  # keep what HubSpot sent rather than lose it
    return [x for x in s.split(";") if x]


def to_wire(prop: _Prop, value: Value) -> str:
    """Canonical value → the string HubSpot expects; None/blank clears the property."""
    if value is None or value == [] or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ";".join(str(x) for x in value)
    if prop.type == "date":
        return str(value)[:10]
    return str(value)


FIELD_TYPES = {"number": FieldType.NUMBER, "date": FieldType.DATE, "datetime": FieldType.DATETIME,
               "bool": FieldType.BOOL, "enumeration": FieldType.ENUM}


# -- rate limiting -------------------------------------------------------------------------------
def rate_limits(rate_limit: int | str = 190, search_rate: float = 5.0, window: float = 10.0) -> list[RateLimit]:
    """HubSpot's limits for one private app: ``rate_limit`` requests (a number or a tier name) per
    rolling ``window`` seconds, and search's own per-second limit."""
    per_window = RATE_TIERS[rate_limit.lower()] if isinstance(rate_limit, str) else int(rate_limit)
    return [RateLimit("general", per_window, window), RateLimit("search", max(1, round(search_rate)), 1.0)]


def _secondly(make: LimiterFactory, key: str) -> LearnedLimit:
    return LearnedLimit(lambda n: make.make(f"{key}:secondly-{n}", RateLimit("secondly", n, 1.0)))


@dataclass
class Limits:
    """Rate limits of one HubSpot app (credential), shared by all its connectors (a
    :class:`~accord.connectors.http.LimitSet`): search has its own window, every other call
    takes the general one and the per-second limit an OAuth app's answers announce."""

    general: Limiter
    search: Limiter
    calls: Counter[str] = field(default_factory=Counter)
    secondly: LearnedLimit = field(default_factory=lambda: LearnedLimit(lambda n: RollingWindow(n, 1.0)))

    def limiters(self, kind: str) -> Sequence[Limiter]:
        return (self.search,) if kind == "search" else (self.general, self.secondly)


_LIMITS: dict[tuple[str, str], Limits] = {}
_LIMITS_LOCK = threading.Lock()


def _credential(base_url: str, token: str) -> str:
    """The app credential's name in limiter keys: a digest, never the token itself."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\x00{token}".encode()).hexdigest()[:16]


def shared_limits(base_url: str, token: str, rate_limit: int, search_rate: float, window: float = 10.0) -> Limits:
    """The one :class:`Limits` for this app; later callers get the first caller's settings."""
    with _LIMITS_LOCK:
        key = (base_url.rstrip("/"), token)
        if key not in _LIMITS:
            name = f"hubspot:{_credential(base_url, token)}"
            general, search = (LOCAL.make(f"{name}:{rl.name}", rl) for rl in rate_limits(rate_limit, search_rate, window))
            _LIMITS[key] = Limits(general, search, secondly=_secondly(LOCAL, name))
        return _LIMITS[key]


# -- errors ----------------------------------------------------------------------------------------
HINTS = {
    "PROPERTY_DOESNT_EXIST": "Create the property in HubSpot (Settings › Properties) or remove it from the mapping.",
    "READ_ONLY_VALUE": "The HubSpot property is read-only or calculated: map it one-way, from HubSpot only.",
    "INVALID_EMAIL": "Fix the email address in the source record; HubSpot rejects malformed emails.",
    "INVALID_OPTION": "The value is not one of the property's options: add the option in HubSpot or map the value.",
    "INVALID_DATE": "HubSpot date properties take a date (midnight UTC); check the mapped field's type.",
    "CONFLICT": "Another HubSpot record already has this unique value (e.g. email): merge the duplicates or "
                "link this record to the existing one, then resync.",
    "MISSING_SCOPES": "Give the HubSpot private app the crm.objects.*.write/read scopes it lacks "
                      "(Settings › Integrations › Private apps), then resync.",
    "OBJECT_NOT_FOUND": "The record was deleted or merged in HubSpot; resync deleted records to recreate it.",
    "RATE_LIMITS": "HubSpot's rate limit was hit; Accord will retry. Lower rate_limit if other apps share it.",
    "TRANSIENT": "HubSpot failed temporarily; the record will be retried.",
}


def _error_code(body: Mapping[str, Any]) -> str:
    for e in body.get("errors") or []:
        if isinstance(e, dict) and e.get("code"):
            return str(e["code"])
    m = re.search(r'"error"\s*:\s*"([A-Z_]+)"', str(body.get("message", "")))
    return m.group(1) if m else ""


_REFUSED = re.compile(r"^(?P<value>.*?) (?:was|is) not (?:one of|a valid)", re.S)
_SAYS = {"INVALID_OPTION": "it is not one of the property's options", "INVALID_EMAIL": "it is not a valid email address",
         "INVALID_DATE": "it is not a date at midnight UTC", "INVALID_DATETIME": "it is not a date and time",
         "INVALID_INTEGER": "it is not a whole number", "INVALID_FLOAT": "it is not a number",
         "INVALID_LONG": "it is not a whole number"}


def _problems(body: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(property, code, message) of each property a "Property values were not valid" answer names:
    from ``errors[].context.propertyName``, else from the JSON list inside the message."""
    out: list[tuple[str, str, str]] = []
    for e in body.get("errors") or []:
        names = ((e.get("context") or {}).get("propertyName") or []) if isinstance(e, dict) else []
        if names:
            out.append((str(names[0]), str(e.get("code", "")), str(e.get("message", ""))))
    msg = str(body.get("message", ""))
    if not out and msg.startswith("Property values were not valid:"):
        try:
            items = json.loads(msg.split(":", 1)[1])
        except ValueError:
            items = []
        out = [(str(i.get("name", "")), str(i.get("error", "")), str(i.get("message", "")))
               for i in items if isinstance(i, dict)]
    return out


def _sentence(problems: list[tuple[str, str, str]]) -> str:
    """One sentence per property, naming it and the value, without the vendor's JSON."""
    parts = []
    for name, code, message in problems:
        m = _REFUSED.match(message)
        short = message.split(": [")[0].split(". Valid")[0]
        if m and code in _SAYS:
            parts.append(f"HubSpot refused {m['value']!r} for the property {name}: {_SAYS[code]}")
        else:
            parts.append(f"HubSpot refused the value of the property {name}: {short}")
    return "; ".join(parts) + "."


def _problem_hint(name: str, code: str, message: str) -> str | None:
    m = _REFUSED.match(message)
    if code == "INVALID_OPTION" and m:
        return (f"Add {m['value']!r} to the options of the HubSpot property {name}, or give it a counterpart in "
                "the mapping's value map (the dashboard's mapping step, or values / values_to_left in accord.yaml).")
    return None


def write_error(status: int, body: Mapping[str, Any], *, association: bool = False) -> WriteError:
    """A HubSpot error body (or one 207 ``errors[]`` entry) as a categorised, hinted WriteError
    whose message is a sentence (the property and the value), not the vendor's JSON."""
    cat = str(body.get("category", ""))
    code = _error_code(body) or cat
    msg = str(body.get("message", "")) or f"HTTP {status}"
    problems = _problems(body) if (cat == "VALIDATION_ERROR" or status == 400) and not association else []
    if problems:
        hint = _problem_hint(*problems[0]) or HINTS.get(problems[0][1] or code, "")
        return WriteError(ErrorCategory.VALIDATION, _sentence(problems), hint or "HubSpot rejected the value: correct "
                          "it in the source app or change the mapping.", problems[0][1] or code or "VALIDATION_ERROR")
    if association:
        return WriteError(ErrorCategory.ASSOCIATIONS, msg, "Both records must exist in HubSpot; the association "
                          "is retried once they are synced.", code)
    if status == 409 or cat == "CONFLICT":
        return WriteError(ErrorCategory.DUPLICATES, msg, HINTS["CONFLICT"], cat or "CONFLICT")
    if status == 403 or cat == "MISSING_SCOPES":
        return WriteError(ErrorCategory.PERMISSIONS, msg, HINTS["MISSING_SCOPES"], cat or "MISSING_SCOPES")
    if status == 404 or cat == "OBJECT_NOT_FOUND":
        return WriteError(ErrorCategory.DELETED, msg, HINTS["OBJECT_NOT_FOUND"], "OBJECT_NOT_FOUND")
    if status == 429 or cat == "RATE_LIMITS":
        return WriteError(ErrorCategory.RATE_LIMIT, msg, HINTS["RATE_LIMITS"], "RATE_LIMITS")
    if status >= 500:
        return WriteError(ErrorCategory.TRANSIENT, msg, HINTS["TRANSIENT"], cat or str(status))
    if cat == "VALIDATION_ERROR" or status == 400:
        return WriteError(ErrorCategory.VALIDATION, msg, HINTS.get(code, "HubSpot rejected the values; see the "
                          "message for the property at fault."), code or "VALIDATION_ERROR")
    return WriteError(ErrorCategory.UNKNOWN, msg, "Unexpected HubSpot error; see the message.", code)


def _json_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(resp.content)  # several times faster than the stdlib on 100-record pages
    except ValueError:
        return {"message": resp.text[:500]}
    return body if isinstance(body, dict) else {"results": body}


def _answer(resp: httpx.Response) -> Answer:
    """What a HubSpot answer means for the HTTP layer (connectors/http.py)."""
    status = resp.status_code
    if status < 400:
        return OK
    body = _json_body(resp)
    message = str(body.get("message", resp.text[:200]))
    if status == 401:
        return Answer(error=AuthError(f"HubSpot rejected the token: {body.get('message', '')}"))
    if status == 423:  # "locked": HubSpot asks for ≥ 2 s; nothing was carried out
        return Answer(retry=True, wait=max(retry_after(resp) or 0.0, 2.0), problem=f"HTTP 423: {message}")
    if status == 429:
        wait = retry_after(resp)
        if wait is None and body.get("policyName") == "SECONDLY":
            wait = 1.0  # no Retry-After: the per-second window frees within its length
        return Answer(retry=True, limited=True, wait=wait, block=wait is not None, problem=f"HTTP 429: {message}")
    return default_answer(resp, "HubSpot", message)


# -- cursors -------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Cursor:
    """Resume point of the change feed: the last (modified ms, record id) read, the newest archive
    time seen, and the floors: every change modified at or before ``floor`` (every delete archived
    at or before ``archived_floor``) has been read. A pass sets the floors from the server time it
    read at, less the look-back (records the lagging search index had not shown yet lie after
    it), so with no newer edit the next pass still starts later than this one did. ``-1``: not
    known (a v1 cursor, or no ``Date`` header): the look-back is taken from ``ts``/``archived``."""

    ts: int
    id: int
    archived: int
    floor: int = -1
    archived_floor: int = -1

    def encode(self) -> str:
        if self.floor < 0 and self.archived_floor < 0:
            return f"v1:{self.ts}:{self.id}:{self.archived}"
        return f"v2:{self.ts}:{self.id}:{self.archived}:{self.floor}:{self.archived_floor}"

    @staticmethod
    def decode(text: str) -> Cursor:
        parts = text.split(":")
        if (parts[0], len(parts)) not in (("v1", 4), ("v2", 6)):
            raise ValueError(f"not a HubSpot cursor: {text!r}")
        try:
            return Cursor(*(int(p) for p in parts[1:]))
        except ValueError:
            raise ValueError(f"not a HubSpot cursor: {text!r}") from None


def _read_up_to(start: Cursor, low: int, clock: list[int], lookback: int, position: Cursor) -> Cursor:
    """The cursor of a page read up to ``position`` by a pass that began at ``low`` (its first
    query's server time in ``clock``): the changes up to it are read, unless the lagging index
    showed them only after that query (they lie within the look-back of its time). Anchoring to
    the read time, not to the newest change, lets the floor move on when nothing changes; the
    position alone would have the next pass re-read a bulk write, and every pass after it."""
    floor = start.floor
    if clock:
        floor = max(start.floor, low, min(position.ts, clock[0] - lookback))
    return replace(position, floor=floor)


PRIVATE_APPS = "HubSpot › Settings › Integrations › Private apps › (the app) › Auth › Show token or Rotate"


def hubspot_credential(app: str, base_url: str, *, token: str | None = None, token_file: str | None = None,
                       client_id: str | None = None, client_secret: str | None = None,
                       refresh_token: str | None = None, token_url: str | None = None) -> Credential:
    """A private-app token (or its file), or an OAuth app's client id, secret and refresh token."""
    if refresh_token:
        if not client_id:
            raise ValueError("an OAuth app needs client_id and client_secret with its refresh_token")
        return RefreshToken(app, "HubSpot", token_url or f"{base_url.rstrip('/')}/oauth/v1/token", client_id,
                            client_secret, refresh_token)
    if not (token or token_file):
        raise ValueError("give a private-app token (token or token_file), or an OAuth app's client_id, "
                         "client_secret and refresh_token")
    return StaticToken(app, "HubSpot", token, token_file, setting="the private-app token", where=PRIVATE_APPS)


class HubSpotConnector(HttpConnector):
    vendor = "hubspot"
    batch_size = BATCH

    def __init__(
        self,
        name: str,
        *,
        token: str | None = None,
        base_url: str = "https://api.hubapi.com",
        token_file: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        token_url: str | None = None,
        webhook_secret: str | None = None,
        rate_limit: int | str = 190,
        search_rate: float = 5.0,
        lookback: float = 30.0,
        tombstones: bool = True,
        search_scan: bool = True,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        app_id: str | None = None,
        developer_api_key: str | None = None,
        read_ahead: int = 200,
        limits: Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.auth = TokenAuth(hubspot_credential(
            name, self.base_url, token=token, token_file=token_file, client_id=client_id, client_secret=client_secret,
            refresh_token=refresh_token, token_url=token_url))
        # names the credential in limiter keys (digested): an OAuth app's limits are per installation
        self.token = token or refresh_token or token_file or ""
        # pages a full scan may read ahead of the sync, on a thread of its own (0: on the sync's
        # loop, paced by it): a fresh rate-limit window is spent at once (connectors/background.py)
        self.read_ahead = read_ahead
        self.webhook_secret = webhook_secret
        self.lookback_ms = int(lookback * 1000)  # re-read window for the search index lag
        self.tombstones = tombstones
        self.search_scan = search_scan  # full scans also read from the top of the id range with search
        self.app_id = app_id  # our own sourceId in webhook events (echo suppression)
        # the app's developer account key: timeline event templates (event sync) belong to it
        self.developer_api_key = developer_api_key
        self._rate_limits = rate_limits(rate_limit, search_rate)
        general, search = (int(rl.limit) for rl in self._rate_limits)
        self._transport = transport
        self.http = Http("HubSpot", base_url=self.base_url, auth=self.auth, timeout=timeout, app=self.name,
                         limits=limits or shared_limits(self.base_url, self.token, general, search),
                         retry=RetryPolicy(max_retries, backoff, max_backoff), classify=_answer,
                         headers={"Accept": "application/json"}, transport=transport, observe=self._observe)
        self._props: dict[str, dict[str, _Prop]] = {}
        self._schemas: dict[str, ObjectSchema] = {}
        self._account: str | None = None  # "" once asked and not told
        self._describe_locks: dict[str, asyncio.Lock] = {}
        # association types of pairs HubSpot has no default for (custom objects): (category, type id)
        self._assoc_types: dict[tuple[str, str], tuple[str, int]] = {}
        self._list_ids: dict[tuple[str, str], str] = {}  # (object, list name) -> listId, as last looked up

    # -- limits -------------------------------------------------------------------------------------------
    def rate_limits(self) -> list[RateLimit]:
        return list(self._rate_limits)

    def credential(self) -> str:
        return _credential(self.base_url, self.token)

    def limit_set(self, made: dict[str, Limiter], make: LimiterFactory) -> LimitSet:
        return Limits(made["general"], made["search"], secondly=_secondly(make, f"hubspot:{self.credential()}"))

    def _observe(self, resp: httpx.Response) -> None:
        # OAuth apps: HubSpot names the per-second limit in every answer (private apps have none)
        secondly = resp.headers.get("x-hubspot-ratelimit-secondly")
        if secondly and secondly.isdigit() and isinstance(self.http.limits, Limits):
            self.http.limits.secondly.learn(int(secondly))

    def _reader(self) -> HubSpotConnector:
        """This connector for another thread's event loop: an HTTP client of its own; the rate
        limits, schemas and call counters are this one's."""
        reader = copy.copy(self)
        reader.http = self.http.clone()
        reader._describe_locks = {}
        return reader

    # -- transport ------------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, kind: str, *, json: Any = None,
                       params: Mapping[str, Any] | None = None, repeatable: bool = True) -> httpx.Response:
        """One API call through the HTTP layer; a batch create is not ``repeatable``."""
        return await self.http.send(method, path, kind, json=json, params=params, repeatable=repeatable)

    async def _ok(self, method: str, path: str, kind: str, **kw: Any) -> dict[str, Any]:
        """A call that must succeed (reads, metadata): errors raise ConnectorError with a hint."""
        return self._checked(await self._request(method, path, kind, **kw), method, path)

    async def _found(self, path: str, kind: str, **kw: Any) -> dict[str, Any] | None:
        """A GET whose 404 means "not there" (None); other errors raise as :meth:`_ok`'s do."""
        resp = await self._request("GET", path, kind, **kw)
        return None if resp.status_code == 404 else self._checked(resp, "GET", path)

    def _checked(self, resp: httpx.Response, method: str, path: str) -> dict[str, Any]:
        if resp.status_code >= 400 and resp.status_code != 207:
            err = write_error(resp.status_code, _json_body(resp))
            if err.category == ErrorCategory.PERMISSIONS:
                raise AuthError(f"{err.message} — {err.hint}", app=self.name)
            if resp.status_code in (400, 404):  # a read: the hints of refused record writes do not apply
                raise ConnectorError(f"HubSpot {method} {path}: HTTP {resp.status_code} {err.message}")
            raise ConnectorError(f"HubSpot {method} {path}: HTTP {resp.status_code} {err.message} — {err.hint}")
        return _json_body(resp) if resp.content else {}

    # -- metadata ---------------------------------------------------------------------------------------
    async def check(self) -> None:
        # `accord check` answers in seconds: one retry, not the patient back-off of a pass.
        saved, self.max_retries = self.max_retries, min(self.max_retries, 1)
        try:
            await self._ok("GET", "/crm/v3/objects/contacts", "list", params={"limit": 1})
        finally:
            self.max_retries = saved

    async def account(self) -> str | None:
        """The portal the token belongs to (one call per connector: a token's portal never changes)."""
        if self._account is None:
            body = await self._ok("GET", "/account-info/v3/details", "account")
            self._account = f"HubSpot account {body['portalId']}" if body.get("portalId") else ""
        return self._account or None

    async def describe(self, object: str) -> ObjectSchema:
        # one fetch per object even when many concurrent tasks ask at once
        async with self._describe_locks.setdefault(object, asyncio.Lock()):
            if object not in self._schemas:
                await self._describe(object)
        return self._schemas[object]

    async def _describe(self, object: str) -> None:
        body = await self._ok("GET", f"/crm/v3/properties/{object}", "properties")
        fields: dict[str, FieldSchema] = {}
        props: dict[str, _Prop] = {}
        for p in body.get("results", []):
            prop = _Prop(str(p.get("type", "string")), str(p.get("fieldType", "text")))
            props[p["name"]] = prop
            meta = p.get("modificationMetadata") or {}
            fields[p["name"]] = FieldSchema(
                name=p["name"], label=str(p.get("label", "")),
                type=FieldType.BOOL if prop.boolean else FIELD_TYPES.get(prop.type, FieldType.TEXT),
                read_only=bool(meta.get("readOnlyValue", False)),
                calculated=bool(p.get("calculated")) or prop.field_type == "calculation_equation",
                options=tuple(Option(str(o["value"]), str(o.get("label", o["value"])))
                              for o in p.get("options") or [] if not prop.boolean))
        self._props[object], self._schemas[object] = props, ObjectSchema(object, fields)

    async def _types(self, object: str) -> dict[str, _Prop]:
        if object not in self._props:
            await self.describe(object)
        return self._props[object]

    def _record(self, object: str, types: dict[str, _Prop], raw: Mapping[str, Any],
                fields: Sequence[str] | None = None) -> Record:
        props = raw.get("properties") or {}
        names = list(fields) if fields is not None else list(props)
        values: dict[str, Value] = {}
        for n in names:  # per field of every record read: text, the common kind, without a call
            v = props.get(n)
            prop = types.get(n, _TEXT)
            values[n] = (v or None) if type(v) is str and prop.kind == "text" else to_canonical(prop, v)
        updated = props.get(modified_prop(object)) or raw.get("updatedAt")
        archived = bool(raw.get("archived"))
        return Record(id=str(raw["id"]), properties=values, archived=archived,
                      updated_at=_iso(str(raw.get("archivedAt") if archived and raw.get("archivedAt")
                                          else updated)) if updated else None,
                      created_at=_iso(str(raw["createdAt"])) if raw.get("createdAt") else None)

    # -- reading ------------------------------------------------------------------------------------------
    async def _list_page(self, object: str, fields: Sequence[str], after: str | None,
                         archived: bool = False) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"limit": BATCH, "properties": ",".join(fields), "archived": str(archived).lower()}
        if after:
            params["after"] = after
        body = await self._ok("GET", f"/crm/v3/objects/{object}", "list", params=params)
        return body.get("results", []), ((body.get("paging") or {}).get("next") or {}).get("after")

    async def _list(self, object: str, fields: Sequence[str], archived: bool = False,
                    after: str | None = None) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        while True:
            results, after = await self._list_page(object, fields, after, archived)
            yield results, after
            if not after:
                return

    def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        return self._scan(object, fields, ScanPosition())  # the generator itself: closing it stops the reader

    def scan_from(self, object: str, fields: Sequence[str], after: str) -> AsyncIterator[Page]:
        # the position is list and search bounds, not a session: any process can resume from it
        return self._scan(object, fields, ScanPosition.decode(after))

    async def _scan(self, object: str, fields: Sequence[str], start: ScanPosition) -> AsyncGenerator[Page, None]:
        """The list endpoint from the bottom and, with ``search_scan``, search from the top."""
        types = await self._types(object)
        if not self.search_scan:
            start = replace(start, search_done=True, full_list=True)
        if self.read_ahead and self._transport is None:
            async def lanes() -> AsyncIterator[tuple[list[dict[str, Any]], ScanPosition]]:
                reader = self._reader()  # made on the reading thread's loop, as its client must be
                try:
                    # the lanes stop (their requests cancelled) before their client is closed
                    async with contextlib.aclosing(reader._lanes(object, fields, start)) as read:
                        async for item in read:
                            yield item
                finally:
                    await reader.aclose()
            source = in_thread(lanes, self.read_ahead)
        else:  # an injected transport (tests, ASGI) may be bound to this loop: read on it
            source = self._lanes(object, fields, start)
        async with contextlib.aclosing(source) as pages:  # closing the scan stops its reader now, not at GC
            async for results, pos in pages:
                yield Page([self._record(object, types, r, fields) for r in results],
                           None if pos.done else pos.encode())

    def _lanes(self, object: str, fields: Sequence[str],
               start: ScanPosition) -> AsyncGenerator[tuple[list[dict[str, Any]], ScanPosition], None]:
        async def list_page(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            return await self._list_page(object, fields, after)

        async def search_page(lo: int, hi: int | None) -> list[dict[str, Any]]:
            bounds = [{"propertyName": "hs_object_id", "operator": "GT", "value": str(lo)}]
            if hi is not None:
                bounds.append({"propertyName": "hs_object_id", "operator": "LT", "value": str(hi)})
            body = await self._search(object, bounds, ("hs_object_id", "DESCENDING"), fields)
            return list(body.get("results", []))

        return two_lane_scan(list_page, search_page, SEARCH_PAGE, start)

    async def _search(self, object: str, filters: list[dict[str, Any]], sort: tuple[str, str], fields: Sequence[str],
                      limit: int = SEARCH_PAGE, after: str | None = None,
                      clock: list[int] | None = None) -> dict[str, Any]:
        """One search page; an empty ``clock`` gets the server time the query ran at, or later
        never: the response's ``Date`` less the round trip (the query ran after it was sent)."""
        body: dict[str, Any] = {"filterGroups": [{"filters": filters}] if filters else [],
                                "sorts": [{"propertyName": sort[0], "direction": sort[1]}],
                                "properties": list(fields), "limit": limit}
        if after:
            body["after"] = after
        path = f"/crm/v3/objects/{object}/search"
        sent = time.monotonic()
        resp = await self._request("POST", path, "search", json=body)
        at = _server_ms(resp) if clock is not None and not clock else None
        if clock is not None and at is not None:
            clock.append(at - int((time.monotonic() - sent) * 1000) - 1)
        return self._checked(resp, "POST", path)

    async def change_cursor(self, object: str) -> str:
        # The newest change the search index shows, at id 0 so records sharing its timestamp
        # are read again (harmless) rather than skipped; tombstones from the server's "now".
        mod = modified_prop(object)
        resp = await self._request("POST", f"/crm/v3/objects/{object}/search", "search", json={
            "filterGroups": [], "sorts": [{"propertyName": mod, "direction": "DESCENDING"}],
            "properties": [mod], "limit": 1})
        body = _json_body(resp)
        if resp.status_code >= 400:
            raise ConnectorError(f"HubSpot search failed: {body.get('message', resp.status_code)}")
        results = body.get("results") or []
        ts = _to_ms(results[0]["properties"][mod]) if results and results[0]["properties"].get(mod) else 0
        server_now = _server_ms(resp) or ts
        return Cursor(ts, 0, server_now).encode()

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        start = Cursor.decode(cursor)
        types = await self._types(object)
        mod = modified_prop(object)
        props = list(dict.fromkeys([*fields, mod, "hs_object_id", MERGED_IDS]))
        lookback = self.lookback_ms
        best = start  # page cursors never move backwards, even inside the look-back window
        if not lookback:  # no index lag assumed: the position is exact
            ts, last_id = start.ts, start.id
        elif start.floor >= 0:
            ts, last_id = start.floor, 0
        else:  # a v1 cursor: the look-back from the newest change it read
            ts, last_id = start.ts - lookback, 0
        low = ts  # where this pass starts: every change before it has been read already
        clock: list[int] = []  # the server time of this pass's first query
        seen: set[tuple[str, str | None]] = set()

        at = functools.partial(_read_up_to, start, low, clock, lookback)
        def emit(raws: list[dict[str, Any]]) -> list[Record]:
            out = []
            for r in raws:
                rec = self._record(object, types, r, fields)
                if (rec.id, rec.updated_at) not in seen:  # dedupe within the pass
                    seen.add((rec.id, rec.updated_at))
                    # a merge's record: the records merged into it move to it first (their pairs
                    # follow it instead of reading as deleted, and it is not paired a second time)
                    out += [Record(i, {}, rec.updated_at, moved_to=rec.id) for i in merged_ids(r)]
                    out.append(rec)
            return out

        while True:
            # Phase A: the rest of timestamp `ts`, by id: restarts the query instead of paging
            # with `after`, so even > 10,000 records sharing one timestamp never hit the cap.
            while True:
                body = await self._search(object, [
                    {"propertyName": mod, "operator": "EQ", "value": str(ts)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}],
                    ("hs_object_id", "ASCENDING"), props, clock=clock)
                results = body.get("results", [])
                if results:
                    last_id = int(results[-1]["id"])
                    best = max(best, Cursor(ts, last_id, start.archived))
                    yield Page(emit(results), at(best).encode())
                if len(results) < SEARCH_PAGE:
                    break
            # Phase B: the next page of later timestamps. Ties have no guaranteed order, so
            # only timestamps wholly inside the page are taken; the last one goes to phase A.
            body = await self._search(object, [{"propertyName": mod, "operator": "GT", "value": str(ts)}],
                                      (mod, "ASCENDING"), props)
            results = body.get("results", [])
            if not results:
                break
            stamps = [_to_ms(r["properties"][mod]) for r in results]
            if len(results) < SEARCH_PAGE:
                top = max(stamps)
                top_id = max(int(r["id"]) for r, s in zip(results, stamps, strict=True) if s == top)
                best = max(best, Cursor(top, top_id, start.archived))
                yield Page(emit(results), at(best).encode())
                break
            top = stamps[-1]
            done = [r for r, s in zip(results, stamps, strict=True) if s < top]
            if done:
                t_done = max(s for s in stamps if s < top)
                id_done = max(int(r["id"]) for r, s in zip(results, stamps, strict=True) if s == t_done)
                best = max(best, Cursor(t_done, id_done, start.archived))
                yield Page(emit(done), at(best).encode())
            ts, last_id = top, 0
        # Every change the index showed is read: those up to the read time less the look-back
        # are final, whatever the newest change was.
        done_to = max(start.floor, low, clock[0] - lookback) if clock else start.floor
        if self.tombstones:
            async for page in self._tombstones(object, types, fields, start, replace(best, floor=done_to),
                                               clock[0] - lookback if clock else None):
                yield page
        else:
            final = replace(best, floor=done_to)
            if final != start:
                yield Page([], final.encode())

    async def _tombstones(self, object: str, types: dict[str, _Prop], fields: Sequence[str], start: Cursor,
                          best: Cursor, settled: int | None) -> AsyncIterator[Page]:
        # HubSpot has no "deleted since" query: list the archived records (kept 90 days) and
        # keep those archived after the floor (the listing lags too: a v1 cursor's floor is
        # its newest archive less the look-back; `settled` is this pass's, from its read time).
        since = start.archived_floor if start.archived_floor >= 0 else start.archived - self.lookback_ms
        newest = start.archived
        async for results, after in self._list(object, fields, archived=True):
            recs = []
            for r in results:
                when = _to_ms(str(r.get("archivedAt") or r.get("updatedAt")))
                newest = max(newest, when)
                if when > since:
                    recs.append(self._record(object, types, r, fields))
            if recs:  # merged away rather than deleted: read by id, they answer with their merge's record
                moved = _moves(await self._batch_read(object, [r.id for r in recs], [MERGED_IDS]), {r.id for r in recs})
                recs = [Record(r.id, {}, r.updated_at, moved_to=moved[r.id]) if r.id in moved else r for r in recs]
            if after:  # not the whole listing yet: resuming from here re-lists from the start
                cursor = replace(best, archived=start.archived, archived_floor=start.archived_floor)
            else:
                # the newest archive less the look-back holds too (the rule of v1 cursors),
                # and is exact without a look-back, where the Date header's whole seconds are not
                floor = max(since, newest - self.lookback_ms, -1 if settled is None else settled)
                cursor = replace(best, archived=newest, archived_floor=floor)
            if recs or not after:
                yield Page(recs, cursor.encode())

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        types = await self._types(object)
        out: list[Record] = []
        for chunk in _chunks(list(dict.fromkeys(ids)), BATCH):
            results, asked = await self._batch_read(object, chunk, [*fields, MERGED_IDS]), set(chunk)
            # (an id asked for with an id merged into it answers twice)
            found = {str(r["id"]): r for r in results if str(r["id"]) in asked}
            moved = _moves(results, asked - found.keys())
            out += [self._record(object, types, r, fields) for r in found.values()]
            out += [Record(old, {}, moved_to=new) for old, new in moved.items()]
            if missing := sorted(asked - found.keys() - moved.keys()):  # deleted ones come back as tombstones
                gone = await self._batch_read(object, missing, fields, archived=True)
                out += [self._record(object, types, r, fields) for r in gone]
        return out

    async def _batch_read(self, object: str, ids: Sequence[str], properties: Sequence[str], *,
                          archived: bool = False) -> list[dict[str, Any]]:
        """The records ``batch/read`` answers for ``ids`` (≤ 100), archived ones with ``archived``."""
        body = await self._ok("POST", f"/crm/v3/objects/{object}/batch/read", "batch_read",
                              params={"archived": "true"} if archived else None,
                              json={"inputs": [{"id": i} for i in ids], "properties": list(properties),
                                    "propertiesWithHistory": []})
        return list(body.get("results", []))

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        types = await self._types(object)
        prop = types.get(field, _TEXT)
        wire = [to_wire(prop, v) for v in values if v not in (None, "")]
        if prop.type == "string":
            wire = [w.strip().lower() for w in wire]  # HubSpot matches IN on lower-cased strings
        out: dict[str, Record] = {}
        for chunk in _chunks(list(dict.fromkeys(wire)), BATCH):
            after: str | None = None
            while True:
                body = await self._search(object, [{"propertyName": field, "operator": "IN", "values": chunk}],
                                          ("hs_object_id", "ASCENDING"), fields, after=after)
                for r in body.get("results", []):
                    out.setdefault(str(r["id"]), self._record(object, types, r, fields))
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        return list(out.values())

    # -- writing --------------------------------------------------------------------------------------------
    async def _wire_props(self, object: str, props: Mapping[str, Value]) -> dict[str, str]:
        types = await self._types(object)
        return {k: to_wire(types.get(k, _TEXT), v) for k, v in props.items()}

    async def _batch(self, object: str, op: str, inputs: list[dict[str, Any]]) -> list[WriteResult]:
        """POST one batch; one WriteResult per input, matched to it by identity, never by position.

        HubSpot documents no order for batch results. A result belongs to the input whose
        ``objectWriteTraceId`` it echoes, else to the input naming its id (updates) or email
        (upserts); a created record that echoes no trace id, to the one input its properties
        fit (:func:`_match_by_properties`). 207 errors name their input in ``context``. An
        input of a create left unmatched may have been created: the batch raises
        WriteOutcomeUnknown with the results it could match (the runner looks the rest up);
        other writes are repeatable and ask again alone. A batch rejected as a whole (one bad
        input fails the lot) is split in halves until the bad inputs stand alone.
        """
        if not inputs:
            return []
        types = await self._types(object)
        create = op == "create"
        resp = await self._request("POST", f"/crm/v3/objects/{object}/batch/{op}", f"batch_{op}",
                                   json={"inputs": inputs}, repeatable=not create)
        body = _json_body(resp)
        if resp.status_code >= 400:
            if len(inputs) == 1:
                return [WriteResult.failure(write_error(resp.status_code, body), inputs[0].get("id"))]
            return await self._halves(object, op, inputs)
        results = self._matched(object, types, op, inputs, body)
        out: list[WriteResult | None] = []
        for item, res in zip(inputs, results, strict=True):
            if res is None and not create and len(inputs) > 1:
                out += await self._batch(object, op, [item])  # unaccounted for: ask again alone (repeatable)
            elif res is None and not create:
                out.append(WriteResult.failure(WriteError(
                    ErrorCategory.UNKNOWN, "HubSpot returned no result for this record", "Resync the record.")))
            else:
                out.append(res)
        if None in out:
            lost = sum(r is None for r in out)
            raise outcome_unknown(f"HubSpot batch create of {object}: {lost} of {len(inputs)} results could not "
                                  "be matched to their inputs", out)
        return [r for r in out if r is not None]

    async def _halves(self, object: str, op: str, inputs: list[dict[str, Any]]) -> list[WriteResult]:
        """Both halves of a refused batch; an unknown outcome carries both halves' known results."""
        mid = len(inputs) // 2
        first, second = inputs[:mid], inputs[mid:]
        out: list[WriteResult] = []
        for half, after in ((first, len(second)), (second, 0)):
            try:
                out += await self._batch(object, op, half)
            except WriteOutcomeUnknown as e:
                e.results = [*out, *(e.results or [None] * len(half)), *[None] * after]
                raise
        return out

    def _matched(self, object: str, types: dict[str, _Prop], op: str, inputs: list[dict[str, Any]],
                 body: Mapping[str, Any]) -> list[WriteResult | None]:
        """Each input's result or error by identity (see :meth:`_batch`); None where there is none."""
        by_key: dict[str, WriteResult] = {}
        loose: list[Mapping[str, Any]] = []  # results echoing no trace id: matched below if no key names them
        for raw in body.get("results", []):
            rec = self._record(object, types, raw)
            for k in _result_keys(raw):
                by_key[k] = WriteResult.success(rec.id, rec)
            if raw.get("objectWriteTraceId") is None:
                loose.append(raw)
        for err in body.get("errors", []):
            ctx = err.get("context") or {}
            failure = write_error(int(err.get("status") if str(err.get("status", "")).isdigit() else 400), err)
            keys = [f"t:{k}" for k in ctx.get("objectWriteTraceId", [])]
            keys += [f"{kind}:{str(k).lower()}" for k in ctx.get("ids", []) for kind in ("id", "email")]
            for k in keys:
                by_key.setdefault(k, WriteResult.failure(failure))
        results = [next((by_key[k] for k in _input_keys(op, i) if k in by_key), None) for i in inputs]
        if op == "create" and None in results and loose:
            claimed = {r.id for r in results if r is not None and r.ok}
            raws = [r for r in loose if str(r["id"]) not in claimed]
            pending = {n: i.get("properties") or {} for n, (i, r) in enumerate(zip(inputs, results, strict=True))
                       if r is None}
            for n, raw in _match_by_properties(types, pending, raws).items():
                rec = self._record(object, types, raw)
                results[n] = WriteResult.success(rec.id, rec)
        return results

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(items)
        wired = [await self._wire_props(object, it) for it in items]
        upserts = [i for i, w in enumerate(wired) if object == "contacts" and w.get("email", "").strip()]
        creates = [i for i in range(len(items)) if i not in set(upserts)]
        # Contacts with an email: upsert on email, so a create retried after a lost response
        # (or racing the lagging search index) updates instead of duplicating.
        batches = [(chunk, "upsert", [{"id": wired[i]["email"].strip().lower(), "idProperty": "email",
                                       "objectWriteTraceId": str(i), "properties": _set(wired[i])} for i in chunk])
                   for group in _unique_groups(upserts, lambda i: wired[i]["email"].strip().lower())
                   for chunk in _chunks(group, BATCH)]
        batches += [(chunk, "create", [{"objectWriteTraceId": str(i), "properties": _set(wired[i])} for i in chunk])
                    for chunk in _chunks(creates, BATCH)]
        for chunk, op, inputs in batches:
            try:
                done: Sequence[WriteResult | None] = await self._batch(object, op, inputs)
            except WriteOutcomeUnknown as e:  # what is known goes with it, for every item of this call
                for i, r in zip(chunk, e.results or [None] * len(chunk), strict=True):
                    results[i] = r
                e.results = results
                raise
            for i, r in zip(chunk, done, strict=True):
                results[i] = r
        return [r for r in results if r is not None]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(items)
        wired = [await self._wire_props(object, props) for _, props in items]
        for group in _unique_groups(list(range(len(items))), lambda i: str(items[i][0])):
            for chunk in _chunks(group, BATCH):
                inputs = [{"id": str(items[i][0]), "objectWriteTraceId": str(i), "properties": wired[i]} for i in chunk]
                for i, r in zip(chunk, await self._batch(object, "update", inputs), strict=True):
                    results[i] = r if not r.ok else WriteResult.success(str(items[i][0]), r.record)
        return [r if r is not None else WriteResult.failure(WriteError(ErrorCategory.UNKNOWN, "no result"))
                for r in results]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        out: list[WriteResult] = []
        for chunk in _chunks(list(ids), BATCH):
            resp = await self._request("POST", f"/crm/v3/objects/{object}/batch/archive", "batch_archive",
                                       json={"inputs": [{"id": i} for i in chunk]})
            if resp.status_code < 400:  # 204: HubSpot archives what exists and ignores the rest
                out += [WriteResult.success(i) for i in chunk]
            else:
                err = write_error(resp.status_code, _json_body(resp))
                out += [WriteResult.failure(err, i) for i in chunk]
        return out

    # -- lists, pipelines, associations -------------------------------------------------------------------
    async def list_members(self, object: str, list_name: str) -> frozenset[str]:
        list_id = await self._list_id(object, list_name)
        members: set[str] = set()
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 250}
            if after:
                params["after"] = after
            body = await self._found(f"/crm/v3/lists/{list_id}/memberships", "lists", params=params)
            if body is None:  # deleted since it was looked up
                raise self._list_gone(object, list_name)
            members.update(str(m["recordId"]) for m in body.get("results", []))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return frozenset(members)

    async def list_objects(self) -> list[Option]:
        """The standard object types, then the portal's custom objects (``p_<name>``)."""
        out = [Option(o, OBJECT_LABELS.get(o, o.title())) for o in OBJECT_TYPE_IDS]
        return out + [Option(f"p_{s['name']}", str((s.get("labels") or {}).get("plural") or s["name"]))
                      for s in await self._custom_schemas()]

    async def _custom_schemas(self) -> list[dict[str, Any]]:
        body = await self._ok("GET", "/crm/v3/schemas", "schemas")
        return [s for s in body.get("results", []) if not s.get("archived")]

    async def _type_id(self, object: str) -> str:
        """An object's type id (lists name objects by it): a custom object's from the schemas API."""
        if object in OBJECT_TYPE_IDS or re.fullmatch(r"\d+-\d+", object):
            return OBJECT_TYPE_IDS.get(object, object)
        for s in await self._custom_schemas():
            if object in (f"p_{s['name']}", s.get("fullyQualifiedName"), s.get("name")):
                return str(s["objectTypeId"])
        return object

    async def _assoc_type(self, from_object: str, to_object: str) -> int:
        """The default association type from one object type to another: HubSpot's own for
        standard pairs, else the first the portal's association schema defines (custom objects)."""
        key = (from_object, to_object)
        if key in ASSOC_TYPE_IDS:
            return ASSOC_TYPE_IDS[key]
        if key not in self._assoc_types:
            body = await self._ok("GET", f"/crm/v4/associations/{from_object}/{to_object}/labels", "associations")
            types = sorted(body.get("results", []), key=lambda t: (t.get("label") is not None, t.get("typeId", 0)))
            if not types:
                raise ConnectorError(f"HubSpot defines no association from {from_object} to {to_object}")
            self._assoc_types[key] = (str(types[0].get("category") or "USER_DEFINED"), int(types[0]["typeId"]))
        return self._assoc_types[key][1]

    async def inclusion_lists(self, object: str) -> list[Option]:
        type_id = await self._type_id(object)
        out: list[Option] = []
        offset = 0
        while True:
            body = await self._ok("POST", "/crm/v3/lists/search", "lists",
                                  json={"query": "", "count": 500, "offset": offset})
            out += [Option(str(x["name"]), f"{x['name']} ({x.get('size', 0)})") for x in body.get("lists", [])
                    if str(x.get("objectTypeId")) == type_id]
            if not body.get("hasMore") or not body.get("lists"):
                return out
            offset = int(body.get("offset") or offset + 500)

    async def _list_id(self, object: str, list_name: str) -> str:
        """The id of the list named ``list_name``; ContainerMissing when HubSpot has none (404):
        an inclusion list gone must stop the sync, not leave every record out of it."""
        from urllib.parse import quote

        path = f"/crm/v3/lists/object-type-id/{await self._type_id(object)}/name/{quote(list_name, safe='')}"
        found = await self._found(path, "lists")
        if found is None:
            raise self._list_gone(object, list_name)
        self._list_ids[(object, list_name)] = list_id = str(found["list"]["listId"])
        return list_id

    def list_key(self, object: str, list_name: str) -> str | None:
        return self._list_ids.get((object, list_name))

    async def list_name_of(self, object: str, key: str) -> str | None:
        found = await self._found(f"/crm/v3/lists/{key}", "lists")
        lst = (found or {}).get("list") or {}
        return None if lst.get("deletedAt") else str(lst.get("name") or "") or None

    def _list_gone(self, object: str, list_name: str) -> ContainerMissing:
        return ContainerMissing(
            f"app {self.name!r}: HubSpot has no {object} list {list_name!r}", app=self.name,
            container=f"the HubSpot list {list_name!r}",
            hint=f"Restore the list {list_name!r} in HubSpot (Lists › Recently deleted), or make the list that "
                 "holds the synced records now the sync's inclusion list.",
            fresh_hint=f"Check the name: HubSpot has no {object} list {list_name!r}. Create it in HubSpot, or name "
                       "one it has as the sync's inclusion list (accord check lists the closest).")

    async def pipelines(self, object: str) -> list[Pipeline]:
        body = await self._ok("GET", f"/crm/v3/pipelines/{object}", "pipelines")
        return [Pipeline(str(p["id"]), str(p["label"]),
                         tuple(Stage(str(s["id"]), str(s["label"]))
                               for s in sorted(p.get("stages", []), key=lambda s: s.get("displayOrder", 0))))
                for p in sorted(body.get("results", []), key=lambda p: p.get("displayOrder", 0)) if not p.get("archived")]

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        return {k: v.ids for k, v in (await self.associated(from_object, ids, to_object)).items()}

    def association_kind(self, from_object: str, to_object: str) -> AssociationKind:
        if (from_object, to_object) in PROPERTY_PARENTS:
            return "single"
        return "primary" if (from_object, to_object) in PRIMARY_TYPE_IDS else "many"

    async def associated(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, Associated]:
        if prop := PROPERTY_PARENTS.get((from_object, to_object)):
            held = {str(r.id): _id_text(r.properties.get(prop)) for r in await self.read(from_object, ids, [prop])
                    if not r.archived}
            return {str(i): Associated([held[str(i)]], held[str(i)]) if held.get(str(i)) else Associated([])
                    for i in ids}
        found: dict[str, list[str]] = {str(i): [] for i in ids}
        primary: dict[str, str] = {}
        primary_type = PRIMARY_TYPE_IDS.get((from_object, to_object))
        pending = [{"id": str(i)} for i in dict.fromkeys(ids)]
        while pending:
            chunk, pending = pending[:BATCH], pending[BATCH:]
            body = await self._ok("POST", f"/crm/v4/associations/{from_object}/{to_object}/batch/read",
                                  "associations", json={"inputs": chunk})
            for r in body.get("results", []):
                fid = str(r["from"]["id"])
                for t in r.get("to", []):
                    found.setdefault(fid, []).append(str(t["toObjectId"]))
                    if primary_type is not None and any(
                            x.get("typeId") == primary_type for x in t.get("associationTypes") or []):
                        primary[fid] = str(t["toObjectId"])
                nxt = ((r.get("paging") or {}).get("next") or {}).get("after")
                if nxt:  # more than one page of associations for this record
                    pending.append({"id": fid, "after": nxt})
            # ids with no associations come back as 207 errors: they stay []
        return {k: Associated(list(dict.fromkeys(v)), primary.get(k)) for k, v in found.items()}

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        if prop := PROPERTY_PARENTS.get((from_object, to_object)):
            return await self.update(from_object, [(f, {prop: t}) for f, t in pairs])
        return await self._create_associations(from_object, to_object, pairs, primary=False)

    async def make_primary(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        if (from_object, to_object) in PROPERTY_PARENTS:
            return await self.associate(from_object, to_object, pairs)
        return await self._create_associations(from_object, to_object, pairs, primary=True)

    async def dissociate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        """v4 ``batch/archive``: every association type of each pair goes (204, no body)."""
        if prop := PROPERTY_PARENTS.get((from_object, to_object)):
            return await self.update(from_object, [(f, {prop: None}) for f, _ in pairs])
        out: list[WriteResult] = []
        for chunk in _chunks(list(pairs), BATCH):
            by_from: dict[str, list[str]] = {}
            for f, t in chunk:
                by_from.setdefault(f, []).append(t)
            resp = await self._request("POST", f"/crm/v4/associations/{from_object}/{to_object}/batch/archive",
                                       "associations", json={"inputs": [
                                           {"from": {"id": f}, "to": [{"id": t} for t in ts]} for f, ts in by_from.items()]})
            if resp.status_code >= 400:
                err = write_error(resp.status_code, _json_body(resp), association=True)
                out += [WriteResult.failure(err, f"{f}:{t}") for f, t in chunk]
            else:
                out += [WriteResult.success(f"{f}:{t}") for f, t in chunk]
        return out

    async def _create_associations(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]], *,
                                   primary: bool) -> list[WriteResult]:
        type_id = await self._assoc_type(from_object, to_object)
        category = self._assoc_types.get((from_object, to_object), ("HUBSPOT_DEFINED", type_id))[0]
        type_ids = [type_id]
        if primary and (from_object, to_object) in PRIMARY_TYPE_IDS:
            type_ids.append(PRIMARY_TYPE_IDS[(from_object, to_object)])
        out: list[WriteResult] = []
        for chunk in _chunks(list(pairs), BATCH):
            resp = await self._request("POST", f"/crm/v4/associations/{from_object}/{to_object}/batch/create",
                                       "associations", json={"inputs": [
                                           {"from": {"id": f}, "to": {"id": t}, "types": [
                                               {"associationCategory": category, "associationTypeId": x}
                                               for x in type_ids]}
                                           for f, t in chunk]})
            body = _json_body(resp)
            if resp.status_code >= 400 and resp.status_code != 207:
                err = write_error(resp.status_code, body, association=True)
                out += [WriteResult.failure(err, f"{f}:{t}") for f, t in chunk]
                continue
            done = {(str(r.get("fromObjectId")), str(r.get("toObjectId"))) for r in body.get("results", [])}
            failed: dict[tuple[str, str], WriteError] = {}
            for e in body.get("errors", []):
                ctx = e.get("context") or {}
                for f, t in zip(ctx.get("fromObjectId", []), ctx.get("toObjectId", []), strict=False):
                    failed[(str(f), str(t))] = write_error(400, e, association=True)
            for f, t in chunk:
                if (f, t) in done:
                    out.append(WriteResult.success(f"{f}:{t}"))
                else:
                    out.append(WriteResult.failure(failed.get((f, t)) or WriteError(
                        ErrorCategory.ASSOCIATIONS, "association not created", "Resync both records."), f"{f}:{t}"))
        return out

    # -- webhooks ---------------------------------------------------------------------------------------------
    def verify_webhook(self, method: str, uri: str, body: bytes | str, headers: Mapping[str, str],
                       now: float | None = None) -> bool:
        """Check a webhook request against this app's secret (v3 signature)."""
        if not self.webhook_secret:
            return False
        h = {k.lower(): v for k, v in headers.items()}
        return verify_signature_v3(self.webhook_secret, method, uri, body, h.get("x-hubspot-request-timestamp", ""),
                                   h.get("x-hubspot-signature-v3", ""), now)

    def webhook_changes(self, events: Iterable[Mapping[str, Any]], seen: SeenEvents | None = None) -> WebhookChanges:
        own = {self.app_id} if self.app_id else set()
        return webhook_changes(events, own_source_ids=own, seen=seen)

    @property
    def webhooks(self) -> HubSpotWebhooks:
        return HubSpotWebhooks(self)


# -- helpers ------------------------------------------------------------------------------------------------
def _id_text(v: Value) -> str:
    """A record id held in a number property (hs_product_id), as HubSpot's ids are written: digits."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _unique_groups(indexes: list[int], key: Callable[[int], str]) -> list[list[int]]:
    """Split so no group holds the same key twice (HubSpot rejects duplicate ids in a batch)."""
    groups: list[list[int]] = []
    used: list[set[str]] = []
    for i in indexes:
        k = key(i)
        for g, u in zip(groups, used, strict=True):
            if k not in u:
                g.append(i)
                u.add(k)
                break
        else:
            groups.append([i])
            used.append({k})
    return groups


def _set(wired: Mapping[str, str]) -> dict[str, str]:
    """The properties a create sends: blanks are left out."""
    return {k: v for k, v in wired.items() if v != ""}


def _input_keys(op: str, item: Mapping[str, Any]) -> list[str]:
    """An input's identities: its trace id, and the id (update) or email (upsert) it names.
    Prefixed, so a trace id "7" never meets record id 7."""
    keys = [f"t:{item['objectWriteTraceId']}"] if item.get("objectWriteTraceId") is not None else []
    if op == "update":
        keys.append(f"id:{str(item.get('id')).lower()}")
    elif op == "upsert":
        keys.append(f"email:{str(item.get('id')).strip().lower()}")
    return keys


def _result_keys(raw: Mapping[str, Any]) -> list[str]:
    keys = [f"id:{raw['id']}"]
    if raw.get("objectWriteTraceId") is not None:
        keys.insert(0, f"t:{raw['objectWriteTraceId']}")
    email = (raw.get("properties") or {}).get("email")
    if email:
        keys.append(f"email:{str(email).strip().lower()}")
    return keys


def _same(prop: _Prop, value: Any) -> Any:
    """A value as compared when matching results by properties: canonical, case and spaces ignored."""
    v = to_canonical(prop, value)
    if isinstance(v, str):
        return v.strip().casefold()
    return sorted(str(x).strip().casefold() for x in v) if isinstance(v, list) else v


def _fits(types: Mapping[str, _Prop], sent: Mapping[str, Any], raw: Mapping[str, Any]) -> bool:
    """Could HubSpot have made ``raw`` from ``sent``? Properties it did not return (or returned
    blank) prove nothing either way, so they are not held against it."""
    got = raw.get("properties") or {}
    return all(_same(types.get(k, _TEXT), v) == _same(types.get(k, _TEXT), got[k])
               for k, v in sent.items() if v not in (None, "") and got.get(k) not in (None, ""))


def _match_by_properties(types: Mapping[str, _Prop], pending: Mapping[int, Mapping[str, Any]],
                         raws: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Created records matched to the inputs they came from by the properties sent: a result
    goes to an input only when it fits that input alone (among those still unmatched). If any
    result then fits none, the assumptions failed: nothing is matched this way."""
    fits = {r: {n for n, sent in pending.items() if _fits(types, sent, raw)} for r, raw in enumerate(raws)}
    taken: dict[int, int] = {}  # input -> result
    progress = True
    while progress:
        progress = False
        for r, ns in list(fits.items()):
            left = ns - taken.keys()
            if len(left) == 1:
                taken[left.pop()] = r
                del fits[r]
                progress = True
            elif not left and ns:
                return {}  # two results claim one input
    return {n: raws[r] for n, r in taken.items()}


def _server_ms(resp: httpx.Response) -> int | None:
    from email.utils import parsedate_to_datetime

    try:
        return int(parsedate_to_datetime(resp.headers["date"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        return None


# -- webhook helpers -------------------------------------------------------------------------------------------
# HubSpot decodes these escapes in the URI before signing (v3 signature docs).
_URI_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
               "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def verify_signature_v3(secret: str, method: str, uri: str, body: bytes | str, timestamp: str | int,
                        signature: str, now: float | None = None) -> bool:
    """True if ``signature`` is HubSpot's v3 signature of this request and is < 5 minutes old.

    ``now`` is seconds since the epoch (default: the current time); ``timestamp`` is the
    ``X-HubSpot-Request-Timestamp`` header (ms). Compared in constant time.
    """
    try:
        ts_ms = int(str(timestamp))
    except ValueError:
        return False
    now_ms = (time.time() if now is None else now) * 1000
    if abs(now_ms - ts_ms) >= 300_000:  # a replayed or stale request
        return False
    for code, char in _URI_DECODE.items():
        uri = uri.replace(code, char).replace(code.lower(), char)
    raw = body.encode() if isinstance(body, str) else body
    msg = method.upper().encode() + uri.encode() + raw + str(timestamp).encode()
    want = base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(want.encode(), signature.encode())


class SeenEvents:
    """The last ``size`` webhook eventIds (HubSpot may deliver an event more than once)."""

    def __init__(self, size: int = 100_000) -> None:
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        self.size = size

    def add(self, event_id: str) -> bool:
        """False if already seen."""
        if event_id in self._set:
            return False
        self._set.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self.size:
            self._set.discard(self._order.popleft())
        return True


class HubSpotWebhooks:
    """HubSpot's webhook receiver (:class:`accord.connectors.base.WebhookReceiver`): v3
    signatures, a JSON list of event objects per request, replays refused by eventId."""

    def __init__(self, conn: HubSpotConnector) -> None:
        self.conn = conn

    def verify(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        return self.conn.verify_webhook(method, url, body, headers)

    def parse(self, body: bytes) -> list[Mapping[str, Any]]:
        try:
            events = json.loads(body)
            # HubSpot sends a list of event objects; eventIds are numbers (stored up to 200 characters)
            if not isinstance(events, list) or not all(
                    isinstance(ev, dict) and len(str(ev.get("eventId", ""))) <= 200 for ev in events):
                raise ValueError("not a list of events")
        except RecursionError as e:  # nested deeper than the parser goes
            raise ValueError("nested too deeply") from e
        return events

    def changes(self, events: Sequence[Mapping[str, Any]],
                claim: Callable[[list[str]], Collection[str]]) -> WebhookChanges:
        # eventIds are remembered in the index, so a replay is refused across restarts too
        fresh = claim([str(ev["eventId"]) for ev in events if ev.get("eventId") is not None])
        keep = [ev for ev in events if ev.get("eventId") is None or str(ev["eventId"]) in fresh]
        out = self.conn.webhook_changes(keep, SeenEvents())  # SeenEvents drops repeats within this batch
        out.duplicates += len(events) - len(keep)
        return out


def webhook_changes(events: Iterable[Mapping[str, Any]], *, own_source_ids: Iterable[str] = (),
                    seen: SeenEvents | None = None, app_is_own: bool = True) -> WebhookChanges:
    """Turn a webhook batch into changed/deleted ids per object, deduped and echo-flagged.

    An event is an *echo* when its ``sourceId`` is Accord's own: one of ``own_source_ids``
    or, with ``app_is_own``, the receiving app's ``appId`` (Accord writes with the same
    private app that receives the webhooks). Echo-only ids are reported apart so the engine
    can skip them (it should still compare values: a user may have edited in between).
    """
    own = {str(s) for s in own_source_ids}
    out = WebhookChanges()
    seen = seen or SeenEvents()
    touched_by_others: set[tuple[str, str]] = set()
    for ev in events:
        if not seen.add(str(ev.get("eventId"))):
            out.duplicates += 1
            continue
        object, action = webhook_object(ev)
        if object is None or action not in ("creation", "propertyChange", "deletion", "privacyDeletion", "restore",
                                            "merge"):
            out.ignored += 1
            continue
        if action == "merge":
            # the record the merge made and the ones merged into it: reading the old ids by id
            # gives their moves (HubSpotConnector.read), so their pairs follow instead of deleting
            merge = {str(i) for i in (ev.get("newObjectId"), ev.get("primaryObjectId"), *(ev.get("mergedObjectIds") or []))
                     if i is not None}
            out.changed.setdefault(object, set()).update(merge)
            touched_by_others.update((object, i) for i in merge)
            continue
        oid = str(ev.get("objectId"))
        source = str(ev.get("sourceId", ""))
        echo = source in own or (app_is_own and ev.get("changeSource") == "INTEGRATION"
                                 and source == str(ev.get("appId")))
        if echo:
            out.echoes.setdefault(object, set()).add(oid)
            continue
        touched_by_others.add((object, oid))
        # a GDPR delete is gone for good (not even in the archived listing): only its event tells
        bucket = out.deleted if action in ("deletion", "privacyDeletion") else out.changed
        bucket.setdefault(object, set()).add(oid)
    for object, ids in out.echoes.items():
        ids -= {oid for o, oid in touched_by_others if o == object}
    out.echoes = {k: v for k, v in out.echoes.items() if v}
    return out


class HubSpotSettings(AppSettings):
    """One HubSpot account: a private app's token, or an OAuth app's client id and secret with the
    refresh token its installation got (docs/connectors/hubspot.md says which to choose)."""

    type: Literal["hubspot"]
    token: str | None = Field(default=None, min_length=1)  # private-app access token
    token_file: str | None = None  # a file holding it, re-read on a 401 (a rotated token)
    client_id: str | None = None  # OAuth app
    client_secret: str | None = None
    refresh_token: str | None = None
    token_url: str | None = None  # default: {base_url}/oauth/v1/token
    account: str | None = None  # which portal (hub id), as the Apps page shows it
    base_url: str = "https://api.hubapi.com"
    webhook_secret: str | None = None
    rate_limit: int = Field(default=190, gt=0, description="requests per 10 seconds")
    search_rate: float = Field(default=5.0, gt=0, description="search requests per second")
    search_lookback: float = 30.0
    # full scans read from both ends of the id range: list pages up, search pages down
    # (search has its own rate bucket); false: list pages only, e.g. if other tools use up search
    search_scan: bool = True
    # pages a full scan reads ahead of the sync, on a thread of its own, so a fresh rate-limit
    # window is spent at once (0: read on the sync's own loop, paced by its processing)
    read_ahead: int = Field(default=200, ge=0)
    app_id: str | None = None  # the private app whose webhook sourceId marks Accord's own writes
    developer_api_key: str | None = None  # the app's developer account key (event sync's timeline template)
    tombstones: bool = True  # read archived records to see deletes in incremental passes
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> HubSpotSettings:
        oauth = self.refresh_token or self.client_id or self.client_secret
        if (self.token or self.token_file) and oauth:
            raise ValueError("give either a private-app token or an OAuth app (client_id, client_secret, "
                             "refresh_token), not both")
        if self.token and self.token_file:
            raise ValueError("give token or token_file, not both")
        for name in ("client_id", "client_secret", "refresh_token"):
            if oauth and not getattr(self, name):
                raise setting_error("HubSpotSettings", name, "an OAuth app needs client_id, client_secret and "
                                    "refresh_token")
        if not (self.token or self.token_file or oauth):
            raise setting_error("HubSpotSettings", "token", "give a private-app token (token or token_file), or an "
                                "OAuth app's client_id, client_secret and refresh_token")
        return self

    def rate(self) -> int:
        """Requests per 10 s: as set, else an OAuth app's limit (110) or a private app's (190)."""
        if "rate_limit" in self.model_fields_set or not self.refresh_token:
            return self.rate_limit
        return RATE_TIERS["oauth"]


def from_config(name: str, app: Any) -> HubSpotConnector:
    """Build the connector from an ``apps:`` entry (:class:`HubSpotSettings`)."""
    return HubSpotConnector(
        name,
        token=getattr(app, "token", None),
        token_file=getattr(app, "token_file", None),
        client_id=getattr(app, "client_id", None),
        client_secret=getattr(app, "client_secret", None),
        refresh_token=getattr(app, "refresh_token", None),
        token_url=getattr(app, "token_url", None),
        base_url=getattr(app, "base_url", "https://api.hubapi.com"),
        webhook_secret=getattr(app, "webhook_secret", None),
        rate_limit=app.rate() if isinstance(app, HubSpotSettings) else getattr(app, "rate_limit", 190),
        search_rate=getattr(app, "search_rate", 5.0),
        lookback=getattr(app, "search_lookback", 30.0),
        search_scan=getattr(app, "search_scan", True),
        app_id=getattr(app, "app_id", None),
        developer_api_key=getattr(app, "developer_api_key", None),
        read_ahead=getattr(app, "read_ahead", 200),
        tombstones=getattr(app, "tombstones", True),
        timeout=getattr(app, "timeout", 30.0),
    )


API = "https://api.hubapi.com"
# what Accord reads and writes: contacts, companies, deals, their properties, lists and pipelines
SCOPES = ("oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read "
          "crm.objects.companies.write crm.objects.deals.read crm.objects.deals.write crm.schemas.contacts.read "
          "crm.schemas.companies.read crm.schemas.deals.read crm.lists.read")
# the other objects Accord can sync (tickets, products and line items, custom objects, activities,
# timeline events): optional, so an account whose tier lacks one still connects
OPTIONAL_SCOPES = ("tickets e-commerce crm.objects.custom.read crm.objects.custom.write crm.schemas.custom.read "
                   "sales-email-read timeline")


def connected(client: Client, token: dict[str, Any]) -> dict[str, Any]:
    """The ``apps:`` entry of an account connected through the install page."""
    out: dict[str, Any] = {"type": "hubspot", "client_id": client.client_id, "client_secret": client.client_secret,
                           "refresh_token": token["refresh_token"]}
    if client.base_url.rstrip("/") != API:
        out["base_url"] = client.base_url.rstrip("/")
    if token.get("hub_id"):
        out["account"] = f"Hub ID {token['hub_id']}"
    return out


def signs_in(app: HubSpotSettings) -> str:
    if app.refresh_token:
        return "OAuth app (refresh token)"
    return "private-app token" + (f" from {app.token_file}" if app.token_file else "")


VENDOR = Vendor(
    "hubspot", "HubSpot", HubSpotSettings, from_config,
    limits=lambda app: rate_limits(app.rate(), app.search_rate),
    sandbox=Sandbox("accord.sandbox.hubspot", "HubSpot sandbox on http://{host}:{port}  ({records} records per object; "
                    "OAuth app: client id accord-sandbox-client, secret accord-sandbox-secret)", expiring=True),
    capabilities=frozenset({WEBHOOKS, ASSOCIATIONS, LISTS, PIPELINES}),
    connect=OAuthApp(API, "https://app.hubspot.com/oauth/authorize", "/oauth/authorize", "/oauth/v1/token", SCOPES,
                     connected, optional_scope=OPTIONAL_SCOPES),
    paste=(Entry("token", "Private-app access token", secret=True, hint="Settings › Integrations › Private apps › "
                 "the app › Auth › Show token"),
           Entry("base_url", "API URL", required=False, default=API)),
    signs_in=signs_in,
)
