"""Salesforce connector: REST API (SOQL, sObject Collections, getDeleted) over async httpx.

Reading
  ``scan`` pages a SOQL query ordered by ``Id`` through ``nextRecordsUrl``. ``changes``
  first asks ``getDeleted`` for the deletes since the cursor (yielded as archived
  records; those a merge made, told by their ``MasterRecordId`` through one ``queryAll``
  per 200 deletes, as moves to the record that remains), then queries
  ``SystemModstamp >= cursor - overlap`` ordered by ``SystemModstamp, Id``. The overlap re-reads a few minutes before the cursor because
  a record's ``SystemModstamp`` is set when its transaction starts and a long transaction
  commits later; re-read records are harmless (the engine compares them with its base).
  With ``overlap=0`` the query continues strictly after the cursor's ``(stamp, Id)`` pair,
  the tie-break that makes equal timestamps of a mass update safe to resume. The cursor
  is ``"<ISO stamp>|<Id>"`` in server time (taken from the ``Date`` response header).
  ``getDeleted`` reaches back 15 days only: past that (or after the delete log was
  purged) :class:`ResyncRequired` tells the runner to do a full re-scan.

Writing
  Collections of 200 with ``allOrNone=false``: one rejected record never fails the rest.
  Salesforce's status codes become :class:`~accord.model.ErrorCategory` values with a hint.

Bulk API 2.0 (:mod:`accord.connectors.salesforce_bulk`)
  A full scan whose first REST page says the object has more than ``bulk_threshold`` records
  reads through a query job instead (that first page is the only REST call it spends); a create
  or update of more than ``bulk_write_threshold`` records at once goes through an ingest job.
  Below the thresholds, and for the change feed, the REST paths above stay. ``None`` (or 0)
  turns either off.

Limits
  Every response carries ``Sforce-Limit-Info: api-usage=used/max``; once the org's usage
  reaches ``api_budget`` × max, calls stop with :class:`~accord.model.BudgetExhausted`
  (the budget is org-wide usage, so it also leaves room for the org's other integrations).
  Requests go through :mod:`accord.connectors.http`: 5xx, time-outs and the
  concurrent-request limit are retried with exponential backoff and jitter; a create is
  never resent after a 5xx, a read time-out or a reset, since it may have been saved.
  ``rate_limit`` (requests per second) is shared by every connector of the org, and by every
  worker in distributed mode.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from accord import model
from accord.connectors.http import (
    OK,
    Answer,
    Http,
    HttpConnector,
    Limits,
    RetryPolicy,
    default_answer,
    outcome_unknown,
    retry_after,
)
from accord.connectors.limits import LOCAL, Limiter, RateLimit
from accord.connectors.oauth import (
    ClientCredentials,
    Credential,
    JwtBearer,
    RefreshToken,
    StaticToken,
    TokenAuth,
)
from accord.connectors.registry import ASSOCIATIONS, PIPELINES, Client, Entry, OAuthApp, Sandbox, Vendor
from accord.connectors.salesforce_bulk import Bulk, JobFailed
from accord.connectors.salesforce_bulk import typed as bulk_typed
from accord.connectors.settings import AppSettings, Duration, Verify, setting_error
from accord.model import (
    AuthError,
    BudgetExhausted,
    ConnectorError,
    ErrorCategory,
    FieldSchema,
    FieldType,
    ObjectSchema,
    Option,
    Page,
    Pipeline,
    RateLimited,
    Record,
    Stage,
    TransientError,
    Value,
    WriteError,
    WriteOutcomeUnknown,
    WriteResult,
)

_TYPES: dict[str, FieldType] = {
    **dict.fromkeys(("string", "email", "phone", "url", "textarea", "id", "reference", "combobox",
                     "encryptedstring"), FieldType.TEXT),
    **dict.fromkeys(("picklist", "multipicklist"), FieldType.ENUM),
    **dict.fromkeys(("double", "currency", "percent", "int", "long"), FieldType.NUMBER),
    "date": FieldType.DATE,
    "datetime": FieldType.DATETIME,
    "boolean": FieldType.BOOL,
}
_SYSTEM = ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate")
# which lookup links two objects: (from, to) -> (object holding the reference, field); each pair both ways
_LOOKUPS = (("Contact", "AccountId", "Account"), ("Opportunity", "AccountId", "Account"),
            ("Case", "AccountId", "Account"), ("Case", "ContactId", "Contact"),
            ("OpportunityLineItem", "OpportunityId", "Opportunity"),
            ("OpportunityLineItem", "Product2Id", "Product2"))
# required lookups that are set on create and never updateable: a new record carries them, and
# moving the record to another parent is impossible (the association write fails with a hint).
# An opportunity product names its product (Salesforce takes the product's active entry in the
# opportunity's price book, else in the standard one): Product2Id is as create-only as OpportunityId.
_CREATE_ONLY = {("OpportunityLineItem", "Opportunity"): "OpportunityId",
                ("OpportunityLineItem", "Product2"): "Product2Id"}
# A product's price lives in price book entries, not on Product2. The connector shows the
# product's entry in the standard price book as a field of the product: read from that entry,
# and written to it (created, looked up first, when the product has none) — which is also what
# makes a product Accord creates usable on opportunities. Its edits in Salesforce do not move the
# product's SystemModstamp, so they are seen by full passes only.
STANDARD_PRICE = "StandardPrice"
_REFERENCES = {**{(child, parent): (child, field) for child, field, parent in _LOOKUPS},
               **{(parent, child): (child, field) for child, field, parent in _LOOKUPS}}
# Contact/Lead routing (accord.config.ROUTED): one object name for a sync with Contacts and Leads;
# ``Contact+Lead>Contact`` creates new records as Contacts, ``Contact+Lead`` (``>Lead``) as Leads
ROUTED = "Contact+Lead"
_CONVERSION = ("IsConverted", "ConvertedContactId")
# on a record a merge deleted (Account, Contact, Lead), the id of the record that remains: the
# merged record lives on there, and is read as a move (Record.moved_to), not as a delete
MASTER = "MasterRecordId"
NOT_PROVIDED = "[not provided]"  # Lead.Company is required; HubSpot's own integration writes this when blank


def routed_create_as(object: str) -> str | None:
    """What a routed object creates records as (``Lead``, ``Contact``); None: not a routed object."""
    base, _, new_as = object.partition(">")
    if base != ROUTED:
        return None
    return new_as or "Lead"


def routed_part(id: str) -> str | None:
    """Which object an id of a routed sync belongs to, by Salesforce's key prefix."""
    return "Contact" if id.startswith("003") else "Lead" if id.startswith("00Q") else None


_IN_CHUNK = 200  # ids per SOQL IN (…): keeps the URL well under Salesforce's 16 KB limit
COLLECTION = 200  # sObject Collections take at most 200 records
BULK_BATCH = 50_000  # records per write call the engine may hand over when ingest jobs take them (~10 MB of CSV)
DELETED_WINDOW = timedelta(days=15)
log = logging.getLogger(__name__)


class ResyncRequired(model.ResyncRequired):
    """``INVALID_REPLICATION_DATE``: getDeleted's 15-day window was exceeded or its log purged."""


# -- values ---------------------------------------------------------------------------------


def iso(d: datetime) -> str:
    return d.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# a UTC timestamp with milliseconds, as Salesforce sends every one (REST "+0000", CSV "Z")
_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|\+0000|\+00:00)")


def norm_ts(s: str) -> str:
    """``iso(parse_ts(s))``; the UTC forms Salesforce sends are rewritten without being parsed
    (a record has at least two timestamps: this runs for every record read)."""
    if _UTC_MS.fullmatch(s):
        return s[:23] + "Z"
    return iso(parse_ts(s))


def parse_ts(s: str) -> datetime:
    s = s.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", s):  # Salesforce's "+0000"
        s = s[:-2] + ":" + s[-2:]
    d = datetime.fromisoformat(s)
    return d.astimezone(UTC) if d.tzinfo else d.replace(tzinfo=UTC)


def soql_datetime(d: datetime) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(sf_type: str, v: Any) -> Value:
    """Wire value → canonical value (see accord.model)."""
    if v is None or v == "":
        return None
    if sf_type == "datetime":
        return norm_ts(v)
    if sf_type in ("double", "currency", "percent", "int", "long") and isinstance(v, int | float):
        return int(v) if float(v).is_integer() else float(v)
    if sf_type == "multipicklist":
        return [x for x in str(v).split(";") if x]
    return v  # str, bool, 'YYYY-MM-DD'


