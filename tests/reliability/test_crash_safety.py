"""Crash safety: ``accord sync`` killed with SIGKILL during an initial sync, then restarted.

Two HubSpot sandboxes run in their own processes (``sandbox_proc.py``): A holds 20,000
companies, B one in twenty of them with conflicting values plus 1,000 of its own. Companies
are created with plain batch creates (HubSpot has no upsert key for them), so only the
runner's create intents stand between a kill and a duplicate.

The reference is an uninterrupted ``accord sync`` on a pair of sandboxes seeded alike. The
test run is killed (SIGKILL: no clean-up, no final index write) at random moments spread
over the reference's duration, several times, then run to the end. Both apps and the index
must end exactly as in the reference, with no company twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from accord.index import Store
from accord.sandbox.server import free_port

N = 20_000
KILLS = 4  # one early, one in each third of B filling up
FIELDS = ("name", "domain", "industry", "phone", "city", "country")
PROC = Path(__file__).with_name("sandbox_proc.py")
ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@contextmanager
def sandboxes(pairs: int) -> Iterator[list[tuple[str, str]]]:
    """``pairs`` pairs of sandbox processes (A, B), started together: each takes seconds to seed."""
    procs, urls = [], []
    try:
        for side in ("a", "b") * pairs:
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, str(PROC), "--port", str(port), "--side", side,
                                           "--records", str(N)], stdout=subprocess.PIPE, text=True, env=ENV))
            urls.append(f"http://127.0.0.1:{port}")
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for url in urls:
            for _ in range(200):
                try:
                    get(url, "/_sandbox/")
                    break
                except OSError:
                    time.sleep(0.05)
        yield [(urls[i], urls[i + 1]) for i in range(0, len(urls), 2)]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=60) as r:
        return json.loads(r.read())


def config(tmp: Path, a: str, b: str) -> Path:
    tmp.mkdir()
    apps = {n: {"type": "hubspot", "token": f"{n}-token", "base_url": url, "rate_limit": 1_000_000,
                "search_rate": 1_000_000, "timeout": 30} for n, url in (("a", a), ("b", b))}
    path = tmp / "accord.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "state": f"sqlite:///{tmp / 'index.db'}", "apps": apps,
        "syncs": [{"name": "companies", "left": {"app": "a", "object": "companies"},
                   "right": {"app": "b", "object": "companies"}}]}))
    return path


def sync(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "accord.cli", "sync", "-c", str(cfg), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)


def finish(cfg: Path) -> None:
    p = sync(cfg)
    _, err = p.communicate(timeout=240)
    assert p.returncode == 0, err.decode()


def end_state(a: str, b: str, cfg: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side, url in (("a", a), ("b", b)):
        recs = get(url, "/_sandbox/objects/companies")
        names = Counter(r["properties"]["name"] for r in recs)
        dupes = {k: v for k, v in names.items() if v > 1}
        assert not dupes, f"companies created twice in {side}: {len(dupes)}, e.g. {list(dupes.items())[:5]}"
        out[side] = sorted(tuple(r["properties"].get(f) or "" for f in FIELDS) for r in recs)
    store = Store(f"sqlite:///{cfg.parent / 'index.db'}")
    out["status"], out["reasons"] = store.counts("companies"), store.reason_counts("companies")
    state = store.sync_state("companies")
    out["initial_done"] = bool(state and state.initial_done)
    store.close()
    return out


def companies(url: str) -> int:
    return int(get(url, "/_sandbox/")["records"].get("companies", 0))


def kill_at(cfg: Path, b: str, target: int | None, delay: float) -> str:
    """Start ``accord sync``; SIGKILL it once B holds ``target`` companies (None: after ``delay`` s)."""
    p = sync(cfg)
    started = time.monotonic()
    while p.poll() is None:
        if (target is None and time.monotonic() - started >= delay) or (target is not None and companies(b) >= target):
            p.send_signal(signal.SIGKILL)
            p.wait()
            return f"killed with {companies(b)} companies in B"
        time.sleep(0.02)
    return f"finished on its own (exit {p.returncode})"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_during_initial_sync_then_restart_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    rng = random.Random(20_000)
    with sandboxes(2) as [(ref_a, ref_b), (a, b)]:
        # The reference runs meanwhile, on its own pair of sandboxes.
        ref_cfg = config(tmp_path / "reference", ref_a, ref_b)
        reference_run = sync(ref_cfg)
        cfg = config(tmp_path / "killed", a, b)
        start = companies(b)
        # One kill early (start-up, or indexing A), then one in each third of B's filling up:
        # kills far enough apart that each restarted run has creates left to be killed in.
        fractions = [rng.uniform(lo, lo + 0.2) for lo in (0.05, 0.35, 0.65)]
        targets = [None, *(start + int(f * (N - N // 20)) for f in fractions)]
        log = []
        for target in targets:
            log.append(kill_at(cfg, b, target, rng.uniform(0.5, 3.0)))
            if end_state(a, b, cfg)["initial_done"]:
                log[-1] += " (after the initial sync had finished)"
                break
        mid_sync = [line for line in log if line.startswith("killed") and "finished" not in line]
        assert len(mid_sync) >= KILLS - 1, log
        finish(cfg)
        after = end_state(a, b, cfg)
        _, err = reference_run.communicate(timeout=300)
        assert reference_run.returncode == 0, err.decode()
        reference = end_state(ref_a, ref_b, ref_cfg)
    assert len(reference["a"]) == N + N // 20 and len(reference["b"]) == N + N // 20
    assert reference["status"] == {"syncing": N + N // 20} and reference["initial_done"]
    assert after == reference, log
