"""The Salesforce sandbox's state: settings, faults, API-usage accounting, query cursors and the
org handle the routes share."""

from __future__ import annotations

import random
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accord.sandbox import faults
from accord.sandbox.oauth import OAuthServer
from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.bulk import BulkJobs
from accord.sandbox.salesforce.schema import normalize_id
from accord.sandbox.salesforce.store import Org, RequestError, Stats, ValidationRule


@dataclass
class Faults:
    """Injected failures, drawn per API call. ``queue`` forces the next calls' outcomes
    (``rate_limit``, ``error``, ``timeout``, and those every sandbox knows: ``429``, ``500``,
    ``500_applied``, ``reset_applied``; ``NAME:KIND`` for the next call of that kind, e.g.
    ``500_applied:composite``) for deterministic tests (accord.sandbox.faults)."""

    rate_limit: float = 0.0  # 403 REQUEST_LIMIT_EXCEEDED (concurrent-request limit)
    error: float = 0.0  # 500 UNKNOWN_EXCEPTION
    timeout: float = 0.0  # hang for hang_seconds, longer than the client's time-out
    hang_seconds: float = 30.0
    queue: list[str] = field(default_factory=list)
    # queued 429s (a gateway in front of the org; the org's own limit answers rate_limit) carry
    # Retry-After: this many seconds, or, with retry_after_date, the HTTP date that far ahead
    retry_after: float | None = 1.0
    retry_after_date: bool = False


@dataclass
class SandboxSettings:
    records: int = 0
    seed: int = 42
    token: str | None = None  # None: any non-empty bearer token is accepted
    daily_limit: int = 100_000  # DailyApiRequests.Max
    page_size: int = 2000  # query page size when no batchSize is asked for
    deleted_window_days: int = 15  # getDeleted reaches back this far
    updated_window_days: int = 30  # getUpdated reaches back this far
    duplicate_rule: bool = False  # block duplicate Contact/Lead emails
    fault_seed: int = 0
    latency: float = 0.0  # seconds every API call waits before it is served: a remote org's round trip
    bulk_polls: int = 0  # Bulk API 2.0: status reads a job answers InProgress before JobComplete
    # the connected app (/services/oauth2/authorize, /services/oauth2/token)
    client_id: str = "accord-sandbox-consumer-key"
    client_secret: str = "accord-sandbox-consumer-secret"
    username: str = "integration@accord.example"  # who signs in (consent page; JWT bearer's pre-authorized user)
    jwt_certificate: str | None = None  # PEM certificate of the JWT bearer flow's key (None: the flow is off)
    client_credentials: bool = True  # the connected app's client-credentials flow is enabled
    token_ttl: float = 7200.0  # seconds a session lives (Salesforce: 2 hours by default)
    org_id: str = "00D5g000004SbxEAC"
    user_id: str = "0055g00000ABCDEAAA"


