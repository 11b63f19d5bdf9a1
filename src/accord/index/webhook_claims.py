"""Webhook event ids already seen, so that a replayed delivery is processed once."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from accord.index.db import IndexDB, chunks
from accord.index.schema import webhook_events


class WebhookClaims(IndexDB):
    def claim_events(self, app: str, event_ids: Sequence[str], keep: float = 86400.0) -> set[str]:
        """Record webhook event ids; return those never seen before (the rest are replays).

        Ids older than ``keep`` seconds are forgotten: a replay that old also fails the
        signature's timestamp check.
        """
        now = time.time()
        wanted = list(dict.fromkeys(event_ids))
        with self.engine.begin() as c:
            seen: set[str] = set()
            for part in chunks(wanted):
                seen.update(r[0] for r in c.execute(select(webhook_events.c.event_id).where(
                    webhook_events.c.app == app, webhook_events.c.event_id.in_(part))))
            fresh = [e for e in wanted if e not in seen]
            if fresh:
                c.execute(insert(webhook_events), [{"app": app, "event_id": e, "seen_at": now} for e in fresh])
            c.execute(delete(webhook_events).where(webhook_events.c.seen_at < now - keep))
            return set(fresh)
