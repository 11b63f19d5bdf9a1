"""A HubSpot full scan read in two lanes at once, meeting in the middle of the id range.

HubSpot meters its list endpoint (100 records a call) by the 10-second limit, and CRM
search (200 a call) by a separate per-second bucket. A scan that only lists waits out the
10-second window once it has used it; this one also reads from the top of the id range
with search, so both budgets work at once:

* the **list lane** follows ``paging.next.after`` from the lowest id up, as before;
* the **search lane** asks for ``hs_object_id`` between the list lane's highest id and its
  own lowest, newest first, 200 at a time. Each query restarts from the new bounds, so
  none pages past search's 10,000-result cap.

Each lane drops the records the other has already read and stops when it reaches them.
That relies on list pages coming in ascending id order, which HubSpot's do; a list page
out of order switches the list lane to reading everything (records then come twice at
worst, which a scan tolerates) and stops the search lane. A search lane that fails does
the same. Records created while the scan runs may be missed by both lanes (they are
above the search lane's first query and the list lane stops below them); the change
feed, whose cursor is taken before the scan starts, delivers them next pass.

The lanes are plain functions of ``(after) -> (results, next after)`` and ``(lo, hi) ->
results`` so this module has no HTTP in it; :class:`ScanPosition` is the resumable cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from accord.model import AuthError, ConnectorError

Raw = dict[str, Any]
ListPage = Callable[[str | None], Awaitable[tuple[list[Raw], str | None]]]
SearchPage = Callable[[int, int | None], Awaitable[list[Raw]]]

_PREFIX = "s1:"


@dataclass(frozen=True)
class ScanPosition:
    """Where a two-lane scan stands: what has been delivered from each end of the id range."""

    after: str | None = None  # the list lane's next ``after`` (None: from the start)
    lo: int = 0  # highest id the list lane delivered
    hi: int | None = None  # lowest id the search lane delivered (None: nothing yet)
    list_done: bool = False
    search_done: bool = False
    full_list: bool = False  # the list lane reads to the end (pages out of order, or search failed)

    @property
    def done(self) -> bool:
        return self.list_done and (self.search_done or self.full_list)

    def encode(self) -> str:
        return _PREFIX + json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def decode(text: str) -> ScanPosition:
        """A cursor this module wrote, or an older list-only cursor (a bare ``after``)."""
        if not text.startswith(_PREFIX):
            return ScanPosition(after=text, search_done=True, full_list=True)
        try:
            return ScanPosition(**json.loads(text[len(_PREFIX):]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"not a HubSpot scan cursor: {text!r}") from e


@dataclass(frozen=True)
class _Ended:
    lane: str


async def two_lane_scan(list_page: ListPage, search_page: SearchPage, search_size: int,
                        start: ScanPosition = ScanPosition(), *, buffer: int = 4,
                        ) -> AsyncGenerator[tuple[list[Raw], ScanPosition], None]:
    """Yield (raw records, position after them) until both lanes meet; never an empty batch.

    ``buffer`` pages may wait between the lanes and the caller, so a slow caller slows the
    lanes instead of piling pages up in memory.
    """
    lanes = _Lanes(list_page, search_page, search_size, start, buffer)
    lanes.lane("list", lanes.list_lane)
    if start.after is not None and lanes.search_wanted():
        lanes.lane("search", lanes.search_lane)  # resuming a scan both lanes were reading
    delivered = start
    ended: set[str] = set()
    # where one lane found the other (by the ids the other had *read*), once it has
    meet: int | None = None
    list_meet: int | None = None
    try:
        while len(ended) < len(lanes.tasks):  # the list lane may add the search lane meanwhile
            item = await lanes.queue.get()
            if isinstance(item, _Ended):
                ended.add(item.lane)
                continue
            if isinstance(item, BaseException):
                raise item
            records, moved = item
            moved = dict(moved)
            meet = moved.pop("meet", meet)
            list_meet = moved.pop("list_meet", list_meet)
            delivered = replace(delivered, **moved)
            # Where the lanes met, the list lane is done for the caller only once the pages of
            # both lanes up to the meeting point are delivered: they may still wait in the
            # queue, and a cursor saying "done" before them would skip them on resume.
            if not delivered.list_done and (
                    (meet is not None and delivered.lo >= meet)
                    or (list_meet is not None and delivered.hi is not None and delivered.hi <= list_meet)):
                delivered = replace(delivered, list_done=True)
            if records:
                yield records, delivered
    finally:
        await lanes.stop()


class _Lanes:
    """The two lanes of one scan, each a task handing its pages to the caller through ``queue``
    with the position fields they move (or ``_Ended``, or the exception that ended it)."""

    def __init__(self, list_page: ListPage, search_page: SearchPage, search_size: int,
                 start: ScanPosition, buffer: int) -> None:
        self.list_page, self.search_page, self.search_size = list_page, search_page, search_size
        self.queue: asyncio.Queue[tuple[list[Raw], dict[str, Any]] | _Ended | BaseException] = asyncio.Queue(buffer)
        # the lanes' positions as *read* (to drop each other's records); the caller's cursor only
        # moves as pages are *delivered*, so resuming re-reads what was read but not yet handled
        self.read = start
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.list_waiting = False  # the list lane is waiting for a page (often for the 10-second window)

    def lane(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.tasks[name] = asyncio.create_task(self._run(name, body))

    async def _run(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        try:
            await body()
            await self.queue.put(_Ended(name))
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # handed to the caller, who raises it
            await self.queue.put(e)

    async def stop(self) -> None:
        for t in self.tasks.values():
            t.cancel()
        for t in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def search_wanted(self) -> bool:
        read = self.read
        return not (read.search_done or read.full_list or read.list_done)

    async def list_lane(self) -> None:
        after = self.read.after
        while not self.read.list_done:
            self.list_waiting = True
            results, nxt = await self.list_page(after)
            self.list_waiting = False
            read = self.read
            if read.list_done:
                break  # the search lane read down to this lane meanwhile: the page is all theirs
            ids = [int(r["id"]) for r in results]
            full = read.full_list or any(a >= b for a, b in zip([read.lo, *ids], ids, strict=False))
            keep, done, met = results, nxt is None, False
            if not full and read.hi is not None:
                keep = [r for r, i in zip(results, ids, strict=True) if i < read.hi]
                met = len(keep) < len(results)  # reached what the search lane read
                done = done or met
            first = after is None
            self.read = replace(read, after=nxt, lo=max([read.lo, *ids]), list_done=done, full_list=full)
            if first and self.search_wanted():
                self.lane("search", self.search_lane)  # more than one page: worth a second lane
            if met:
                # For the caller this page delivers ids up to the last it keeps; the rest are the
                # search lane's, whose pages may still wait in the queue: "done" waits for them.
                kept_lo = max([read.lo, *(int(r["id"]) for r in keep)])
                await self.queue.put((keep, {"lo": kept_lo, "full_list": full, "list_meet": read.hi}))
            else:
                await self.queue.put((keep, {"after": nxt, "lo": self.read.lo, "list_done": done, "full_list": full}))
            after = nxt

    async def search_lane(self) -> None:
        while self.search_wanted():
            try:
                results = await self.search_page(self.read.lo, self.read.hi)
            except AuthError:
                raise
            except ConnectorError:
                # e.g. an object whose search refuses these filters: the list lane reads it all
                self.read = replace(self.read, full_list=True)
                await self.queue.put(([], {"full_list": True}))
                return
            read = self.read
            if read.full_list:
                return
            ids = [int(r["id"]) for r in results]
            keep = [r for r, i in zip(results, ids, strict=True) if i > read.lo]
            done = len(results) < self.search_size or len(keep) < len(results)
            hi = min((i for i in ids if i > read.lo), default=read.hi)
            # Done means this lane has read everything above the list lane's highest id,
            # so the list lane is done too: it need not wait out a rate-limit window to
            # fetch a page that would only prove it.
            self.read = replace(read, hi=hi, search_done=done, list_done=read.list_done or done)
            if done and self.list_waiting:
                self.tasks["list"].cancel()
                await self.queue.put(_Ended("list"))
            await self.queue.put((keep, {"hi": hi, "search_done": done, **({"meet": read.lo} if done else {})}))