def _cell_converter(sf_type: str) -> Callable[[str], Value] | None:
    """A non-empty Bulk API CSV cell of ``sf_type`` → its canonical value (``canonical(sf_type,
    typed(sf_type, cell))``); None: the cell itself (text, picklists, ids, dates)."""
    if sf_type == "datetime":
        return norm_ts
    if sf_type in ("double", "currency", "percent", "int", "long", "boolean", "multipicklist"):
        return lambda v: canonical(sf_type, bulk_typed(sf_type, v))
    return None


def to_wire(sf_type: str | None, v: Value) -> Any:
    """Canonical value → what the REST API accepts (``None`` clears the field)."""
    if v is None or v == "" or v == []:
        return None
    if sf_type == "datetime":
        return iso(parse_ts(str(v)))
    if sf_type == "date":
        return str(v)[:10]
    if sf_type in ("double", "currency", "percent", "int", "long") and isinstance(v, str):
        f = float(v)
        return int(f) if f.is_integer() else f
    if sf_type == "multipicklist" and isinstance(v, list):
        return ";".join(str(x) for x in v)
    if sf_type == "boolean" and isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes", "on")
    return v


_SOQL_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def soql_literal(sf_type: str | None, v: Value) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if sf_type in ("double", "currency", "percent", "int", "long"):
        return str(to_wire(sf_type, v))
    if sf_type == "datetime":
        return soql_datetime(parse_ts(str(v)))
    if sf_type == "date":
        return str(v)[:10]
    escaped = str(v).translate(_SOQL_ESCAPES)
    return f"'{escaped}'"


# -- errors ---------------------------------------------------------------------------------

_CATEGORIES: dict[str, tuple[ErrorCategory, str]] = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (ErrorCategory.CUSTOM_CODE, "A validation rule in Salesforce rejected the "
                                          "record: correct the value, or ask your Salesforce admin to adjust the rule."),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": (ErrorCategory.CUSTOM_CODE, "An Apex trigger, flow or process in "
                                             "Salesforce failed on this record; see the message for its error."),
    "DUPLICATES_DETECTED": (ErrorCategory.DUPLICATES, "A Salesforce duplicate rule matched an existing record: merge "
                            "the two, or let the integration user save duplicates in the rule."),
    "DUPLICATE_VALUE": (ErrorCategory.DUPLICATES, "Another record already has this value in a unique field."),
    "INVALID_FIELD_FOR_INSERT_UPDATE": (ErrorCategory.PERMISSIONS, "The integration user cannot edit this field: give "
                                        "its profile or permission set edit access (field-level security), or remove "
                                        "the mapping."),
    "INSUFFICIENT_ACCESS": (ErrorCategory.PERMISSIONS, "The integration user lacks access to this record or object."),
    "INSUFFICIENT_ACCESS_OR_READONLY": (ErrorCategory.PERMISSIONS, "The integration user lacks edit access to this "
                                        "record (sharing rules or ownership)."),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (ErrorCategory.PERMISSIONS, "The integration user cannot access "
                                                      "a related record (e.g. the account) this record points to."),
    "REQUIRED_FIELD_MISSING": (ErrorCategory.VALIDATION, "Salesforce requires this field: map a field to it or set a "
                               "constant value for records created by Accord."),
    "INVALID_EMAIL_ADDRESS": (ErrorCategory.VALIDATION, "Salesforce rejects this email address: correct it in the "
                              "source app."),
    "STRING_TOO_LONG": (ErrorCategory.VALIDATION, "The value is longer than the Salesforce field allows."),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (ErrorCategory.VALIDATION, "The value is not one of the picklist's "
                                                "values: add a value mapping or the value to the picklist."),
    "JSON_PARSER_ERROR": (ErrorCategory.VALIDATION, "A value does not have the field's type."),
    "MALFORMED_ID": (ErrorCategory.VALIDATION, "A value is not a valid Salesforce id."),
    "NUMBER_OUTSIDE_VALID_RANGE": (ErrorCategory.VALIDATION, "The number is out of the field's range."),
    "FIELD_INTEGRITY_EXCEPTION": (ErrorCategory.VALIDATION, "The value conflicts with another field of the record."),
    "INVALID_FIELD": (ErrorCategory.VALIDATION, "The field does not exist on this object (was it deleted or renamed?)."),
    "ENTITY_IS_DELETED": (ErrorCategory.DELETED, "The record was deleted in Salesforce; resync to recreate it."),
    "INVALID_CROSS_REFERENCE_KEY": (ErrorCategory.NOT_FOUND, "The record does not exist in Salesforce."),
    "NOT_FOUND": (ErrorCategory.NOT_FOUND, "The record does not exist in Salesforce."),
    # a Lead converted between our read and our write: the next pass follows it to its Contact
    "CANNOT_UPDATE_CONVERTED_LEAD": (ErrorCategory.TRANSIENT, "The Lead was converted in Salesforce: the next pass "
                                     "moves the pair to the converted Contact and writes there."),
    "UNABLE_TO_LOCK_ROW": (ErrorCategory.TRANSIENT, "Another process held the record; it will be retried."),
    "UNKNOWN_EXCEPTION": (ErrorCategory.TRANSIENT, "Salesforce had an internal error; it will be retried."),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": (ErrorCategory.TRANSIENT, "Rolled back with another record of the batch."),
    "REQUEST_LIMIT_EXCEEDED": (ErrorCategory.RATE_LIMIT, "Salesforce's API limit was reached; it will be retried."),
}


def _sentence(e: Mapping[str, Any]) -> str:
    """One Salesforce error as a sentence naming the field and the value, where the code tells them."""
    code, message = str(e.get("statusCode") or e.get("errorCode") or ""), str(e.get("message", ""))
    fields = [str(f) for f in e.get("fields") or []]
    if code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" and fields:
        value = message.rsplit(": ", 1)[-1] if ": " in message else ""
        return (f"Salesforce refused {value!r} for the field {fields[0]}: it is not one of the picklist's values"
                if value else f"Salesforce needs one of the picklist's values in the field {fields[0]}")
    if code == "REQUIRED_FIELD_MISSING" and fields:
        return f"Salesforce needs a value in {', '.join(fields)} (a required field)"
    if code == "INVALID_EMAIL_ADDRESS" and fields and ": " in message:  # "Email: invalid email address: x@y"
        return f"Salesforce refused {message.rsplit(': ', 1)[-1]!r} for the field {fields[0]}: it is not a valid email address"
    return message


def write_error(errors: Sequence[Mapping[str, Any]]) -> WriteError:
    """Salesforce error objects (``statusCode`` in collections, ``errorCode`` elsewhere) → one WriteError."""
    first = errors[0] if errors else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN")
    category, hint = _CATEGORIES.get(code, (ErrorCategory.UNKNOWN, ""))
    fields = [f for e in errors for f in (e.get("fields") or [])]
    if code == "INVALID_CROSS_REFERENCE_KEY" and fields:
        # a lookup (e.g. AccountId) points at a record that doesn't exist (yet)
        category, hint = ErrorCategory.ASSOCIATIONS, "The related record does not exist in Salesforce (yet)."
    elif code.startswith("INSUFFICIENT_ACCESS") and code not in _CATEGORIES:
        category, hint = _CATEGORIES["INSUFFICIENT_ACCESS"]
    message = "; ".join(_sentence(e) for e in errors) or code
    if code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" and fields:
        hint = (f"Add the value to the picklist {fields[0]} in Salesforce (Setup › Object Manager), or give it a "
                "counterpart in the mapping's value map (the dashboard's mapping step, or values in accord.yaml).")
    elif fields and category in (ErrorCategory.PERMISSIONS, ErrorCategory.VALIDATION):
        hint = f"{hint} Fields: {', '.join(dict.fromkeys(fields))}."
    return WriteError(category=category, message=message, hint=hint, code=code)


