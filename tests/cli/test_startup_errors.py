"""Careless-user traps at start-up (issue #18): each is exit 2 (a setting to fix) or 3 (a
server that cannot be reached), naming the key path and what to do — never a traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from accord.index import Store

ACCORD = [sys.executable, "-m", "accord.cli"]
SYNC = "syncs:\n  - {name: c, left: {app: a, object: contacts}, right: {app: b, object: contacts}}\n"


def accord(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACCORD, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def write(tmp: Path, state: str, apps: str = "  a: {type: memory}\n  b: {type: memory}\n") -> Path:
    cfg = tmp / "accord.yaml"
    cfg.write_text(f"state: {state}\napps:\n{apps}{SYNC}")
    return cfg


def assert_clean(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)


def test_duplicate_keys_name_both_lines(tmp_path: Path) -> None:
    (tmp_path / "accord.yaml").write_text(
        "state: sqlite:///i.db\napps:\n  a: {type: memory}\n  b:\n    type: memory\n    poll: 1h\n    poll: 2h\n" + SYNC)
    r = accord("check", "-c", "accord.yaml", cwd=tmp_path)
    assert_clean(r, 2, "accord.yaml: apps.b.poll: duplicate key 'poll': given on line 6 and again on line 7")


@pytest.mark.parametrize("command", ["check", "status", "sync"])
def test_a_state_that_is_no_index_is_exit_2_with_the_key(tmp_path: Path, command: str) -> None:
    write(tmp_path, f"sqlite:///{tmp_path}/missing/index.db")
    assert_clean(accord(command, "-c", "accord.yaml", cwd=tmp_path), 2,
                 "accord.yaml: state: the directory", "missing does not exist; create it")
    (tmp_path / "notes.txt").write_text("not a database at all\n" * 100)
    write(tmp_path, f"sqlite:///{tmp_path}/notes.txt")
    assert_clean(accord(command, "-c", "accord.yaml", cwd=tmp_path), 2,
                 "accord.yaml: state:", "notes.txt cannot be used as the index: file is not a database")
    assert (tmp_path / "notes.txt").read_text().startswith("not a database")


def test_an_unreachable_database_server_is_exit_3(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write(tmp_path, f"postgresql+psycopg://accord:pw@127.0.0.1:{port}/accord")
    r = accord("status", "-c", "accord.yaml", cwd=tmp_path)
    assert_clean(r, 3, "accord.yaml: state: the database server refused or cannot be reached", "check the host")
    assert ":pw@" not in r.stderr


def test_a_wrong_sql_table_or_column_is_exit_2_with_the_key(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, "
                  "updated_at TIMESTAMP, deleted BOOLEAN)")
    apps = f"  a: {{type: sql, url: 'sqlite:///{db}', tables: {{contacts: persons}}}}\n  b: {{type: memory}}\n"
    write(tmp_path, "sqlite:///index.db", apps)
    assert_clean(accord("check", "-c", "accord.yaml", cwd=tmp_path), 2,
                 "accord.yaml: apps.a.tables.contacts: app 'a': the table 'persons' does not exist")
    apps = f"  a: {{type: sql, url: 'sqlite:///{db}', tables: {{contacts: people}}, updated_column: modified}}\n" \
           "  b: {type: memory}\n"
    write(tmp_path, "sqlite:///index.db", apps)
    for command in ("check", "sync"):
        assert_clean(accord(command, "-c", "accord.yaml", cwd=tmp_path), 2,
                     "accord.yaml: apps.a.updated_column: table 'people' (object contacts) has no column 'modified'")


def test_accord_run_refuses_a_short_token(tmp_path: Path) -> None:
    write(tmp_path, "sqlite:///index.db")
    r = accord("run", "-c", "accord.yaml", "--port", "1", cwd=tmp_path, env={"ACCORD_API_TOKEN": "abc"})
    assert_clean(r, 2, "ACCORD_API_TOKEN: 3 characters is too short", "at least 24")
    assert not (tmp_path / "index.db").exists()


def test_accord_run_binds_its_port_before_any_sync(tmp_path: Path) -> None:
    write(tmp_path, "sqlite:///index.db")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = accord("run", "-c", "accord.yaml", "--port", str(port), cwd=tmp_path,
                   env={"ACCORD_API_TOKEN": "x" * 24})
    assert_clean(r, 2, f"--host/--port: cannot listen on 127.0.0.1:{port}", "choose another --port")
    assert not (tmp_path / "index.db").exists()  # no sync started: the index was never even opened


def test_the_index_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would leave a file SQLite creates world-readable
    try:
        store = Store(f"sqlite:///{tmp_path}/index.db")
    finally:
        os.umask(old)
    store.begin_run("s", "pass")
    assert stat.S_IMODE((tmp_path / "index.db").stat().st_mode) == 0o600
    for side_file in ("index.db-wal", "index.db-shm"):
        if (tmp_path / side_file).exists():
            assert stat.S_IMODE((tmp_path / side_file).stat().st_mode) == 0o600, side_file
    store.close()


@pytest.mark.parametrize("command", ["check", "sync", "status"])
def test_no_config_file_says_where_one_comes_from(tmp_path: Path, command: str) -> None:
    """A new user's first command in an empty folder: not just "cannot read", but what to do."""
    assert_clean(accord(command, cwd=tmp_path), 2, "accord.yaml: no such file here. Write one",
                 "`accord demo`", "`accord run` without one starts the dashboard")
