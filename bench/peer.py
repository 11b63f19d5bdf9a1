"""Peer benchmark: a one-way HubSpot → database load, Accord against singer's tap-hubspot and Airbyte's source-hubspot.

One HubSpot sandbox process (uvicorn on loopback) holds N synthetic contacts, at HubSpot's
Professional rate limit (190 requests / rolling 10 s; it answers 429 past it). Four loads of
the same contacts into an empty table, each a separate run of its own processes, timed from
process start to exit:

* **Accord → SQLite / PostgreSQL**: ``accord sync`` of a one-way contacts sync (HubSpot →
  a ``sql`` app: the default contact mappings plus ``hs_object_id``; the connector's
  ``rate_limit: 190``; the sync index in SQLite on local disk). The table exists beforehand
  (the SQL connector syncs a table of yours; it does not create it).
* **tap-hubspot → target**: singer-io's ``tap-hubspot`` (PyPI, pinned below; installed by this
  script into ``bench/.peer-venv/``) with its hard-coded ``BASE_URL`` pointed at the sandbox
  (``bench/peer_tap.py``), the contacts stream with the same properties selected, piped
  into a singer target writing the same database: PyPI's ``pipelinewise-target-postgres`` for
  PostgreSQL; for SQLite ``bench/peer_target_sqlite.py`` (batched ``executemany`` upserts),
  because PyPI's ``target-sqlite`` does not run on Python 3.11. The catalog is made once
  before the timed run (as a user would), with the tap's own discovery code.

* **airbyte-hubspot → SQLite**: Airbyte's ``source-hubspot`` (PyPI, pinned below; installed by
  this script into ``bench/.peer-venv/``), ``read`` with a private-app token and a configured
  catalog of the contacts stream (full refresh), its hard-coded ``https://api.hubapi.com``
  pointed at the sandbox by ``bench/peer_redirect.py``, piped into
  ``bench/peer_target_airbyte_sqlite.py`` (a stdlib Airbyte destination, batched ``executemany``
  upserts). It reads every property (Airbyte has no field selection); the table keeps the same
  ones. SQLite only (``--peers`` picks the peers).

Every loader must load every contact: the table's row count is checked after each run.
API calls are the sandbox's request counter over each run (every request that reached it,
429s included); CPU is the user + system time of the run's own processes, taken from
``RUSAGE_CHILDREN`` around the run (every thread of a process the benchmark waited for): for
Accord the ``accord sync`` process alone (it reads, plans and writes in one process), for the
peer the tap and the target together (the same work split over two processes). Neither side
counts the sandbox serving it (a process of its own, started once by the benchmark and not
waited for until the end) or the database server, so the two figures are the same work, apples
to apples. Runs are 11 s apart so each
starts with a fresh rate-limit window. With ``--repeat N`` the two loaders alternate N times
per database and the medians are compared. The machine's cores are shared by the sandbox,
the loaders and the database server (and by anything else running).

    python bench/peer.py                   # 50,000 contacts, SQLite and PostgreSQL
    python bench/peer.py --records 2000 --targets sqlite
    python bench/peer.py --repeat 3         # medians of 3 alternating runs each
"""

from __future__ import annotations

import argparse
import compileall
import functools
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hubspot import get, start_sandbox
from results_file import save_section
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
)

from accord.catalog import object_info

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".peer-venv"
TAP = ["tap-hubspot==4.5.0"]
AIRBYTE = ["airbyte-source-hubspot==5.7.0"]
PEERS = ("tap-hubspot", "airbyte-hubspot")
TARGET_PG = ["pipelinewise-target-postgres==2.1.2"]
RATE_WINDOW = 10.0

# HubSpot property -> column: the default contact mappings of a HubSpot ↔ SQL sync (the SQL side's
# columns are the concept names), and the record id.
CONCEPTS = object_info("hubspot", "contacts").concepts  # type: ignore[union-attr]
COLUMNS = {hs: concept for concept, hs in CONCEPTS.items()}


