"""Failover loses pages, not steps: a scan step's cursor and counters are committed with each page.

What a distributed ``scan_step`` does with the runner, without Temporal: each attempt is a fresh
runner (another worker) that resumes from the *workflow's* state — as stale as Temporal's
throttled heartbeats leave it, here the start of the phase — and from the page the index says
was committed last (``resume_scan``), keeping its counters page by page (``track_pages``). An
attempt dies in the middle of a page (a write or a read fails, as a SIGKILL would cut it off).

Checked on real SQLite and PostgreSQL: the resumed attempt re-reads at most two pages (the one
in progress and the one read ahead), the end state equals an uninterrupted pass, and the run's
counters (the sum of its committed pages, across attempts) equal what was written to the apps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_scan_resume import PagedMemory, World, embedded, end_state

from accord.model import Counters, Page, TransientError
from accord.runner import ScanState, SyncRunner

LEFT_PAGE, RIGHT_PAGE = 7, 5


@pytest.fixture(autouse=True)
def page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 0)  # as scan_step sets it


class CountingMemory(PagedMemory):
    """Remembers the records its scans hand out; ``die_after_pages``: a scan fails when asked
    for one more page (the worker died while reading)."""

    def __init__(self, name: str, page_size: int) -> None:
        super().__init__(name, page_size)
        self.served: list[str] = []
        self.die_after_pages: int | None = None

    async def _pages(self, object: str, fields: Sequence[str], after: str | None) -> AsyncIterator[Page]:
        async for page in super()._pages(object, fields, after):
            if self.die_after_pages is not None:
                if self.die_after_pages <= 0:
                    raise TransientError(f"{self.name}: the worker died while reading")
                self.die_after_pages -= 1
            self.served.extend(r.id for r in page.records)
            yield page


class FailoverWorld(World):
    app_class = CountingMemory
    left: CountingMemory
    right: CountingMemory

    def __init__(self, store_url: str, **kw: Any) -> None:
        super().__init__(store_url, LEFT_PAGE, RIGHT_PAGE, **kw)
        self.run_id = 0

    async def begin(self) -> ScanState:
        state = await super().begin()
        self.run_id = state.pass_id
        self.left.served.clear()  # begin_scan's look at the right app is not the scan's
        self.right.served.clear()
        return state

    async def attempt(self, job: dict[str, Any], *, resumed: bool, steps: int = 10_000) -> dict[str, Any]:
        """One scan_step attempt (what accord.distributed.activities.scan_step does with its runner)."""
        r = self.runner()
        await r.prepare()
        state = ScanState.from_dict(job)
        await r.resume_scan(state)
        r.counters = Counters()
        r.track_pages()
        if resumed:
            await r.recover_in_flight(state)
        seen = [0]

        def stop() -> bool:
            seen[0] += 1
            return seen[0] >= steps

        await r.scan_steps(state, stop=stop, single_phase=True)
        return state.as_dict()

    async def finish(self, state: dict[str, Any]) -> None:
        r = self.runner()
        await r.prepare()
        st = ScanState.from_dict(state)
        await r.resume_scan(st)
        ledger = r.track_pages()
        r.finish_scan(st)
        await r.settle_deletes()
        await r.associate_all()
        self.store.close_run(self.run_id, "ok", ledger)

    def mark(self) -> tuple[str, str | None] | None:
        return self.store.run_mark(self.run_id)


def store_url(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'index.db'}"


def written(w: FailoverWorld, seeded: dict[str, int]) -> dict[str, int]:
    """Records created in each app, as the apps have them."""
    return {"left": len(w.left.live("contacts")) - seeded["left"], "right": len(w.right.live("contacts")) - seeded["right"]}


async def run_with_failovers(w: FailoverWorld, kills: list[tuple[str, str, int]]) -> dict[str, Any]:
    """An initial pass whose step dies once at each (phase, how, after) of ``kills``: ``how`` is
    ``write`` (the target app fails after that many more writes: creates may have landed,
    the index never heard back) or ``read`` (the scan dies after that many more pages).
    Returns per failover what the resumed attempt re-read beyond the dead one's committed pages."""
    state = (await w.begin()).as_dict()
    reread: list[int] = []
    for phase, how, after in kills:
        while state["phase"] != phase:
            state = await w.attempt(state, resumed=False)
        job = dict(state)  # the workflow's copy: the start of the phase (the heartbeats never arrived)
        side = w.left if phase == "left" else w.right
        target = w.right if phase == "rest" else w.left
        if how == "write":
            target.fail_after_writes = target.writes + after
        else:
            side.die_after_pages = after
        with pytest.raises(TransientError):
            await w.attempt(job, resumed=False, steps=10_000)
        target.fail_after_writes, side.die_after_pages = None, None
        committed = w.mark()
        assert committed is not None and committed[0] == phase, committed
        dead = set(side.served)
        before = len(side.served)
        # another worker takes the step over from the same stale job, for two pages
        state = await w.attempt(job, resumed=True, steps=2)
        assert state["phase"] == phase  # resumed after the committed page, not from the phase's start
        if phase != "rest":  # phase 3 reads index rows, not pages of an app
            reread.append(len([i for i in side.served[before:] if i in dead]))
        side.served.clear()
    while state["phase"] != "done":
        state = await w.attempt(state, resumed=False)
    await w.finish(state)
    return {"reread": reread}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_resumed_steps_start_after_the_last_committed_page_and_counters_add_up(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    expected = await embedded()
    w = FailoverWorld(store_url(tmp_path, backend, request))
    seeded = {"left": len(w.left.live("contacts")), "right": len(w.right.live("contacts"))}
    kills = [("left", "read", 3), ("right", "write", 4), ("rest", "write", 5)]
    got = await run_with_failovers(w, kills)
    assert end_state(w.left, w.right, w.store) == expected
    for app in (w.left, w.right):
        mails = [r.properties["email"] for r in app.live("contacts")]
        assert len(mails) == len(set(mails)), "a record created twice"
    # records the resumed attempt read that the dead one had read: the page in progress at most
    assert got["reread"] and all(n <= RIGHT_PAGE for n in got["reread"]), got["reread"]
    run = w.store.runs("contacts", limit=1)[0]
    counters = run["counters"]
    assert counters["created"] == written(w, seeded)
    # the same counts as the uninterrupted pass: nothing counted twice, nothing lost with a dead attempt
    plain = (await embedded_counters())
    for k in ("created", "updated", "archived", "failed", "conflicts", "linked", "excluded"):
        assert counters[k] == plain[k], k
    # pairs a dead attempt had written but not saved are planned again, found in sync
    assert plain["unchanged"] <= counters["unchanged"] <= plain["unchanged"] + 2 * RIGHT_PAGE
    # every record read once, plus the pages re-read after the failovers
    assert counters["read"]["left"] - plain["read"]["left"] <= 2 * LEFT_PAGE
    assert counters["read"]["right"] - plain["read"]["right"] <= 2 * RIGHT_PAGE


async def embedded_counters() -> dict[str, Any]:
    w = World(left_page=LEFT_PAGE, right_page=RIGHT_PAGE)
    return (await w.runner().run()).counters.as_dict()


async def test_the_committed_cursor_wins_over_a_stale_checkpoint_and_never_goes_back_a_phase(tmp_path: Path) -> None:
    w = FailoverWorld(f"sqlite:///{tmp_path / 'index.db'}")
    start = (await w.begin()).as_dict()
    state = await w.attempt(start, resumed=False, steps=3)
    assert state["phase"] == "left" and w.mark() == ("left", state["cursor"])
    first = list(w.left.served[:3 * LEFT_PAGE])
    w.left.served.clear()
    # a retry of the first step, with the workflow's state from before it: goes on after page 3
    again = await w.attempt(start, resumed=True, steps=1)
    assert again["phase"] == "left" and not set(w.left.served) & set(first)
    while again["phase"] == "left":
        again = await w.attempt(again, resumed=False)
    assert w.mark() == ("right", None)
    # a stale job of phase 1 is moved on to phase 2; a job further on than the index is not moved back
    st = ScanState.from_dict(start)
    r = w.runner()
    await r.prepare()
    assert await r.resume_scan(st) and (st.phase, st.cursor) == ("right", None)
    later = ScanState.from_dict({**start, "phase": "rest", "cursor": None})
    assert not await r.resume_scan(later) and later.phase == "rest"
