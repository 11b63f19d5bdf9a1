"""The index's database: engine setup, schema migrations, ids and timestamps, and the base
class the per-concern parts of :class:`~accord.index.store.Store` build on."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.pool import StaticPool

from accord.index.schema import metadata

try:
    import fcntl
except ImportError:  # not on Windows: there the creation of an index is not serialised
    fcntl = None  # type: ignore[assignment]

CHUNK = 500  # bound parameters per IN (...) clause


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_seq = itertools.count()
_process_tag = os.urandom(6).hex()


def _new_process_tag() -> None:
    global _process_tag
    _process_tag = os.urandom(6).hex()


os.register_at_fork(after_in_child=_new_process_tag)  # a forked child must not share its parent's tag


def new_id() -> str:
    """Time-ordered unique ids (like UUIDv7): new rows append to the primary-key B-tree.

    Nanoseconds, a counter and a random tag drawn once per process (not per id: a
    system call per row showed in profiles) keep ids of concurrent workers apart.
    """
    return f"{time.time_ns():016x}{next(_seq) & 0xFFFF:04x}{_process_tag}"


def chunks(items: Sequence[Any], n: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield list(items[i:i + n])


def dumps(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # 16 KiB pages for a new index (a no-op on an existing one): an index row holds two
    # bases and often a snapshot or in-flight writes, a page's rows are written together,
    # and bigger pages mean fewer WAL frames and B-tree pages per save: 6 % less CPU than
    # 4 KiB pages for an initial sync of 1,000,000 records per side (8 KiB was in between).
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: the index is hot during a pass
    cur.close()


def _fast_sqlite_binds() -> None:
    """Bind None and booleans without the sqlite3 module's slow path.

    The module binds int, float and str directly; any other value (None, True/False) first
    goes through its adapter lookup, which on a miss asks the protocol type for ``__adapt__``
    and so raises and clears an AttributeError, message formatted, per value: ~0.7 µs each,
    and an index row holds a dozen of them. With an adapter registered the lookup hits and
    calls a C function: None stays None (bound as NULL), a boolean becomes the int SQLite
    stores for it anyway. executemany of rows with five Nones and two booleans in ten
    columns: 42 % less CPU. Process-wide, and the values bound are the same."""
    none_to_none: Callable[[None], None] = cast(Callable[[None], None], {}.get)  # a C function
    sqlite3.register_adapter(type(None), none_to_none)
    sqlite3.register_adapter(bool, int)


_JSON_CODEC: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": orjson.loads}


def make_engine(url: str, *, index_settings: bool = True) -> Engine:
    """An engine for the index, or (``index_settings=False``) for an app's own database (the SQL
    connector). An app's SQLite settings are its owner's: the journal mode is a property of the
    file (switching it to WAL made other programs' connections, and a second Accord process
    opening it at that moment, fail with "database is locked", and WAL does not work on a
    network share), and ``synchronous`` below FULL risks the file in rollback-journal mode: there
    Accord only waits for locks."""
    if url.startswith("sqlite"):
        _fast_sqlite_binds()
        if url in ("sqlite://", "sqlite:///:memory:"):
            eng = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False}, **_JSON_CODEC)
        else:
            eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **_JSON_CODEC)
        if index_settings:
            event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, **_JSON_CODEC)


# The newest migration in migrations/versions (a test keeps the two in step). An index at
# this revision opens without alembic, which is imported only to upgrade an older one: a
# tenth of a second of every CLI call.
HEAD_REVISION = "0015"
_alembic_version = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                         PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision (idempotent).

    A database without any of the index's tables gets them from the table definitions and
    is stamped with the newest revision, as alembic's documentation builds an up-to-date
    database from scratch (the tests check that this equals running every migration). On
    PostgreSQL a transaction-scoped advisory lock lets one of several workers starting at
    once do it while the others wait, then find the index up to date.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('accord index schema'))")
        tables = set(sa_inspect(conn).get_table_names())
        version = conn.execute(select(_alembic_version.c.version_num)).scalar() \
            if _alembic_version.name in tables else None
        if version == HEAD_REVISION:
            return
        if version is None and not tables & set(metadata.tables):
            metadata.create_all(conn)
            _alembic_version.create(conn)
            conn.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))
            return
        upgrade_with_alembic(conn)


def upgrade_with_alembic(conn: Connection, revision: str = "head") -> None:
    """Run the migrations from the database's revision to ``revision``, in ``conn``'s transaction."""
    from alembic import command  # only here: importing alembic costs more than opening an index

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def alembic_config() -> Any:
    """The index's alembic configuration (its migrations are in ``migrations/``)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(Path(__file__).with_name("alembic.ini")))
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return cfg


class IndexUnavailable(Exception):
    """The index (``state:``) cannot be opened: ``unreachable`` for a database server that
    cannot be reached or refuses the login, else a setting to fix (a path, a file that is
    no database, a missing driver). The message says what to do."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite index URL (None: in memory, or not SQLite)."""
    try:
        u = make_url(url)
    except ArgumentError:
        return None
    if not u.drivername.startswith("sqlite") or u.database in (None, "", ":memory:") or u.query.get("uri"):
        return None
    return Path(u.database)


def create_private(path: Path) -> None:
    """Create a SQLite index file readable by its owner only (mode 0600) before SQLite does,
    which would make it as readable as the umask allows: the index holds record values.
    SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.is_dir():
        raise IndexUnavailable(f"the directory {path.parent} does not exist; create it, or point state: "
                               "at a file in an existing directory")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise IndexUnavailable(f"cannot create {path}: {e.strerror}; check the directory's permissions") from e


@contextmanager
def _migration_lock(path: Path | None) -> Iterator[None]:
    """On SQLite, one process at a time creates or upgrades the index (PostgreSQL: an advisory
    lock in :func:`migrate`): two started together would both find it empty and create it.
    An flock on the file itself, which SQLite's own (fcntl) locks do not see."""
    try:
        fd = os.open(path, os.O_RDONLY) if path is not None and fcntl is not None and path.is_file() else None
    except OSError:  # unreadable: SQLite will say so when it opens the file
        fd = None
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def open_engine(url: str) -> Engine:
    """The index's engine, migrated to the newest schema; :class:`IndexUnavailable` says why not."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        create_private(path)
    try:
        engine = make_engine(url)
    except ImportError as e:
        raise IndexUnavailable(f"no database driver for {make_url(url).drivername} ({e.name} is not installed): "
                               "pip install 'accord[postgres]' for PostgreSQL") from e
    try:
        with _migration_lock(path):
            migrate(engine)
    except (OperationalError, DatabaseError) as e:
        engine.dispose()
        reason = str(e.orig if e.orig is not None else e).strip().splitlines()[0]
        if path is None and isinstance(e, OperationalError):
            raise IndexUnavailable(f"the database server refused or cannot be reached: {reason}; check the "
                                   "host, port, user and password in state:, and that the server runs",
                                   unreachable=True) from e
        raise IndexUnavailable(f"{path or 'the database'} cannot be used as the index: {reason}; point state: "
                               "at a new file (it is created) or an existing Accord index") from e
    return engine


class IndexDB:
    """The connection to the index, migrated to the newest schema on open.

    Each concern of the index (links, sync state, runs, …) is a subclass of this one, and
    :class:`~accord.index.store.Store` inherits them all: one object, one engine, and a
    method call costs what it did when they were one class.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)

    def close(self) -> None:
        self.engine.dispose()
