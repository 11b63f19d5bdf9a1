"""Store: the sync index on SQLAlchemy Core (SQLite in WAL mode by default, or PostgreSQL).

One object over one engine, put together from a class per concern:

- :mod:`accord.index.links`: links and their bases, the per-page lookups and saves (hot path)
- :mod:`accord.index.activities`: activity pairs (links of ``"<sync>/<type>"``) in the records views
- :mod:`accord.index.sync_state`: registered syncs, their cursors, whole-sync copy and delete
- :mod:`accord.index.runs`: the run log
- :mod:`accord.index.managed`: apps (encrypted configuration) and syncs made through the API
- :mod:`accord.index.webhook_claims`: webhook event ids already seen
- :mod:`accord.index.sessions`: the dashboard's login sessions
- :mod:`accord.index.holds`: deletes held for a confirmation (the delete guard)
- :mod:`accord.index.association_bases`: the bases of the associations' three-way merge
- :mod:`accord.index.db`: engine setup, migrations, ids and timestamps

The names callers import from here (``Link``, ``PageWrite``, ``make_engine`` …) are re-exported.
"""

from __future__ import annotations

from accord.index.activities import ActivityLinks
from accord.index.association_bases import AssociationBases
from accord.index.db import (
    HEAD_REVISION,
    IndexUnavailable,
    alembic_config,
    make_engine,
    migrate,
    new_id,
    now_iso,
    upgrade_with_alembic,
)
from accord.index.holds import DeleteHolds
from accord.index.links import LINK_FIELDS, Link, LinkStore, PageWrite
from accord.index.managed import ManagedConfig
from accord.index.runs import RunLog
from accord.index.sessions import Sessions
from accord.index.sync_state import SyncState, SyncStateStore
from accord.index.webhook_claims import WebhookClaims

_LINK_FIELDS = LINK_FIELDS  # the name tests and older callers import

__all__ = [
    "HEAD_REVISION",
    "LINK_FIELDS",
    "_LINK_FIELDS",
    "IndexUnavailable",
    "Link",
    "PageWrite",
    "Store",
    "SyncState",
    "alembic_config",
    "make_engine",
    "migrate",
    "new_id",
    "now_iso",
    "upgrade_with_alembic",
]


class Store(ActivityLinks, LinkStore, SyncStateStore, RunLog, ManagedConfig, WebhookClaims, Sessions, DeleteHolds,
            AssociationBases):
    """The index: every concern's methods on one object sharing one engine.

    Inheritance rather than delegation: a call such as ``store.save(...)`` is the method
    itself, with no forwarding call per page.
    """