class SalesforceCore:
    """An in-memory Salesforce org without its HTTP face: the org, settings, faults, API-usage
    accounting and query cursors the routes share, and the methods tests and the demo drive it by.
    :class:`~accord.sandbox.salesforce.app.SalesforceSandbox` adds the ASGI app and its server."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings(**overrides)
        self.org = Org()
        self.stats = Stats()
        self.faults = Faults()
        self.api_used = 0
        self._rng = random.Random(self.settings.fault_seed)
        self._locators: OrderedDict[str, tuple[Sequence[dict[str, Any]], int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bulk = BulkJobs(self.org, self.settings.bulk_polls)  # Bulk API 2.0 jobs
        # sessions issued by the token endpoint start with the org id and "!", as Salesforce's do;
        # any other bearer is a session id handed in from outside (accepted unless ``token`` is set)
        self.oauth = OAuthServer(lambda: {self.settings.client_id: self.settings.client_secret},
                                 lambda: self.settings.token_ttl, f"{self.settings.org_id}!")
        self.set_duplicate_rule(self.settings.duplicate_rule)
        if self.settings.records:
            self.org.seed(self.settings.records, self.settings.seed)

    # -- OAuth ---------------------------------------------------------------------------
    def expire_tokens(self) -> int:
        """Every session the token endpoint issued expires now (next call: 401 INVALID_SESSION_ID)."""
        return self.oauth.expire_tokens()

    def revoke_refresh_tokens(self) -> int:
        """Revoke every refresh token (Setup › Connected Apps OAuth Usage › Revoke) and their sessions."""
        return self.oauth.revoke()

    # -- direct handle for tests and the demo ------------------------------------------
    def seed(self, n: int, seed: int | None = None) -> dict[str, int]:
        return self.org.seed(n, self.settings.seed if seed is None else seed)

    def reset(self, records: int = 0, seed: int | None = None) -> None:
        self.org.reset()
        self._locators.clear()
        self.bulk.clear()
        self.api_used = 0
        self.stats = Stats()
        if records:
            self.seed(records, seed)

    def create(self, type_: str, values: dict[str, Any], *, rules: bool = False) -> str:
        """Create a record as a user would (validation and duplicate rules off unless ``rules``)."""
        return self.org.create(type_, values, allow_save=not rules, rules=rules)

    def update(self, type_: str, id: str, values: dict[str, Any], *, rules: bool = False) -> None:
        self.org.update(type_, id, values, allow_save=not rules, rules=rules)

    def convert_lead(self, lead_id: str, *, contact_id: str | None = None, account_id: str | None = None,
                     opportunity: bool = False) -> dict[str, str | None]:
        """Convert a lead as a user does in Salesforce (see Org.convert_lead)."""
        return self.org.convert_lead(lead_id, contact_id=contact_id, account_id=account_id, opportunity=opportunity)

    def merge(self, type_: str, master_id: str, merged_ids: Sequence[str]) -> dict[str, Any]:
        """Merge one or two duplicates into ``master_id`` as a user does in Salesforce (see Org.merge)."""
        return self.org.merge(type_, master_id, merged_ids)

    def delete(self, type_: str, id: str) -> None:
        self.org.delete(type_, id)

    def undelete(self, type_: str, id: str) -> None:
        """Restore a deleted record from the Recycle Bin as a user does (see Org.undelete)."""
        self.org.undelete(type_, id)

    def touch(self, type_: str, id: str) -> None:
        self.org.touch(type_, id)

    def get(self, type_: str, id: str) -> dict[str, Any] | None:
        """The record as the API returns it (all fields, formulas evaluated), deleted ones included."""
        obj = self.org.obj(type_)
        with self.org.lock:
            row = self.org.rows[obj.name].get(normalize_id(id) or "")
            return self.org.render(obj, self.org.view(obj, row), obj.fields, "v62.0") if row else None

    def records(self, type_: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        obj = self.org.obj(type_)
        with self.org.lock:
            return [self.org.render(obj, self.org.view(obj, r), obj.fields, "v62.0")
                    for r in self.org.rows[obj.name].values() if include_deleted or not r["IsDeleted"]]

    def advance(self, seconds: float) -> datetime:
        return self.org.advance(seconds)

    def set_faults(self, **kw: Any) -> Faults:
        self.faults = Faults(**kw)
        return self.faults

    def add_validation_rule(self, object: str, condition: str, message: str, field: str | None = None,
                            name: str | None = None) -> ValidationRule:
        soql.parse(f"SELECT Id FROM {object} WHERE {condition}")  # fail early on a bad condition
        rule = ValidationRule(name or f"Rule_{len(self.org.validation_rules) + 1}", object, condition, message, field)
        self.org.validation_rules.append(rule)
        return rule

    def set_duplicate_rule(self, enabled: bool, objects: tuple[str, ...] = ("Contact", "Lead")) -> None:
        self.org.duplicate_objects = set(objects) if enabled else set()

    def set_limits(self, daily_limit: int | None = None, used: int | None = None) -> None:
        if daily_limit is not None:
            self.settings.daily_limit = daily_limit
        if used is not None:
            self.api_used = used

    # -- API plumbing ----------------------------------------------------------------
    def limit_info(self) -> str:
        return f"api-usage={self.api_used}/{self.settings.daily_limit}"

    def page(self, version: str, endpoint: str, records: Sequence[dict[str, Any]], start: int, batch: int,
             locator: str | None = None) -> dict[str, Any]:
        end = start + batch
        out: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            with self._lock:
                if locator is None:
                    locator = "01g" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(15))
                self._locators[locator] = (records, batch)
                self._locators.move_to_end(locator)
                while len(self._locators) > 100:  # like an org's cap on open query cursors
                    self._locators.popitem(last=False)
            out["nextRecordsUrl"] = f"/services/data/{version}/{endpoint}/{locator}-{end}"
        out["records"] = records[start:end]
        return out

    def more(self, version: str, endpoint: str, token: str) -> dict[str, Any]:
        loc, _, offset = token.rpartition("-")
        with self._lock:
            entry = self._locators.get(loc)
        if entry is None or not offset.isdigit():
            raise RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        records, batch = entry
        return self.page(version, endpoint, records, int(offset), batch, loc)

    def draw_fault(self, kind: str = "") -> str | None:
        f = self.faults
        if f.queue:
            queued = faults.take(f.queue, kind, self._lock)
            if queued is not None:
                return queued
        x = self._rng.random()
        for kind, rate in (("rate_limit", f.rate_limit), ("error", f.error), ("timeout", f.timeout)):
            if x < rate:
                return kind
            x -= rate
        return None
