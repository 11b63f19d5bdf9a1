"""Engine benchmark: plan + apply an initial two-way sync between two in-memory apps.

Each side has N contacts (50% of them on both sides, with conflicting values), 10
mapped fields, and the index is SQLite on disk. Records/s counts the records read from both
apps (2 N); "per core" divides by the CPU time of the pass (the engine runs on one thread),
the wall-clock rate by its wall time (lower when other processes share the core). The apps generate their records on the
fly so that the peak RSS measured is the engine's, not the fake apps' storage: it must
stay flat as N grows (streaming). Each run is its own process; sizes up to 100,000 per side
run ``--repeat`` times (default 3) and report the median run (its peak RSS with it), since
identical runs on a shared VM differ by up to ±10 %; 1,000,000 runs once (about 3.5 minutes).

Two ratios are measured in the same run, on the same machine and records, so they hold on any
machine of the kind (absolute rates differ by 2× between VMs of the same size):

* **floor**: the CPU to produce the same 2 N records (as the in-memory apps make them) and
  write one index row each (id, sync, record id, its properties as JSON, a timestamp) with
  ``executemany`` into the same SQLite schema (made by the project's own ``Store``), a
  transaction per 1,000-record page: the least any sync of those records into that index costs.
  Reported as the engine's records per CPU-second ÷ the floor's (target ≥ 0.5).
* **PostgreSQL index** (sizes up to 100,000 per side, unless ``--index sqlite``): the same
  pass with the index on a throwaway PostgreSQL server (the test suite's, ``tests/pg.py``),
  runs alternating with the SQLite ones. Records per CPU-second of the engine process ÷ the
  SQLite figure. SQLite works in the engine's process, PostgreSQL mostly in its server's, so
  the compared figure counts the server's CPU during the run too (``server_cpu_seconds``, from
  /proc: the postmaster and its backends), which makes it apples to apples (target ≥ 0.8); the
  engine process's own ratio is reported beside it.

    python bench/engine.py                 # 10k and 100k per side, prints a table
    python bench/engine.py --sizes 10000 100000 1000000
    python bench/engine.py --sizes 100000 --index sqlite   # without the PostgreSQL runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from results_file import save_section

from accord.config import parse_config
from accord.connectors.base import Connector
from accord.connectors.memory import STANDARD_FIELDS
from accord.index import Store
from accord.model import FieldSchema, ObjectSchema, Page, Record, Value, WriteResult
from accord.runner import SyncRunner

FIELDS = ["first_name", "last_name", "email", "phone", "company_name", "job_title", "country", "city", "industry", "notes"]


class SyntheticApp(Connector):
    """Contacts ``offset … offset+n-1`` generated on demand; writes are counted, not stored."""

    vendor = "memory"

    def __init__(self, name: str, n: int, offset: int, page_size: int = 1000) -> None:
        super().__init__(name)
        self.n, self.offset, self.page_size = n, offset, page_size
        self.batch_size = 100
        self.ids = itertools.count(1)
        self.writes = 0

    def _record(self, i: int) -> Record:
        tag = self.name
        props = {"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"user{i}@example.com",
                 "phone": f"+1555{i:07d}" if tag == "left" or i % 2 else f"+1666{i:07d}",
                 "company_name": f"Company {i % 5000}", "job_title": "Engineer" if i % 3 else None,
                 "country": "DE", "city": f"City {i % 100}", "industry": "Software", "notes": f"note {i} {tag}"}
        return Record(f"{tag}-{i}", props, "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z")

    async def describe(self, object: str) -> ObjectSchema:
        return ObjectSchema(object, {f: FieldSchema(f, t) for f, t in STANDARD_FIELDS["contacts"].items()})

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        for start in range(self.offset, self.offset + self.n, self.page_size):
            stop = min(start + self.page_size, self.offset + self.n)
            yield Page([self._record(i) for i in range(start, stop)])

    async def change_cursor(self, object: str) -> str:
        return "0"

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        return
        yield

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        return [self._record(int(i.rsplit("-", 1)[1])) for i in ids if not i.startswith(f"{self.name}-new")]

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        return []

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        self.writes += len(items)
        return [WriteResult.success(f"{self.name}-new-{next(self.ids)}") for _ in items]

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        self.writes += len(items)
        return [WriteResult.success(rid) for rid, _ in items]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        return [WriteResult.success(i) for i in ids]


def run_one(n: int, index_url: str | None = None) -> dict[str, Any]:
    cfg = parse_config({"apps": {"left": {"type": "memory"}, "right": {"type": "memory"}}, "syncs": [{
        "name": "contacts", "left": {"app": "left", "object": "contacts"}, "right": {"app": "right", "object": "contacts"},
        "mappings": [{"left": "notes", "right": "notes"}]}]}, env={})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(index_url or f"sqlite:///{tmp}/index.db")
        left, right = SyntheticApp("left", n, 0), SyntheticApp("right", n, n // 2)
        runner = SyncRunner(cfg.syncs[0], store, left, right)
        cpu0, t0 = time.process_time(), time.perf_counter()
        res = asyncio.run(runner.run())
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        counts = store.counts("contacts")
        store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"records_per_side": n, "records_processed": 2 * n, "seconds": round(elapsed, 2),
            "records_per_second": round(2 * n / elapsed), "cpu_seconds": round(cpu, 2),
            "records_per_cpu_second": round(2 * n / cpu), "peak_rss_mb": round(rss_mb, 1),
            "linked": res.counters.linked, "created": res.counters.created, "updated": res.counters.updated,
            "status": counts}


def floor_one(n: int) -> dict[str, Any]:
    """The floor: the same 2 N records made and one index row each written with ``executemany``."""
    from accord.index.db import dumps, new_id, now_iso

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/index.db")  # the project's schema, pragmas and page size
        apps = [SyntheticApp("left", n, 0), SyntheticApp("right", n, n // 2)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        with store.engine.connect() as c:
            db: Any = c.connection.dbapi_connection
            for app in apps:
                sql = (f"INSERT INTO links (id, sync, {app.name}_id, {app.name}_base, updated_at, left_deleted, "
                       "right_deleted, attempts) VALUES (?, ?, ?, ?, ?, 0, 0, 0)")
                for start in range(app.offset, app.offset + app.n, app.page_size):
                    page = [app._record(i) for i in range(start, min(start + app.page_size, app.offset + app.n))]
                    stamp = now_iso()
                    db.executemany(sql, [(new_id(), "contacts", r.id, dumps(r.properties), stamp) for r in page])
                    db.commit()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        store.close()
    return {"records_per_side": n, "records_processed": 2 * n, "cpu_seconds": round(cpu, 3), "seconds": round(elapsed, 2),
            "records_per_cpu_second": round(2 * n / cpu)}


def _pg_cpu(pid_file: str) -> float:
    """CPU seconds (user + system) of the PostgreSQL server's processes so far (its postmaster's children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    master = int(Path(pid_file).read_text().split()[0])
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            f = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.split("/")[2])
        if pid == master or int(f[1]) == master:
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime
    return total / tick


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    runs = section["runs"]
    # per core = per CPU-second of the (single-threaded) engine process; wall-clock rate alongside,
    # as it drops when other processes take the core
    out = [(f"engine: {r['records_per_side']:,} per side, records/s per core (wall-clock rate; peak RSS)"
            + (f", median of {r['of_runs']}" if r.get("of_runs", 1) > 1 else ""),
            f"{r['records_per_cpu_second']:,} ({r['records_per_second']:,}/s; {r['peak_rss_mb']:.0f} MB)", "≥ 10,000",
            "met" if r["records_per_cpu_second"] >= 10_000 else "NOT met") for r in runs]
    for r in runs:
        if "floor" in r:
            f = r["floor"]
            out.append((f"engine: {r['records_per_side']:,} per side, records/CPU-s ÷ floor's (decode + one "
                        "executemany index row each)", f"{r['records_per_cpu_second']:,} ÷ {f['records_per_cpu_second']:,} "
                        f"= {r['floor_ratio']:.2f}", "≥ 0.5", "met" if r["floor_ratio"] >= 0.5 else "NOT met"))
    for r in runs:
        if "postgresql" in r:
            pg = r["postgresql"]
            out.append((f"engine: {r['records_per_side']:,} per side, PostgreSQL index ÷ SQLite index, records/CPU-s "
                        "with the server's CPU (engine process alone)",
                        f"{pg['records_per_total_cpu_second']:,} ÷ {r['records_per_cpu_second']:,} = "
                        f"{r['postgresql_total_ratio']:.2f} ({r['postgresql_ratio']:.2f})", "≥ 0.8",
                        "met" if r["postgresql_total_ratio"] >= 0.8 else "NOT met"))
    big = [r for r in runs if r["records_per_side"] >= 100_000]
    if len(big) >= 2:  # below 100k SQLite's page cache is still filling: not a streaming question
        growth = big[-1]["peak_rss_mb"] / big[0]["peak_rss_mb"]
        out.append((f"engine: peak RSS {big[-1]['records_per_side']:,} ÷ {big[0]['records_per_side']:,} per side",
                    f"{growth:.2f}", "≤ 1.10 (flat)", "met" if growth <= 1.1 else "NOT met"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--index-url", help=argparse.SUPPRESS)
    ap.add_argument("--index", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"],
                    help="index databases (PostgreSQL: sizes up to 100,000 per side, beside SQLite)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per size up to 100,000 per side, the median reported (1,000,000: one run)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.index_url)))
        return
    if args.floor:
        print(json.dumps(floor_one(args.floor)))
        return
    with contextlib.ExitStack() as stack:
        pg_base = stack.enter_context(_postgres()) if "postgresql" in args.index else None
        rows = [_size(n, args, pg_base) for n in args.sizes]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.processor() or ''}".strip(", ")
    save_section(args.out, "engine", {"machine": machine, "index": "SQLite (WAL) on local disk", "load_average": os.getloadavg()[0],
                                      "runs": rows})


def _one(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sorted(runs, key=lambda r: r["records_per_cpu_second"])
    return {**runs[(len(runs) - 1) // 2], "of_runs": len(runs),
            "all_records_per_cpu_second": [x["records_per_cpu_second"] for x in runs]}


def _size(n: int, args: argparse.Namespace, pg_base: str | None) -> dict[str, Any]:
    """One size: SQLite, floor (and PostgreSQL) runs alternating, each in a fresh process (peak
    RSS is per run); identical runs on a shared VM differ by up to ±10 %, so up to 100,000 per
    side the median of a few."""
    repeat = args.repeat if n <= 100_000 else 1
    pg = pg_base is not None and n <= 100_000
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "floor": [], "postgresql": []}
    for i in range(repeat):
        runs["sqlite"].append(_one("--one", str(n)))
        runs["floor"].append(_one("--floor", str(n)))
        if pg:
            assert pg_base is not None
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from pg import create_database

            url = create_database(pg_base, f"engine_{n}_{i}")
            server0 = _pg_cpu(_PG_PID[0]) if _PG_PID else 0.0
            r = _one("--one", str(n), "--index-url", url)
            server = _pg_cpu(_PG_PID[0]) - server0 if _PG_PID else 0.0
            r["server_cpu_seconds"] = round(server, 2)
            r["records_per_total_cpu_second"] = round(2 * n / (r["cpu_seconds"] + server))
            runs["postgresql"].append(r)
    r = _median(runs["sqlite"])
    r["floor"] = _median(runs["floor"])
    r["floor_ratio"] = round(r["records_per_cpu_second"] / r["floor"]["records_per_cpu_second"], 3)
    line = (f"{n:>9,} per side: {r['records_per_cpu_second']:>7,} records/CPU-s  {r['records_per_second']:>7,} "
            f"records/s  {r['seconds']:>7}s  runs {r['all_records_per_cpu_second']}  peak RSS {r['peak_rss_mb']} MB  "
            f"status {r['status']}  floor {r['floor']['records_per_cpu_second']:,} (÷ {r['floor_ratio']:.2f})")
    if pg:
        r["postgresql"] = _median(runs["postgresql"])
        r["postgresql_ratio"] = round(r["postgresql"]["records_per_cpu_second"] / r["records_per_cpu_second"], 3)
        r["postgresql_total_ratio"] = round(statistics.median(x["records_per_total_cpu_second"] for x in runs["postgresql"])
                                            / r["records_per_cpu_second"], 3)
        line += (f"  postgresql {r['postgresql']['records_per_cpu_second']:,} {r['postgresql']['all_records_per_cpu_second']}"
                 f" (÷ {r['postgresql_ratio']:.2f}; with the server's CPU ÷ {r['postgresql_total_ratio']:.2f})")
    print(line, flush=True)
    return r


_PG_PID: list[str] = []


@contextlib.contextmanager
def _postgres() -> Iterator[str | None]:
    """The test suite's throwaway PostgreSQL server (None: PostgreSQL is not installed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg import postgres_server

    with postgres_server() as base:
        if base is not None:
            # our server's pid file (tests/pg.py keeps its data directory to itself): the one of its port
            port = base.rsplit(":", 1)[1]
            _PG_PID[:] = [f for f in glob.glob(os.path.join(tempfile.gettempdir(), "accord-pg-*", "data", "postmaster.pid"))
                          if _pid_file_port(f) == port]
        yield base


def _pid_file_port(path: str) -> str | None:
    try:
        return Path(path).read_text().splitlines()[3].strip()
    except (OSError, IndexError):
        return None


if __name__ == "__main__":
    main()
