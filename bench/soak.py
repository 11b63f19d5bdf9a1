"""Soak run of the convergence fuzzer: many random episodes, each ending in a convergence check.

Each episode is a fresh world (``tests/reliability/convergence.py``): two apps synced
two-way, a random winner, and a random sequence of user creates, edits, clears and deletes
on both sides, incremental and full passes and webhook deliveries, with injected faults
(429, 500, time-outs after the write, connection resets mid-batch, half-failed batches,
dropped webhooks), operators' config changes (mappings repointed, re-ruled, removed and
added back; the winner, the direction and the filters changed; the sync disabled and
enabled), each applied as a saved config is, a second process racing on the same index (its
own runner and index connection: a pass or a webhook delivery at the same time as this
process's pass, held apart by the sync's lease) and operators trying to add an overlapping
sync (refused). After every step the reference model checks
the apps; at the end the sync is enabled, faults stop, two passes run and convergence, the
index and idempotence are checked.

    python bench/soak.py                    # 10,000 operations on memory apps (~45 s)
    python bench/soak.py --ops 1000         # a quick run
    python bench/soak.py --apps hubspot     # two HubSpot sandboxes over loopback (~13 min)
    python bench/soak.py --apps hubspot-salesforce   # HubSpot contacts ↔ Salesforce Contact sandboxes
    python bench/soak.py --hit-known-bugs   # users are not steered around known engine bugs
    python bench/soak.py --apps associations   # contact→company associations added, moved, removed

Reports operations run, config changes among them, episodes, passes, faults injected, user
operations steered around known engine bugs (``KNOWN_BUGS`` in convergence.py, each pinned by
an xfail test), violations found (target 0), the time taken and the machine's load average;
saves them under ``soak`` (memory apps), ``soak_hubspot`` or ``soak_hubspot_salesforce`` in bench/results.json
(``--no-save`` to skip); ``bench/run.py`` runs it as its ``soak`` section.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

from convergence import (  # noqa: E402
    CONFIG_OPS,
    KNOWN_BUGS,
    AssocWorld,
    L,
    R,
    World,
    random_assoc_episode,
    random_episode,
)
from results_file import save_section  # noqa: E402


def make_world(rng: random.Random, apps: str, hit_known_bugs: bool = False) -> World:
    winner = rng.choice((L, R))
    if apps == "memory":
        return World(winner=winner, page_size=rng.randint(2, 6), batch_size=rng.randint(1, 4),
                     hit_known_bugs=hit_known_bugs)
    if apps == "hubspot-salesforce":
        from salesforce_world import salesforce_world

        return salesforce_world(winner=winner, hit_known_bugs=hit_known_bugs)
    from hubspot_world import hubspot_world

    return hubspot_world(winner=winner, hit_known_bugs=hit_known_bugs)


async def soak(ops: int, steps: int, fault_rate: float, seed: int, apps: str, show: int,
               hit_known_bugs: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    total, episodes, failed_passes, steered = 0, 0, 0, 0
    kinds: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    violations: list[str] = []
    load_before = os.getloadavg()  # other work on the machine slows the soak, never its verdict
    t0 = time.perf_counter()
    while total < ops:
        if apps == "associations":  # contact→company associations (convergence.AssocWorld)
            w: Any = await random_assoc_episode(AssocWorld(winner=rng.choice((L, R)), page_size=rng.randint(2, 6),
                                                           batch_size=rng.randint(1, 4)), rng, steps, fault_rate)
        else:
            w = await random_episode(make_world(rng, apps, hit_known_bugs), rng, steps, fault_rate)
        episodes += 1
        total += w.stats.total
        kinds.update(w.stats.ops)
        faults.update(w.injected())
        failed_passes += w.stats.passes_failed
        steered += w.stats.steered
        for v in w.violations:
            violations.append(f"episode {episodes}: {v}")
            if len(violations) <= show:
                print(f"VIOLATION (episode {episodes}): {v}", file=sys.stderr)
        if episodes % 20 == 0:
            print(f"{total:,} operations ({sum(kinds[k] for k in CONFIG_OPS):,} config changes), {episodes} episodes, "
                  f"{len(violations)} violations, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    return {"apps": apps, "operations": total, "episodes": episodes, "steps_per_episode": steps,
            "fault_rate": fault_rate, "seed": seed, "operations_by_kind": dict(kinds),
            "config_changes": sum(kinds[k] for k in CONFIG_OPS),
            "config_changes_by_kind": {k: kinds[k] for k in CONFIG_OPS if kinds[k]},
            "process_races": kinds["race"], "overlapping_syncs_refused": kinds["overlap"],
            "known_bugs": "hit" if hit_known_bugs else {"steered around": sorted(KNOWN_BUGS), "operations steered": steered},
            "faults_injected": dict(faults), "passes_failed_by_faults": failed_passes,
            "violations": len(violations), "first_violations": violations[:show],
            "seconds": round(elapsed, 1),
            "load_average": {"start": [round(x, 2) for x in load_before],
                             "end": [round(x, 2) for x in os.getloadavg()]},
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}


def section_name(apps: str) -> str:
    """The soak's section in bench/results.json: ``soak``, ``soak_hubspot``, ``soak_hubspot_salesforce``."""
    return "soak" if apps == "memory" else f"soak_{apps.replace('-', '_')}"


def rows(section: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Summary row (figure, value, target, verdict) for bench/run.py's table."""
    faults = sum(section["faults_injected"].values())
    changes, races = section.get("config_changes", 0), section.get("process_races", 0)
    met = section["operations"] >= 10_000 and changes >= 500 and races >= 100 and not section["violations"]
    return [(f"soak ({section['apps']} apps): operations under faults ({faults:,} injected), config changes "
             f"and races of a second process among them, violations",
             f"{section['operations']:,} / {changes:,} / {races:,} / {section['violations']}",
             "≥ 10,000 / ≥ 500 / ≥ 100 / 0", "met" if met else "NOT met")]


def main() -> None:
    # The runner's warnings about faults it recovers from are expected here by the thousand.
    logging.basicConfig(level=logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=10_000, help="operations to run (at least)")
    ap.add_argument("--steps", type=int, default=60, help="operations per episode before convergence")
    ap.add_argument("--fault-rate", type=float, default=0.15, help="probability of a fault per API call")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--apps", choices=("memory", "hubspot", "hubspot-salesforce", "associations"), default="memory")
    ap.add_argument("--show", type=int, default=5, help="violations to print")
    ap.add_argument("--hit-known-bugs", action="store_true",
                    help="do not steer users around known engine bugs (convergence.KNOWN_BUGS)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    res = asyncio.run(soak(args.ops, args.steps, args.fault_rate, args.seed, args.apps, args.show, args.hit_known_bugs))
    steered = "" if args.hit_known_bugs else f", {res['known_bugs']['operations steered']} steered around known bugs"
    print(f"{res['operations']:,} operations ({res['config_changes']:,} config changes, {res['process_races']:,} "
          f"races of a second process{steered}) "
          f"in {res['episodes']} episodes ({res['apps']} apps), "
          f"{sum(res['faults_injected'].values()):,} faults injected, {res['passes_failed_by_faults']} passes failed "
          f"by them: {res['violations']} violations; {res['seconds']} s on {res['machine']} "
          f"(load average {res['load_average']['start'][0]:.2f} at the start, {res['load_average']['end'][1]:.2f} "
          f"over the last 5 minutes)")
    if not args.no_save:
        save_section(args.out, section_name(args.apps), res)
    sys.exit(1 if res["violations"] else 0)


if __name__ == "__main__":
    main()
