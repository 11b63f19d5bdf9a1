"""``accord sandbox snovio`` serves a seeded Snov.io sandbox; ``--token`` is the only client secret accepted."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from accord.sandbox.server import free_port


def test_accord_sandbox_snovio_serves_seeded_prospects() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "sandbox", "snovio", "--port", str(port),
                             "--records", "7", "--seed", "2", "--token", "s3cret"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert f"http://127.0.0.1:{port}" in proc.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            summary = None
            for _ in range(200):
                try:
                    summary = client.get("/_sandbox/").json()
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert summary is not None and summary["vendor"] == "snovio" and summary["prospects"] == 7
            grant = {"grant_type": "client_credentials", "client_id": "any"}
            assert client.post("/v1/oauth/access_token", data={**grant, "client_secret": "nope"}).status_code == 401
            token = client.post("/v1/oauth/access_token", data={**grant, "client_secret": "s3cret"}).json()
            lists = client.get("/v1/get-user-lists", headers={"Authorization": f"Bearer {token['access_token']}"})
            assert sorted(x["name"] for x in lists.json()) == ["Cold leads", "Webinar 2024"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
