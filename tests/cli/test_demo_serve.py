"""``accord demo`` past the summary: incremental passes pick up simulated users' edits in both apps."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from accord.demo import run_demo


@contextmanager
def no_bar(enabled: bool) -> Iterator[None]:
    yield None


async def test_demo_serves_incremental_passes() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=200, no_color=True)
    rc = await run_demo(records=60, serve=True, port=0, state=None, seed=3, console=console, progress=no_bar,
                        interval=0.05, rounds=2)
    out = buf.getvalue()
    assert rc == 0
    assert "Sync summary" in out and "Incremental sync every" in out
    # each round: users edit contacts in both apps and create one; the passes carry it over
    assert out.count("contacts: created") == 2, out
    assert "updated" in out
