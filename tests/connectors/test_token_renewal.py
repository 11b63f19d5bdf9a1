"""The long run of bench/token_renewal.py, shortened: tokens that live 1.2 s instead of 30, for
35 s. Every pass succeeds while both apps renew their tokens over and over (HubSpot before they
expire, Salesforce on INVALID_SESSION_ID)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "token_renewal.py"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_passes_never_fail_while_tokens_expire_every_second() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--ttl", "1.2", "--seconds", "35", "--interval", "0.5",
                          "--json", "--no-save"], capture_output=True, text=True, timeout=170)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failed_passes"] == 0, result["errors"]
    assert result["passes"] >= 20
    assert min(result["renewals"].values()) >= 20, result["renewals"]
    assert result["counts"].get("failing", 0) == 0
