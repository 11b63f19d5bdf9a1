"""The event sync's cursor of each sync (accord.runner.events): the time of the newest app event
it has carried to HubSpot. Kept in the ``cursors`` table beside the record cursors, under the
side name ``event`` (the column holds five characters), so it needs no migration, is copied
with a sync (``clone_sync``) and dropped with it (``delete_sync``)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from accord.index.db import IndexDB, now_iso
from accord.index.schema import cursors

EVENT_SIDE = "event"


def event_cursor(db: IndexDB, sync: str) -> str | None:
    with db.engine.connect() as c:
        return c.execute(select(cursors.c.cursor).where(cursors.c.sync == sync, cursors.c.side == EVENT_SIDE)).scalar()


def set_event_cursor(db: IndexDB, sync: str, cursor: str) -> None:
    with db.engine.begin() as c:
        res = c.execute(update(cursors).where(cursors.c.sync == sync, cursors.c.side == EVENT_SIDE)
                        .values(cursor=cursor, updated_at=now_iso()))
        if not res.rowcount:
            c.execute(insert(cursors).values(sync=sync, side=EVENT_SIDE, cursor=cursor, updated_at=now_iso()))
