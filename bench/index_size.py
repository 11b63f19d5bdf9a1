"""Index-size benchmark: does a pass's cost stay flat as the sync index grows?

Two in-memory apps hold N contacts each (the same values on both sides, ids ``left-i`` and
``right-i``), generated on demand so the memory measured is the engine's, not the apps'
storage (only records changed or written during the run are kept). The sync index (SQLite on
local disk) is filled beforehand with N linked pairs: a real initial sync of the first 1,000,
then the rest bulk-inserted straight into ``links`` and ``keys`` as that sync writes them
(bases keyed by mapping, the email match key per side, status ``syncing``), checked against
the rows the real sync wrote. Syncing 1,000,000 records through the engine first would take
longer than the whole section.

Figures, each with N = 10,000 and N = 1,000,000 pairs indexed (1,000,000 ÷ 10,000 ≤ 1.3):

* **incremental pass**: CPU (user + system) and wall time of ``SyncRunner.run()`` when the left
  app's change feed holds 100 changed records spread over the whole id range (100 updates
  written to the right app); the median of 5 passes, each with its own 100 changes, after 10
  such passes: a service runs pass after pass in one process, and its first passes fill SQLite's
  page cache (64 MiB; a 10,000-pair index fits in it whole, a 1,000,000-pair one does not, and
  while it fills every page read is a fresh allocation, ~1,900 page faults a pass here).
* **webhook → write**: what the service runs for a webhook batch (``SyncRunner.sync_records``,
  as ``Service.sync_records`` calls it, in-process: the sync's lease, a run row, read the
  records, pair, read the other side, plan, write, save, settle deletes), from the call to the
  write done, for a batch of 10 changed records; the median of 20 batches. The HTTP hop of the
  webhook and the service's queue are left out: they do not depend on the index's size
  (bench/latency.py measures the whole path through ``accord run``).

And the **full reconciliation pass** (``run(full=True)``: both apps read in full against an
index already linked) in a fresh process, its peak RSS with 100,000 and 1,000,000 pairs
(≤ 1.1: it streams the index, it does not load it).

Each measurement is its own process (peak RSS per run; no page cache of a previous one).

    python bench/index_size.py                              # 10k / 1M and 100k / 1M, ~10 minutes
    python bench/index_size.py --small 2000 --large 20000 --full-sizes 5000 20000   # smoke run
    python bench/index_size.py --keep /tmp/accord-indexes   # fill the indexes once, reuse them next time
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from results_file import save_section

from accord.config import parse_config
from accord.connectors.base import Connector
from accord.connectors.memory import STANDARD_FIELDS
from accord.engine.values import canon
from accord.index import Store
from accord.index.db import new_id
from accord.index.schema import links as links_table
from accord.model import FieldSchema, ObjectSchema, Page, Record, Side, Value, WriteResult
from accord.runner import SyncRunner

SYNC = "contacts"
SEED = 1000  # pairs linked by a real initial sync; the rest are bulk-inserted like them
CHANGES = 100  # changed records per incremental pass
WARMUP = 10  # passes first: SQLite's page cache (64 MiB) fills in a process's first passes
PASSES = 5
WEBHOOK_BATCH = 10
WEBHOOK_BATCHES = 20


def config() -> Any:
    return parse_config({"apps": {"left": {"type": "memory"}, "right": {"type": "memory"}}, "syncs": [{
        "name": SYNC, "left": {"app": "left", "object": "contacts"}, "right": {"app": "right", "object": "contacts"},
        "mappings": [{"left": "notes", "right": "notes"}]}]}, env={}).syncs[0]


def props(i: int) -> dict[str, Value]:
    """Contact ``i`` as both apps hold it before any change."""
    return {"first_name": f"First{i}", "last_name": f"Last{i}", "email": f"user{i}@example.com",
            "phone": f"+1555{i:07d}", "company_name": f"Company {i % 5000}",
            "job_title": "Engineer" if i % 3 else None, "country": "DE", "city": f"City {i % 100}",
            "industry": "Software", "notes": f"note {i}"}


class GeneratedApp(Connector):
    """N contacts generated on demand; records changed or written are kept (a few hundred)."""

    vendor = "memory"
    STAMP = "2024-01-01T00:00:00.000Z"

    def __init__(self, name: str, n: int, page_size: int = 1000) -> None:
        super().__init__(name)
        self.n, self.page_size = n, page_size
        self.batch_size = 100
        self.changed: dict[int, dict[str, Value]] = {}
        self.feed: list[list[int]] = []  # change batches; the cursor is the next batch's number
        self.writes = 0

    def _record(self, i: int) -> Record:
        return Record(f"{self.name}-{i}", self.changed.get(i) or props(i), self.STAMP, self.STAMP)

    def _num(self, rid: str) -> int | None:
        prefix, _, num = rid.rpartition("-")
        return int(num) if prefix == self.name and num.isdigit() and int(num) < self.n else None

    def change(self, nums: Sequence[int], tag: str) -> None:
        """Edit the notes of records ``nums`` (as a person would in the app) and queue them in the feed."""
        for i in nums:
            self.changed[i] = {**(self.changed.get(i) or props(i)), "notes": f"note {i} {tag}"}
        self.feed.append(list(nums))

    async def describe(self, object: str) -> ObjectSchema:
        return ObjectSchema(object, {f: FieldSchema(f, t) for f, t in STANDARD_FIELDS["contacts"].items()})

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        for start in range(0, self.n, self.page_size):
            yield Page([self._record(i) for i in range(start, min(start + self.page_size, self.n))])

    async def change_cursor(self, object: str) -> str:
        return str(len(self.feed))

    async def changes(self, object: str, cursor: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        for k in range(int(cursor), len(self.feed)):
            yield Page([self._record(i) for i in self.feed[k]], cursor=str(k + 1))

    async def read(self, object: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        return [self._record(i) for i in map(self._num, ids) if i is not None]

    async def find(self, object: str, field: str, values: Sequence[Value], fields: Sequence[str]) -> list[Record]:
        return []

    async def create(self, object: str, items: Sequence[Mapping[str, Value]]) -> list[WriteResult]:
        raise AssertionError("every record is linked: nothing to create")

    async def update(self, object: str, items: Sequence[tuple[str, Mapping[str, Value]]]) -> list[WriteResult]:
        self.writes += len(items)
        for rid, values in items:
            i = self._num(rid)
            assert i is not None
            self.changed[i] = {**(self.changed.get(i) or props(i)), **values}
        return [WriteResult.success(rid) for rid, _ in items]

    async def archive(self, object: str, ids: Sequence[str]) -> list[WriteResult]:
        raise AssertionError("nothing is deleted")


def runner_for(db: Path, n: int) -> tuple[SyncRunner, GeneratedApp, GeneratedApp]:
    left, right = GeneratedApp("left", n), GeneratedApp("right", n)
    return SyncRunner(config(), Store(f"sqlite:///{db}"), left, right), left, right


# -- the index filled beforehand ----------------------------------------------------------------------
def populate(db: Path, n: int) -> dict[str, Any]:
    """A real initial sync of ``min(n, SEED)`` pairs, then the rest inserted as rows like its own."""
    t0 = time.perf_counter()
    seed = min(n, SEED)
    runner, _, _ = runner_for(db, seed)
    res = asyncio.run(runner.run())
    assert res.counters.linked == seed, res.counters
    spec = runner.ctx.require_spec()
    based = {s: list(spec.based(s)) for s in (Side.LEFT, Side.RIGHT)}
    runner.store.engine.dispose()

    con = sqlite3.connect(db)
    cols = [c.name for c in links_table.columns]  # the row as stored (in-flight intents are elsewhere)
    real = {r["left_id"]: r for r in (dict(zip(cols, row, strict=True))
                                      for row in con.execute(f"SELECT {', '.join(cols)} FROM links"))}
    template = next(iter(real.values()))
    stamp, pass_id = template["updated_at"], template["handled"]

    def row(i: int, link_id: str) -> tuple[Any, ...]:
        p = props(i)
        values = {**template, "id": link_id, "left_id": f"left-{i}", "right_id": f"right-{i}", "label": p["email"],
                  "left_base": orjson.dumps({k: canon(p.get(f)) for f, k in based[Side.LEFT]}).decode(),
                  "right_base": orjson.dumps({k: canon(p.get(f)) for f, k in based[Side.RIGHT]}).decode()}
        return tuple(values[c] for c in cols)

    # the rows this script writes are the rows the engine wrote (but for the id and the time)
    for left_id, r in real.items():
        mine = dict(zip(cols, row(int(left_id.split("-")[1]), r["id"]), strict=True))
        assert {**mine, "updated_at": stamp} == {**r, "updated_at": stamp}, (mine, r)
    keys = {k: lid for _, k, lid in con.execute("SELECT side, key, link_id FROM keys WHERE side = 'left'")}
    assert len(keys) == seed and all(k.startswith("email:") for k in keys), list(keys)[:3]
    assert pass_id is not None and stamp

    batch = 50_000
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # filling a throwaway file: a crash just means start again
    for start in range(seed, n, batch):
        rows, key_rows = [], []
        for i in range(start, min(start + batch, n)):
            lid = new_id()
            rows.append(row(i, lid))
            key = f"email:user{i}@example.com"
            key_rows += [(SYNC, "left", key, lid), (SYNC, "right", key, lid)]
        with con:
            con.executemany(f"INSERT INTO links ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
            con.executemany("INSERT INTO keys (sync, side, key, link_id) VALUES (?, ?, ?, ?)", key_rows)
    count = con.execute("SELECT count(*) FROM links WHERE sync = ? AND status = 'syncing'", (SYNC,)).fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert count == n, (count, n)
    return {"pairs": n, "seconds": round(time.perf_counter() - t0, 1), "file_mb": round(db.stat().st_size / 2**20)}


# -- the measurements (each in its own process) ---------------------------------------------------------
def spread(n: int, k: int, shift: int) -> list[int]:
    """``k`` record numbers spread over the whole range (the pass's changes touch all of the index)."""
    return sorted({(j * n // k + shift * 7919) % n for j in range(k)})


async def _measure(db: Path, n: int) -> dict[str, Any]:
    runner, left, right = runner_for(db, n)
    await runner.prepare()
    passes = []
    for p in range(WARMUP + PASSES):
        left.change(spread(n, CHANGES, p), f"pass {p}")
        writes0 = right.writes
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        res = await runner.run()
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        assert res.kind == "incremental" and right.writes - writes0 == CHANGES, (res.kind, res.counters)
        user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
        if p >= WARMUP:
            passes.append({"seconds": round(wall, 4), "cpu_seconds": round(user + system, 4),
                           "user_seconds": round(user, 4), "system_seconds": round(system, 4)})
    latencies, cpus = [], []
    for b in range(WEBHOOK_BATCHES):
        nums = spread(n, WEBHOOK_BATCH, 100 + b)
        left.change(nums, f"webhook {b}")
        left.feed.pop()  # a webhook names the records; the change feed is not read
        writes0 = right.writes
        cpu0, t0 = time.process_time(), time.perf_counter()
        await runner.sync_records(Side.LEFT, [f"left-{i}" for i in nums])
        latencies.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
        assert right.writes - writes0 == len(nums)
    return {
        "pairs": n,
        "incremental": {"changes": CHANGES, "warmup_passes": WARMUP, "passes": passes,
                        **{k: statistics.median(p[k] for p in passes)
                           for k in ("seconds", "cpu_seconds", "user_seconds", "system_seconds")}},
        "webhook": {"batch": WEBHOOK_BATCH, "batches": WEBHOOK_BATCHES,
                    "median_ms": round(statistics.median(latencies) * 1000, 2),
                    "p90_ms": round(sorted(latencies)[int(0.9 * len(latencies))] * 1000, 2),
                    "cpu_ms": round(statistics.median(cpus) * 1000, 2)},
    }


def full_pass(db: Path, n: int) -> dict[str, Any]:
    runner, left, right = runner_for(db, n)
    cpu0, t0 = time.process_time(), time.perf_counter()
    res = asyncio.run(runner.run(full=True))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert res.kind == "full", res.kind
    assert right.writes == left.writes == 0, res.counters  # already in sync: a pure reconciliation
    return {"pairs": n, "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "read": res.counters.read, "unchanged": res.counters.unchanged}


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout))


def measure(small: int, large: int, full_sizes: list[int], tmp: Path, keep: Path | None = None) -> dict[str, Any]:
    """``keep``: a directory where filled indexes are kept and found again by later runs (filling
    1,000,000 pairs takes minutes); each measurement then works on a copy, as the runs change rows."""
    out: dict[str, Any] = {"populated": [], "incremental_webhook": [], "full": []}
    dbs: dict[int, Path] = {}

    def filled(n: int) -> Path:
        if n not in dbs:
            dbs[n] = (keep or tmp) / f"index-{n}.db"
            done = dbs[n].with_suffix(".json")  # written once the index is complete
            if keep is not None and done.exists():
                r = {**json.loads(done.read_text()), "kept": True}
                print(f"  index of {n:>9,} pairs kept from an earlier run ({r['file_mb']} MB)", file=sys.stderr, flush=True)
            else:
                for stale in (dbs[n], Path(f"{dbs[n]}-wal"), Path(f"{dbs[n]}-shm")):
                    stale.unlink(missing_ok=True)
                r = child("populate", str(n), str(dbs[n]))
                done.write_text(json.dumps(r))
                print(f"  index of {n:>9,} pairs filled in {r['seconds']} s ({r['file_mb']} MB)", file=sys.stderr, flush=True)
            out["populated"].append(r)
        return dbs[n]

    def working(n: int) -> Path:
        """The index to change: the filled one itself, or a copy of a kept one."""
        if keep is None:
            return filled(n)
        copy = tmp / f"work-{n}.db"
        shutil.copyfile(filled(n), copy)
        return copy

    for n in full_sizes:  # each full pass on its own copy: the incremental runs change records
        db = filled(n)
        copy = tmp / f"full-{n}.db"
        shutil.copyfile(db, copy)
        r = child("full", str(n), str(copy))
        copy.unlink()
        print(f"  full pass   {n:>9,} pairs: {r['seconds']} s, cpu {r['cpu_seconds']} s, peak RSS {r['peak_rss_mb']} MB",
              file=sys.stderr, flush=True)
        out["full"].append(r)
    for n in (small, large):
        r = child("measure", str(n), str(working(n)))
        inc, hook = r["incremental"], r["webhook"]
        print(f"  incremental {n:>9,} pairs: {inc['seconds'] * 1000:.0f} ms, cpu {inc['cpu_seconds'] * 1000:.0f} ms "
              f"(user {inc['user_seconds'] * 1000:.0f}, system {inc['system_seconds'] * 1000:.0f}); "
              f"webhook batch of {hook['batch']}: {hook['median_ms']} ms (cpu {hook['cpu_ms']} ms)",
              file=sys.stderr, flush=True)
        out["incremental_webhook"].append(r)
    s, b = out["incremental_webhook"]
    out["ratios"] = {
        "incremental_cpu": round(b["incremental"]["cpu_seconds"] / s["incremental"]["cpu_seconds"], 3),
        "incremental_wall": round(b["incremental"]["seconds"] / s["incremental"]["seconds"], 3),
        "incremental_user_cpu": round(b["incremental"]["user_seconds"] / s["incremental"]["user_seconds"], 3),
        "webhook": round(b["webhook"]["median_ms"] / s["webhook"]["median_ms"], 3),
    }
    if len(out["full"]) >= 2:
        out["ratios"]["full_pass_rss"] = round(out["full"][-1]["peak_rss_mb"] / out["full"][0]["peak_rss_mb"], 3)
    return out


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    s, b = section["incremental_webhook"]
    ratio = section["ratios"]
    nb = f"{b['pairs']:,} ÷ {s['pairs']:,} pairs"
    out = []
    for key, label, fmt, k in (("incremental_cpu", "incremental pass of 100 changes, CPU", "cpu_seconds", "incremental"),
                               ("incremental_wall", "incremental pass of 100 changes, wall", "seconds", "incremental")):
        out.append((f"index size: {label}, {nb}",
                    f"{b[k][fmt] * 1000:.0f} ms ÷ {s[k][fmt] * 1000:.0f} ms = {ratio[key]:.2f}", "≤ 1.3",
                    "met" if ratio[key] <= 1.3 else "NOT met"))
    out.append((f"index size: webhook batch of {s['webhook']['batch']} → written, {nb}",
                f"{b['webhook']['median_ms']:.0f} ms ÷ {s['webhook']['median_ms']:.0f} ms = {ratio['webhook']:.2f}",
                "≤ 1.3", "met" if ratio["webhook"] <= 1.3 else "NOT met"))
    if "full_pass_rss" in ratio:
        lo, hi = section["full"][0], section["full"][-1]
        out.append((f"index size: full pass peak RSS, {hi['pairs']:,} ÷ {lo['pairs']:,} pairs",
                    f"{hi['peak_rss_mb']:.0f} MB ÷ {lo['peak_rss_mb']:.0f} MB = {ratio['full_pass_rss']:.2f}",
                    "≤ 1.1 (flat)", "met" if ratio["full_pass_rss"] <= 1.1 else "NOT met"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", type=int, default=10_000, help="pairs indexed, the smaller index")
    ap.add_argument("--large", type=int, default=1_000_000, help="pairs indexed, the larger index")
    ap.add_argument("--full-sizes", type=int, nargs="*", default=[100_000, 1_000_000],
                    help="pairs indexed for the full pass's peak RSS")
    ap.add_argument("--keep", type=Path, help="keep the filled indexes in this directory and reuse them next time")
    ap.add_argument("--one", nargs=3, metavar=("WHAT", "N", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = ap.parse_args()
    if args.one:
        what, n, db = args.one[0], int(args.one[1]), Path(args.one[2])
        res = populate(db, n) if what == "populate" else full_pass(db, n) if what == "full" else asyncio.run(_measure(db, n))
        print(json.dumps(res))
        return
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
        res = measure(args.small, args.large, args.full_sizes, Path(tmp), args.keep)
    res["load_average_before"] = [round(x, 2) for x in load]
    res["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    res["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    res["index"] = "SQLite (WAL) on local disk"
    for r in rows(res):
        print(f"{r[0]:<72} {r[1]:<32} {r[2]:<12} {r[3]}")
    if not args.no_write:
        save_section(args.out, "index_size", res)


if __name__ == "__main__":
    main()
