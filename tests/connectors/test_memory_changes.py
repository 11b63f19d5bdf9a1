"""The memory app's change feed (a sequence number per write, no look-back): after a bulk write
and no further edit, the next pass reads nothing."""

from __future__ import annotations

from accord.connectors.memory import MemoryApp


async def test_a_bulk_write_is_read_once_not_by_every_later_pass() -> None:
    app = MemoryApp("mem", page_size=10)
    cursor = await app.change_cursor("contacts")
    ids = [app.user_create("contacts", {"email": f"b{i}@x.com"}) for i in range(60)]  # 6 pages

    async def read(cursor: str) -> tuple[list[str], str]:
        got = [p async for p in app.changes("contacts", cursor, ["email"])]
        return [r.id for p in got for r in p.records], next((p.cursor for p in reversed(got) if p.cursor), cursor)

    first, cursor = await read(cursor)
    assert len(first) == 60
    again, cursor = await read(cursor)
    assert len(again) <= 10 and not again  # ≤ one page; here: none at all
    app.user_update("contacts", ids[7], {"email": "later@x.com"})
    assert (await read(cursor))[0] == [ids[7]]
