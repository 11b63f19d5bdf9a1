"""The HubSpot sandbox's state: settings, faults, rate windows and the portal handle the routes share."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from accord.sandbox import faults
from accord.sandbox.hubspot import custom, timeline
from accord.sandbox.hubspot import seed as seeding
from accord.sandbox.hubspot.store import Source, Store
from accord.sandbox.hubspot.webhooks import WebhookConfig, WebhookDispatcher
from accord.sandbox.oauth import OAuthServer

BATCH_WRITES = frozenset({"batch_create", "batch_update", "batch_upsert", "batch_archive"})


@dataclass
class SandboxSettings:
    token: str | None = None  # None: any non-empty bearer token is accepted
    portal_id: int = 12345678
    app_id: int = 1000001  # the private app whose token writes and whose webhooks fire
    app_ids: dict[str, int] = field(default_factory=dict)  # other tokens → other apps (sourceId)
    user_id: int = 9876543  # the CRM user behind "user edits" (sourceId userId:N)
    rate_limit: int = 190  # requests per rolling window (Professional private app)
    rate_window: float = 10.0
    daily_limit: int = 650_000
    search_rate: int = 5  # search requests per second, a separate bucket
    search_cap: int = 10_000  # results one search query can page through
    search_lag: float = 0.0  # seconds before a write is visible to search
    atomic_batch_errors: bool = False  # reject a whole batch for one bad input (as HubSpot does for some)
    # batch writes answer their results in random order and echo no objectWriteTraceId (HubSpot
    # documents no order, and not every answer carries the trace ids): clients must match by identity
    shuffle_batch_results: bool = False
    records: int = 0
    seed: int = 0
    webhook_url: str | None = None
    webhook_secret: str = "sandbox-app-secret"
    webhook_backoff: float = 1.0
    webhook_style: str = "legacy"  # or "generic": object.* events with objectTypeId (sandbox/hubspot/webhooks.py)
    # the OAuth app the authorize page (/oauth/authorize) and token endpoint (/oauth/v1/token) know
    client_id: str = "accord-sandbox-client"
    client_secret: str = "accord-sandbox-secret"
    token_ttl: float = 1800.0  # seconds an OAuth access token lives (HubSpot: 30 minutes)
    # OAuth tokens' per-second limit, announced in X-HubSpot-RateLimit-Secondly (None: a tenth of rate_limit)
    secondly_limit: int | None = None
    hub_domain: str = "sandbox.hubspot.example"


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    hang_seconds: float = 30.0  # a "timeout" hangs this long, then fails without applying the request
    drop_webhooks: float = 0.0
    retry_after: float | None = None  # Retry-After sent with injected 429s (None: omitted)
    # the connection drops mid-response; ``reset_applied`` of them after the request was carried out
    rate_reset: float = 0.0
    reset_applied: float = 0.5
    # a batch write carries out the first half of its inputs, then fails with a 500
    rate_half_batch: float = 0.0
    seed: int = 0
    # the next calls' faults, in order ("500_applied", or "500_applied:batch_create" for the next
    # call of that kind; see accord.sandbox.faults), before any drawn at random
    queue: list[str] = field(default_factory=list)
    retry_after_date: bool = False  # Retry-After of injected 429s as an HTTP date, not seconds


class RateWindow:
    """Rolling-window hit counts per key (HubSpot counts requests over the last N seconds)."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int, window: float) -> tuple[bool, int, float]:
        now = time.monotonic()
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= limit:
            return False, 0, q[0] + window - now
        q.append(now)
        return True, limit - len(q), 0.0