# -- the peer's virtual environments ------------------------------------------------------------------
def peer_python(name: str, packages: list[str]) -> Path:
    """``bench/.peer-venv/NAME/bin/python`` with ``packages`` installed (once)."""
    root = PEER_VENV / name
    marker = root / ".installed"
    py = root / "bin" / "python"
    if not marker.exists() or marker.read_text() != " ".join(packages):
        base = getattr(sys, "_base_executable", sys.executable)  # a venv's python, not ours
        subprocess.run([base, "-m", "venv", "--clear", str(root)], check=True)
        pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                             capture_output=True, text=True)
        if pip.returncode:
            raise SystemExit(f"pip install {' '.join(packages)} failed:\n{pip.stderr[-3000:]}")
        marker.write_text(" ".join(packages))
    return py


# -- databases --------------------------------------------------------------------------------------
@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (the test suite's: fsync off, loopback)."""
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from pg import postgres_server

    with postgres_server() as base:
        if base is None:
            raise SystemExit("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
        yield base


def database(kind: str, tmp: Path, pg_base: str | None, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/{name}.db"
    from pg import create_database

    assert pg_base is not None
    return create_database(pg_base, name)


def accord_table(url: str) -> None:
    meta = MetaData()
    Table("contacts", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("hubspot_id", BigInteger), *[Column(c, String(255)) for c in COLUMNS.values()],
          Column("updated_at", DateTime, nullable=False), Column("deleted", Boolean, default=False))
    eng = create_engine(url)
    meta.create_all(eng)
    if url.startswith("sqlite"):  # in WAL mode, as the peers' targets set theirs (Accord keeps a file's own mode)
        with eng.begin() as c:
            c.exec_driver_sql("PRAGMA journal_mode=WAL")
    eng.dispose()


def table_check(url: str, email_column: str) -> dict[str, int]:
    eng = create_engine(url)
    with eng.connect() as c:
        rows, emails = c.execute(text(f"SELECT count(*), count(DISTINCT {email_column}) FROM contacts")).one()
    eng.dispose()
    return {"rows": int(rows), "distinct_emails": int(emails)}


# -- one run each ---------------------------------------------------------------------------------------
def counters(sandbox: str) -> dict[str, int]:
    return dict(get(sandbox, "/_sandbox/counters"))


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))
            if after.get(k, 0) != before.get(k, 0)}


@functools.cache
def accord_bin() -> str:
    """The ``accord`` command, its source byte-compiled first: with PYTHONDONTWRITEBYTECODE set
    (as on this VM) each run would compile it again (~0.25 CPU-s, 3 % of a 50,000-record load),
    which a peer installed by pip (byte-compiled at install) does not pay."""
    import accord

    compileall.compile_dir(Path(accord.__file__).parent, quiet=1)
    here = Path(sys.executable).with_name("accord")
    return str(here) if here.exists() else (shutil.which("accord") or "accord")


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_accord(sandbox: str, db_url: str, tmp: Path) -> dict[str, Any]:
    accord_table(db_url)
    work = Path(tempfile.mkdtemp(dir=tmp))
    cfg = {
        "state": f"sqlite:///{work}/index.db",
        "apps": {"hs": {"type": "hubspot", "token": "bench-accord", "base_url": sandbox, "rate_limit": 190},
                 "db": {"type": "sql", "url": db_url, "tables": {"contacts": "contacts"}}},
        "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                   "right": {"app": "db", "object": "contacts"}, "direction": "left-to-right",
                   "mappings": [{"left": "hs_object_id", "right": "hubspot_id"}]}],
    }
    (work / "accord.yaml").write_text(yaml.safe_dump(cfg))
    before, cpu0 = counters(sandbox), children_cpu()
    t0 = time.perf_counter()
    p = subprocess.run([accord_bin(), "sync", "-c", str(work / "accord.yaml"), "--json"], capture_output=True,
                       text=True, cwd=work)
    seconds = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if p.returncode != 0:
        raise RuntimeError(f"accord sync failed ({p.returncode}): {p.stderr[-2000:]}")
    calls = delta(before, counters(sandbox))
    res = json.loads(p.stdout)[0]
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "api_calls": calls.get("total", 0),
            "calls_by_kind": calls, "created": res["created"], "table": table_check(db_url, "email")}


