"""A distributed Accord on one machine, for tests and bench/scale.py.

HubSpot and Salesforce sandboxes on loopback (in this process, or each in a process of its
own), a PostgreSQL index, a Temporal dev server and ``accord worker`` processes started and
killed like real ones. The syncs' workflows are started the way ``accord run --temporal``
starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from accord.distributed.client import ensure_workflow, handle_of
from accord.distributed.types import SyncParams
from accord.index import Store
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce import SandboxSettings as SalesforceSettings
from accord.sandbox.server import ServerThread

# generous limits: the tests measure the engine, not the vendors' quotas
HS_LIMITS = {"rate_limit": 1_000_000, "search_rate": 10_000}


@dataclass
class Pair:
    """One HubSpot account and one Salesforce org, served on loopback."""

    hs: HubSpotSandbox
    hs_server: ServerThread
    sf: SalesforceSandbox

    @classmethod
    def start(cls) -> Pair:
        hs = HubSpotSandbox(SandboxSettings(**HS_LIMITS))
        srv = ServerThread(hs.app).start()
        sf = SalesforceSandbox(SalesforceSettings(daily_limit=100_000_000))
        sf.start()
        return cls(hs, srv, sf)

    def stop(self) -> None:
        self.sf.stop()
        self.hs_server.stop()
        self.hs.close()

    def reset(self) -> None:
        self.hs.reset()
        self.sf.reset()

    def apps(self, suffix: str = "") -> dict[str, Any]:
        assert self.sf.tls is not None
        return {
            f"hubspot{suffix}": {"type": "hubspot", "token": f"pat{suffix}", "base_url": self.hs_server.url,
                                 "poll": "1h", "rate_limit": HS_LIMITS["rate_limit"],
                                 "search_rate": HS_LIMITS["search_rate"]},
            f"salesforce{suffix}": {"type": "salesforce", "instance_url": self.sf.url, "access_token": f"t{suffix}",
                                    "verify": self.sf.tls.cafile, "poll": "1h"},
        }


def contacts_sync(name: str, suffix: str = "") -> dict[str, Any]:
    return {"name": name, "left": {"app": f"hubspot{suffix}", "object": "contacts"},
            "right": {"app": f"salesforce{suffix}", "object": "Contact"}, "winner": f"hubspot{suffix}"}


def seed_contacts(pair: Pair, n: int, prefix: str = "c") -> None:
    """``n`` people: half only in HubSpot, 30 % only in Salesforce, 20 % in both with conflicting values."""
    for i in range(n):
        first, last, email = f"First{i}", f"Last{i}", f"{prefix}{i}@example{i % 97}.com"
        r = i % 10
        if r < 5 or r >= 8:
            pair.hs.user_create("contacts", {"firstname": first, "lastname": last, "email": email,
                                             "phone": f"+1 555 {i:07d}", "jobtitle": "Engineer", "city": "Austin"})
        if r >= 5:
            pair.sf.create("Contact", {"FirstName": first, "LastName": last, "Email": email.upper() if r >= 8 else email,
                                       "Phone": f"+49 30 {i:07d}" if r >= 8 else None,
                                       "Title": "CTO" if r >= 8 else "Manager", "MailingCity": "Berlin"})


def people(pair: Pair) -> dict[str, list[tuple[Any, ...]]]:
    """Both apps' contacts as comparable rows (no ids, no timestamps)."""
    hs_fields = ("email", "firstname", "lastname", "phone", "jobtitle", "city")
    sf_fields = ("Email", "FirstName", "LastName", "Phone", "Title", "MailingCity")
    return {
        "hubspot": sorted(tuple(str(r["properties"].get(f) or "") for f in hs_fields)
                          for r in pair.hs.records("contacts")),
        "salesforce": sorted(tuple(str(r.get(f) or "").lower() if f == "Email" else str(r.get(f) or "")
                                   for f in sf_fields) for r in pair.sf.records("Contact")),
    }


def duplicates(rows: list[tuple[Any, ...]]) -> list[Any]:
    return [k for k, v in Counter(str(r[0]).lower() for r in rows).items() if v > 1]


