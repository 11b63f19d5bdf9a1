"""A scan pass run step by step, each step by a new runner (another worker), with crashes in between.

This is what the distributed mode does with the runner: no Temporal here, only the runner's
resumable steps (``begin_scan`` → ``scan_steps`` → ``finish_scan``) and ``recover_in_flight``.
The end state must equal one uninterrupted embedded pass, with no record created twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from accord.config import config_hash
from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.model import Page, TransientError
from accord.runner import ScanState, SyncRunner
from helpers import person, sync_config


@pytest.fixture(autouse=True)
def page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count steps and crash points per page: memory pages arrive at once, and
    would otherwise be merged (SyncRunner.merge_pages_up_to)."""
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 0)


class PagedMemory(MemoryApp):
    """A memory app whose scan pages carry a cursor (the last id), resumable like HubSpot's ``after``."""

    def __init__(self, name: str, page_size: int) -> None:
        super().__init__(name, page_size=page_size)
        self.objects["contacts"].unique = ()  # a second create of the same person would show as a duplicate
        self.scanned_from: list[str] = []

    async def scan(self, object: str, fields: Sequence[str]) -> AsyncIterator[Page]:  # type: ignore[override]
        async for page in self._pages(object, fields, None):
            yield page

    async def scan_from(self, object: str, fields: Sequence[str], after: str) -> AsyncIterator[Page]:  # type: ignore[override]
        self.scanned_from.append(after)
        async for page in self._pages(object, fields, after):
            yield page

    async def _pages(self, object: str, fields: Sequence[str], after: str | None) -> AsyncIterator[Page]:
        rows = [r for r in self.objects[object].records.values() if not r["archived"]]
        if after is not None:
            rows = rows[[r["id"] for r in rows].index(after) + 1:]
        for i in range(0, len(rows), self.page_size):
            chunk = rows[i:i + self.page_size]
            yield Page([self._record(object, r, fields) for r in chunk], chunk[-1]["id"])


def seed(left: MemoryApp, right: MemoryApp) -> None:
    for i in range(40):
        left.user_create("contacts", person("L", str(i), f"l{i}@x.com", phone=f"+1 555 {i:04d}"))
    for i in range(25):
        right.user_create("contacts", person("R", str(i), f"r{i}@x.com"))
    for i in range(15):  # in both, conflicting
        left.user_create("contacts", person("B", str(i), f"b{i}@x.com", job_title="CEO"))
        right.user_create("contacts", person("B", str(i), f"b{i}@x.com", job_title="CTO", city="Berlin"))


def end_state(left: MemoryApp, right: MemoryApp, store: Store) -> dict[str, Any]:
    def people(app: MemoryApp) -> list[tuple[Any, ...]]:
        return sorted(tuple(sorted((k, str(v)) for k, v in r.properties.items() if v is not None))
                      for r in app.live("contacts"))
    return {"left": people(left), "right": people(right), "index": store.counts("contacts"),
            "reasons": store.reason_counts("contacts")}


class World:
    app_class = PagedMemory

    def __init__(self, store_url: str = "sqlite://", left_page: int = 7, right_page: int = 5,
                 empty_right: bool = False) -> None:
        self.left, self.right = self.app_class("a", left_page), self.app_class("b", right_page)
        self.store = Store(store_url)
        self.cfg = sync_config(winner="a")
        seed(self.left, self.right)
        if empty_right:
            self.right.objects["contacts"].records.clear()

    def runner(self) -> SyncRunner:
        r = SyncRunner(self.cfg, self.store, self.left, self.right)
        r.scan_chunk = 6
        return r

    async def begin(self) -> ScanState:
        r = self.runner()
        await r.prepare()
        self.store.ensure_sync(self.cfg.name, config_hash(self.cfg))
        r.pass_id = self.store.begin_run(self.cfg.name, "initial")
        return await r.begin_scan()

    async def step(self, state: dict[str, Any], pages: int = 1, single_phase: bool = False) -> dict[str, Any]:
        """One activity: a fresh runner resumes ``state`` and stops after ``pages`` pages."""
        r = self.runner()
        await r.prepare()
        seen = [0]

        def stop() -> bool:
            seen[0] += 1
            return seen[0] >= pages

        out = await r.scan_steps(ScanState.from_dict(state), stop=stop, single_phase=single_phase)
        return out.as_dict()

    async def finish(self, state: dict[str, Any]) -> None:
        r = self.runner()
        await r.prepare()
        r.finish_scan(ScanState.from_dict(state))

    async def crash_then_resume(self, state: dict[str, Any], target: PagedMemory, *, writes: int,
                                crash_pages: int, resume_pages: int) -> None:
        """A step from ``state`` dies after ``writes`` more writes reach ``target`` (the index never
        hears back); another worker recovers from ``state`` (the step's last heartbeat) and runs
        the scan to the end."""
        checkpoint = dict(state)
        target.fail_after_writes = target.writes + writes
        with pytest.raises(TransientError):
            await self.step(state, pages=crash_pages)
        target.fail_after_writes = None
        r = self.runner()
        await r.prepare()
        await r.recover_in_flight(ScanState.from_dict(checkpoint))
        state = checkpoint
        while state["phase"] != "done":
            state = await self.step(state, pages=resume_pages)
        await self.finish(state)


async def embedded(**kw: Any) -> dict[str, Any]:
    w = World(**kw)
    await w.runner().run()
    return end_state(w.left, w.right, w.store)


