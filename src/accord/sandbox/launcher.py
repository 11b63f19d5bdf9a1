"""``accord sandbox A B …``: one child process per vendor, stopped together.

The parent forwards SIGTERM and SIGINT to every child and waits for them (killing one that
does not stop within ``grace`` seconds), so no sandbox outlives the command and keeps its
port. One child that exits on its own (a port taken, a crash) stops the others too.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any


def run_together(commands: Sequence[Sequence[str]], *, grace: float = 10.0, poll: float = 0.2) -> int:
    """Run ``commands`` side by side until one exits or SIGTERM/SIGINT arrives; stop them all.

    Returns the first non-zero exit code of a child that stopped on its own, else 0."""
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, on_signal)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = [subprocess.Popen(list(cmd)) for cmd in commands]
        while not stop.is_set() and all(p.poll() is None for p in procs):
            stop.wait(poll)
        ended = [p.returncode for p in procs if p.returncode is not None]
        return next((rc for rc in ended if rc != 0), 0) if not stop.is_set() else 0
    finally:
        stop_all(procs, grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(procs: Sequence[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every child still running, wait up to ``grace`` seconds, SIGKILL the rest."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait()
