"""``accord sandbox xentral`` runs a seeded instance with the HubSpot module's set-up."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from accord.sandbox.server import free_port


@pytest.mark.slow
def test_accord_sandbox_xentral_serves_a_seeded_instance() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "sandbox", "xentral", "--port", str(port),
                             "--records", "6", "--seed", "2", "--token", "tok"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/api/v1" in banner, banner
        base = f"http://127.0.0.1:{port}/api/v1"
        r = None
        for _ in range(200):
            try:
                r = httpx.get(f"{base}/adressen", params={"items": 100}, headers={"Authorization": "Bearer tok"})
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert r is not None and r.status_code == 200 and r.json()["pagination"]["items_total"] == 6
        groups = httpx.get(f"{base}/gruppen", headers={"Authorization": "Bearer tok"}).json()["data"]
        assert [g["name"] for g in groups] == ["Hubspot"]
        assert httpx.get(f"{base}/wiedervorlagen", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