def _first(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
        item = body[0] if isinstance(body, list) and body else body
        return str(item.get("errorCode", "")), str(item.get("message", ""))
    except (ValueError, AttributeError, KeyError):
        return "", resp.text[:200]


# -- connector ------------------------------------------------------------------------------


LOGIN = "https://login.salesforce.com"
SESSIONS = "a new session (e.g. `sf org display`), or better one of the OAuth flows (docs/connectors/salesforce.md)"


def salesforce_credential(app: str, instance_url: str, *, access_token: str | None = None,
                          token_file: str | None = None, client_id: str | None = None,
                          client_secret: str | None = None, refresh_token: str | None = None,
                          username: str | None = None, private_key: str | None = None,
                          private_key_file: str | None = None, login_url: str | None = None) -> Credential:
    """The app's credential: a session id as is, or one of the connected app's OAuth flows —
    refresh token (the dashboard's Connect), JWT bearer (a headless server) or client credentials."""
    if access_token or token_file:
        return StaticToken(app, "Salesforce", access_token, token_file, setting="the access token (session id)",
                           where=SESSIONS)
    if not client_id:
        raise ValueError("give an access_token, or a connected app's client_id with refresh_token, "
                         "username and private_key, or client_secret")
    if refresh_token:
        url = f"{(login_url or LOGIN).rstrip('/')}/services/oauth2/token"
        return RefreshToken(app, "Salesforce", url, client_id, client_secret, refresh_token)
    if private_key or private_key_file:
        if not username:
            raise ValueError("the JWT bearer flow needs the username of the integration user")
        login = (login_url or LOGIN).rstrip("/")
        return JwtBearer(app, "Salesforce", f"{login}/services/oauth2/token", client_id, username, login,
                         private_key, private_key_file)
    if client_secret:  # client credentials: only the org's own (My Domain) login URL takes it
        url = f"{(login_url or instance_url).rstrip('/')}/services/oauth2/token"
        return ClientCredentials(app, "Salesforce", url, client_id, client_secret)
    raise ValueError("a connected app needs a refresh_token, a private_key (JWT bearer) or a client_secret "
                     "(client credentials)")


class SalesforceConnector(HttpConnector):
    vendor = "salesforce"
    batch_size = COLLECTION  # BULK_BATCH when bulk writes are on (an ingest job takes them all)

    def __init__(
        self,
        name: str,
        instance_url: str,
        access_token: str | None = None,
        *,
        token_file: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        username: str | None = None,
        private_key: str | None = None,
        private_key_file: str | None = None,
        login_url: str | None = None,
        api_version: str = "v62.0",
        api_budget: float = 0.5,
        verify: bool | str = True,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        overlap: float = 300.0,
        page_size: int = 2000,
        rate_limit: float | None = None,
        bulk_threshold: int | None = 10_000,
        bulk_write_threshold: int | None = 2_000,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.instance_url = instance_url.rstrip("/")
        self.auth = TokenAuth(salesforce_credential(
            name, self.instance_url, access_token=access_token, token_file=token_file, client_id=client_id,
            client_secret=client_secret, refresh_token=refresh_token, username=username, private_key=private_key,
            private_key_file=private_key_file, login_url=login_url))
        # names the credential in limiter keys (digested): the org's limits are per org and user
        self.access_token = access_token or refresh_token or token_file or f"{client_id}:{username or ''}"
        self.api_budget = api_budget
        self.overlap = timedelta(seconds=overlap)
        self.page_size = page_size
        self.rate_limit = rate_limit  # requests per second, every connector (and worker) of the org together
        # Bulk API 2.0 above these sizes (records in the object; records in one write call); None/0: never
        self.bulk_threshold = bulk_threshold or None
        self.bulk_write_threshold = bulk_write_threshold or None
        if self.bulk_write_threshold:
            self.batch_size = BULK_BATCH
        self.bulk = Bulk(self, write_error)
        self.api_used: int | None = None  # org-wide usage and limit from Sforce-Limit-Info
        self.api_limit: int | None = None
        self.budget_recheck = 300.0  # seconds between usage checks once the budget is spent
        self._usage_seen = 0.0
        self._skew: timedelta | None = None  # server clock minus ours, from the Date header
        self._schemas: dict[str, dict[str, Any]] = {}
        self._standard_book: str | None = None  # the org's standard price book (Pricebook2 Id)
        self.http = Http(name, base_url=self.instance_url, auth=self.auth, timeout=timeout, app=name,
                         limits=Limits(), retry=RetryPolicy(max_retries, backoff), classify=self._answer,
                         verify=verify, headers={"Accept": "application/json"}, transport=transport,
                         before=self._check_budget, observe=self._note)
        if rate_limit:
            self.use_limiters(LOCAL)

    # -- limits -----------------------------------------------------------------------
    def rate_limits(self) -> list[RateLimit]:
        return [RateLimit("requests", self.rate_limit, 1.0, smooth=True)] if self.rate_limit else []

    def credential(self) -> str:
        return hashlib.sha256(f"{self.instance_url}\x00{self.access_token}".encode()).hexdigest()[:16]

    @property
    def limiter(self) -> Limiter | None:
        """What paces this org's requests (acquire before each, release after); None: only the API budget."""
        limits = self.http.limits
        return limits.window if isinstance(limits, Limits) else None

    @limiter.setter
    def limiter(self, value: Limiter | None) -> None:
        self.http.limits = Limits(value, self.http.limits.calls)

    @property
    def retries(self) -> int:
        return self.http.retries

    # -- HTTP -------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return path if path.startswith("/services/") else f"/services/data/{self.version}/{path}"

    def _note(self, resp: httpx.Response) -> None:
        m = re.search(r"api-usage=(\d+)/(\d+)", resp.headers.get("sforce-limit-info", ""))
        if m:
            self.api_used, self.api_limit = int(m.group(1)), int(m.group(2))
            self._usage_seen = time.monotonic()
        dates = resp.headers.get_list("date")
        if dates:  # the last Date header is the app's when a server adds its own as well
            with contextlib.suppress(TypeError, ValueError):
                self._skew = parsedate_to_datetime(dates[-1]) - datetime.now(UTC)

    def _over_budget(self) -> bool:
        return bool(self.api_limit and self.api_used is not None
                    and self.api_used >= int(self.api_budget * self.api_limit))

    async def _check_budget(self) -> None:
        if not self._over_budget():
            return
        # Usage is a rolling 24 hours: now and then spend one call to see whether it went down,
        # otherwise a long-running service would stay stopped after the first exhaustion.
        if time.monotonic() - self._usage_seen > self.budget_recheck:
            self._usage_seen = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                self._note(await self.http.once("GET", self._url("limits"), "limits"))
        if self._over_budget():
            raise BudgetExhausted(
                f"{self.name}: {self.api_used} of {self.api_limit} daily Salesforce API calls used; Accord may use "
                f"up to {self.api_budget:.0%} (api_budget)"
            )

    def _answer(self, resp: httpx.Response) -> Answer:
        """What a Salesforce answer means for the HTTP layer (connectors/http.py)."""
        status = resp.status_code
        if status < 400:
            return OK
        code, message = _first(resp)
        problem = f"HTTP {status} {code}: {message}"
        if status == 401:
            return Answer(error=AuthError(f"{self.name}: {code or 'unauthorized'}: {message}"))
        if code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in message:
            return Answer(error=BudgetExhausted(f"{self.name}: the org's daily API limit is exhausted ({message})"))
        if code == "REQUEST_LIMIT_EXCEEDED":  # concurrent long-running requests: wait and retry
            wait = retry_after(resp)
            return Answer(retry=True, limited=True, wait=wait, problem=problem,
                          error=RateLimited(f"{self.name}: {message}", retry_after=wait))
        if status >= 500:
            return Answer(retry=True, carried_out=True, wait=retry_after(resp), problem=problem,
                          error=TransientError(f"{self.name}: {problem}"))
        return default_answer(resp, self.name, message)

    async def _request(self, method: str, path: str, *, idempotent: bool = True, **kw: Any) -> httpx.Response:
        """One API call through the HTTP layer; returns 2xx/3xx/4xx responses, raises for the rest.
        A create is not ``idempotent``: never resent when its outcome is unknown."""
        url = self._url(path)
        return await self.http.send(method, url, _kind(url), repeatable=idempotent, **kw)

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = await self._request(method, path, **kw)
        if resp.status_code >= 400:
            code, message = _first(resp)
            if code == "INVALID_REPLICATION_DATE":
                raise ResyncRequired(f"{self.name}: {message}; a full re-scan is needed to find deletes")
            raise ConnectorError(f"{self.name}: HTTP {resp.status_code} {code}: {message}")
        return resp.json() if resp.content else None

    async def _server_now(self) -> datetime:
        """The org's clock (cursors are in server time): the version list needs no session and
        costs no API call; we only want its ``Date`` header."""
        await self._request("GET", "/services/data/")
        return (datetime.now(UTC) + (self._skew or timedelta(0))).replace(microsecond=0)

    async def _soql(self, soql: str, *, include_deleted: bool = False) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of a SOQL query, following ``nextRecordsUrl``."""
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        body = await self._json("GET", "queryAll" if include_deleted else "query", params={"q": soql}, headers=headers)
        async for rows in self._more(body):
            yield rows

    async def _more(self, body: Any) -> AsyncIterator[list[dict[str, Any]]]:
        """The rows of a query's first page ``body``, then of the pages after it."""
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        while True:
            yield list(body.get("records", []))
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            body = await self._json("GET", body["nextRecordsUrl"], headers=headers)

    # -- metadata ---------------------------------------------------------------------
    async def _fields(self, object: str) -> dict[str, Any]:
        if object not in self._schemas:
            d = await self._json("GET", f"sobjects/{object}/describe")
            self._schemas[object] = {f["name"]: f for f in d["fields"]}
        return self._schemas[object]

    async def list_objects(self) -> list[Option]:
        """The org's objects a sync can read and write (describeGlobal), custom ones included."""
        body = await self._json("GET", "sobjects")
        # Contact/Lead routing: Contacts and Leads as one object of a sync with HubSpot contacts
        routed = [Option(ROUTED, "Contacts and Leads")] if {o.get("name") for o in body.get("sobjects", [])} >= {
            "Contact", "Lead"} else []
        return routed + sorted((Option(str(o["name"]), str(o.get("label") or o["name"])) for o in body.get("sobjects", [])
                       if o.get("queryable") and o.get("createable") and o.get("updateable")
                       and not o.get("customSetting") and not o.get("deprecatedAndHidden")),
                      key=lambda o: o.label.casefold())

    async def describe(self, object: str) -> ObjectSchema:
        if routed_create_as(object) is not None:
            return await self._routed_describe(object)
        out: dict[str, FieldSchema] = {}
        for name, f in (await self._fields(object)).items():
            ftype = _TYPES.get(f["type"])
            if ftype is None:  # compound address/location fields, base64 …: not syncable
                continue
            out[name] = FieldSchema(
                name=name,
                type=ftype,
                label=f.get("label", name),
                read_only=not f.get("updateable", False),
                calculated=bool(f.get("calculated", False)),
                required=not f.get("nillable", True) and bool(f.get("createable")) and not f.get("defaultedOnCreate"),
                options=tuple(Option(p["value"], p.get("label") or p["value"])
                              for p in f.get("picklistValues") or [] if p.get("active", True)),
            )
        if object == "Product2":
            out[STANDARD_PRICE] = FieldSchema(name=STANDARD_PRICE, type=FieldType.NUMBER,
                                              label="Standard price (the standard price book's entry)")
        return ObjectSchema(object, out)

    async def account(self) -> str | None:
        """The org of the session, from its token answer's identity URL (no call of its own);
        None for a session id given as is (``access_token``), which comes without one."""
        token = self.auth.token
        org = org_of(token.extra.get("id")) if token is not None else None
        return f"Salesforce org {org}" if org else None

    async def check(self) -> None:
        resp = await self._request("GET", "limits")
        if resp.status_code >= 400:
            code, message = _first(resp)
            raise ConnectorError(f"{self.name}: HTTP {resp.status_code} {code}: {message}")

    # -- reading ----------------------------------------------------------------------
    async def _select(self, object: str, fields: Sequence[str], extra: Iterable[str] = ()) -> tuple[str, dict[str, Any]]:
        schema = await self._fields(object)
        # a field that vanished from the schema is left out (the engine marks its mapping broken)
        names = list(dict.fromkeys([*_SYSTEM, *extra, *(f for f in fields if f in schema)]))
        return ", ".join(names), schema

    def _record(self, raw: Mapping[str, Any], fields: Sequence[str], schema: Mapping[str, Any]) -> Record:
        updated = raw.get("LastModifiedDate")
        created = raw.get("CreatedDate")
        if raw.get("IsDeleted") and raw.get(MASTER):  # merged into another record
            return Record(str(raw["Id"]), {}, norm_ts(updated) if updated else None,
                          norm_ts(created) if created else None, moved_to=str(raw[MASTER]))
        props = {f: canonical(schema[f]["type"], raw.get(f)) for f in fields if f in schema}
        return Record(
            id=str(raw["Id"]),
            properties=props,
            updated_at=norm_ts(updated) if updated else None,
            created_at=norm_ts(created) if created else None,
            archived=bool(raw.get("IsDeleted", False)),
        )

    def _csv_decoder(self, header: Sequence[str], fields: Sequence[str],
                     schema: Mapping[str, Any]) -> Callable[[Sequence[str]], Record]:
        """A Bulk API CSV row (cells in ``header``'s order) → the Record ``_record`` makes of the
        same row read through REST (salesforce_bulk.typed, then canonical): columns and
        converters are looked up once per result page, not per cell."""
        col = {n: i for i, n in enumerate(header)}
        # per field: its cell, and None for a text-like type (an empty cell is null) or its converter
        conv = [(f, col[f], _cell_converter(str(schema[f]["type"]))) for f in fields if f in schema and f in col]
        absent = [f for f in fields if f in schema and f not in col]
        i_id, i_upd, i_cre = col["Id"], col.get("LastModifiedDate"), col.get("CreatedDate")
        i_del, i_master = col.get("IsDeleted"), col.get(MASTER)

        def decode(r: Sequence[str]) -> Record:
            props: dict[str, Value] = {f: (r[i] or None) if fn is None else fn(r[i]) if r[i] else None
                                       for f, i, fn in conv}
            for f in absent:
                props[f] = None
            upd = r[i_upd] if i_upd is not None else ""
            cre = r[i_cre] if i_cre is not None else ""
            archived = i_del is not None and r[i_del].lower() == "true"
            if archived and i_master is not None and r[i_master]:  # merged into another record
                return Record(r[i_id], {}, norm_ts(upd) if upd else None, norm_ts(cre) if cre else None,
                              moved_to=r[i_master])
            return Record(r[i_id], props, norm_ts(upd) if upd else None, norm_ts(cre) if cre else None,
                          archived=archived)

        return decode

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        if routed_create_as(object) is not None:
            async for page in self._routed_scan(fields, None):
                yield page
            return
        async for page in self._scan(object, fields, None):
            yield await self._priced_page(object, fields, page)

    async def scan_from(self, object: str, fields: Sequence[str], after: str) -> AsyncIterator[Page]:  # type: ignore[override]
        if routed_create_as(object) is not None:
            async for page in self._routed_scan(fields, after):
                yield page
            return
        async for page in self._scan_from(object, fields, after):
            yield await self._priced_page(object, fields, page)

    async def _scan_from(self, object: str, fields: Sequence[str], after: str,
                         cond: str | None = None) -> AsyncIterator[Page]:
        if after.startswith("bulk:"):
            # a query job's results are kept for days: read on from the page after the cursor's
            select, schema = await self._select(object, fields)
            _, job_id, locator = after.split(":", 2)
            if locator == "null":
                return
            try:
                async for page in self.bulk.scan(object, select, fields, schema, job_id=job_id, locator=locator):
                    yield page
                return
            except LookupError:  # the job is gone: the whole scan again (always correct, re-reads)
                async for page in self._scan(object, fields, None, cond):
                    yield page
                return
        # a query locator expires and belongs to one session: resume by Id instead
        async for page in self._scan(object, fields, after, cond):
            yield page

    async def _scan(self, object: str, fields: Sequence[str], after: str | None,
                    cond: str | None = None) -> AsyncIterator[Page]:
        """The records by Id (after ``after``; ``cond``: a SOQL condition they meet): REST query pages, or,
        when the first page says there are more than ``bulk_threshold``, that page and then a query job
        for the records after it."""
        select, schema = await self._select(object, fields)
        conds = [c for c in (cond, f"Id > {soql_literal('id', after)}" if after else None) if c]
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        first = await self._json("GET", "query", params={"q": f"SELECT {select} FROM {object}{where} ORDER BY Id"},
                                 headers=headers)
        rows = list(first.get("records") or [])
        if (self.bulk_threshold and int(first.get("totalSize") or 0) > self.bulk_threshold and rows
                and not first.get("done", True)):
            # a big object: the rest in 50,000-record pages of a query job, not 2,000-record REST pages
            last = str(rows[-1]["Id"])
            yield Page([self._record(r, fields, schema) for r in rows], cursor=last)
            rest = " AND ".join(c for c in (cond, f"Id > {soql_literal('id', last)}") if c)
            async for page in self.bulk.scan(object, select, fields, schema, where=rest):
                yield page
            return
        async for rows in self._more(first):
            if rows:
                yield Page([self._record(r, fields, schema) for r in rows], cursor=str(rows[-1]["Id"]))

    async def change_cursor(self, object: str) -> str:
        now = f"{iso(await self._server_now())}|"
        return f"{now}#{now}" if routed_create_as(object) is not None else now

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        if routed_create_as(object) is not None:
            async for page in self._routed_changes(cursor, fields):
                yield page
            return
        async for page in self._changes(object, cursor, fields):
            yield await self._priced_page(object, fields, page)

    async def _changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        stamp_s, _, last_id = cursor.partition("|")
        since = parse_ts(stamp_s)
        select, schema = await self._select(object, fields)
        # 1. deletes, first: a page cursor persisted later in this pass must not skip them.
        now = await self._server_now()
        start = (since - self.overlap).replace(second=0, microsecond=0)  # getDeleted ignores seconds
        start = min(start, now - timedelta(minutes=1))  # and wants a window of a minute or more
        window = {"start": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "end": now.strftime("%Y-%m-%dT%H:%M:%S+00:00")}
        deleted = await self._json("GET", f"sobjects/{object}/deleted/", params=window)
        covered = parse_ts(deleted["latestDateCovered"]) if deleted.get("latestDateCovered") else now
        gone = [Record(id=d["id"], properties={}, updated_at=iso(parse_ts(d["deletedDate"])), archived=True)
                for d in deleted.get("deletedRecords", [])]
        if gone and MASTER in schema:
            gone = await self._merged(object, gone)
        if gone:
            yield Page(gone, cursor=cursor)
        # 2. creates and updates, in (SystemModstamp, Id) order
        t = soql_datetime(since)
        if self.overlap:
            where = f"SystemModstamp >= {soql_datetime(since - self.overlap)}"
        elif last_id:  # resume strictly after the last (stamp, Id) pair handled
            where = f"(SystemModstamp > {t} OR (SystemModstamp = {t} AND Id > {soql_literal('id', last_id)}))"
        else:
            where = f"SystemModstamp >= {t}"
        soql = f"SELECT {select} FROM {object} WHERE {where} ORDER BY SystemModstamp, Id"
        mark = (since, last_id)
        async for rows in self._soql(soql):
            if not rows:
                continue
            last = rows[-1]
            mark = max(mark, (parse_ts(last["SystemModstamp"]), str(last["Id"])))
            yield Page([self._record(r, fields, schema) for r in rows], cursor=f"{iso(mark[0])}|{mark[1]}")
        # 3. the pass is complete up to the moment getDeleted covered (never backwards)
        end = max(min(now, covered), since)
        yield Page([], cursor=f"{iso(end)}|" if end > since else f"{iso(mark[0])}|{mark[1]}")

    async def _merged(self, object: str, gone: list[Record]) -> list[Record]:
        """Deletes as getDeleted lists them (ids only), those a merge made as moves to the record that
        remains: queryAll finds their MasterRecordId (one call per chunk of deletes)."""
        masters: dict[str, str] = {}
        for i in range(0, len(gone), _IN_CHUNK):
            chunk = ", ".join(soql_literal("id", r.id) for r in gone[i : i + _IN_CHUNK])
            async for rows in self._soql(f"SELECT Id, {MASTER} FROM {object} WHERE Id IN ({chunk})",
                                         include_deleted=True):
                masters.update({str(r["Id"]): str(r[MASTER]) for r in rows if r.get(MASTER)})
        return [Record(r.id, {}, r.updated_at, moved_to=masters[r.id]) if r.id in masters else r for r in gone]

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        if routed_create_as(object) is not None:
            contacts = [i for i in ids if routed_part(i) == "Contact"]
            leads = [i for i in ids if routed_part(i) == "Lead"]
            found = await self.read("Contact", contacts, fields) if contacts else []
            if leads:  # a converted Lead reads as a move to its Contact
                found += [_lead(r) for r in await self.read("Lead", leads, [*fields, *_CONVERSION])]
            return found
        # a deleted row's MasterRecordId tells a merge (a move) from a delete
        extra = ("IsDeleted", MASTER) if MASTER in await self._fields(object) else ("IsDeleted",)
        select, schema = await self._select(object, fields, extra)
        out: list[Record] = []
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ", ".join(soql_literal("id", x) for x in ids[i : i + _IN_CHUNK])
            async for rows in self._soql(f"SELECT {select} FROM {object} WHERE Id IN ({chunk})", include_deleted=True):
                out.extend(self._record(r, fields, schema) for r in rows)
        return await self._priced(object, fields, out)

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        if routed_create_as(object) is not None:
            # Contacts first: a Contact with the key pairs before a Lead with it; converted Leads are no match
            leads = [_lead(r) for r in await self.find("Lead", field, values, [*fields, *_CONVERSION])]
            return await self.find("Contact", field, values, fields) + [r for r in leads if r.moved_to is None]
        select, schema = await self._select(object, fields)
        if field not in schema or not values:
            return []
        ftype = schema[field]["type"]
        out: list[Record] = []
        for i in range(0, len(values), _IN_CHUNK):
            chunk = ", ".join(soql_literal(ftype, v) for v in values[i : i + _IN_CHUNK])
            async for rows in self._soql(f"SELECT {select} FROM {object} WHERE {field} IN ({chunk}) ORDER BY Id"):
                out.extend(self._record(r, fields, schema) for r in rows)
        return await self._priced(object, fields, out)

    # -- a product's standard price (STANDARD_PRICE) ----------------------------------------
    async def _standard_pricebook(self) -> str:
        if self._standard_book is None:
            found = [str(r["Id"]) async for rows in self._soql("SELECT Id FROM Pricebook2 WHERE IsStandard = true")
                     for r in rows]
            if not found:
                raise ConnectorError(f"{self.name}: the org has no standard price book")
            self._standard_book = found[0]
        return self._standard_book

    async def _standard_entries(self, products: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The standard price book's entry of each product that has one."""
        book = soql_literal("id", await self._standard_pricebook())
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(products), _IN_CHUNK):
            chunk = ", ".join(soql_literal("id", x) for x in products[i : i + _IN_CHUNK])
            async for rows in self._soql(f"SELECT Id, Product2Id, UnitPrice, IsActive FROM PricebookEntry "
                                         f"WHERE Pricebook2Id = {book} AND Product2Id IN ({chunk})"):
                out.update({str(r["Product2Id"]): r for r in rows})
        return out

    async def _priced(self, object: str, fields: Sequence[str], records: list[Record]) -> list[Record]:
        if object != "Product2" or STANDARD_PRICE not in fields or not records:
            return records
        live = [r.id for r in records if not r.archived]
        entries = await self._standard_entries(live) if live else {}
        return [r if r.archived else dataclasses.replace(r, properties={
            **r.properties, STANDARD_PRICE: canonical("currency", (entries.get(r.id) or {}).get("UnitPrice"))})
            for r in records]

    async def _priced_page(self, object: str, fields: Sequence[str], page: Page) -> Page:
        records = await self._priced(object, fields, page.records)
        return page if records is page.records else Page(records, page.cursor)

    async def _set_standard_prices(self, prices: Mapping[str, Value]) -> dict[str, WriteError]:
        """Give each product its standard price: its entry in the standard price book is updated, or
        created (active) when it has none. Entries are looked up first, also before sending again
        after a lost answer, so a product never gets a second entry (Salesforce would refuse it:
        DUPLICATE_VALUE). Returns the products whose price could not be set, with why."""
        failed: dict[str, WriteError] = {}
        todo = {p: v for p, v in prices.items() if v is not None}  # UnitPrice is required: a blank is not written
        for attempt in range(3):
            if not todo:
                break
            book = await self._standard_pricebook()
            there = await self._standard_entries(list(todo))
            changed = [p for p, e in there.items()
                       if canonical("currency", e.get("UnitPrice")) != canonical("currency", todo[p])
                       or not e.get("IsActive")]
            updates = [(str(there[p]["Id"]), {"UnitPrice": todo[p], "IsActive": True}) for p in changed]
            new = [p for p in todo if p not in there]
            try:
                results = await self.update("PricebookEntry", updates) if updates else []
                results += await self.create("PricebookEntry", [
                    {"Pricebook2Id": book, "Product2Id": p, "UnitPrice": todo[p], "IsActive": True} for p in new])
            except WriteOutcomeUnknown as e:
                if attempt == 2:
                    failed.update({p: WriteError(ErrorCategory.TRANSIENT, str(e)) for p in todo})
                continue  # which entries exist is looked up again before anything is sent again
            failed.update({p: r.error or WriteError(ErrorCategory.UNKNOWN, "the price was not set")
                           for p, r in zip(changed + new, results, strict=True) if not r.ok})
            break
        return failed

    # -- writing ----------------------------------------------------------------------
    async def _wire(self, object: str, values: Mapping[str, Value]) -> dict[str, Any]:
        schema = await self._fields(object)
        return {k: to_wire(schema[k]["type"] if k in schema else None, v) for k, v in values.items()}

    async def _collection(self, method: str, chunk_len: int, ids: Sequence[str | None], **kw: Any) -> list[WriteResult]:
        resp = await self._request(method, "composite/sobjects", idempotent=method != "POST", **kw)
        body = resp.json() if resp.content else []
        if resp.status_code >= 400 or not isinstance(body, list):
            # the whole request was refused (e.g. a value of the wrong type): every record fails with it
            err = write_error(body if isinstance(body, list) else [])
            return [WriteResult.failure(err, id) for id in ids]
        results: list[WriteResult] = []
        for given, r in zip(ids, body, strict=False):
            if r.get("success"):
                results.append(WriteResult.success(str(r.get("id") or given)))
            else:
                results.append(WriteResult.failure(write_error(r.get("errors") or []), r.get("id") or given))
        if len(results) != chunk_len:
            what = f"{self.name}: collection returned {len(results)} results for {chunk_len} records"
            if method == "POST":  # which ones were created cannot be told
                raise outcome_unknown(what)
            raise ConnectorError(what)
        return results

    def _use_bulk(self, n: int) -> bool:
        return bool(self.bulk_write_threshold and n > self.bulk_write_threshold)

    async def _ingest(self, operation: str, object: str, rows: list[dict[str, Any]],
                      ids: Sequence[str | None]) -> list[WriteResult] | None:
        """One ingest job's outcomes; None when the job failed without processing a row (e.g. a
        column Salesforce does not know): the REST path then writes the records, and reports each
        one's own error."""
        try:
            return await self.bulk.ingest(operation, object, rows, ids)
        except JobFailed as e:
            log.warning("%s; writing these %d records through the REST API instead", e, len(rows))
            return None

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        new_as = routed_create_as(object)
        if new_as == "Lead":
            return await self.create("Lead", [{**it, "Company": it.get("Company") or NOT_PROVIDED} for it in items])
        if new_as is not None:
            return await self.create(new_as, items)
        if object == "Product2" and any(STANDARD_PRICE in it for it in items):
            return await self._create_priced(items)
        if self._use_bulk(len(items)):
            done = await self._ingest("insert", object, [await self._wire(object, it) for it in items],
                                      [None] * len(items))
            if done is not None:
                return done
        out: list[WriteResult] = []
        for i in range(0, len(items), COLLECTION):
            chunk = items[i : i + COLLECTION]
            records = [{"attributes": {"type": object}, **await self._wire(object, it)} for it in chunk]
            try:
                out += await self._collection("POST", len(chunk), [None] * len(chunk),
                                              json={"allOrNone": False, "records": records})
            except WriteOutcomeUnknown as e:  # the chunks before it are known
                e.results = [*out, *[None] * (len(items) - len(out))]
                raise
        return out

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        if routed_create_as(object) is not None:
            return await self._routed_update(items)
        if object == "Product2" and any(STANDARD_PRICE in vals for _, vals in items):
            return await self._update_priced(items)
        if self._use_bulk(len(items)):
            rows = [{"Id": id, **{k: v for k, v in (await self._wire(object, vals)).items() if k != "Id"}}
                    for id, vals in items]
            done = await self._ingest("update", object, rows, [id for id, _ in items])
            if done is not None:
                return done
        out: list[WriteResult] = []
        for i in range(0, len(items), COLLECTION):
            chunk = items[i : i + COLLECTION]
            records = [{"attributes": {"type": object}, **await self._wire(object, vals), "Id": id} for id, vals in chunk]
            out += await self._collection("PATCH", len(chunk), [id for id, _ in chunk],
                                          json={"allOrNone": False, "records": records})
        return out

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        # (a routed object's Contacts and Leads go together: a collection delete takes ids of any object)
        out: list[WriteResult] = []
        for i in range(0, len(ids), COLLECTION):
            chunk = list(ids[i : i + COLLECTION])
            res = await self._collection("DELETE", len(chunk), chunk,
                                         params={"ids": ",".join(chunk), "allOrNone": "false"})
            # deleting an already deleted record is the outcome we wanted
            out += [WriteResult.success(r.id or "") if r.error and r.error.code == "ENTITY_IS_DELETED" else r
                    for r in res]
        return out

    async def _create_priced(self, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        """New products, then their standard price book entries (a product without one cannot be
        put on an opportunity). A product whose price could not be set is still created (its pair
        must link to it, or the next pass would create it again): its price reads blank, as stored."""
        bare = [{k: v for k, v in it.items() if k != STANDARD_PRICE} for it in items]
        try:
            results = await self.create("Product2", bare)
        except WriteOutcomeUnknown as e:
            # the products whose create is known get their price; the runner looks the others up
            if e.results is not None:
                known = [(it, r) for it, r in zip(items, e.results, strict=False) if r is not None]
                await self._price_created([it for it, _ in known], [r for _, r in known])
            raise
        return await self._price_created(items, results)

    async def _price_created(self, items: Sequence[Mapping[str, Value]],
                             results: list[WriteResult]) -> list[WriteResult]:
        prices = {str(r.id): it.get(STANDARD_PRICE) for it, r in zip(items, results, strict=True)
                  if r.ok and r.id and it.get(STANDARD_PRICE) is not None}
        failed = await self._set_standard_prices(prices) if prices else {}
        for p, err in failed.items():
            log.warning("%s: product %s was created without its standard price: %s", self.name, p, err.message)
        return [WriteResult.success(str(r.id), Record(str(r.id), {STANDARD_PRICE: None}))
                if r.ok and r.id in failed else r for r in results]

    async def _update_priced(self, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        rest = [(id, {k: v for k, v in vals.items() if k != STANDARD_PRICE}) for id, vals in items]
        sent = [i for i, (_, vals) in enumerate(rest) if vals]
        results = [WriteResult.success(id) for id, _ in items]
        for i, r in zip(sent, await self.update("Product2", [rest[i] for i in sent]) if sent else [], strict=True):
            results[i] = r
        prices = {id: vals[STANDARD_PRICE] for (id, vals), r in zip(items, results, strict=True)
                  if r.ok and STANDARD_PRICE in vals}
        failed = await self._set_standard_prices(prices) if prices else {}
        return [WriteResult.failure(failed[id], id) if id in failed else r
                for (id, _), r in zip(items, results, strict=True)]

    # -- Contact/Lead routing -------------------------------------------------------------
    async def _routed_describe(self, object: str) -> ObjectSchema:
        """The fields Contact and Lead both have, of one type: what a routed sync can map. A value
        must fit both objects (a Lead may become a Contact): read-only where either is, picklist
        values both offer."""
        contact, lead = await self.describe("Contact"), await self.describe("Lead")
        out: dict[str, FieldSchema] = {}
        for name, f in contact.fields.items():
            g = lead.fields.get(name)
            if g is None or g.type != f.type:
                continue
            both = {o.value for o in g.options}
            out[name] = dataclasses.replace(f, read_only=f.read_only or g.read_only,
                                            calculated=f.calculated or g.calculated, required=f.required or g.required,
                                            options=tuple(o for o in f.options if o.value in both))
        return ObjectSchema("Contacts and Leads", out)  # what messages call it (a field both must have)

    async def _routed_scan(self, fields: Sequence[str], after: str | None) -> AsyncIterator[Page]:
        """Converted Leads first (as moves: each pair on a Lead follows it to its Contact before
        Contacts pair by match key), then Contacts, then open Leads; page cursors say which part."""
        part, _, inner = (after or "").partition(":")
        if part in ("", "moves"):
            soql_after = f" AND Id > {soql_literal('id', inner)}" if inner else ""
            soql = f"SELECT Id, ConvertedContactId FROM Lead WHERE IsConverted = true{soql_after} ORDER BY Id"
            async for rows in self._soql(soql):
                if rows:
                    yield Page([Record(str(r["Id"]), {}, moved_to=str(r["ConvertedContactId"])) for r in rows
                                if r.get("ConvertedContactId")], cursor=f"moves:{rows[-1]['Id']}")
        if part in ("", "moves", "Contact"):
            pages = self._scan_from("Contact", fields, inner) if part == "Contact" and inner else \
                self._scan("Contact", fields, None)
            async for page in pages:
                yield Page(page.records, cursor=f"Contact:{page.cursor}" if page.cursor else None)
        open_leads = "IsConverted = false"
        pages = self._scan_from("Lead", fields, inner, open_leads) if part == "Lead" and inner else \
            self._scan("Lead", fields, None, open_leads)
        async for page in pages:
            yield Page(page.records, cursor=f"Lead:{page.cursor}" if page.cursor else None)

    async def _routed_changes(self, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:
        """Lead changes first (a conversion moves its pair to the Contact before the Contact feed
        shows that Contact), then Contact changes; the cursor is ``<Contact cursor>#<Lead cursor>``."""
        contact_cursor, _, lead_cursor = cursor.partition("#")
        lead_cursor = lead_cursor or contact_cursor
        async for page in self.changes("Lead", lead_cursor, [*fields, *_CONVERSION]):
            lead_cursor = page.cursor or lead_cursor
            yield Page([_lead(r) for r in page.records], cursor=f"{contact_cursor}#{lead_cursor}")
        async for page in self.changes("Contact", contact_cursor, fields):
            contact_cursor = page.cursor or contact_cursor
            yield Page(page.records, cursor=f"{contact_cursor}#{lead_cursor}")

    async def _routed_update(self, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        out: list[WriteResult | None] = [None] * len(items)
        for part in ("Contact", "Lead"):
            idx = [i for i, (id, _) in enumerate(items) if routed_part(id) == part]
            if idx:
                for i, r in zip(idx, await self.update(part, [items[i] for i in idx]), strict=True):
                    out[i] = r
        return [r if r is not None else WriteResult.failure(WriteError(
            ErrorCategory.NOT_FOUND, f"{id} is not the id of a Salesforce Contact or Lead"), id)
            for r, (id, _) in zip(out, items, strict=True)]

    # -- pipelines and associations -------------------------------------------------------
    async def pipelines(self, object: str) -> list[Pipeline]:
        if object != "Opportunity":
            raise NotImplementedError(f"salesforce has no pipelines for {object}")
        stages: list[Stage] = []
        soql = "SELECT Id, ApiName, MasterLabel, SortOrder FROM OpportunityStage WHERE IsActive = true ORDER BY SortOrder"
        async for rows in self._soql(soql):
            # Opportunity.StageName holds the stage's API name; the label is what users see
            stages += [Stage(id=str(r.get("ApiName") or r["MasterLabel"]), label=str(r["MasterLabel"])) for r in rows]
        return [Pipeline(id="default", label="Opportunity stages", stages=tuple(stages))]

    async def associations(self, from_object: str, ids: Sequence[str], to_object: str) -> dict[str, list[str]]:
        if routed_create_as(from_object) is not None:  # a Lead holds no account: none until it is converted
            found = await self.associations("Contact", [i for i in ids if routed_part(i) == "Contact"], to_object)
            return {i: found.get(i, []) for i in ids}
        from_object, to_object = _unrouted(from_object), _unrouted(to_object)
        ref = _REFERENCES.get((from_object, to_object))
        if ref is None:
            raise NotImplementedError(f"salesforce: no association from {from_object} to {to_object}")
        holder, field = ref
        out: dict[str, list[str]] = {i: [] for i in ids}
        key = "Id" if holder == from_object else field  # which column holds the ids we were given
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ", ".join(soql_literal("id", x) for x in ids[i : i + _IN_CHUNK])
            async for rows in self._soql(f"SELECT Id, {field} FROM {holder} WHERE {key} IN ({chunk})"):
                for r in rows:
                    if r.get(field):
                        src, dst = (r["Id"], r[field]) if key == "Id" else (r[field], r["Id"])
                        out.setdefault(src, []).append(dst)
        return out

    async def associate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        if _unrouted(from_object) != from_object or _unrouted(to_object) != to_object:
            return await _contacts_only(self.associate, from_object, to_object, pairs)
        ref = _REFERENCES.get((from_object, to_object))
        if ref is None:
            raise NotImplementedError(f"salesforce: no association from {from_object} to {to_object}")
        holder, field = ref
        if fixed := _fixed(from_object, to_object, holder):
            return [WriteResult.failure(fixed, a if holder == from_object else b) for a, b in pairs]
        # the lookup lives on the child (Contact/Opportunity): set its AccountId
        updates = [(a, {field: b}) if holder == from_object else (b, {field: a}) for a, b in pairs]
        return await self.update(holder, updates)

    def create_references(self, object: str) -> dict[str, str]:
        return {parent: field for (child, parent), field in _CREATE_ONLY.items() if child == _unrouted(object)}

    def holds_associations(self, object: str, id: str) -> bool:
        # a Lead has no account lookup: its pair's associations wait for its conversion to a Contact
        return routed_create_as(object) is None or routed_part(id) == "Contact"

    def association_kind(self, from_object: str, to_object: str) -> Literal["many", "primary", "single"]:
        from_object, to_object = _unrouted(from_object), _unrouted(to_object)
        ref = _REFERENCES.get((from_object, to_object))
        return "single" if ref is not None and ref[0] == from_object else "many"

    async def dissociate(self, from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
        if _unrouted(from_object) != from_object or _unrouted(to_object) != to_object:
            return await _contacts_only(self.dissociate, from_object, to_object, pairs)
        ref = _REFERENCES.get((from_object, to_object))
        if ref is None:
            raise NotImplementedError(f"salesforce: no association from {from_object} to {to_object}")
        holder, field = ref
        if fixed := _fixed(from_object, to_object, holder):
            return [WriteResult.failure(fixed, a if holder == from_object else b) for a, b in pairs]
        # clearing the child's lookup removes the association (the planner only clears a
        # lookup that holds the association it removes)
        return await self.update(holder, [(a if holder == from_object else b, {field: None}) for a, b in pairs])



def _lead(r: Record) -> Record:
    """A Lead read with the conversion fields: a converted one as a move to its Contact, else as it is."""
    if r.archived or r.moved_to:  # deleted, or merged into another Lead
        return r
    props = {k: v for k, v in r.properties.items() if k not in _CONVERSION}
    moved = r.properties.get("ConvertedContactId") if r.properties.get("IsConverted") else None
    if moved:
        return Record(r.id, {}, r.updated_at, r.created_at, moved_to=str(moved))
    return Record(r.id, props, r.updated_at, r.created_at)


def _fixed(from_object: str, to_object: str, holder: str) -> WriteError | None:
    """Why a lookup that is set on create only cannot be written (moved, cleared); None: it can."""
    child, parent = (from_object, to_object) if holder == from_object else (to_object, from_object)
    field = _CREATE_ONLY.get((child, parent))
    if field is None:
        return None
    return WriteError(ErrorCategory.ASSOCIATIONS, f"{child}.{field} cannot be changed once the record exists",
                      hint=f"Salesforce cannot move an {child} to another {parent} or remove it from its {parent}. "
                           f"Undo the change in the other app, or delete the record there and add a new one to the "
                           f"other {parent.lower()}: it is then created in Salesforce with that {parent}.")


def _unrouted(object: str) -> str:
    """Associations of a routed object are its Contacts' (a Lead has none)."""
    return "Contact" if routed_create_as(object) is not None else object


async def _contacts_only(call: Callable[[str, str, Sequence[tuple[str, str]]], Awaitable[list[WriteResult]]],
                         from_object: str, to_object: str, pairs: Sequence[tuple[str, str]]) -> list[WriteResult]:
    """An association write of a routed object: its Contacts' go through, a Lead's cannot (no account)."""
    mine = 0 if _unrouted(from_object) != from_object else 1  # which id of a pair is the routed record's
    out: list[WriteResult | None] = [None] * len(pairs)
    ok = [i for i, p in enumerate(pairs) if routed_part(p[mine]) == "Contact"]
    if ok:
        for i, r in zip(ok, await call(_unrouted(from_object), _unrouted(to_object), [pairs[i] for i in ok]),
                        strict=True):
            out[i] = r
    err = WriteError(ErrorCategory.ASSOCIATIONS, "a Salesforce Lead has no account",
                     "The association follows once the Lead is converted to a Contact.")
    return [r if r is not None else WriteResult.failure(err, p[mine]) for r, p in zip(out, pairs, strict=True)]


def _kind(url: str) -> str:
    """The kind of call, for the call counts: ``query``, ``composite``, ``describe`` …"""
    parts = url.split("?")[0].strip("/").split("/")[3:]  # after services/data/vXX.X
    if not parts or not parts[0]:
        return "resources"
    if parts[0] == "sobjects" and len(parts) >= 3 and parts[2] in ("describe", "updated", "deleted"):
        return parts[2]
    return {"queryAll": "query"}.get(parts[0], parts[0])


FLOWS = ("access_token", "refresh_token", "jwt", "client_credentials")


class SalesforceSettings(AppSettings):
    """One Salesforce org: a session id as is (it expires), or a connected app's OAuth flow —
    ``refresh_token`` (the dashboard's Connect), ``jwt`` (username and private key: a headless
    server) or ``client_credentials``. docs/connectors/salesforce.md says which to choose."""

    type: Literal["salesforce"]
    instance_url: str
    access_token: str | None = Field(default=None, min_length=1)
    token_file: str | None = None  # a file holding the session id, re-read on a 401
    client_id: str | None = None  # the connected app's consumer key
    client_secret: str | None = None  # its consumer secret
    refresh_token: str | None = None
    username: str | None = None  # JWT bearer: the integration user
    private_key: str | None = None  # JWT bearer: the PEM key of the certificate on the connected app
    private_key_file: str | None = None
    login_url: str | None = None  # default: https://login.salesforce.com (client credentials: instance_url)
    account: str | None = None  # which org, as the Apps page shows it
    api_version: str = "v62.0"
    api_budget: float = Field(default=0.5, gt=0, le=1)
    verify: Verify = True
    poll: Duration = 900.0
    # requests per second, all Accord processes together (shared through the index in distributed mode)
    rate_limit: float | None = Field(default=None, gt=0)
    # Bulk API 2.0: full scans of objects with more records than this read through query jobs
    bulk_threshold: int | None = Field(default=10_000, ge=0)
    # ... and creates/updates of more records than this at once go through ingest jobs (None/0: off)
    bulk_write_threshold: int | None = Field(default=2_000, ge=0)

    @model_validator(mode="after")
    def _one_flow(self) -> SalesforceSettings:
        flows = [f for f, on in (("access_token", self.access_token or self.token_file),
                                 ("refresh_token", self.refresh_token),
                                 ("jwt", self.private_key or self.private_key_file),
                                 ("client_credentials", self.client_secret and not self.refresh_token)) if on]
        if not flows:
            raise setting_error("SalesforceSettings", "access_token", "give an access_token, or a connected app's "
                                "client_id with a refresh_token, a username and private_key (JWT bearer), or a "
                                "client_secret (client credentials)")
        if len(flows) > 1 or (self.access_token and self.token_file) or (self.private_key and self.private_key_file):
            raise ValueError(f"give one way to sign in, not {' and '.join(flows)}")
        if flows[0] != "access_token" and not self.client_id:
            raise setting_error("SalesforceSettings", "client_id", f"the {flows[0]} flow needs client_id (the "
                                "connected app's consumer key)")
        if flows[0] == "jwt" and not self.username:
            raise setting_error("SalesforceSettings", "username", "the JWT bearer flow needs username (the "
                                "integration user)")
        return self

    def flow(self) -> str:
        """How the app signs in: one of :data:`FLOWS`."""
        if self.access_token or self.token_file:
            return "access_token"
        if self.refresh_token:
            return "refresh_token"
        return "jwt" if self.private_key or self.private_key_file else "client_credentials"


def from_config(name: str, app: Any) -> SalesforceConnector:
    """Build the connector from an ``apps:`` entry (:class:`SalesforceSettings`)."""
    return SalesforceConnector(
        name,
        app.instance_url,
        getattr(app, "access_token", None),
        token_file=getattr(app, "token_file", None),
        client_id=getattr(app, "client_id", None),
        client_secret=getattr(app, "client_secret", None),
        refresh_token=getattr(app, "refresh_token", None),
        username=getattr(app, "username", None),
        private_key=getattr(app, "private_key", None),
        private_key_file=getattr(app, "private_key_file", None),
        login_url=getattr(app, "login_url", None),
        api_version=app.api_version,
        api_budget=app.api_budget,
        verify=app.verify,
        rate_limit=getattr(app, "rate_limit", None),
        # an apps entry without the settings (not a SalesforceSettings) gets the REST-only connector
        bulk_threshold=getattr(app, "bulk_threshold", None),
        bulk_write_threshold=getattr(app, "bulk_write_threshold", None),
    )


def _limits(app: SalesforceSettings) -> list[RateLimit]:
    return [RateLimit("requests", app.rate_limit, 1.0, smooth=True)] if app.rate_limit else []


def connected(client: Client, token: dict[str, Any]) -> dict[str, Any]:
    """The ``apps:`` entry of an org connected through the Allow Access page (web-server flow)."""
    out: dict[str, Any] = {"type": "salesforce", "instance_url": token["instance_url"], "client_id": client.client_id,
                           "refresh_token": token["refresh_token"]}
    if client.client_secret:
        out["client_secret"] = client.client_secret
    if client.base_url.rstrip("/") != LOGIN:
        out["login_url"] = client.base_url.rstrip("/")
    if client.verify is not True:
        out["verify"] = client.verify
    if org := org_of(token.get("id")):
        out["account"] = f"org {org}"
    return out


def org_of(identity_url: Any) -> str | None:
    """The org id in a token answer's identity URL (``…/id/ORG/USER``), if it is one."""
    parts = str(identity_url or "").rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 and parts[-2].startswith("00D") else None


def signs_in(app: SalesforceSettings) -> str:
    return {"access_token": "session id (does not renew)", "refresh_token": "connected app (refresh token)",
            "jwt": f"connected app, JWT bearer as {app.username}",
            "client_credentials": "connected app (client credentials)"}[app.flow()]


# the sandbox prints its own banner (with the CA certificate to trust)
VENDOR = Vendor(
    "salesforce", "Salesforce", SalesforceSettings, from_config, limits=_limits,
    sandbox=Sandbox("accord.sandbox.salesforce", expiring=True), capabilities=frozenset({ASSOCIATIONS, PIPELINES}),
    connect=OAuthApp(LOGIN, f"{LOGIN}/services/oauth2/authorize", "/services/oauth2/authorize",
                     "/services/oauth2/token", "api refresh_token", connected, base_label="Login URL",
                     client_label="Consumer key", secret_label="Consumer secret"),
    # the headless choice: the JWT bearer flow (no browser, nothing that a revoked session breaks)
    paste=(Entry("instance_url", "Instance URL (My Domain)", hint="https://yourcompany.my.salesforce.com"),
           Entry("client_id", "Consumer key"), Entry("username", "Integration user's username"),
           Entry("private_key", "Private key (PEM)", secret=True, multiline=True,
                 hint="the key of the certificate uploaded to the connected app"),
           Entry("login_url", "Login URL", required=False, default=LOGIN)),
    signs_in=signs_in,
)

__all__ = ["VENDOR", "ResyncRequired", "SalesforceConnector", "SalesforceSettings", "from_config"]
