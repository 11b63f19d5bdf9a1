"""``accord sandbox hubspot salesforce``: SIGTERM or SIGINT stops every child server and frees its port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest


def _two_free_ports() -> int:
    """A port whose next one is free too (the second vendor takes it)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two free consecutive ports")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no holder
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_sandbox_and_frees_its_port(sig: signal.Signals) -> None:
    port = _two_free_ports()
    # a session of its own: the signal reaches the parent only, as `kill PID` or systemd's stop would send it
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "sandbox", "hubspot", "salesforce",
                             "--port", str(port), "--records", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (_listening(port) and _listening(port + 1)):
            assert proc.poll() is None, f"accord sandbox exited with {proc.returncode}"
            assert time.monotonic() < deadline, "the sandboxes did not start listening"
            time.sleep(0.1)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
        deadline = time.monotonic() + 5
        while _listening(port) or _listening(port + 1):
            assert time.monotonic() < deadline, "a sandbox still answers after the command stopped"
            time.sleep(0.1)
        assert _bindable(port) and _bindable(port + 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
