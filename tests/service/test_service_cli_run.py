"""``accord run`` as a process: prints a generated token once, serves, stops cleanly on SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from accord.sandbox.server import free_port


@pytest.mark.timeout(30)
def test_accord_run_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    cfg = tmp_path / "accord.yaml"
    cfg.write_text(f"""state: sqlite:///{tmp_path}/index.db
apps:
  a: {{type: memory, poll: 1h}}
  b: {{type: memory, poll: 1h}}
syncs:
  - {{name: contacts, left: {{app: a, object: contacts}}, right: {{app: b, object: contacts}}}}
""")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_API_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "run", "-c", str(cfg), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        token = ""
        deadline = time.monotonic() + 15
        while not token and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "API token" in line:
                token = line.rsplit(" ", 1)[-1].strip()
        assert token
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").json() == {"ok": True}:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        syncs = httpx.get(f"{url}/api/syncs", headers={"Authorization": f"Bearer {token}"}).json()
        assert [s["name"] for s in syncs] == ["contacts"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
