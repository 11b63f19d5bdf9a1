"""The convergence world between the HubSpot sandbox (contacts, left) and the Salesforce sandbox
(Contact, right), over loopback HTTP and HTTPS, with the real connectors.

Users edit the sandboxes directly, as people do in each app (HubSpot: changeSource CRM_UI;
Salesforce: a save with the org's rules as a user's), the engine talks to them through
``HubSpotConnector`` and ``SalesforceConnector`` (TLS, trusting the sandbox's CA), and faults
are injected by the sandboxes:

* HubSpot: 429, 500, time-outs, connection resets before and after carrying a request out,
  batches carried out half-way (as in ``hubspot_world.py``);
* Salesforce: 403 ``REQUEST_LIMIT_EXCEEDED`` (concurrent requests), 429, 500 before carrying
  a request out, 500 and connection resets after carrying it out, time-outs (the answer never
  comes; a write whose body the sandbox had not read yet is not carried out) and per-record
  ``UNABLE_TO_LOCK_ROW`` failures inside sObject Collections (the rest of the batch is saved).

The model fields are the concepts both objects carry by default (``catalog.py``): email, first
and last name, phone ↔ Phone, city ↔ MailingCity, job title ↔ Title. Lead status is left
out: Contact has no field with HubSpot's options. Salesforce requires LastName, so no user
of either app clears it (``required``): a blank last name from HubSpot would be a record
Salesforce rejects, which is correct behaviour the model does not describe.

Accord receives no webhooks from Salesforce; the world's deliveries from the right side are
what the API's "sync these records" (``accord resync``, ``POST /api/syncs/{name}/records``)
sends the engine: the records changed since the last delivery (``changed_since``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from convergence import World
from hubspot_world import HubSpotUser
from starlette.requests import ClientDisconnect

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector
from accord.connectors.salesforce import SalesforceConnector
from accord.model import Side, Value
from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.hubspot import SandboxSettings as HubSpotSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce import SandboxSettings as SalesforceSettings
from accord.sandbox.salesforce.store import Org, RecordError, SfError
from accord.sandbox.server import ServerThread

CLIENT_TIMEOUT = 0.5  # TLS on two shared cores: a little more room than the HubSpot world's 0.3 s
CONTACT = "Contact"


class _QuietDisconnects(logging.Filter):
    """A request hung by an injected time-out finds its client gone: expected, not worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ClientDisconnect))


logging.getLogger("uvicorn.error").addFilter(_QuietDisconnects())


class HubSpotContacts(HubSpotUser):
    """HubSpot contacts with the fields Salesforce's Contact shares (no lead status)."""

    fields = {k: v for k, v in HubSpotUser.fields.items() if k != "lead_status"}
    required = frozenset({"last_name"})  # the other app's: a blank would be rejected there