def run_tap(sandbox: str, db_url: str, kind: str, tmp: Path, tap_py: Path, target: list[str]) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(dir=tmp))
    wrapper = str(BENCH / "peer_tap.py")
    catalog = subprocess.run([str(tap_py), wrapper, sandbox, "--catalog-for", "contacts", ",".join(COLUMNS)],
                             capture_output=True, text=True, check=True).stdout
    (work / "catalog.json").write_text(catalog)
    (work / "tap.json").write_text(json.dumps({"api_key": "bench-tap", "start_date": "2000-01-01T00:00:00Z"}))
    if kind == "sqlite":
        tcfg: dict[str, Any] = {"database": db_url.removeprefix("sqlite:///")}
    else:
        from sqlalchemy.engine import make_url

        u = make_url(db_url)
        tcfg = {"host": u.host, "port": u.port, "user": u.username, "password": u.password or "unused",
                "dbname": u.database, "default_target_schema": "public"}
    (work / "target.json").write_text(json.dumps(tcfg))
    before, cpu0 = counters(sandbox), children_cpu()
    t0 = time.perf_counter()
    with open(work / "tap.log", "w") as tap_log, open(work / "target.log", "w") as target_log:
        tap = subprocess.Popen([str(tap_py), wrapper, sandbox, "--config", str(work / "tap.json"),
                                "--properties", str(work / "catalog.json")], stdout=subprocess.PIPE, stderr=tap_log)
        tgt = subprocess.Popen([*target, "--config", str(work / "target.json")], stdin=tap.stdout,
                               stdout=subprocess.DEVNULL, stderr=target_log)
        assert tap.stdout is not None
        tap.stdout.close()  # the target owns the pipe now: the tap sees EPIPE if the target dies
        tap_rc, target_rc = tap.wait(), tgt.wait()
    seconds = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if tap_rc or target_rc:
        raise RuntimeError(f"tap exited {tap_rc}, target {target_rc}; logs in {work}: "
                           f"{(work / 'tap.log').read_text()[-1500:]} {(work / 'target.log').read_text()[-1500:]}")
    calls = delta(before, counters(sandbox))
    backoffs = (work / "tap.log").read_text().count("Backing off")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "api_calls": calls.get("total", 0),
            "calls_by_kind": calls, "tap_backoffs": backoffs, "table": table_check(db_url, "property_email")}


