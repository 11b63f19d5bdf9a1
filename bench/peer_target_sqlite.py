"""A minimal singer target for SQLite (the peer benchmark's tap-hubspot → SQLite leg).

PyPI's ``target-sqlite`` (Meltano, 0.2.0) does not run on Python 3.11: it and its pinned
SQLAlchemy 1.2 use ``collections.MutableMapping``. This target does what it does, the usual
singer way, with the standard library only: a ``SCHEMA`` message creates the stream's table
(top-level properties as columns, objects and arrays as JSON text, the key properties as
primary key); ``RECORD`` messages are buffered and written ``batch_size`` rows at a time in
one transaction with ``executemany`` upserts (``INSERT … ON CONFLICT (key) DO UPDATE``);
``STATE`` messages are echoed to stdout once the rows before them are committed.

    tap-hubspot … | python peer_target_sqlite.py --config '{"database": "out.db"}'
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "BOOLEAN", "object": "TEXT", "array": "TEXT"}


def _column_type(prop: dict[str, Any]) -> str:
    types = [t for t in ([prop.get("type")] if isinstance(prop.get("type"), str) else prop.get("type") or [])
             if t != "null"]
    return _TYPES.get(types[0], "TEXT") if types else "TEXT"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Stream:
    def __init__(self, db: sqlite3.Connection, name: str, schema: dict[str, Any], keys: list[str]) -> None:
        self.columns = list(schema.get("properties", {}))
        self.json_cols = {c for c, p in schema["properties"].items() if _column_type(p) == "TEXT"
                          and {"object", "array"} & set(p.get("type") or [])}
        cols = ", ".join(f"{_q(c)} {_column_type(p)}" for c, p in schema["properties"].items())
        pk = f", PRIMARY KEY ({', '.join(map(_q, keys))})" if keys else ""
        db.execute(f"CREATE TABLE IF NOT EXISTS {_q(name)} ({cols}{pk})")
        names = ", ".join(map(_q, self.columns))
        marks = ", ".join("?" for _ in self.columns)
        sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in self.columns if c not in keys)
        upsert = f" ON CONFLICT ({', '.join(map(_q, keys))}) DO UPDATE SET {sets}" if keys and sets else ""
        self.sql = f"INSERT INTO {_q(name)} ({names}) VALUES ({marks}){upsert}"
        self.rows: list[tuple[Any, ...]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.rows.append(tuple(json.dumps(record.get(c)) if c in self.json_cols and record.get(c) is not None
                               else record.get(c) for c in self.columns))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="a JSON file or inline JSON: database, batch_size")
    args = ap.parse_args()
    raw = args.config if args.config.lstrip().startswith("{") else Path(args.config).read_text()
    config = json.loads(raw)
    batch = int(config.get("batch_size", 10_000))
    db = sqlite3.connect(config["database"], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    streams: dict[str, Stream] = {}
    state: Any = None
    pending = 0

    def flush() -> None:
        nonlocal pending
        db.execute("BEGIN")
        for s in streams.values():
            if s.rows:
                db.executemany(s.sql, s.rows)
                s.rows.clear()
        db.execute("COMMIT")
        pending = 0
        if state is not None:
            print(json.dumps(state), flush=True)

    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "RECORD":
            streams[msg["stream"]].add(msg["record"])
            pending += 1
            if pending >= batch:
                flush()
        elif kind == "SCHEMA":
            if pending:
                flush()
            streams[msg["stream"]] = Stream(db, msg["stream"], msg["schema"], msg.get("key_properties") or [])
        elif kind == "STATE":
            state = msg["value"]
    flush()
    db.close()


if __name__ == "__main__":
    main()
