"""A minimal Airbyte destination for SQLite (the peer benchmark's Airbyte-source → SQLite legs).

Airbyte's own SQLite destination is a Docker image (no PyPI package), so this one does what a
destination does, with the standard library only, the way ``bench/peer_target_sqlite.py`` does
for singer: ``write --config c.json --catalog cat.json``; each configured stream gets a table
whose columns are the top-level properties of its ``json_schema`` in the configured catalog
(objects and arrays as JSON text), keyed by its primary key. ``RECORD`` messages (stdin, one
JSON a line) are buffered and written ``batch_size`` rows at a time in one transaction with
``executemany`` upserts; ``STATE`` messages are echoed to stdout once the rows before them are
committed. Airbyte messages differ from singer's: no ``SCHEMA`` message (the schema is the
catalog's), the row is ``record.data``, and a stream's key is ``primary_key`` (or the source's
``source_defined_primary_key``), a list of paths.

    source … read … | python peer_target_airbyte_sqlite.py write --config c.json --catalog cat.json
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from peer_target_sqlite import Stream


def _load(arg: str) -> Any:
    return json.loads(arg if arg.lstrip().startswith("{") else Path(arg).read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["write"])
    ap.add_argument("--config", required=True, help="a JSON file or inline JSON: database, batch_size")
    ap.add_argument("--catalog", required=True, help="the configured catalog (JSON file)")
    args = ap.parse_args()
    config, catalog = _load(args.config), _load(args.catalog)
    batch = int(config.get("batch_size", 10_000))
    db = sqlite3.connect(config["database"], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    streams: dict[str, Stream] = {}
    for cs in catalog["streams"]:
        s = cs["stream"]
        keys = [path[0] for path in (cs.get("primary_key") or s.get("source_defined_primary_key") or [])]
        streams[s["name"]] = Stream(db, s["name"], s["json_schema"], keys)
    pending = 0
    states: list[Any] = []

    def flush() -> None:
        nonlocal pending
        db.execute("BEGIN")
        for s in streams.values():
            if s.rows:
                db.executemany(s.sql, s.rows)
                s.rows.clear()
        db.execute("COMMIT")
        pending = 0
        for state in states:
            print(json.dumps({"type": "STATE", "state": state}), flush=True)
        states.clear()

    for line in sys.stdin:
        if not line.startswith("{"):
            continue  # a source's stray output line: not a message
        msg = json.loads(line)
        kind = msg.get("type")
        if kind == "RECORD":
            rec = msg["record"]
            stream = streams.get(rec["stream"])
            if stream is not None:
                stream.add(rec["data"])
                pending += 1
                if pending >= batch:
                    flush()
        elif kind == "STATE":
            states.append(msg["state"])
    flush()
    db.close()


if __name__ == "__main__":
    main()
