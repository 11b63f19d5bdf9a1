"""Activity pairs in the index: links of a derived sync name, shown with their sync's records.

A HubSpot activity and the Salesforce Task or Event made from it are stored as a row of
``links`` under the sync name ``"<sync>/<type>"`` (``contacts/calls``), with the type's
change cursor under the same name. Links rather than a table of their own, because a link
already is what an activity pair needs: the unique (sync, left_id) / (sync, right_id)
constraints make a second Task for one activity impossible, ``pending`` records a create
before it is sent (a retry after a lost answer looks the Task up instead of sending it
again), and status, reason, category, message and hint are the per-record status every
view shows. A separate sync name keeps them out of the contact sync's own passes (its
scans, sweeps and delete guard walk ``sync = name`` only); user sync names cannot contain
``/``, so a derived name never meets a real one.

The records views (``accord status``, ``accord records``, the dashboard and the API) ask the
methods below for a sync: they count and list the sync's own rows and its activities'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from accord.index.db import IndexDB
from accord.index.links import _RAW_COLUMNS, Link, LinkStore
from accord.index.schema import cursors, link_flights, links

SEP = "/"
# the HubSpot activity types (accord.config.ACTIVITY_TYPES; not imported: the index stays below config)
KINDS = ("calls", "emails", "meetings", "notes", "tasks")


def activity_sync(sync: str, kind: str) -> str:
    """The derived sync name an activity type's pairs are stored under."""
    return f"{sync}{SEP}{kind}"


def family(sync: str) -> list[str]:
    """``sync`` and the names its activities may be stored under. An IN list of names rather
    than a prefix range or LIKE: it walks the ``sync`` indexes whatever the database's collation
    (PostgreSQL's locale collations do not order ``/`` as its code point)."""
    return [sync, *(activity_sync(sync, k) for k in KINDS)]


def _family(sync: str) -> Any:
    return links.c.sync.in_(family(sync))


class ActivityLinks(LinkStore):
    """The records views over a sync and its activity pairs (put before LinkStore in Store)."""

    def _shown(self, sync: str) -> Any:
        return _family(sync)

    def iter_flights(self, sync: str, chunk: int = 100) -> Iterator[list[Link]]:
        """The rows of ``sync`` with a write in flight (an activity's create whose answer was
        lost), in id order, a chunk at a time. Keyset-paged over ``link_flights``' (sync,
        link_id) index (revision 0013): ``links.pending`` has no index, and SQLite answers a
        condition on it, or on the joined ``link_flights``, by walking every row of the sync."""
        return self.keyset_pages(lambda after: (
            select(*_RAW_COLUMNS)
            .select_from(link_flights.join(links, links.c.id == link_flights.c.link_id))
            .where(link_flights.c.sync == sync, link_flights.c.link_id > after, links.c.sync == sync)
            .order_by(link_flights.c.link_id).limit(chunk)))

    def activity_syncs(self, sync: str) -> list[str]:
        """The derived names holding rows or cursors of ``sync``'s activities."""
        names = family(sync)[1:]
        with self.engine.connect() as c:
            found = {r[0] for r in c.execute(select(links.c.sync).where(links.c.sync.in_(names)).distinct())}
            found |= {r[0] for r in c.execute(select(cursors.c.sync).where(cursors.c.sync.in_(names)).distinct())}
        return sorted(found)

    def clone_sync(self, sync: str, target: IndexDB) -> None:
        """With the sync, its activities (a dry run plans against a copy of both)."""
        super().clone_sync(sync, target)  # type: ignore[misc]
        for name in self.activity_syncs(sync):
            super().clone_sync(name, target)  # type: ignore[misc]

    def rename_sync(self, old: str, new: str) -> None:
        """With the sync, its activity pairs (``old/calls`` becomes ``new/calls``)."""
        for name in self.activity_syncs(old):
            super().rename_sync(name, activity_sync(new, name.rpartition(SEP)[2]))  # type: ignore[misc]
        super().rename_sync(old, new)  # type: ignore[misc]

    def delete_sync(self, sync: str) -> None:
        """With the sync, its activity pairs: a sync made again under the name starts afresh."""
        for name in self.activity_syncs(sync):
            super().delete_sync(name)  # type: ignore[misc]
        super().delete_sync(sync)  # type: ignore[misc]
