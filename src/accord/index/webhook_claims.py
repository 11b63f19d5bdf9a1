"""Webhook deliveries in the index: event ids already seen (a replay is processed once), and
records a webhook named while another process held the sync's lease (synced by the next pass
of whichever process holds it next, see accord.index.leases)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from accord.index.db import IndexDB, chunks
from accord.index.schema import pending_records, webhook_events
from accord.model import Side


class WebhookClaims(IndexDB):
    def claim_events(self, app: str, event_ids: Sequence[str], keep: float = 86400.0) -> set[str]:
        """Record webhook event ids; return those never seen before (the rest are replays).

        Ids older than ``keep`` seconds are forgotten: a replay that old also fails the
        signature's timestamp check. Two processes given the same delivery at once each
        claim an id at most once between them: the loser of the insert sees a replay.
        """
        now = time.time()
        wanted = list(dict.fromkeys(event_ids))
        fresh: set[str] = set()
        with self.engine.begin() as c:
            seen: set[str] = set()
            for part in chunks(wanted):
                seen.update(r[0] for r in c.execute(select(webhook_events.c.event_id).where(
                    webhook_events.c.app == app, webhook_events.c.event_id.in_(part))))
            c.execute(delete(webhook_events).where(webhook_events.c.seen_at < now - keep))
        for e in wanted:
            if e in seen:
                continue
            try:
                with self.engine.begin() as c:
                    c.execute(insert(webhook_events).values(app=app, event_id=e, seen_at=now))
                fresh.add(e)
            except IntegrityError:
                pass  # another process claimed it between our read and our insert
        return fresh

    # -- records waiting for the lease holder ------------------------------------------
    def add_pending(self, sync: str, side: Side, ids: Sequence[str]) -> None:
        now = time.time()
        with self.engine.connect() as c:
            have = {r[0] for part in chunks(list(ids)) for r in c.execute(select(pending_records.c.record_id).where(
                pending_records.c.sync == sync, pending_records.c.side == side.value,
                pending_records.c.record_id.in_(part)))}
        rows = [{"sync": sync, "side": side.value, "record_id": i, "received_at": now}
                for i in dict.fromkeys(ids) if i not in have]
        try:
            if rows:
                with self.engine.begin() as c:
                    c.execute(insert(pending_records), rows)
        except IntegrityError:  # another process added some of them meanwhile: one at a time
            for row in rows:
                with contextlib.suppress(IntegrityError), self.engine.begin() as c:
                    c.execute(insert(pending_records).values(**row))

    def pending(self, sync: str, limit: int = 1000) -> dict[Side, list[str]]:
        """Records waiting for a pass of ``sync`` (oldest first), by side."""
        with self.engine.connect() as c:
            rows = c.execute(select(pending_records.c.side, pending_records.c.record_id)
                             .where(pending_records.c.sync == sync)
                             .order_by(pending_records.c.received_at).limit(limit)).all()
        out: dict[Side, list[str]] = {}
        for side, rid in rows:
            out.setdefault(Side(side), []).append(rid)
        return out

    def pending_syncs(self) -> set[str]:
        with self.engine.connect() as c:
            return {r[0] for r in c.execute(select(pending_records.c.sync).distinct())}

    def drop_pending(self, sync: str, side: Side, ids: Sequence[str]) -> None:
        with self.engine.begin() as c:
            for part in chunks(list(ids)):
                c.execute(delete(pending_records).where(
                    pending_records.c.sync == sync, pending_records.c.side == side.value,
                    pending_records.c.record_id.in_(part)))
