"""The sync index: links between paired records, per-field bases, cursors, status and run log."""

from accord.index.store import Link, Store, SyncState

__all__ = ["Link", "Store", "SyncState"]
