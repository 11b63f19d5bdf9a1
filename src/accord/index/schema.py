"""Tables of the sync index (SQLAlchemy Core; the same code runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

syncs = Table(
    "syncs",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("initial_done", Boolean, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    # 2: the links' bases are keyed by mapping (FieldMap.base_key); NULL: by field name, as
    # indexes made before revision 0005 hold them (re-keyed once, see SyncRunner.register)
    Column("base_keys", Integer),
    # Deletes waiting for a confirmation (a mass delete, a vanished container): what the
    # dashboard and `accord status` show; NULL: none (accord.index.holds)
    Column("deletes_hold", JSON),
    # Each side's app and object(s) as its pairs were made, {"left": [app, [object, …]],
    # "right": …} (config.sync_sides): a sync whose sides changed under its pairs, and one
    # that starts from an empty index over objects another sync's pairs cover, are refused
    # (accord.runner.index_guard). NULL: registered before revision 0015, until its next pass.
    Column("objects", JSON),
    # The account each side's credentials signed in to when its pairs were made, {"left":
    # "HubSpot account 123", "right": …} (Connector.account; null where the app cannot tell):
    # credentials replaced with another account's are refused (accord.runner.index_guard).
    Column("accounts", JSON),
)

# One row per record pair (or per record seen on one side only). ``*_base`` hold the
# canonical value of every mapped field as that side held it after the last sync.
links = Table(
    "links",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sync", String(200), nullable=False),
    Column("left_id", String(255)),
    Column("right_id", String(255)),
    Column("left_base", JSON),
    Column("right_base", JSON),
    Column("snapshot", JSON),  # the left record as indexed in phase 1 of a scan
    Column("status", String(16)),
    Column("reason", String(40)),
    Column("category", String(40)),
    Column("message", Text),
    Column("hint", Text),
    Column("pending", String(8)),  # side a create was started on but not confirmed
    Column("left_deleted", Boolean, nullable=False, default=False),
    Column("right_deleted", Boolean, nullable=False, default=False),
    Column("left_seen", Integer),
    Column("right_seen", Integer),
    Column("handled", Integer),
    Column("label", String(320)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("sync", "left_id", name="uq_links_left"),
    UniqueConstraint("sync", "right_id", name="uq_links_right"),
    # the rows of one status in id order (keyset paging: failing rows to retry, deferred
    # deletes), and the counts by status
    Index("ix_links_status_id", "sync", "status", "id"),
    # keyset paging over one sync's rows (Store.iter_links) walks this index in order
    Index("ix_links_sync_id", "sync", "id"),
)

# Writes sent but not confirmed, one row per link that has any (Link.in_flight): written in
# the transaction of the page that sends them, deleted in the one that saves their outcome.
# A table of their own, not a ``links`` column: an intent (~1 kB) written into a row of a
# full page of ``links`` splits the page, and on PostgreSQL writes a new version of the row
# and its five index entries; here the rows are few and short-lived.
link_flights = Table(
    "link_flights",
    metadata,
    Column("link_id", String(32), primary_key=True),
    Column("sync", String(200), nullable=False),
    Column("in_flight", JSON, nullable=False),
    # one sync's rows in link id order: the activity pass pages its creates whose answer was
    # lost through it (accord.index.activities.ActivityLinks.iter_flights), not through links
    Index("ix_link_flights_sync", "sync", "link_id"),
)

# A page's index changes, saved as one row before its writes are sent (LinkStore.write_intent)
# rather than as the rows themselves: the intents, keys and in-flight bases of a write group
# of 25,000 creates cost one insert here instead of ~75,000 row writes, and the page's last
# save writes each row once, as it ends up, and deletes this one. A row still here belongs
# to a page whose last save never ran (the process died, or the save failed): it is replayed
# into the rows it stands for before anything plans that sync's pairs again
# (LinkStore.replay_intents), which leaves the index exactly as the per-row save did.
page_intents = Table(
    "page_intents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sync", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),  # orjson (zlib'd on PostgreSQL): the PageWrite (accord.index.links._intent_body)
    Column("created_at", String(40), nullable=False),
    Index("ix_page_intents_sync", "sync", "id"),
)

# Normalised match keys per side; the row that owns a key is the first record seen with it.
keys = Table(
    "keys",
    metadata,
    Column("sync", String(200), nullable=False),
    Column("side", String(5), nullable=False),
    Column("key", String(400), nullable=False),
    Column("link_id", String(32), nullable=False),
    PrimaryKeyConstraint("sync", "side", "key", name="pk_keys"),
    Index("ix_keys_link", "link_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("sync", String(200), nullable=False),
    Column("side", String(5), nullable=False),
    Column("cursor", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
    PrimaryKeyConstraint("sync", "side", name="pk_cursors"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sync", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("status", String(16), nullable=False),
    Column("counters", JSON),
    Column("error", Text),
    Index("ix_runs_sync", "sync", "id"),
)

# What a pass committed, page by page (accord.index.runs.PageLedger): each row is written in
# the transaction of the page it describes. ``counters`` holds what that transaction's writes
# added to the run's counters (the run's counters are their sum, whichever attempt or worker
# wrote them); ``phase`` and ``cursor`` (scan passes) where a resumed step starts: after the
# page committed last.
run_pages = Table(
    "run_pages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("sync", String(200), nullable=False),
    Column("phase", String(8)),
    Column("cursor", Text),
    Column("counters", JSON),
    Column("at", String(40), nullable=False),
    Index("ix_run_pages_run", "run_id", "id"),
)

# Apps added through the service; ``secret`` is the app's config as a Fernet token
# (credentials are never stored in clear text, see accord.secrets).
managed_apps = Table(
    "managed_apps",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("type", String(40), nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Syncs created or edited through the API/dashboard (accord.yaml's syncs are never stored here).
managed_syncs = Table(
    "managed_syncs",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Webhook event ids already processed, so a replay is refused across restarts.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("app", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("seen_at", Float, nullable=False),
    PrimaryKeyConstraint("app", "event_id", name="pk_webhook_events"),
    Index("ix_webhook_events_seen", "seen_at"),
)

# Who runs a sync's passes right now: one process at a time, embedded or distributed
# (accord.index.leases). A row outlives its holder only until ``expires_at`` (a holder
# renews it while it works), or until the holder's process is seen gone on the same host.
leases = Table(
    "leases",
    metadata,
    Column("sync", String(200), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Records a webhook named while another process held the sync's lease: the next process to
# run a pass of the sync (or the holder, when its pass ends) syncs them. Never lost, never a 500.
pending_records = Table(
    "pending_records",
    metadata,
    Column("sync", String(200), nullable=False),
    Column("side", String(5), nullable=False),
    Column("record_id", String(255), nullable=False),
    Column("received_at", Float, nullable=False),
    PrimaryKeyConstraint("sync", "side", "record_id", name="pk_pending_records"),
)

# Dashboard logins (accord.index.sessions): the SHA-256 of each session id (the cookie holds
# the id itself, never the API token), the fingerprint of the API token it was opened
# with (a session of another token is void: changing the token logs everybody out), and
# when it expires. Logging out deletes the row.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_expires", "expires_at"),
)

# The associations of each linked pair to each associated sync as both sides held them after
# the last association pass that wrote everything it planned (accord.associations): the base
# of their three-way merge; ``owed`` marks pairs a later pass must sync. ``base`` is ``{"left": {"ids": [...], "primary": ...}, "right": ...}``
# in the associated sync's link ids. No row: the pair's associations were never synced.
association_bases = Table(
    "association_bases",
    metadata,
    Column("sync", String(200), nullable=False),
    Column("target", String(200), nullable=False),  # the associated sync
    Column("link_id", String(32), nullable=False),
    Column("base", JSON),  # NULL: never synced
    # the pair's associations are owed a sync: a pass stopped before it, or a write failed
    Column("owed", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("sync", "target", "link_id", name="pk_association_bases"),
    Index("ix_association_bases_owed", "sync", "owed"),
)