def airbyte_catalog() -> dict[str, Any]:
    """The configured catalog: the contacts stream, full refresh; its schema names the columns the
    destination keeps (the record id and the same properties as the other loaders, as the source
    flattens them: ``properties_email`` …). The source itself reads every property (it has no field
    selection) and builds its own schema from the portal's properties, as it would against HubSpot."""
    columns = {"id": {"type": ["null", "string"]},
               **{f"properties_{p}": {"type": ["null", "string"]} for p in COLUMNS}}
    return {"streams": [{"stream": {"name": "contacts", "json_schema": {"type": "object", "properties": columns},
                                    "supported_sync_modes": ["full_refresh", "incremental"],
                                    "source_defined_primary_key": [["id"]]},
                         "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}


def run_airbyte(sandbox: str, db_url: str, tmp: Path, source_py: Path) -> dict[str, Any]:
    """Airbyte's source-hubspot (``read``) piped into bench/peer_target_airbyte_sqlite.py (``write``)."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    (work / "catalog.json").write_text(json.dumps(airbyte_catalog()))
    (work / "source.json").write_text(json.dumps({
        "credentials": {"credentials_title": "Private App Credentials", "access_token": "bench-airbyte"},
        "start_date": "2000-01-01T00:00:00Z"}))
    (work / "destination.json").write_text(json.dumps({"database": db_url.removeprefix("sqlite:///")}))
    before, cpu0 = counters(sandbox), children_cpu()
    t0 = time.perf_counter()
    with open(work / "source.log", "w") as src_log, open(work / "destination.log", "w") as dst_log:
        src = subprocess.Popen([str(source_py), str(BENCH / "peer_redirect.py"), "airbyte-hubspot", sandbox, "read",
                                "--config", str(work / "source.json"), "--catalog", str(work / "catalog.json")],
                               stdout=subprocess.PIPE, stderr=src_log)
        dst = subprocess.Popen([str(source_py), str(BENCH / "peer_target_airbyte_sqlite.py"), "write",
                                "--config", str(work / "destination.json"), "--catalog", str(work / "catalog.json")],
                               stdin=src.stdout, stdout=subprocess.DEVNULL, stderr=dst_log)
        assert src.stdout is not None
        src.stdout.close()
        src_rc, dst_rc = src.wait(), dst.wait()
    seconds = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    if src_rc or dst_rc:
        raise RuntimeError(f"source exited {src_rc}, destination {dst_rc}; logs in {work}: "
                           f"{(work / 'source.log').read_text()[-1500:]} {(work / 'destination.log').read_text()[-1500:]}")
    calls = delta(before, counters(sandbox))
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "api_calls": calls.get("total", 0),
            "calls_by_kind": calls, "table": table_check(db_url, "properties_email")}


# -- the benchmark ---------------------------------------------------------------------------------------
def measure(records: int, targets: list[str], repeat: int = 1, peers: Sequence[str] = PEERS) -> dict[str, Any]:
    """Accord and each peer, alternating, ``repeat`` times per database (airbyte-hubspot: SQLite only)."""
    tap_py = peer_python("tap", TAP) if "tap-hubspot" in peers else None
    airbyte_py = peer_python("airbyte-hubspot", AIRBYTE) if "airbyte-hubspot" in peers else None
    target_bins = {"sqlite": [str(tap_py), str(BENCH / "peer_target_sqlite.py")]}
    if "postgresql" in targets and tap_py is not None:
        target_bins["postgresql"] = [str(peer_python("target-postgres", TARGET_PG).with_name("target-postgres"))]
    proc, sandbox = start_sandbox(records)
    out: dict[str, Any] = {"records": records, "rate_limit": "190 requests / 10 s (HubSpot Professional)",
                           "peer": {"tap": TAP[0], "targets": {"sqlite": "bench/peer_target_sqlite.py (stdlib sqlite3)",
                                                              "postgresql": TARGET_PG[0]}},
                           "peers": {"tap-hubspot": TAP[0], "airbyte-hubspot": f"{AIRBYTE[0]} → "
                                     "bench/peer_target_airbyte_sqlite.py (stdlib sqlite3)"},
                           "runs": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp_s, (postgres() if "postgresql" in targets else _none()) as pg:
            tmp = Path(tmp_s)
            first = True
            for kind in targets:
                loaders = ["accord", *(p for p in peers if kind == "sqlite" or p == "tap-hubspot")]
                runs: dict[str, list[dict[str, Any]]] = {who: [] for who in loaders}
                for i in range(repeat):
                    for who in loaders:
                        if not first:
                            time.sleep(RATE_WINDOW + 1)  # a fresh rate-limit window for every run
                        first = False
                        db_url = database(kind, tmp, pg, f"{who.replace('-', '_')}_{kind}_{i}")
                        load = os.getloadavg()[0]
                        if who == "accord":
                            r = run_accord(sandbox, db_url, tmp)
                        elif who == "tap-hubspot":
                            assert tap_py is not None
                            r = run_tap(sandbox, db_url, kind, tmp, tap_py, target_bins[kind])
                        else:
                            assert airbyte_py is not None
                            r = run_airbyte(sandbox, db_url, tmp, airbyte_py)
                        # every loader must have read every record (the sandbox's fidelity, too)
                        if r["table"]["rows"] != records:
                            raise RuntimeError(f"{who} wrote {r['table']} rows of {records} contacts")
                        r["load_average_before"] = round(load, 2)
                        runs[who].append(r)
                        print(f"  {kind:<10} {who:<15} {r['seconds']:>7.2f} s  cpu {r['cpu_seconds']:>6.2f} s  "
                              f"{r['api_calls']:>5} calls  load {load:.1f}  {r['table']}", file=sys.stderr, flush=True)
                med = {who: median_run(rs) for who, rs in runs.items()}
                pair: dict[str, Any] = {"accord": med["accord"], "peers": {}}
                for who in loaders[1:]:
                    pair["peers"][who] = {**med[who],
                                          "time_ratio": round(med["accord"]["seconds"] / med[who]["seconds"], 3),
                                          "cpu_ratio": round(med["accord"]["cpu_seconds"] / med[who]["cpu_seconds"], 3)}
                if "tap-hubspot" in med:  # the keys this section always had
                    pair["peer"] = med["tap-hubspot"]
                    pair["time_ratio"] = pair["peers"]["tap-hubspot"]["time_ratio"]
                    pair["cpu_ratio"] = pair["peers"]["tap-hubspot"]["cpu_ratio"]
                if repeat > 1:
                    pair["all_runs"] = runs
                out["runs"][kind] = pair
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, its CPU replaced by the median CPU."""
    pick = sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]
    return {**pick, "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 2), "of_runs": len(runs)}


@contextmanager
def _none() -> Iterator[None]:
    yield None


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary rows (figure, value, target, verdict) for bench/run.py's table."""
    out = []
    n = section["records"]
    for kind, r in section["runs"].items():
        a = r["accord"]
        peers = r.get("peers") or {"tap-hubspot": {**r["peer"], "time_ratio": r["time_ratio"]}}  # older results
        for who, p in peers.items():
            ok = p["time_ratio"] <= 0.5
            out.append((f"peer: {n:,} contacts HubSpot → {kind}, Accord ÷ {who} wall time",
                        f"{a['seconds']:.1f} s ÷ {p['seconds']:.1f} s = {p['time_ratio']:.2f}", "≤ 0.5",
                        "met" if ok else "NOT met"))
            # CPU seconds: a ratio that holds on any machine (wall times move with the rate limit's waits)
            cpu_ratio = a["cpu_seconds"] / p["cpu_seconds"] if p["cpu_seconds"] else float("inf")
            target = "≤ 0.4" if who == "tap-hubspot" else ""
            verdict = ("met" if cpu_ratio <= 0.4 else "NOT met") if target else ""
            out.append((f"peer: {kind}, Accord ÷ {who} CPU seconds (API calls)",
                        f"{a['cpu_seconds']:.1f} ÷ {p['cpu_seconds']:.1f} = {cpu_ratio:.2f} "
                        f"({a['api_calls']:,} vs {p['api_calls']:,})", target, verdict))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--targets", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=1, help="alternating runs per loader and database (medians)")
    ap.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS),
                    help="peers run beside Accord (airbyte-hubspot: SQLite only)")
    ap.add_argument("--out", default=str(BENCH / "results.json"))
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = ap.parse_args()
    # a terminated benchmark still stops its sandbox and PostgreSQL server (the finally blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    res = measure(args.records, args.targets, args.repeat, args.peers)
    for r in rows(res):
        print(f"{r[0]:<72} {r[1]:<28} {r[2]:<6} {r[3]}")
    if args.no_write:
        return
    res["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores shared by the sandbox, the loader processes "
                      f"and the database server, Python {platform.python_version()}")
    save_section(args.out, "peer", res)


if __name__ == "__main__":
    main()
