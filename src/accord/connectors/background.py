"""Reading ahead on a thread of its own, so a rate-limited source is read as fast as it allows.

A scan that runs on the same event loop as the sync only sends its next request when the
sync's processing gives the loop back, so its calls are paced by the processing. Under a
rolling window (HubSpot: 190 calls per 10 s) the pace of the first window's calls is also
the pace at which they age out, so a slow first window slows the second too. On a thread
of its own, the reader spends a fresh window at once while the sync works through what it
has read, up to ``buffer`` items ahead. The reader has its own event loop, so it needs
HTTP clients made on that loop (:func:`in_thread` calls ``make`` there).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


async def in_thread(make: Callable[[], AsyncIterator[T]], buffer: int) -> AsyncGenerator[T, None]:
    """Yield the items of ``make()``, run on an event loop in a thread of its own.

    At most ``buffer`` items wait between the reader and the caller (the reader blocks
    when they do). An exception in the reader is raised here; closing this generator
    cancels the reader and waits for its thread.
    """
    caller = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(buffer)
    stopping = threading.Event()
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = []
    ready = threading.Event()

    def hand_over(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting
            caller.call_soon_threadsafe(items.put_nowait, item)

    async def produce() -> None:
        it = make()
        try:
            async for item in it:
                # blocks this thread's loop, which runs nothing but the reader: back-pressure
                while not room.acquire(timeout=0.1):
                    if stopping.is_set():
                        return
                if stopping.is_set():
                    return
                hand_over(item)
            hand_over(_END)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # raised in the caller
            hand_over(e)
        finally:
            close = getattr(it, "aclose", None)
            if close is not None:
                # the caller's cancel may land while it closes (say its HTTP client): the loop ends anyway
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await close()

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(produce())
            started.append((loop, task))
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):  # cancelled before it started
                loop.run_until_complete(task)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="accord-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = await items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            room.release()
            yield item
    finally:
        stopping.set()
        room.release()  # a reader waiting for room wakes up and sees it should stop
        ready.wait()
        if started:
            loop, task = started[0]
            with contextlib.suppress(RuntimeError):  # its loop has finished already
                loop.call_soon_threadsafe(task.cancel)
        await asyncio.to_thread(thread.join)
