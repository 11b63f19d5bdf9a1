"""``/readyz``: ready only while the index answers (``/healthz`` says only that the process lives).

The PostgreSQL case stops a real server under a running service: readiness turns 503 and names
the index, within its time limit, while ``/healthz`` still answers. Temporal's check is in
tests/distributed/test_controls.py (the service started before Temporal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from accord.config import parse_config
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from pg import postgres_server

TOKEN = "readiness-token-for-the-api-0123456789"


def _serve(state: str, tmp_path: Path) -> tuple[ServerThread, Service]:
    cfg = parse_config({"state": state, "apps": {"a": {"type": "memory"}, "b": {"type": "memory"}}, "syncs": []},
                       str(tmp_path / "accord.yaml"), env={})
    service = Service(cfg, tick=0.05)
    return ServerThread(create_app(cfg, service, token=TOKEN)).start(), service


def test_ready_with_an_sqlite_index(tmp_path: Path) -> None:
    server, _ = _serve(f"sqlite:///{tmp_path}/index.db", tmp_path)
    try:
        r = httpx.get(f"{server.url}/readyz")  # open, like /healthz: probes carry no token
        assert r.status_code == 200 and r.json() == {"ok": True, "checks": {"service": "ok", "index": "ok"}}
    finally:
        server.stop()


def _stop_postgres(url: str) -> None:
    with create_engine(url).connect() as c:
        data = c.execute(text("SHOW data_directory")).scalar_one()
    bindir = Path(shutil.which("pg_ctl") or sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]).parent
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"], check=True,
                   capture_output=True)


def test_not_ready_while_postgres_is_down(tmp_path: Path) -> None:
    with postgres_server() as base:  # its own server: the session's is shared by other tests
        if base is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not installed: .ci/run must install the postgresql package")
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        server, _ = _serve(f"{base}/postgres", tmp_path)
        try:
            assert httpx.get(f"{server.url}/readyz").status_code == 200
            _stop_postgres(f"{base}/postgres")
            r = httpx.get(f"{server.url}/readyz", timeout=30)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["ok"] is False and body["checks"]["service"] == "ok"
            assert body["checks"]["index"] != "ok" and "Connection refused" in body["checks"]["index"], body
            assert httpx.get(f"{server.url}/healthz").json() == {"ok": True}  # alive all the same
        finally:
            server.stop()
