"""The benchmark suite in one command: runs the sections, prints one table, writes bench/results.json.

Sections (each its own script, run here as a child process one after the other, so one
section's threads and memory never weigh on the next):

* ``engine``  - bench/engine.py: plan + apply with in-memory apps, records/s and peak RSS per size;
* ``index_size`` - bench/index_size.py: an incremental pass and a webhook batch with 10k vs 1M pairs
  indexed, and a full pass's peak RSS with 100k vs 1M;
* ``hubspot`` - bench/hubspot.py: initial sync against the HubSpot sandbox at its rate limit;
* ``peer``    - bench/peer.py: HubSpot → SQLite/PostgreSQL, Accord against singer's tap-hubspot and
  (SQLite) Airbyte's source-hubspot;
* ``peer_salesforce`` - bench/peer_salesforce.py: Salesforce Contacts → SQLite, Accord against
  singer's tap-salesforce;
* ``latency`` - bench/latency.py: webhook-to-write and poll-to-write through ``accord run``;
* ``soak``    - bench/soak.py: the convergence fuzzer's random episodes under faults, violations found;
* ``scale``   - bench/scale.py: distributed mode, 1, 2 and 4 workers on 4 independent syncs (Temporal);
* ``salesforce_bulk`` - bench/salesforce_bulk.py: Salesforce API calls of an initial HubSpot → Salesforce
  sync, REST only vs Bulk API 2.0.

Every figure and the figure it is compared with come from the same run of a section (the peer's
wall time is measured next to Accord's, the rate-limit bound is fixed by the sandbox's settings).
The sections run replace theirs in bench/results.json; ``summary`` records the command, the
machine, the load average before and after and the table.

    python bench/run.py                          # everything, full sizes (~25 min)
    python bench/run.py --quick                  # small sizes, a minute or two
    python bench/run.py --sections peer latency  # some sections only
    python bench/run.py --engine-sizes 10000 100000 1000000 --records 50000 --edits 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hubspot
import index_size
import latency
import peer
import peer_salesforce
import salesforce_bulk
import scale
import soak
from results_file import save_section

import engine

BENCH = Path(__file__).resolve().parent
SECTIONS = ("engine", "index_size", "hubspot", "peer", "peer_salesforce", "latency", "soak", "scale",
            "salesforce_bulk")
ROWS = {"engine": engine.rows, "index_size": index_size.rows, "hubspot": hubspot.rows, "peer": peer.rows,
        "peer_salesforce": peer_salesforce.rows, "latency": latency.rows, "soak": soak.rows, "scale": scale.rows,
        "salesforce_bulk": salesforce_bulk.rows}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?") if Path("/proc/cpuinfo").exists() else "?"
    mem = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return (f"{platform.machine()}, {os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def argv_for(section: str, a: argparse.Namespace, out: str) -> list[str]:
    base = [sys.executable, str(BENCH / f"{section}.py"), "--out", out]
    if section == "engine":
        return [*base, "--sizes", *map(str, a.engine_sizes)]
    if section == "index_size":
        return [*base, *(["--small", "2000", "--large", "20000", "--full-sizes", "5000", "20000"] if a.quick else [])]
    if section == "hubspot":
        return [*base, "--records", str(a.records)]
    if section == "peer":
        return [*base, "--records", str(a.peer_records), "--targets", *a.peer_targets, "--repeat", str(a.peer_repeat),
                "--peers", *a.peers]
    if section == "peer_salesforce":
        return [*base, "--records", str(a.peer_records), "--repeat", str(a.peer_repeat)]
    if section == "soak":
        return [*base, "--ops", str(a.soak_ops)]
    if section == "scale":
        return [*base, "--records", str(a.scale_records), "--repeat", "1" if a.quick else "3"]
    if section == "salesforce_bulk":
        return [*base, "--records", str(a.sf_bulk_records)]
    return [*base, "--edits", str(a.edits), "--poll", str(a.poll)]


def table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("figure", "value", "target", "")
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = [f"{head[0]:<{w[0]}}  {head[1]:>{w[1]}}  {head[2]:<{w[2]}}  {head[3]}", "-" * (sum(w) + 6)]
    lines += [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]}" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run; figures not comparable)")
    ap.add_argument("--engine-sizes", type=int, nargs="+", help="records per side (default 10k 100k 1M; quick 10k)")
    ap.add_argument("--records", type=int, help="HubSpot section: contacts (default 50,000; quick 2,000)")
    ap.add_argument("--peer-records", type=int,
                    help="peer sections: contacts (default 50,000; quick 2,000)")
    ap.add_argument("--peer-targets", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    ap.add_argument("--peers", nargs="+", choices=peer.PEERS, default=list(peer.PEERS),
                    help="peer section: peers beside Accord (airbyte-hubspot: SQLite only)")
    ap.add_argument("--peer-repeat", type=int, help="peer section: alternating runs per loader, medians (default 3; quick 1)")
    ap.add_argument("--edits", type=int, help="latency section: edits per mode (default 100; quick 10)")
    ap.add_argument("--poll", type=float, default=1.0, help="latency section: poll interval, seconds")
    ap.add_argument("--soak-ops", type=int, help="soak section: operations (default 10,000; quick 1,000)")
    ap.add_argument("--scale-records", type=int, help="scale section: people per sync (default 5,000; quick 1,000)")
    ap.add_argument("--sf-bulk-records", type=int, help="salesforce_bulk section: contacts (default 200,000; quick 5,000)")
    ap.add_argument("--out", default=str(BENCH / "results.json"))
    a = ap.parse_args()
    a.engine_sizes = a.engine_sizes or ([10_000] if a.quick else [10_000, 100_000, 1_000_000])
    a.records = a.records or (2_000 if a.quick else 50_000)
    a.peer_records = a.peer_records or (2_000 if a.quick else 50_000)
    a.edits = a.edits or (10 if a.quick else 100)
    a.peer_repeat = a.peer_repeat or (1 if a.quick else 3)
    a.soak_ops = a.soak_ops or (1_000 if a.quick else 10_000)
    a.scale_records = a.scale_records or (1_000 if a.quick else 5_000)
    a.sf_bulk_records = a.sf_bulk_records or (5_000 if a.quick else 200_000)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    load_before = os.getloadavg()
    sections: dict[str, Any] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.sections:
            out = str(Path(tmp) / f"{name}.json")
            cmd = argv_for(name, a, out)
            print(f"== {name}: {shlex.join(cmd[1:])}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            child = subprocess.Popen(cmd, cwd=BENCH)
            try:
                rc = child.wait()
            except BaseException:  # terminated or interrupted: so are the section's sandboxes and servers
                child.terminate()
                child.wait()
                raise
            if rc or not Path(out).exists():
                print(f"== {name} FAILED (exit {rc})", file=sys.stderr, flush=True)
                failed.append(name)
                continue
            sections[name] = json.loads(Path(out).read_text())[name]
            sections[name]["section_seconds"] = round(time.perf_counter() - t0, 1)
    rows = [row for name in a.sections if name in sections for row in ROWS[name](sections[name])]
    if a.quick:  # small sizes are a smoke run: the targets are about the full sizes
        rows = [(r[0], r[1], r[2], "(quick)" if r[3] else "") for r in rows]
    print()
    print(table(rows))
    for name, section in sections.items():
        save_section(a.out, name, section)
    summary = {
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "note": "the cores are shared with whatever else runs on the machine (other agents' test runs while these "
                "figures were taken); load averages below",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "quick": a.quick, "sections": list(sections), "failed": failed,
        "wall_seconds": round(time.time() - started, 1),
        "table": [{"figure": r[0], "value": r[1], "target": r[2], "verdict": r[3]} for r in rows],
    }
    save_section(a.out, "summary", summary)
    print(f"\n{summary['machine']}; load average {summary['load_average_before'][0]} → "
          f"{summary['load_average_after'][0]}; {summary['wall_seconds']} s; written to {a.out}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
