"""Latency benchmark: how long a user's edit in HubSpot takes to reach the other app.

One process on loopback holds a HubSpot sandbox (uvicorn in a ``ServerThread``), the
``accord run`` service app (FastAPI, its own ``ServerThread``, scheduler on) and an
in-memory app on the other side of a two-way contacts sync (default mappings, SQLite
index on local disk). The service's defaults are kept (webhook batching delay 0.2 s,
scheduler tick 0.5 s); both sandboxes' rate limits are HubSpot's (190 requests / 10 s,
search 5/s), the connector's too.

After the initial sync (the service's first scheduled pass), a "user" edits one HubSpot
contact at a time (``firstname`` set to a new value, a random 0.1–0.5 s after the previous
edit became visible; in the poll mode 0.1 s–0.1 s + one poll interval, so edits fall at
random points of the pass cycle) and the memory app is polled every 2 ms until the new value is there.

* **webhook-to-write**: the sandbox delivers signed v3 webhooks to ``/webhooks/hs``
  (poll interval 1 h, so only webhooks can carry the change);
* **poll-to-write**: webhooks off, poll interval 1 s: the scheduled incremental pass
  (CRM search on ``lastmodifieddate``) picks the change up.
* **webhook-to-write during a full pass**: as webhook-to-write, with 5,000 contacts, while full
  passes of the same sync run back to back (each edit is made while one runs): the pass holds
  the sync's lease and syncs the webhook records between its pages, instead of after it.

Counted per edit: from just before ``user_update`` commits in the sandbox to the first poll
that sees the new ``first_name`` in the memory app (resolution 2 ms). An edit not seen
within the time limit is counted as missed, not as a latency.

    python bench/latency.py               # 100 edits per mode (50 during full passes)
    python bench/latency.py --edits 20    # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from results_file import save_section

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.session import Session

SECRET = "bench-secret"
TOKEN = "bench-token"
POLL_EVERY = 0.002  # how often the memory app is checked for the new value


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, min(len(s), math.ceil(p / 100 * len(s))) - 1)]


def summary(xs: list[float]) -> dict[str, Any]:
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "p50_ms": round(pct(xs, 50) * 1000, 1), "p95_ms": round(pct(xs, 95) * 1000, 1),
            "max_ms": round(max(xs) * 1000, 1), "min_ms": round(min(xs) * 1000, 1),
            "mean_ms": round(statistics.fmean(xs) * 1000, 1)}


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class FullPasses:
    """Full passes of the sync back to back, on the service's loop, until stopped."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.done: list[float] = []  # seconds each pass took
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="full-passes")

    def _run(self) -> None:
        assert self.service.loop is not None
        while not self.stopping.is_set():
            t0 = time.monotonic()
            asyncio.run_coroutine_threadsafe(self.service.run_pass("contacts", full=True), self.service.loop).result()
            self.done.append(time.monotonic() - t0)

    def running(self) -> bool:
        st = self.service.slot("contacts").tracker.state
        return bool(st.running and st.kind == "full" and st.phase)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(300)


