"""Reading ahead on a thread of its own: order, errors, the buffer bound, closing early."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import pytest

from accord.connectors.background import in_thread


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "accord-read-ahead"]


async def test_items_in_order_read_on_another_thread() -> None:
    threads: set[int] = set()

    async def numbers() -> AsyncIterator[int]:
        for i in range(50):
            threads.add(threading.get_ident())
            await asyncio.sleep(0)
            yield i

    got = [i async for i in in_thread(numbers, buffer=4)]
    assert got == list(range(50))
    assert threads and threading.get_ident() not in threads
    assert readers() == []


async def test_an_error_in_the_reader_is_raised_in_the_caller() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise PermissionError("token revoked")

    got = []
    with pytest.raises(PermissionError, match="token revoked"):
        async for i in in_thread(failing, buffer=2):
            got.append(i)
    assert got == [1]


async def test_the_reader_stays_at_most_buffer_items_ahead() -> None:
    made = 0

    async def endless() -> AsyncIterator[int]:
        nonlocal made
        while True:
            made += 1
            yield made

    async with contextlib.aclosing(in_thread(endless, buffer=5)) as items:
        assert await anext(items) == 1
        await asyncio.sleep(0.5)  # plenty of time to run ahead, were it not bounded
        # 5 handed over (one of them taken), one more made and waiting for room
        assert made <= 7
    assert readers() == []


async def test_closing_early_cancels_a_reader_that_is_waiting() -> None:
    cleaned = threading.Event()

    async def slow() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(3600)  # e.g. a rate-limit window
            yield 2
        finally:
            cleaned.set()

    items = in_thread(slow, buffer=3)
    assert await anext(items) == 1
    await asyncio.wait_for(items.aclose(), timeout=5)
    assert cleaned.is_set() and readers() == []