class HubSpotCore:
    """One emulated HubSpot portal without its HTTP face: the store, settings, faults, counters and
    rate windows the routes share, and the methods that seed, edit and inspect it.
    :class:`~accord.sandbox.hubspot.app.HubSpotSandbox` adds the ASGI app."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        self.settings = settings or SandboxSettings()
        for k, v in overrides.items():
            setattr(self.settings, k, v)
        s = self.settings
        self.store = Store()
        self.store.search_lag = s.search_lag
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.webhooks = WebhookDispatcher(
            WebhookConfig(url=s.webhook_url, secret=s.webhook_secret, app_id=s.app_id, backoff=s.webhook_backoff,
                          style=s.webhook_style), s.portal_id, seed=s.seed)
        # OAuth access tokens look like HubSpot's ("C" then base64); private-app tokens are any other bearer
        self.oauth = OAuthServer(lambda: {self.settings.client_id: self.settings.client_secret},
                                 lambda: self.settings.token_ttl, "CJ")
        self.store.on_events = self.webhooks.enqueue
        self.lock = threading.Lock()  # guards counters, the fault draw and the rate windows
        self._rng = random.Random(s.seed)
        self.shuffler = random.Random(s.seed)  # the order of shuffled batch results
        self.window = RateWindow()
        self.daily: Counter[str] = Counter()
        if s.records:
            self.seed(s.records, s.seed)

    # -- OAuth -------------------------------------------------------------------------------
    def expire_tokens(self) -> int:
        """Every OAuth access token expires now: the next call with one is answered 401."""
        return self.oauth.expire_tokens()

    def revoke_refresh_tokens(self) -> int:
        """Revoke every refresh token (as uninstalling the app does), and their access tokens."""
        return self.oauth.revoke()

    def is_oauth(self, token: str) -> bool:
        return self.oauth.check(token) != "foreign"

    def secondly(self) -> int:
        s = self.settings
        return s.secondly_limit if s.secondly_limit is not None else max(1, s.rate_limit // 10)

    # -- identities ------------------------------------------------------------------------
    def app_id_for(self, token: str) -> int:
        return self.settings.app_ids.get(token, self.settings.app_id)

    def integration_source(self, token: str) -> Source:
        return Source("INTEGRATION", str(self.app_id_for(token)))

    @property
    def user_source(self) -> Source:
        return Source("CRM_UI", f"userId:{self.settings.user_id}")

    # -- state -------------------------------------------------------------------------------
    def seed(self, records: int, seed: int = 0) -> dict[str, list[int]]:
        return seeding.seed(self.store, records, seed)

    def reset(self) -> None:
        self.store.reset()
        self.webhooks.clear()
        self.counters.clear()
        self.window = RateWindow()
        self.daily.clear()

    def records(self, object: str, *, archived: bool = False) -> list[dict[str, Any]]:
        t = self.store.type_of(object)
        with self.store.lock:
            objs = [o for o in self.store.objs[t].values() if (o.archived_at is not None) == archived]
            return [o.wire(o.props) for o in objs]

    def get(self, object: str, id: str | int) -> dict[str, Any] | None:
        t = self.store.type_of(object)
        with self.store.lock:
            o = self.store.objs[t].get(int(id))
            return o.wire(o.props) if o else None

    # -- user edits (changeSource CRM_UI) ------------------------------------------------------
    def user_create(self, object: str, properties: dict[str, Any]) -> dict[str, Any]:
        o = self.store.create(self.store.type_of(object), properties, self.user_source)
        return o.wire(o.props)

    def user_update(self, object: str, id: str | int, properties: dict[str, Any]) -> dict[str, Any]:
        o = self.store.update(self.store.type_of(object), int(id), properties, self.user_source)
        return o.wire(o.props)

    def user_delete(self, object: str, id: str | int) -> bool:
        return self.store.archive(self.store.type_of(object), int(id), self.user_source)

    def user_restore(self, object: str, id: str | int) -> dict[str, Any]:
        """Restore a deleted record from HubSpot's recycle bin as a user does."""
        o = self.store.restore(self.store.type_of(object), int(id), self.user_source)
        return o.wire(o.props)

    def user_merge(self, object: str, primary: str | int, other: str | int) -> dict[str, Any]:
        """Merge two records as a user does in HubSpot's UI: the record they became."""
        o = self.store.merge(self.store.type_of(object), primary, other, self.user_source)
        return o.wire(o.props)

    def touch(self, object: str, ids: list[int] | list[str], at_ms: int) -> None:
        """Give many records one modification instant, as HubSpot's month-end batch jobs do."""
        self.store.touch(self.store.type_of(object), [int(i) for i in ids], at_ms)

    def associate(self, from_object: str, from_id: str | int, to_object: str, to_id: str | int, *,
                  primary: bool = False) -> None:
        st = self.store
        f, t = st.type_of(from_object), st.type_of(to_object)
        type_id = next((x for x, label in st.assoc_types.get((f, t), []) if label == "Primary"), None) if primary else None
        st.associate(f, int(from_id), t, int(to_id), type_id)

    def dissociate(self, from_object: str, from_id: str | int, to_object: str, to_id: str | int) -> None:
        st = self.store
        st.dissociate(st.type_of(from_object), int(from_id), st.type_of(to_object), int(to_id))

    def primary(self, from_object: str, from_id: str | int, to_object: str) -> int | None:
        """The record's primary association to ``to_object`` (HubSpot's primary company), if any."""
        st = self.store
        f, t = st.type_of(from_object), st.type_of(to_object)
        labelled = {x for x, label in st.assoc_types.get((f, t), []) if label == "Primary"}
        return next((k for k, v in sorted(st.associated(f, int(from_id), t).items()) if v & labelled), None)

    # -- custom objects and timeline events ------------------------------------------------------
    def create_schema(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a custom object type (an ``ObjectSchemaEgg``, as ``POST /crm/v3/schemas`` takes)."""
        return custom.create_schema(self.store, self.settings.portal_id, body)

    def timeline_events(self, object: str, id: str | int) -> list[dict[str, Any]]:
        """The timeline events written on one record, oldest first."""
        return timeline.events_of(self.store, object, str(id))

    def create_list(self, name: str, object: str = "contacts") -> str:
        return str(self.store.create_list(name, self.store.kinds[self.store.type_of(object)].type_id).id)

    def delete_list(self, name: str, object: str = "contacts") -> str:
        """Delete a list as a user does (restorable with ``restore_list``); returns its id."""
        lst = self.store.list_by_name(self.store.kinds[self.store.type_of(object)].type_id, name)
        self.store.delete_list(str(lst.id))
        return str(lst.id)

    def rename_list(self, name: str, new_name: str, object: str = "contacts") -> str:
        """Rename a list as a user does in HubSpot (its id stays); returns its id."""
        lst = self.store.list_by_name(self.store.kinds[self.store.type_of(object)].type_id, name)
        self.store.rename_list(str(lst.id), new_name)
        return str(lst.id)

    def restore_list(self, list_id: str) -> None:
        self.store.restore_list(list_id)

    def list_members(self, name: str, object: str = "contacts", *, add: list[str] | None = None,
                     remove: list[str] | None = None) -> list[str]:
        lst = self.store.list_by_name(self.store.kinds[self.store.type_of(object)].type_id, name)
        self.store.change_members(str(lst.id), [str(i) for i in add or []], [str(i) for i in remove or []])
        return [str(i) for i in sorted(lst.members)]

    # -- knobs -----------------------------------------------------------------------------------
    def set_faults(self, **kw: Any) -> Faults:
        for k, v in kw.items():
            if not hasattr(self.faults, k):
                raise ValueError(f"unknown fault {k}")
            setattr(self.faults, k, v)
        self.webhooks.config.drop_rate = self.faults.drop_webhooks
        self._rng = random.Random(self.faults.seed)
        return self.faults

    def clear_faults(self) -> None:
        self.faults = Faults()
        self.webhooks.config.drop_rate = 0.0

    def configure_webhooks(self, url: str | None, secret: str | None = None, **kw: Any) -> WebhookConfig:
        cfg = self.webhooks.config
        cfg.url = url
        if secret is not None:
            cfg.secret = secret
        for k, v in kw.items():
            setattr(cfg, k, set(v) if k == "properties" and v is not None else v)
        return cfg

    def set_search_lag(self, seconds: float) -> None:
        self.settings.search_lag = self.store.search_lag = seconds

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        return self.webhooks.flush(timeout)

    def close(self) -> None:
        self.webhooks.stop()

    # -- gatekeeping (used by the gate middleware) ----------------------------------------------------
    def draw_fault(self, kind: str = "") -> str | None:
        f = self.faults
        half = f.rate_half_batch if kind in BATCH_WRITES else 0.0
        queued = faults.take(f.queue, kind, self.lock)
        if queued is not None:
            return queued
        with self.lock:
            r = self._rng.random()
            for name, rate in (("429", f.rate_429), ("500", f.rate_500), ("timeout", f.rate_timeout),
                               ("reset", f.rate_reset), ("half_batch", half)):
                if r < rate:
                    if name == "reset" and self._rng.random() < f.reset_applied:
                        return "reset_applied"
                    return name
                r -= rate
        return None

    def rate_headers(self, token: str, remaining: int, secondly_remaining: int | None = None) -> dict[str, str]:
        """HubSpot's rate-limit headers; an OAuth token's answers name the per-second limit too
        (private apps' do not), as recorded from a live OAuth app."""
        s = self.settings
        out = {"X-HubSpot-RateLimit-Max": str(s.rate_limit), "X-HubSpot-RateLimit-Remaining": str(remaining),
               "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(s.rate_window * 1000)),
               "X-HubSpot-RateLimit-Daily": str(s.daily_limit),
               "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, s.daily_limit - self.daily[token]))}
        if secondly_remaining is not None:
            out["X-HubSpot-RateLimit-Secondly"] = str(self.secondly())
            out["X-HubSpot-RateLimit-Secondly-Remaining"] = str(secondly_remaining)
        return out
