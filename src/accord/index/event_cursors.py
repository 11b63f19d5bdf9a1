"""The event sync's cursor of each sync (accord.runner.events): the time of the newest app event
it has carried to HubSpot. Kept in the ``cursors`` table beside the record cursors, under the
side name ``event`` (the column holds five characters), so it needs no migration, is copied
with a sync (``clone_sync``) and dropped with it (``delete_sync``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from accord.index.db import IndexDB
from accord.index.sync_state import read_cursor, write_cursor

EVENT_SIDE = "event"


def event_cursor(db: IndexDB, sync: str) -> str | None:
    with db.engine.connect() as c:
        return read_cursor(c, sync, EVENT_SIDE)


def set_event_cursor(db: IndexDB, sync: str, cursor: str,
                     fence: Callable[[Connection], None] | None = None) -> None:
    """``fence``: the sync's lease must still be ours (a pass that lost it moves no cursor)."""
    with db.engine.begin() as c:
        if fence is not None:
            fence(c)
        write_cursor(c, sync, EVENT_SIDE, cursor)
