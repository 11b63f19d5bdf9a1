"""Erase a person from the index (GDPR's right to erasure), once the apps no longer hold them.

The index keeps a row per pair with the record ids, a label (the e-mail, else the name) and
the values last synced. After a person is deleted in the apps (a HubSpot GDPR delete, say),
``erase`` drops their rows. A row whose record is still live in an app is kept: dropped, the
next full pass would find that record unpaired and create the person again in the other app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.index.leases import SyncBusy, SyncLease, holder_of
from accord.index.links import Link, PageWrite
from accord.index.store import Store
from accord.model import Side

FOUND_MAX = 1000  # rows of one sync a single erase looks at (one person has one or a few)


@dataclass
class Erasure:
    """What ``erase`` found: per sync, the rows dropped (or to drop) and those kept, with why."""

    dropped: dict[str, list[Link]] = field(default_factory=dict)
    kept: dict[str, list[tuple[Link, str]]] = field(default_factory=dict)


def names(link: Link, who: str) -> bool:
    """Whether ``link`` is the person ``who`` names: a record id of either app, or the label exactly."""
    return who in (link.left_id, link.right_id) or (link.label or "").casefold() == who.casefold()


def still_live(link: Link, apps: dict[Side, str]) -> str | None:
    """Why ``link`` must stay (a record not deleted in its app), or None."""
    live = [f"{apps[s]} ({link.id_of(s)})" for s in (Side.LEFT, Side.RIGHT) if link.id_of(s) and not link.deleted(s)]
    if not live:
        return None
    return (f"still in {' and '.join(live)}: delete it there first, or the next full pass would sync it back "
            "(and create it again where it was deleted)")


def erase(store: Store, syncs: dict[str, dict[Side, str]], who: str, *, apply: bool) -> Erasure:
    """Find (and with ``apply`` drop) the rows of ``who`` in ``syncs`` (name → its apps by side).
    Dropping takes each sync's lease, so that no pass saves a row back: SyncBusy if one runs."""
    out = Erasure()
    who = who.strip()
    for sync, apps in syncs.items():
        found, _ = store.find_records(sync, who, FOUND_MAX)
        for link in (lk for lk in found if names(lk, who)):
            why = still_live(link, apps)
            if why is None:
                out.dropped.setdefault(sync, []).append(link)
            else:
                out.kept.setdefault(sync, []).append((link, why))
        if apply and out.dropped.get(sync):
            lease = SyncLease(store.engine, sync)
            if not lease.try_acquire():
                raise SyncBusy(sync, holder_of(store.engine, sync))
            try:
                store.save(sync, PageWrite(drop_links=[lk.id for lk in out.dropped[sync]]))
            finally:
                lease.release()
    return out