def measure(mode: str, edits: int, contacts: int, poll: float, seed: int) -> dict[str, Any]:
    during_pass = mode == "pass"
    webhooks = mode in ("webhook", "pass")
    rng = random.Random(seed)
    sandbox = HubSpotSandbox(SandboxSettings(records=0, seed=seed))
    hub = ServerThread(sandbox.app).start()
    hs_ids = [sandbox.user_create("contacts", {"email": f"c{i}@bench.example", "firstname": f"F{i}",
                                               "lastname": "Latency"})["id"] for i in range(contacts)]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({
            "state": f"sqlite:///{tmp}/index.db",
            "apps": {"hs": {"type": "hubspot", "token": "bench-pat", "base_url": hub.url, "webhook_secret": SECRET,
                            "poll": "1h" if webhooks else poll},
                     "mem": {"type": "memory", "poll": "1h" if webhooks else poll}},
            "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                       "right": {"app": "mem", "object": "contacts"}}],
        }, env={})
        mem = MemoryApp("mem")
        service = Service(cfg, Session(cfg, connectors={"mem": mem}))  # the defaults of `accord run`
        server = ServerThread(create_app(cfg, service, token=TOKEN)).start()
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            deadline = time.monotonic() + 120
            while not client.get("/api/syncs/contacts").json()["initial_done"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the initial sync did not finish")
                time.sleep(0.05)
            by_email = {r.properties["email"]: r.id for r in mem.live("contacts")}
            mem_ids = [by_email[f"c{i}@bench.example"] for i in range(contacts)]
            if webhooks:
                sandbox.configure_webhooks(f"{server.url}/webhooks/hs", SECRET)
            time.sleep(1.0)  # let the scheduler settle after the initial pass
            passes = FullPasses(service) if during_pass else None
            written_in_pass = 0
            if passes is not None:
                passes.thread.start()
            runs_before = {r["id"] for r in client.get("/api/syncs/contacts/runs", params={"limit": 500}).json()}
            calls_before = sandbox.counters["total"]
            limit = 10.0 if webhooks else 5 * poll + 10.0
            lat: list[float] = []
            missed = 0
            t_start = time.monotonic()
            for i in range(edits):
                k = i % contacts
                value = f"{mode}{i}"
                while passes is not None and not passes.running():
                    time.sleep(POLL_EVERY)  # each edit is made while a full pass runs
                t0 = time.perf_counter()
                sandbox.user_update("contacts", hs_ids[k], {"firstname": value})
                while True:
                    try:
                        seen = mem.get("contacts", mem_ids[k]).properties.get("first_name") == value
                    except RuntimeError:  # the service thread was writing that row: look again
                        seen = False
                    dt = time.perf_counter() - t0
                    if seen:
                        lat.append(dt)
                        written_in_pass += passes is not None and passes.running()
                        break
                    if dt > limit:
                        missed += 1
                        break
                    time.sleep(POLL_EVERY)
                # Webhooks: a fraction of a second. Polling: spread over one interval, so an edit
                # lands at a uniformly random point of the pass cycle (a fixed short gap after the
                # value was seen would edit just after each pass and measure almost a full interval).
                time.sleep(rng.uniform(0.1, 0.5) if webhooks else rng.uniform(0.1, 0.1 + poll))
            wall = time.monotonic() - t_start
            if passes is not None:
                passes.stop()
            if webhooks:
                sandbox.flush_webhooks()
            runs = [r for r in client.get("/api/syncs/contacts/runs", params={"limit": 500}).json()
                    if r["id"] not in runs_before and r["finished_at"]]
            kinds: dict[str, int] = {}
            for r in runs:
                kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            job = "records" if mode == "webhook" else "full" if during_pass else "incremental"
            jobs = sorted((r for r in runs if r["kind"] == job), key=lambda r: r["id"])
            durations = [_ts(r["finished_at"]) - _ts(r["started_at"]) for r in jobs]
            starts = [_ts(r["started_at"]) for r in jobs]
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            out: dict[str, Any] = {
                "edits": edits, "missed": missed, "latency": summary(lat),
                "wall_seconds": round(wall, 1), "runs_by_kind": kinds,
                f"{job}_job_ms": {"p50": round(pct(durations, 50) * 1000, 1) if durations else None,
                                  "max": round(max(durations) * 1000, 1) if durations else None},
                "hubspot_api_calls": sandbox.counters["total"] - calls_before,
                "hubspot_rate_limited": sandbox.counters["rate_limited"],
            }
            if passes is not None:
                out["full_passes"] = len(passes.done)
                out["full_pass_seconds"] = {"p50": round(pct(passes.done, 50), 2) if passes.done else None,
                                            "max": round(max(passes.done), 2) if passes.done else None}
                out["written_while_the_pass_ran"] = written_in_pass
            if webhooks:
                st = sandbox.webhooks.stats
                out["webhook_events_delivered"] = st.delivered
                out["webhook_failed_posts"] = st.failed_attempts
            else:
                out["poll_seconds"] = poll
                out["pass_start_interval_s"] = {"p50": round(pct(gaps, 50), 2) if gaps else None,
                                                "max": round(max(gaps), 2) if gaps else None}
            return out
        finally:
            client.close()
            server.stop()
            sandbox.close()
            hub.stop()


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    w, p = section["webhook_to_write"], section["poll_to_write"]
    wl, pl = w["latency"], p["latency"]
    d = section.get("webhook_to_write_during_full_pass")
    during = [] if d is None else [
        (f"latency: webhook → write during a full pass ({d['contacts']:,} contacts), p50 / p95 ({d['edits']} edits, "
         f"{d['missed']} missed)",
         f"{d['latency'].get('p50_ms', 0):,.0f} / {d['latency'].get('p95_ms', 0):,.0f} ms", "p95 < 2,000 ms",
         "met" if d["latency"].get("p95_ms", 1e9) < 2000 and not d["missed"] else "NOT met")]
    return [
        (f"latency: webhook → write, p50 / p95 ({w['edits']} edits, {w['missed']} missed)",
         f"{wl.get('p50_ms', 0):,.0f} / {wl.get('p95_ms', 0):,.0f} ms", "p95 < 2,000 ms",
         "met" if wl.get("p95_ms", 1e9) < 2000 and not w["missed"] else "NOT met"),
        (f"latency: poll ({p['poll_seconds']:g} s) → write, p50 / p95 ({p['edits']} edits, {p['missed']} missed)",
         f"{pl.get('p50_ms', 0):,.0f} / {pl.get('p95_ms', 0):,.0f} ms", "", ""),
        *during,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--contacts", type=int, default=200, help="contacts in the sandbox (edited in turn)")
    ap.add_argument("--poll", type=float, default=1.0, help="poll interval of the poll-to-write mode, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pass-contacts", type=int, default=5000,
                    help="contacts in the sandbox of the during-a-full-pass mode (the pass's length)")
    ap.add_argument("--pass-edits", type=int, help="edits during full passes (default: half of --edits)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = ap.parse_args()
    res = {"webhook_to_write": measure("webhook", args.edits, args.contacts, args.poll, args.seed),
           "poll_to_write": measure("poll", args.edits, args.contacts, args.poll, args.seed),
           "webhook_to_write_during_full_pass": {
               "contacts": args.pass_contacts,
               **measure("pass", args.pass_edits or max(1, args.edits // 2), args.pass_contacts, args.poll, args.seed)}}
    print(f"{'mode':<18} {'edits':>5} {'missed':>6} {'p50':>9} {'p95':>9} {'max':>9}   job p50")
    for name, r in res.items():
        s = r["latency"]
        job = r.get("records_job_ms") or r.get("incremental_job_ms") or r.get("full_job_ms") or {}
        print(f"{name:<18} {r['edits']:>5} {r['missed']:>6} {s.get('p50_ms', '-'):>7} ms {s.get('p95_ms', '-'):>6} ms "
              f"{s.get('max_ms', '-'):>6} ms   {job.get('p50')} ms")
    w, p = res["webhook_to_write"]["latency"], res["poll_to_write"]
    d = res["webhook_to_write_during_full_pass"]
    print(f"during full passes: {d['written_while_the_pass_ran']} of {d['edits']} written while the pass ran; "
          f"{d['full_passes']} passes, p50 {d['full_pass_seconds']['p50']} s")
    print(f"webhook p95 target < 2,000 ms: {'met' if w.get('p95_ms', 1e9) < 2000 else 'NOT met'}; "
          f"poll expected ≈ {args.poll * 500:.0f} ms + pass time (passes every "
          f"{p['pass_start_interval_s']['p50']} s, incremental job p50 {p['incremental_job_ms']['p50']} ms)")
    if args.no_write:
        return
    machine = (f"{platform.machine()}, {os.cpu_count()} cores shared by the sandbox, the service and the "
               f"editor/poller (one process, loopback), Python {platform.python_version()}")
    save_section(args.out, "latency", {
        "machine": machine,
        "setup": f"HubSpot sandbox ({args.contacts} contacts) ↔ in-memory app, two-way contacts sync in the "
                 "accord run service app (defaults: webhook delay 0.2 s, scheduler tick 0.5 s); SQLite index on "
                 f"local disk; one firstname edit at a time, 0.1-0.5 s (webhooks) or 0.1-{0.1 + args.poll:g} s "
                 "(polling) after the previous one was seen; during full passes: the same with "
                 f"{args.pass_contacts:,} contacts, each edit made while a full pass (run back to back) runs",
        "measured": "from just before the sandbox commits the user's edit to the first poll (every 2 ms) that "
                    "sees the new value in the memory app; missed = not seen within the time limit",
        **res,
    })


if __name__ == "__main__":
    main()