def end_state(pair: Pair, store: Store, sync: str) -> dict[str, Any]:
    return {**people(pair), "index": store.counts(sync), "reasons": store.reason_counts(sync)}


@dataclass
class Cluster:
    """Workers (processes) over one config, index and Temporal server."""

    address: str
    state: str
    root: Path
    apps: dict[str, Any]
    syncs: list[dict[str, Any]]
    task_queue: str = "accord"
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = self.root / "accord.yaml"
        self.config.write_text(yaml.safe_dump({"state": self.state, "apps": self.apps, "syncs": self.syncs}))

    def start_worker(self, concurrency: int = 4, timeout: float = 60.0,
                     env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.start_workers(1, concurrency, timeout, env)[0]

    def start_workers(self, count: int, concurrency: int = 4, timeout: float = 60.0,
                      env: dict[str, str] | None = None) -> list[subprocess.Popen[bytes]]:
        """``count`` workers started together (each takes seconds to import and connect), once all polls."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        started = []
        for _ in range(count):
            n = len(self.workers)
            log = open(self.root / f"worker-{n}.log", "wb")  # noqa: SIM115 - the process writes it until it ends
            proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "worker", "-c", str(self.config),
                                     "--temporal", self.address, "--task-queue", self.task_queue,
                                     "--concurrency", str(concurrency)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
            self.workers.append(proc)
            started.append((n, proc))
        deadline = time.monotonic() + timeout
        for n, proc in started:
            while b"task queue" not in (self.root / f"worker-{n}.log").read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start: {self.log(n)[-3000:]}")
                time.sleep(0.05)
        return [proc for _, proc in started]

    def log(self, n: int) -> str:
        return (self.root / f"worker-{n}.log").read_text(errors="replace")

    def stop(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.workers:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    async def client(self) -> Client:
        return await Client.connect(self.address)

    async def start_syncs(self, client: Client, **params: Any) -> None:
        for s in self.syncs:
            await ensure_workflow(client, SyncParams(s["name"], **params), task_queue=self.task_queue)

    async def terminate(self, client: Client) -> None:
        """End the syncs' workflows (they would wait on their timers forever)."""
        for s in self.syncs:
            with contextlib.suppress(Exception):
                await handle_of(client, s["name"], self.task_queue).terminate("test over")

    async def running_activity(self, client: Client, sync: str) -> tuple[str, int, dict[str, Any]] | None:
        """(activity, worker pid, last heartbeat) of the sync's activity in progress, if any."""
        desc = await handle_of(client, sync, self.task_queue).describe()
        for act in desc.raw_description.pending_activities:
            identity = act.last_worker_identity
            if identity and act.state == 2:  # PENDING_ACTIVITY_STATE_STARTED
                details: dict[str, Any] = {}
                if act.heartbeat_details.payloads:
                    import json

                    raw = json.loads(act.heartbeat_details.payloads[0].data or b"null")
                    details = raw if isinstance(raw, dict) else {}
                return act.activity_type.name, int(identity.split("@", 1)[0]), details
        return None

    async def wait_for(self, store: Store, syncs: list[str], timeout: float) -> float:
        """Until every sync has finished its initial pass; returns the seconds waited."""
        t0 = time.monotonic()
        while True:
            states = [store.sync_state(s) for s in syncs]
            if all(st is not None and st.initial_done for st in states):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"initial syncs not done after {timeout} s; worker log: {self.log(0)[-3000:]}")
            for n, p in enumerate(self.workers):
                if p.poll() not in (None, -signal.SIGKILL):
                    raise RuntimeError(f"worker {n} exited with {p.returncode}: {self.log(n)[-3000:]}")
            await asyncio.sleep(0.2)


_queues = itertools.count(1)


@contextmanager
def cluster(address: str, state: str, root: Path, apps: dict[str, Any], syncs: list[dict[str, Any]]) -> Iterator[Cluster]:
    """Workers on a task queue of their own (a test's workflows never meet another test's)."""
    c = Cluster(address, state, root, apps, syncs, task_queue=f"accord-test-{os.getpid()}-{next(_queues)}")
    try:
        yield c
    finally:
        c.stop()
