"""``serve()`` (what ``accord sandbox salesforce`` runs) starts a TLS server with seeded data."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from accord.sandbox.server import free_port


@pytest.mark.slow
def test_serve_runs_tls_sandbox_with_token() -> None:
    port = free_port()
    code = f"from accord.sandbox.salesforce import serve; serve(port={port}, records=5, seed=1, token='tok')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline() + proc.stdout.readline()
        m = re.search(r"trust: (\S+)", banner)
        assert m and f"https://127.0.0.1:{port}" in banner, banner
        url = f"https://127.0.0.1:{port}/services/data/v62.0/query"
        with httpx.Client(verify=ssl.create_default_context(cafile=m.group(1))) as client:
            r = None
            for _ in range(100):
                try:
                    r = client.get(url, params={"q": "SELECT COUNT() FROM Contact"},
                                   headers={"Authorization": "Bearer tok"})
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert r is not None and r.json()["totalSize"] == 5
            assert client.get(url, params={"q": "SELECT Id FROM Lead"},
                              headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
