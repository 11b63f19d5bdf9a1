"""Salesforce Bulk API 2.0 benchmark (issue #21): the Salesforce API calls of an initial sync of N
contacts from a HubSpot sandbox into an empty Salesforce sandbox, once REST only and once with
Bulk API 2.0 (ingest jobs for the creates).

Each run starts both sandboxes afresh, each in its own process (uvicorn on loopback, plain HTTP;
HubSpot without a binding rate limit, since the figure is Salesforce's calls, not speed), and
syncs contacts ↔ Contact two-way with the default mappings, an SQLite index and ``SyncRunner``.
Salesforce's calls are the sandbox's own counter (every request that reached its API, retries
included; ``/services/data/`` without a version costs nothing, as in a real org).

The sync runs as ``accord sync`` runs it: the runner's and the apps' defaults. Into an empty target,
the runner gathers the source's pages into whole write batches of the target before it writes them
(``SyncRunner.write_group_max``, docs/reliability.md "Write groups"): 200-record sObject Collections
on the REST path, ingest jobs of one write group (25,000 records) each with the Bulk API on.

Figures:

* bulk calls ÷ REST calls (target ≤ 0.1), for both kinds of run;
* REST calls ÷ the REST minimum (target ≤ 1.05). The minimum of an initial sync into an empty org
  is 1 describe of Contact + 1 query page (the empty target's scan) + ceil(N/200) sObject
  Collections creates (200 records each); everything else (change-cursor calls are free: they
  read the unversioned ``/services/data/``) is overhead.

    python bench/salesforce_bulk.py                    # 200,000 contacts
    python bench/salesforce_bulk.py --records 20000    # a quicker check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from results_file import save_section


# -- the sandbox processes ------------------------------------------------------------------------------
def serve_hubspot(port: int, records: int) -> None:
    import uvicorn

    from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
    from accord.sandbox.hubspot.store import SEED

    sb = HubSpotSandbox(SandboxSettings(rate_limit=1_000_000, search_rate=100_000))
    now = sb.store.clock()
    with sb.store.lock:
        for i in range(records):
            sb.store.create("contacts", {"email": f"contact{i}@example{i % 997}.com", "firstname": f"First{i}",
                                         "lastname": f"Last{i}", "phone": f"+1 555 {i:07d}", "jobtitle": "Engineer"},
                            SEED, at=now - 86_400_000 + i, modified_at=now - 86_400_000 + i)
    print("ready", flush=True)
    uvicorn.run(sb.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_salesforce(port: int) -> None:
    import uvicorn

    from accord.sandbox.salesforce import SalesforceSandbox, SandboxSettings

    sb = SalesforceSandbox(SandboxSettings(daily_limit=10_000_000))
    print("ready", flush=True)
    uvicorn.run(sb.app, host="127.0.0.1", port=port, log_level="warning", access_log=False, date_header=False)


def start(kind: str, records: int) -> tuple[subprocess.Popen[str], str]:
    from accord.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, f"--serve-{kind}", str(port), "--records", str(records)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind} sandbox did not start")
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            get(url, "/_sandbox/stats" if kind == "salesforce" else "/_sandbox/")
            return proc, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{kind} sandbox on {url} does not answer")


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=120) as r:
        return json.loads(r.read())


# -- one run --------------------------------------------------------------------------------------------
async def sync(hs: str, sf: str, tmp: str, bulk: bool) -> tuple[float, Any, dict[str, int], int]:
    from accord.config import parse_config
    from accord.session import Session

    off = {"bulk_threshold": None, "bulk_write_threshold": None}
    cfg = parse_config({
        "state": f"sqlite:///{tmp}/index.db",
        "apps": {"hubspot": {"type": "hubspot", "token": "bench-hs", "base_url": hs},
                 "salesforce": {"type": "salesforce", "instance_url": sf, "access_token": "bench-sf",
                                **({} if bulk else off)}},
        "syncs": [{"name": "contacts", "left": {"app": "hubspot", "object": "contacts"},
                   "right": {"app": "salesforce", "object": "Contact"}}],
    }, env={})
    session = Session(cfg)
    runner = session.runner("contacts")
    t0 = time.perf_counter()
    res = await runner.run()
    elapsed = time.perf_counter() - t0
    counts = session.store.counts("contacts")
    await session.aclose()
    return elapsed, res, counts, runner.write_group_max


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_once(n: int, bulk: bool) -> dict[str, Any]:
    hs_proc, hs = start("hubspot", n)
    sf_proc, sf = start("salesforce", 0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, res, counts, group_max = asyncio.run(sync(hs, sf, tmp, bulk))
        stats = get(sf, "/_sandbox/stats")
    finally:
        for p in (hs_proc, sf_proc):
            p.terminate()
            p.wait(timeout=30)
    return {"mode": "bulk" if bulk else "rest", "seconds": round(elapsed, 1), "api_calls": stats["calls"],
            "calls_by_kind": dict(sorted(stats["by_kind"].items())), "write_group_max": group_max,
            "created": res.counters.created["right"], "status": counts,
            # the benchmark process's peak so far (this run's or an earlier one's, whichever is higher)
            "peak_rss_mb": peak_rss_mb()}


def run(n: int) -> dict[str, Any]:
    minimum = 2 + math.ceil(n / 200)
    rest = run_once(n, bulk=False)
    bulk = run_once(n, bulk=True)
    return {"records": n, "rest_minimum": minimum, "engine": {
        "rest": rest, "bulk": bulk, "bulk_over_rest": round(bulk["api_calls"] / max(1, rest["api_calls"]), 4),
        "rest_over_minimum": round(rest["api_calls"] / minimum, 4)}}


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    r = section["run"]
    n = f"{r['records']:,}"
    out: list[tuple[str, str, str, str]] = []
    for kind, label in (("engine", "accord sync's defaults"),):
        k = r.get(kind)
        if k is None:
            continue
        out += [
            (f"Salesforce: initial sync of {n} contacts ({label}), Bulk API calls ÷ REST calls",
             f"{k['bulk']['api_calls']:,} ÷ {k['rest']['api_calls']:,} = {k['bulk_over_rest']:.3f}", "≤ 0.1",
             "met" if k["bulk_over_rest"] <= 0.1 else "NOT met"),
            (f"Salesforce: REST calls ÷ minimum ({label})", f"{k['rest']['api_calls']:,} ÷ {r['rest_minimum']:,} = "
             f"{k['rest_over_minimum']:.3f}", "≤ 1.05", "met" if k["rest_over_minimum"] <= 1.05 else "NOT met"),
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    ap.add_argument("--serve-hubspot", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--serve-salesforce", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_hubspot:
        serve_hubspot(args.serve_hubspot, args.records)
        return
    if args.serve_salesforce:
        serve_salesforce(args.serve_salesforce)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop the sandboxes
    r = run(args.records)
    for kind in ("engine",):
        k = r[kind]
        for mode in ("rest", "bulk"):
            m = k[mode]
            print(f"{kind:<8} {mode:<5} {m['api_calls']:>7,} calls  {m['seconds']:>7} s  created {m['created']:,}  "
                  f"{m['calls_by_kind']}  status {m['status']}")
        print(f"{kind:<8} bulk ÷ REST {k['bulk_over_rest']:.4f} (target ≤ 0.1); REST ÷ minimum {r['rest_minimum']:,}: "
              f"{k['rest_over_minimum']:.4f} (target ≤ 1.05)")
    if args.no_write:
        return
    from accord.runner import SyncRunner

    save_section(args.out, "salesforce_bulk", {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with both sandbox processes, "
                   f"Python {platform.python_version()}",
        "setup": "initial two-way sync contacts ↔ Contact, HubSpot sandbox seeded with N contacts, empty "
                 "Salesforce sandbox; REST run: bulk_threshold and bulk_write_threshold off; bulk run: defaults "
                 "(10,000 / 2,000); the runner's and the apps' defaults otherwise (write groups of up to "
                 f"{SyncRunner.write_group_max:,} records: SyncRunner.write_group_max)",
        "minimum_calls": "1 Contact describe + 1 query page (empty target) + ceil(N/200) collection creates",
        "run": r,
    })


if __name__ == "__main__":
    main()