class _FlakyOrg(Org):
    """An org whose API saves sometimes fail one record with ``UNABLE_TO_LOCK_ROW`` (another
    transaction held the row: Salesforce's commonest transient per-record error); the other
    records of an sObject Collection are saved. Users' own edits (``as_user``) never fail."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.rng = random.Random(0)
        self.failed = 0
        self._user = threading.local()
        super().__init__()

    @contextlib.contextmanager
    def as_user(self) -> Iterator[None]:
        self._user.on = True
        try:
            yield
        finally:
            self._user.on = False

    def _maybe_fail(self) -> None:
        if self.rate and not getattr(self._user, "on", False):
            with self.lock:
                hit = self.rng.random() < self.rate
                self.failed += hit
            if hit:
                raise RecordError(SfError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"))

    def create(self, type_: str, values: Mapping[str, Any], *, allow_save: bool = False, rules: bool = True) -> str:
        self._maybe_fail()
        return super().create(type_, values, allow_save=allow_save, rules=rules)

    def update(self, type_: str, id: str, values: Mapping[str, Any], *, allow_save: bool = False,
               rules: bool = True) -> str:
        self._maybe_fail()
        return super().update(type_, id, values, allow_save=allow_save, rules=rules)

    def delete(self, type_: str | None, id: str) -> str:
        self._maybe_fail()
        return super().delete(type_, id)


class _InFlight:
    """ASGI wrapper counting requests being served, so the world waits for a request hung by
    a time-out to end before users edit again: whatever such a request still did must belong
    to the pass that sent it (a write landing on top of a later user edit is a loss no engine
    can prevent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.n = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.lock:
            self.n += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with self.lock:
                self.n -= 1


class FaultySalesforce(SalesforceSandbox):
    """The Salesforce sandbox, with at random the faults it otherwise only takes queued
    (429, ``500_applied``, ``reset_applied``) and per-record failures (``_FlakyOrg``)."""

    org: _FlakyOrg

    def __init__(self) -> None:
        super().__init__(SalesforceSettings(daily_limit=1_000_000_000))
        self.org = _FlakyOrg()
        self.rates: dict[str, float] = {}
        self.inflight = _InFlight(self.app)
        self.app = self.inflight  # type: ignore[assignment]  # served by start()

    def draw_fault(self, kind: str = "") -> str | None:
        fault = super().draw_fault(kind)  # the queue, then rate_limit, error and timeout
        if fault is not None or not self.rates:
            return fault
        x = self._rng.random()
        for name, rate in self.rates.items():
            if x < rate:
                return name
            x -= rate
        return None

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until no request is being served (a hung one is carried out or dropped)."""
        deadline = time.monotonic() + timeout
        while self.inflight.n and time.monotonic() < deadline:
            time.sleep(0.005)


class SalesforceUser:
    fields = {"email": "Email", "first_name": "FirstName", "last_name": "LastName", "phone": "Phone",
              "city": "MailingCity", "job_title": "Title"}
    required = frozenset({"last_name"})  # LastName cannot be blank in Salesforce

    def __init__(self, sb: FaultySalesforce) -> None:
        self.sb = sb

    def live(self) -> list[tuple[str, dict[str, Value]]]:
        names = self.fields.values()
        return [(str(r["Id"]), {k: r.get(k) if r.get(k) != "" else None for k in names})
                for r in self.sb.records(CONTACT)]

    def create(self, props: Mapping[str, Value]) -> str:
        with self.sb.org.as_user():
            return self.sb.create(CONTACT, dict(props))

    def update(self, rid: str, props: Mapping[str, Value]) -> None:
        with self.sb.org.as_user():
            self.sb.update(CONTACT, rid, dict(props))

    def delete(self, rid: str) -> None:
        with self.sb.org.as_user():
            self.sb.delete(CONTACT, rid)

    def mark(self) -> int:
        # SystemModstamp has one-second precision: records changed in the mark's second are
        # delivered again by the next delivery (at least once, as webhooks are)
        return int(self.sb.org.now().timestamp())

    def changed_since(self, mark: int) -> list[str]:
        with self.sb.org.lock:
            rows = self.sb.org.rows[CONTACT].values()
            return [str(r["Id"]) for r in rows if r["SystemModstamp"].timestamp() >= mark]


class SalesforceWorld(World):
    """A World that owns a HubSpot and a Salesforce sandbox and their servers (closed by ``aclose``)."""

    def __init__(self, winner: Side, hit_known_bugs: bool = False) -> None:
        limits = {"rate_limit": 100_000, "search_rate": 100_000}
        self.hs = HubSpotSandbox(HubSpotSettings(**limits))  # type: ignore[arg-type]
        self.hs_server = ServerThread(self.hs.app).start()
        self.sf = FaultySalesforce()
        self.sf.start()
        assert self.sf.tls is not None
        token = f"hs-{uuid.uuid4().hex}"
        cfg: dict[str, Any] = {
            "apps": {"hubspot": {"type": "hubspot", "token": token, "base_url": self.hs_server.url, **limits,
                                 "timeout": CLIENT_TIMEOUT},
                     "salesforce": {"type": "salesforce", "instance_url": self.sf.url, "access_token": "sf-token",
                                    "verify": self.sf.tls.cafile}},
            "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                       "right": {"app": "salesforce", "object": CONTACT}}],
        }  # the winner, direction, filters and mappings are the World's (operators change them)
        parse_config(cfg, env={})  # the apps as a config file states them
        hs_conn = HubSpotConnector("hubspot", token=token, base_url=self.hs_server.url, timeout=CLIENT_TIMEOUT,
                                   backoff=0.01, max_backoff=0.05, **limits)  # type: ignore[arg-type]
        sf_conn = SalesforceConnector("salesforce", self.sf.url, "sf-token", verify=self.sf.tls.cafile,
                                      timeout=CLIENT_TIMEOUT, backoff=0.01)
        super().__init__(winner=winner, users=(HubSpotContacts(self.hs), SalesforceUser(self.sf)),
                         connectors=(hs_conn, sf_conn), config=cfg, faults=self._set_faults,
                         fault_counts=self._counts, hit_known_bugs=hit_known_bugs)

    def faults_on(self, rate: float, seed: int) -> None:
        """Each pass or delivery starts up to 90 s of the org's time after the last (Accord
        polls Salesforce every 15 minutes by default): getDeleted ignores seconds and reports a
        delete only once its minute is over, so deletes reach incremental passes by the minute."""
        self.sf.advance(random.Random(seed + 3).uniform(0, 90))
        super().faults_on(rate, seed)

    async def converge(self) -> list[str]:
        # quiescence: a minute passes, so the change feed has every delete (see faults_on)
        self.sf.advance(60)
        return await super().converge()

    def _set_faults(self, rate: float, seed: int) -> None:
        if rate <= 0:
            self.hs.clear_faults()
            self.sf.set_faults()
            self.sf.rates, self.sf.org.rate = {}, 0.0
            self.sf.settle()  # faults end with the pass: a hung request is carried out before users go on
            return
        self.hs.set_faults(rate_429=rate / 5, rate_500=rate / 5, rate_timeout=rate / 20,
                           hang_seconds=CLIENT_TIMEOUT + 0.05, rate_reset=rate / 5, reset_applied=0.5,
                           rate_half_batch=rate, seed=seed)
        self.sf.set_faults(rate_limit=rate / 10, error=rate / 5, timeout=rate / 20,
                           hang_seconds=CLIENT_TIMEOUT + 0.05, retry_after=None)
        self.sf.rates = {"429": rate / 10, "500_applied": rate / 10, "reset_applied": rate / 10}
        self.sf._rng.seed(seed + 1)
        self.sf.org.rate, self.sf.org.rng = rate / 3, random.Random(seed + 2)

    def _counts(self) -> Counter[str]:
        out: Counter[str] = Counter()
        out.update({f"hubspot {k.removeprefix('fault_')}": v for k, v in self.hs.counters.items()
                    if k.startswith("fault_")})
        out.update({f"salesforce {k}": v for k, v in self.sf.stats.faults.items()})
        if self.sf.org.failed:
            out["salesforce record UNABLE_TO_LOCK_ROW"] = self.sf.org.failed
        return out

    async def aclose(self) -> None:
        await super().aclose()
        self.hs_server.stop()
        self.hs.close()
        # a request still hung by an injected time-out must not hold up the server's shutdown
        await asyncio.to_thread(self.sf.stop)
        if self.sf.tls is not None:
            shutil.rmtree(Path(self.sf.tls.cafile).parent, ignore_errors=True)


def salesforce_world(winner: Side, hit_known_bugs: bool = False) -> World:
    return SalesforceWorld(winner, hit_known_bugs)
