"""HubSpot benchmark: initial sync of N contacts from one HubSpot account to an empty second one.

Both accounts are HubSpot sandboxes, each in its own process (uvicorn on loopback) with the
sandbox's default rate limit, 190 requests per rolling 10 s; the connectors are configured
to the same limit. The engine syncs them two-way (contacts ↔ contacts, default mappings,
SQLite index on local disk) with ``SyncRunner``. Both sandboxes and the engine share the
machine's cores.

Reported:

* records/s = N ÷ the wall time of the initial pass (describe, cursors, all three phases);
* the fraction of the rate-limit bound, 100 records × 19 requests/s = 1,900 records/s
  (a batch write takes 100 records and one account allows 19 requests/s sustained);
* API calls used (the sum of both sandboxes' request counters: every request that reached
  them, retries and 429s included) ÷ the minimum possible, which is the source's reads
  with every page full and every record read once + 1 (empty) list page on the target
  + ceil(N/100) batch upserts on the target + 4 metadata calls (one properties describe
  and one change-cursor search per account). The scan reads list pages (100 records)
  from the bottom and search pages (200) from the top at once; with s the share of the
  records served that came through search, full pages are ceil(N(1-s)/100) + ceil(Ns/200).
  Pages read past the point where the lanes meet, and partial last pages, count as waste.

    python bench/hubspot.py                  # 50,000 contacts
    python bench/hubspot.py --records 2000   # a quick check
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

BOUND = 100 * 190 / 10  # records/s: a 100-input batch write at 19 requests/s


# -- the sandbox processes ------------------------------------------------------------------------------
def serve(port: int, records: int) -> None:
    """Child process: a HubSpot sandbox with ``records`` synthetic contacts, on 127.0.0.1:port."""
    import uvicorn

    from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
    from accord.sandbox.hubspot.store import SEED

    sb = HubSpotSandbox(SandboxSettings())
    now = sb.store.clock()
    with sb.store.lock:
        for i in range(records):
            sb.store.create("contacts", {
                "email": f"contact{i}@example{i % 997}.com", "firstname": f"First{i}", "lastname": f"Last{i}",
                "phone": f"+1 555 {i:07d}", "company": f"Company {i % 5000}", "jobtitle": "Engineer" if i % 3 else "",
                "country": "Germany", "city": f"City {i % 100}", "industry": "Software",
                "hs_lead_status": "NEW" if i % 2 else "OPEN",
            }, SEED, at=now - 86_400_000 + i, modified_at=now - 86_400_000 + i)
    print("ready", flush=True)
    uvicorn.run(sb.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_sandbox(records: int) -> tuple[subprocess.Popen[str], str]:
    from accord.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--records", str(records)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("sandbox did not start")
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            get(url, "/_sandbox/")
            return proc, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sandbox on {url} does not answer")


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=60) as r:
        return json.loads(r.read())


# -- the run ---------------------------------------------------------------------------------------------------
async def sync(src: str, dst: str, tmp: str) -> tuple[float, Any, dict[str, int], dict[str, int], float]:
    from accord.config import parse_config
    from accord.session import Session

    cfg = parse_config({
        "state": f"sqlite:///{tmp}/index.db",
        "apps": {"src": {"type": "hubspot", "token": "bench-src", "base_url": src, "rate_limit": 190},
                 "dst": {"type": "hubspot", "token": "bench-dst", "base_url": dst, "rate_limit": 190}},
        "syncs": [{"name": "contacts", "left": {"app": "src", "object": "contacts"},
                   "right": {"app": "dst", "object": "contacts"}}],
    }, env={})
    session = Session(cfg)
    runner = session.runner("contacts")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    res = await runner.run()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    counts = session.store.counts("contacts")
    calls = {app: getattr(session.connector(app), "api_calls", 0) for app in ("src", "dst")}
    await session.aclose()
    return elapsed, res, counts, calls, cpu


def run(n: int) -> dict[str, Any]:
    src_proc, src = start_sandbox(n)
    dst_proc, dst = start_sandbox(0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, res, counts, conn_calls, cpu = asyncio.run(sync(src, dst, tmp))
        server = {"src": get(src, "/_sandbox/counters"), "dst": get(dst, "/_sandbox/counters")}
        dst_count = get(dst, "/_sandbox/")["records"]["contacts"]
    finally:
        for p in (src_proc, dst_proc):
            p.terminate()
            p.wait(timeout=10)
    # Reads: the scan takes records 100 a list page and 200 a search page (search_share of those
    # served came through search); full pages of that split, every record once, are the fewest.
    served = {k: server["src"].pop(f"results_{k}", 0) + server["dst"].pop(f"results_{k}", 0) for k in ("list", "search")}
    search_share = served["search"] / max(1, served["list"] + served["search"])
    reads = math.ceil(n * (1 - search_share) / 100) + math.ceil(n * search_share / 200)
    minimum = reads + 1 + math.ceil(n / 100) + 4
    used = server["src"].get("total", 0) + server["dst"].get("total", 0)
    rps = n / elapsed
    return {
        "records": n, "seconds": round(elapsed, 2), "records_per_second": round(rps),
        "bound_records_per_second": round(BOUND), "fraction_of_bound": round(rps / BOUND, 3),
        "api_calls": used, "api_calls_minimum": minimum, "calls_over_minimum": round(used / minimum, 3),
        "records_served": served,
        "calls_by_kind": {k: {kk: v for kk, v in sorted(c.items()) if kk != "total"} for k, c in server.items()},
        "connector_calls": conn_calls, "engine_cpu_seconds": round(cpu, 2),
        "created": res.counters.created, "target_contacts": dst_count, "status": counts,
    }


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    r = section["run"]
    return [
        (f"HubSpot: initial sync of {r['records']:,} contacts, ÷ rate-limit bound ({r['records_per_second']:,} records/s)",
         f"{r['fraction_of_bound']:.2f}", "≥ 0.9", "met" if r["fraction_of_bound"] >= 0.9 else "NOT met"),
        ("HubSpot: API calls ÷ minimum", f"{r['api_calls']:,} ÷ {r['api_calls_minimum']:,} = {r['calls_over_minimum']:.3f}",
         "≤ 1.1", "met" if r["calls_over_minimum"] <= 1.1 else "NOT met"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.serve:  # terminated: still stop both sandbox processes (the finally in run())
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.serve:
        serve(args.serve, args.records)
        return
    r = run(args.records)
    ok = r["target_contacts"] == args.records and r["status"] == {"syncing": args.records}
    rows = [("records", f"{r['records']:,}"), ("wall time", f"{r['seconds']} s"),
            ("records/s", f"{r['records_per_second']:,}"),
            ("fraction of bound", f"{r['fraction_of_bound']:.2f}  (bound {BOUND:,.0f} records/s; target ≥ 0.9)"),
            ("API calls", f"{r['api_calls']:,}  (minimum {r['api_calls_minimum']:,})"),
            ("calls ÷ minimum", f"{r['calls_over_minimum']:.3f}  (target ≤ 1.1)"),
            ("engine CPU", f"{r['engine_cpu_seconds']} s"),
            ("target synced", f"{r['target_contacts']:,} contacts, index {r['status']}" + ("" if ok else "  MISMATCH"))]
    for k, v in rows:
        print(f"{k:<18} {v}")
    if args.no_write:
        return
    machine = (f"{platform.machine()}, {os.cpu_count()} cores shared by the engine and both sandbox processes, "
               f"Python {platform.python_version()}")
    save_section(args.out, "hubspot", {
        "machine": machine,
        "setup": "initial two-way sync, contacts, source sandbox seeded with N contacts, empty target; "
                 "sandboxes at 190 requests / 10 s, connectors at rate_limit 190; SQLite index on local disk",
        "minimum_calls": "source reads in full pages of the run's list/search split, ceil(N(1-s)/100) + "
                         "ceil(Ns/200), + 1 empty target list page + ceil(N/100) batch upserts "
                         "+ 2 properties + 2 change-cursor searches",
        "run": r,
    })


if __name__ == "__main__":
    main()