async def test_a_scan_in_one_page_steps_by_fresh_runners_equals_one_embedded_pass() -> None:
    w = World()
    state = (await w.begin()).as_dict()
    steps = 0
    phases = []
    while state["phase"] != "done":
        state = await w.step(state)
        phases.append(state["phase"])
        steps += 1
    await w.finish(state)
    assert end_state(w.left, w.right, w.store) == await embedded()
    # 55 left records in pages of 7, 40 right ones in pages of 5, 40 left rows for phase 3 in 6s
    assert steps == 8 + 8 + 7
    assert phases.index("right") < phases.index("rest") < phases.index("done")
    assert w.left.scanned_from and w.right.scanned_from  # phases resumed from page cursors
    assert w.store.sync_state("contacts").initial_done  # type: ignore[union-attr]
    assert (await w.runner().run()).counters.created == {"left": 0, "right": 0}  # then incremental: nothing to do


@pytest.mark.parametrize("crash_in", ["right", "rest"])
async def test_a_step_that_crashes_after_sending_creates_is_resumed_without_duplicates(crash_in: str) -> None:
    w = World()
    state = (await w.begin()).as_dict()
    while state["phase"] != crash_in:
        state = await w.step(state)
    # The worker dies in the middle of a page: some creates of its batch reached the app,
    # the index never heard back (the intents were committed first).
    target = w.left if crash_in == "right" else w.right
    await w.crash_then_resume(state, target, writes=3, crash_pages=3, resume_pages=2)
    got = end_state(w.left, w.right, w.store)
    assert got == await embedded()
    emails = [r.properties["email"] for r in target.live("contacts")]
    assert len(emails) == len(set(emails))


async def test_a_step_that_crashes_while_updating_matched_pairs_is_resumed_to_the_same_end_state() -> None:
    """Phase 2 on the pages of people in both apps: the winner's values go to the other side.
    The worker dies after the left updates landed and in the middle of the right ones."""
    w = World()
    last_right_only = list(w.right.objects["contacts"].records)[24]  # then come the 15 people in both
    state = (await w.begin()).as_dict()
    while not (state["phase"] == "right" and state["cursor"] == last_right_only):
        state = await w.step(state)
    await w.crash_then_resume(state, w.right, writes=2, crash_pages=1, resume_pages=2)
    assert end_state(w.left, w.right, w.store) == await embedded()


async def test_an_empty_right_app_filled_during_phase_1_survives_a_crash() -> None:
    w = World(empty_right=True)
    state = (await w.begin()).as_dict()
    assert state["right_empty"]
    state = await w.step(state, pages=2)
    await w.crash_then_resume(state, w.right, writes=4, crash_pages=3, resume_pages=3)
    assert end_state(w.left, w.right, w.store) == await embedded(empty_right=True)
    assert len(w.right.live("contacts")) == 55


async def test_write_groups_into_an_empty_right_app_survive_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Phase 1's write groups (scan.write_group: left pages gathered into whole write batches of
    the right app) are pages of their own: a crash in the middle of a group's batches resumes
    after the group committed last, without a duplicate."""
    monkeypatch.setattr(SyncRunner, "merge_pages_up_to", 10)
    w = World(empty_right=True)
    w.right.batch_size = 5  # groups of 10: left pages of 7 gathered, and split across groups
    creates: list[int] = []
    right_create = w.right.create

    async def create(object: str, items: Any) -> Any:
        creates.append(len(items))
        return await right_create(object, items)

    w.right.create = create  # type: ignore[method-assign]
    state = (await w.begin()).as_dict()
    state = await w.step(state)  # one group: the first page and 3 of the second, two creates
    assert state["phase"] == "left" and creates == [5, 5]
    assert state["cursor"] == list(w.left.objects["contacts"].records)[6]  # the last page it holds in full
    state = await w.step(state)  # the second page again (its first 3 are not created again) and 3 of the third
    assert creates == [5, 5, 5, 2] and state["cursor"] == list(w.left.objects["contacts"].records)[13]
    await w.crash_then_resume(state, w.right, writes=7, crash_pages=2, resume_pages=2)
    assert end_state(w.left, w.right, w.store) == await embedded(empty_right=True)
    emails = [r.properties["email"] for r in w.right.live("contacts")]
    assert len(emails) == 55 == len(set(emails))


async def test_resume_from_an_older_checkpoint_of_the_phase_reprocesses_pages_harmlessly() -> None:
    """Heartbeats are throttled: a step may resume from a cursor some pages back (never from an
    earlier phase: a distributed step ends with its phase)."""
    w = World()
    state = (await w.begin()).as_dict()
    history = [state]
    while state["phase"] != "done":
        phase = state["phase"]
        state = await w.step(state, single_phase=True)
        history.append(state)
        if state["phase"] != phase:  # the phase is over: replay it from some of its checkpoints
            for old in [h for h in history if h["phase"] == phase][1::3]:
                replay = dict(old)
                while replay["phase"] == phase:
                    replay = await w.step(replay, pages=2, single_phase=True)
                assert replay == state
    await w.finish(state)
    assert end_state(w.left, w.right, w.store) == await embedded()


async def test_steps_on_postgres(pg_url: str) -> None:
    w = World(pg_url)
    state = (await w.begin()).as_dict()
    while state["phase"] != "done":
        state = await w.step(state, pages=2)
    await w.finish(state)
    assert end_state(w.left, w.right, w.store) == await embedded()
