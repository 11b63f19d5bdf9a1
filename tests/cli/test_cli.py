"""The accord command line, run as a real process against apps persisted to JSON files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accord.connectors.memory import MemoryApp
from accord.index import Store
from helpers import by_email, person, two_memory_apps

ACCORD = [sys.executable, "-m", "accord.cli"]


def accord(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACCORD, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    a.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    a.user_create("contacts", person("Bob", "Ray", "=HYPERLINK(1)@x.com"))
    a.user_create("contacts", person("No", "Mail", None))
    b.user_create("contacts", person("Ann", "Lee", "ann@x.com", city="Oslo"))
    b.user_create("contacts", person("Cy", "Do", "cy@x.com"))
    a.save()
    b.save()
    two_memory_apps(tmp_path, """
  - name: contacts
    left: {app: a, object: contacts}
    right: {app: b, object: contacts}
    mappings:
      - {left: notes, right: notes}""")
    return tmp_path


def test_check_ok_and_config_error_exit_2(project: Path) -> None:
    r = accord("check", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "contacts: ok" in r.stdout
    bad = project / "bad.yaml"
    bad.write_text((project / "accord.yaml").read_text().replace("{left: notes, right: notes}",
                                                                 "{left: notes, right: notes}\n      - {left: score, right: vip}"))
    r = accord("check", "-c", "bad.yaml", cwd=project)
    assert r.returncode == 2
    assert r.stderr.strip() == "bad.yaml: syncs[0].mappings[1].right: type-incompatible: score (number) ↔ vip (bool)"
    (project / "typo.yaml").write_text("apps: {a: {type: memory, pth: x}}\n")
    r = accord("check", "-c", "typo.yaml", cwd=project)
    assert (r.returncode, r.stderr.strip()) == (2, "typo.yaml: apps.a.pth: unknown key")


def test_plan_writes_nothing_then_sync_does(project: Path) -> None:
    before = (project / "b.json").read_text()
    r = accord("plan", "-c", "accord.yaml", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)[0]
    assert plan["created"] == {"left": 1, "right": 1} and plan["excluded"] == {"no_match_key": 1}
    assert (project / "b.json").read_text() == before
    st = json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=project).stdout)[0]
    assert st["last_run"] is None and st["counts"] == {}  # the real index was not touched either

    r = accord("sync", "-c", "accord.yaml", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)[0]
    assert res["kind"] == "initial" and res["created"] == plan["created"]
    b = MemoryApp("b", path=str(project / "b.json"))
    assert sorted(str(x.properties["email"]) for x in b.live("contacts")) == ["=HYPERLINK(1)@x.com", "ann@x.com", "cy@x.com"]
    r = accord("sync", "-c", "accord.yaml", "--json", cwd=project)
    assert json.loads(r.stdout)[0]["kind"] == "incremental"

    r = accord("status", "-c", "accord.yaml", "--json", cwd=project)
    st = json.loads(r.stdout)[0]
    assert st["counts"] == {"excluded": 1, "syncing": 3} and st["last_run"]["kind"] == "incremental"


def test_records_export_formats_and_formula_neutralised(project: Path) -> None:
    accord("sync", "-c", "accord.yaml", cwd=project)
    r = accord("records", "-c", "accord.yaml", "--sync", "contacts", "--status", "syncing", cwd=project)
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert len(rows) == 3
    assert any(row["label"] == "'=HYPERLINK(1)@x.com" for row in rows)
    r = accord("records", "-c", "accord.yaml", "--sync", "contacts", "--status", "excluded", "--format", "json", cwd=project)
    assert [x["reason"] for x in json.loads(r.stdout)] == ["no_match_key"]
    # the status as people type it, with the hint saying how the record gets in
    r = accord("records", "excluded", "-c", "accord.yaml", "--format", "json", cwd=project)
    [excluded] = json.loads(r.stdout)
    assert excluded["reason"] == "no_match_key" and excluded["hint"].startswith("Fill in its email in a:"), r.stderr
    r = accord("records", "excluded-ish", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 2 and "unknown status 'excluded-ish'; use syncing, failing, excluded or queued" in r.stderr
    # one reason only, as `accord status` keys them (and the dashboard's chips)
    for reason, found in (("no_match_key", 1), ("duplicate", 0)):
        r = accord("records", "-c", "accord.yaml", "--status", "excluded", "--reason", reason, "--format", "json", cwd=project)
        assert len(json.loads(r.stdout)) == found, r.stderr
    out = project / "ex.xlsx"
    r = accord("records", "-c", "accord.yaml", "--sync", "contacts", "--status", "syncing", "--format", "xlsx", "-o", str(out), cwd=project)
    assert r.returncode == 0 and out.stat().st_size > 0
    from openpyxl import load_workbook
    assert load_workbook(out).active.max_row == 4  # type: ignore[union-attr]
    assert accord("records", "-c", "accord.yaml", "--status", "weird", cwd=project).returncode == 2
    # --find: records of any status by a part of an email or a name (or an id), with their status
    r = accord("records", "-c", "accord.yaml", "--find", "ANN", "--format", "json", cwd=project)
    assert [(x["label"], x["status"]) for x in json.loads(r.stdout)] == [("ann@x.com", "syncing")], r.stderr
    r = accord("records", "-c", "accord.yaml", "--find", "no mail", "--format", "json", cwd=project)
    assert [(x["status"], x["reason"]) for x in json.loads(r.stdout)] == [("excluded", "no_match_key")]
    r = accord("records", "-c", "accord.yaml", "--find", " ", cwd=project)
    assert r.returncode == 2 and "--find" in r.stderr


def test_disable_enable(project: Path) -> None:
    assert accord("disable", "contacts", "-c", "accord.yaml", cwd=project).returncode == 0
    r = accord("sync", "-c", "accord.yaml", "--json", cwd=project)
    assert json.loads(r.stdout) == [] and "disabled" in r.stderr
    assert accord("enable", "contacts", "-c", "accord.yaml", cwd=project).returncode == 0
    r = accord("sync", "-c", "accord.yaml", "--json", cwd=project)
    assert json.loads(r.stdout)[0]["kind"] == "initial"
    assert accord("disable", "nope", "-c", "accord.yaml", cwd=project).returncode == 2


def test_enabled_false_written_in_the_file_later_stops_the_sync(project: Path) -> None:
    """The file's ``enabled: false`` always wins (accord.index.sync_state.sync_enabled). Before, it
    was read only when the index first met the sync: written later, it changed nothing."""
    assert accord("sync", "-c", "accord.yaml", cwd=project).returncode == 0
    yaml_file = project / "accord.yaml"
    on = yaml_file.read_text()
    yaml_file.write_text(on + "    enabled: false\n")
    a = MemoryApp("a", path=str(project / "a.json"))
    a.user_create("contacts", person("Eve", "New", "eve@x.com"))
    a.save()
    r = accord("sync", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 0 and "contacts: disabled (enabled: false in accord.yaml), skipped" in r.stderr
    assert "eve@x.com" not in by_email(MemoryApp("b", path=str(project / "b.json")))
    assert json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=project).stdout)[0]["enabled"] is False
    r = accord("enable", "contacts", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 2 and "has enabled: false there, which always wins" in r.stderr
    yaml_file.write_text(on)  # taken out again: on, as the index's switch still is
    assert accord("sync", "-c", "accord.yaml", cwd=project).returncode == 0
    assert "eve@x.com" in by_email(MemoryApp("b", path=str(project / "b.json")))


def test_resync_preview_then_apply(project: Path) -> None:
    accord("sync", "-c", "accord.yaml", cwd=project)
    b = MemoryApp("b", path=str(project / "b.json"))
    rid = next(x.id for x in b.live("contacts") if x.properties["email"] == "cy@x.com")
    b.purge("contacts", rid)
    b.save()
    accord("sync", "-c", "accord.yaml", "--full", cwd=project)
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--deleted-in", "b", cwd=project)
    assert "1 record(s) deleted in b would be recreated from a" in r.stdout
    assert "cy@x.com" in r.stdout
    r = accord("resync", "-c", "accord.yaml", "--sync", "contacts", "--deleted-in", "right", "--yes", cwd=project)
    assert "recreated 1 record(s) in b" in r.stdout
    b = MemoryApp("b", path=str(project / "b.json"))
    assert any(x.properties["email"] == "cy@x.com" for x in b.live("contacts"))


def test_demo_runs_offline(tmp_path: Path) -> None:
    """HubSpot and Salesforce sandboxes in-process, seeded, synced: every sync has records syncing."""
    r = accord("demo", "--no-serve", "--records", "120", "--port", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Sync summary" in r.stdout
    rows = {}
    for line in r.stdout.splitlines():
        cells = line.split()
        if len(cells) == 9 and cells[1] == "initial":
            rows[cells[0]] = cells
    assert set(rows) == {"contacts", "companies", "deals"}, r.stdout
    for name, (_, _, syncing, failing, _, created, _, _, associated) in rows.items():
        assert int(syncing) > 0 and int(failing) == 0, (name, r.stdout)
        assert sum(int(x) for x in created.split("/")) > 0, (name, r.stdout)
        if name != "companies":  # contacts and deals carry their company associations across
            assert sum(int(x) for x in associated.split("/")) > 0, (name, r.stdout)
    assert "excluded/no_match_key" in r.stdout and "excluded/unmapped_stage" in r.stdout


def test_sandbox_command_serves_hubspot_api(tmp_path: Path) -> None:
    import time

    import httpx

    from accord.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([*ACCORD, "sandbox", "hubspot", "--port", str(port), "--records", "3", "--token", "t0k"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/crm/v3/objects/contacts"
        for _ in range(100):
            try:
                r = httpx.get(url, headers={"Authorization": "Bearer t0k"})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 200 and len(r.json()["results"]) == 3
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert accord("sandbox", "zoho", cwd=tmp_path).returncode == 2


def test_sandbox_token_ttl_makes_oauth_tokens_expire(tmp_path: Path) -> None:
    import time

    import httpx

    from accord.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([*ACCORD, "sandbox", "hubspot", "--port", str(port), "--records", "0", "--token-ttl", "1"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        form = {"grant_type": "client_credentials", "client_id": "accord-sandbox-client",
                "client_secret": "accord-sandbox-secret"}
        for _ in range(100):
            try:
                token = httpx.post(f"{url}/oauth/v1/token", data=form).json()
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert token["expires_in"] == 1
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        assert httpx.get(f"{url}/crm/v3/objects/contacts", headers=auth).status_code == 200
        time.sleep(1.1)
        r = httpx.get(f"{url}/crm/v3/objects/contacts", headers=auth)
        assert r.status_code == 401 and r.json()["category"] == "EXPIRED_AUTHENTICATION"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    r = accord("sandbox", "xentral", "--token-ttl", "5", cwd=tmp_path)
    assert r.returncode == 2 and "do not expire" in r.stderr


def test_unreachable_app_exits_3(tmp_path: Path) -> None:
    from accord.sandbox.server import free_port

    (tmp_path / "accord.yaml").write_text(f"""
state: sqlite:///{tmp_path}/accord.db
apps:
  hs: {{type: hubspot, token: abc, base_url: "http://127.0.0.1:{free_port()}"}}
  m: {{type: memory}}
syncs:
  - {{name: contacts, left: {{app: hs, object: contacts}}, right: {{app: m, object: contacts}}}}
""")
    r = accord("check", "-c", "accord.yaml", cwd=tmp_path, env={"COLUMNS": "60"})
    assert r.returncode == 3
    assert r.stderr.startswith("accord.yaml: HubSpot at http://127.0.0.1:") and "unreachable" in r.stderr


def test_demo_ignores_a_proxy_for_its_loopback_sandboxes(tmp_path: Path) -> None:
    proxy = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "example.com"}
    r = accord("demo", "--no-serve", "--records", "30", "--port", "0", cwd=tmp_path, env=proxy)
    assert r.returncode == 0, r.stderr
    assert "Sync summary" in r.stdout


def test_plan_works_for_syncs_with_associations(tmp_path: Path) -> None:
    """Issue #19: `accord plan` crashed (NotImplementedError: … has no associations) on any sync
    with `associations:`, as the README's reference config has. The dry run reads them and
    counts the ones it would write."""
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    acme = a.user_create("companies", {"name": "Acme", "domain": "acme.com"})
    ann = a.user_create("contacts", person("Ann", "Lee", "ann@x.com"))
    a.links.setdefault(("contacts", "companies"), {})[ann] = {acme}
    a.save()
    b.save()
    two_memory_apps(tmp_path, """
  - name: companies
    left: {app: a, object: companies}
    right: {app: b, object: companies}
  - name: contacts
    left: {app: a, object: contacts}
    right: {app: b, object: contacts}
    associations: [companies]""")
    r = accord("plan", "-c", "accord.yaml", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    plans = {p["sync"]: p for p in json.loads(r.stdout)}
    assert plans["contacts"]["created"]["right"] == 1 and plans["companies"]["created"]["right"] == 1
    assert MemoryApp("b", path=str(tmp_path / "b.json")).live("contacts") == []  # nothing written


def test_ctrl_c_says_where_the_next_pass_resumes(project: Path) -> None:
    """Issue #19: Ctrl-C during `accord sync` exited 130 silently. (The pass is held at its
    start by another process's lease, so the interrupt lands inside it on any machine.)"""
    import signal
    import threading

    from accord.index.leases import SyncLease

    store = Store(f"sqlite:///{project}/accord.db")
    lease = SyncLease(store.engine, "contacts")
    assert lease.try_acquire()
    lines: list[str] = []
    waiting = threading.Event()
    try:
        # PYTHONFAULTHANDLER: if it hangs, SIGABRT makes it print every thread's stack (see below)
        p = subprocess.Popen([*ACCORD, "sync", "-c", "accord.yaml"], cwd=project, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "COLUMNS": "200", "PYTHONFAULTHANDLER": "1"},
                             # a suite started in the background by a shell without job control
                             # inherits SIGINT ignored, and so would the child: Python then never
                             # installs its KeyboardInterrupt handler, and Ctrl-C is lost
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

        def read() -> None:
            assert p.stderr is not None
            for line in p.stderr:
                lines.append(line)
                if "waiting for process" in line:
                    waiting.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert waiting.wait(60), "".join(lines)
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGABRT)
            p.wait(timeout=30)
            reader.join(timeout=10)
            raise AssertionError("accord sync did not stop on Ctrl-C; its threads:\n" + "".join(lines)) from None
        reader.join(timeout=10)
    finally:
        lease.release()
        store.close()
    stderr = "".join(lines)
    assert p.returncode == 130, stderr
    assert "stopped; the next pass resumes from the last saved page" in stderr
    assert "Traceback" not in stderr


async def test_a_cancelled_pass_is_recorded_as_stopped_not_failed(tmp_path: Path) -> None:
    import asyncio

    from accord.runner import SyncRunner
    from helpers import sync_config

    class Slow(MemoryApp):
        async def create(self, object: str, items: Any) -> Any:
            await asyncio.sleep(0.05)
            return await super().create(object, items)

    a, b = MemoryApp("a", page_size=5), Slow("b", batch_size=5)
    for i in range(200):
        a.user_create("contacts", person("P", str(i), f"p{i}@x.com"))
    store = Store(f"sqlite:///{tmp_path}/index.db")
    runner = SyncRunner(sync_config(), store, a, b)
    task = asyncio.ensure_future(runner.run())
    while not b.live("contacts"):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (run,) = store.runs("contacts")
    assert run["status"] == "stopped" and run["error"] == "stopped; the next pass resumes from the last saved page"
    res = await SyncRunner(sync_config(), store, a, b).run()  # the next pass picks up where it stopped
    assert res.kind == "initial" and len(b.live("contacts")) == 200
    store.close()


def test_a_sync_renamed_in_the_file_is_refused_until_its_pairs_are_moved(tmp_path: Path) -> None:
    """Renaming a sync in accord.yaml is an edit admins make; the new name's empty index
    would create every deal again in both apps (deals have no match key)."""
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    for i in range(3):
        a.user_create("deals", {"name": f"Deal {i}", "amount": 10 * i, "stage": "qualified_to_buy"})
    a.save()
    b.save()
    yaml = tmp_path / "accord.yaml"
    two_memory_apps(tmp_path, """
  - name: deals
    left: {app: a, object: deals}
    right: {app: b, object: deals}""")

    def deals() -> tuple[int, int]:
        return tuple(len(MemoryApp(n, path=str(tmp_path / f"{n}.json")).live("deals")) for n in "ab")  # type: ignore[return-value]

    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0
    assert deals() == (3, 3)
    yaml.write_text(yaml.read_text().replace("name: deals", "name: pipeline"))
    for cmd in ("sync", "plan", "check"):
        r = accord(cmd, "-c", "accord.yaml", cwd=tmp_path)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "accord.yaml: syncs[0].name: sync 'pipeline' would start from an empty index" in r.stderr
        assert "`accord rename deals pipeline`" in r.stderr and "`accord forget deals`" in r.stderr
    assert deals() == (3, 3)
    # `accord status` says why, and where the pairs are
    r = accord("status", "-c", "accord.yaml", cwd=tmp_path)
    # under the table, on a line of its own (in a column of the table it was a tower of short lines)
    assert "\npipeline: refused: syncs[0].name: sync 'pipeline' would start from an empty index" in r.stdout
    assert "In the index but not in accord.yaml: sync 'deals' (3 pairs)" in " ".join(r.stdout.split())
    st = json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=tmp_path).stdout)
    assert "accord rename deals pipeline" in st[0]["refused"]

    # the commands refuse what would lose or mix pairs, saying why
    assert "no sync named 'nope'" in accord("rename", "deals", "nope", "-c", "accord.yaml", cwd=tmp_path).stderr
    r = accord("forget", "pipeline", "-c", "accord.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "is configured" in r.stderr
    assert accord("forget", "nothing", "-c", "accord.yaml", cwd=tmp_path).returncode == 2
    r = accord("forget", "deals", "-c", "accord.yaml", cwd=tmp_path)  # a preview: nothing dropped
    assert r.returncode == 0 and "3 pairs would be dropped" in r.stdout and "--yes" in r.stdout

    r = accord("rename", "deals", "pipeline", "-c", "accord.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "pipeline: now holds the 3 pairs" in r.stdout
    r = accord("sync", "-c", "accord.yaml", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["created"] == {"left": 0, "right": 0}
    assert deals() == (3, 3)
    st = json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=tmp_path).stdout)
    assert [(s["sync"], s["counts"]["syncing"], s["refused"]) for s in st] == [("pipeline", 3, None)]
    assert "In the index but not" not in accord("status", "-c", "accord.yaml", cwd=tmp_path).stdout


def test_copy_index_moves_the_index_to_another_database(project: Path) -> None:
    """Embedded SQLite to another database: after `state:` points at the copy, the next pass
    goes on incrementally and creates nothing again."""
    assert accord("sync", "-c", "accord.yaml", cwd=project).returncode == 0
    r = accord("copy-index", f"sqlite:///{project}/moved.db", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "copied" in r.stdout and "4 pairs" in r.stdout and "set `state:`" in r.stdout
    # a second copy into it is refused: it is not empty any more
    r = accord("copy-index", f"sqlite:///{project}/moved.db", "-c", "accord.yaml", cwd=project)
    assert r.returncode == 2 and "already holds" in r.stderr
    yaml = project / "accord.yaml"
    yaml.write_text(yaml.read_text().replace(f"sqlite:///{project}/accord.db", f"sqlite:///{project}/moved.db"))
    r = accord("sync", "-c", "accord.yaml", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)[0]
    assert res["kind"] == "incremental" and res["created"] == {"left": 0, "right": 0}


def test_erase_drops_a_persons_rows_once_deleted_in_both_apps(tmp_path: Path) -> None:
    """GDPR's right to erasure: after a person is deleted in the apps, `accord erase` drops their
    rows (ids, label, values last synced) from the index; a row whose record is still live in an
    app is kept, since dropping it would have the next full pass create the person again."""
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    for first in ("Ann", "Bob"):
        a.user_create("contacts", {"first_name": first, "last_name": "Lee", "email": f"{first.lower()}@x.com"})
    a.save()
    MemoryApp("b", path=str(tmp_path / "b.json")).save()
    two_memory_apps(tmp_path, """
  - name: contacts
    left: {app: a, object: contacts}
    right: {app: b, object: contacts}
    deletes: propagate""")
    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0
    # still in both apps: kept, saying why
    r = accord("erase", "ann@x.com", "-c", "accord.yaml", "--yes", cwd=tmp_path)
    assert r.returncode == 1 and "is kept, still in a (" in " ".join(r.stdout.split()), r.stdout
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    a.user_delete("contacts", next(x.id for x in a.live("contacts") if x.properties["email"] == "ann@x.com"))
    a.save()
    assert accord("sync", "-c", "accord.yaml", cwd=tmp_path).returncode == 0  # the delete propagates
    r = accord("erase", "ANN@x.com", "-c", "accord.yaml", cwd=tmp_path)  # a preview
    assert r.returncode == 0 and "1 row of 'ANN@x.com' would be dropped" in r.stdout and "--yes" in r.stdout
    st = json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=tmp_path).stdout)[0]
    assert sum(st["counts"].values()) == 2
    r = accord("erase", "ANN@x.com", "-c", "accord.yaml", "--yes", cwd=tmp_path)
    assert r.returncode == 0 and "1 row of 'ANN@x.com' dropped from the index" in r.stdout
    assert b"ann@x.com" not in (tmp_path / "accord.db").read_bytes().lower()
    st = json.loads(accord("status", "-c", "accord.yaml", "--json", cwd=tmp_path).stdout)[0]
    assert sum(st["counts"].values()) == 1
    r = accord("erase", "ann@x.com", "-c", "accord.yaml", cwd=tmp_path)
    assert r.returncode == 0 and "nothing in the index names it" in r.stdout
    assert accord("erase", "x", "--sync", "nope", "-c", "accord.yaml", cwd=tmp_path).returncode == 2
    # and nothing comes back
    assert accord("sync", "-c", "accord.yaml", "--full", cwd=tmp_path).returncode == 0
    assert [x.properties["email"] for x in MemoryApp("b", path=str(tmp_path / "b.json")).live("contacts")] == ["bob@x.com"]


def test_an_unmatched_start_is_planned_held_and_confirmed(tmp_path: Path) -> None:
    """`match: none` over two apps that both hold records: `accord plan` shows what the pass would
    create once confirmed and why it waits; `accord sync` writes nothing (exit 1); `--confirm` runs it."""
    a = MemoryApp("a", path=str(tmp_path / "a.json"))
    b = MemoryApp("b", path=str(tmp_path / "b.json"))
    for i in range(30):
        a.user_create("contacts", person(f"A{i}", "Left", f"a{i}@x.com"))
        b.user_create("contacts", person(f"B{i}", "Right", f"b{i}@x.com"))
    a.save()
    b.save()
    two_memory_apps(tmp_path, """
  - {name: people, left: {app: a, object: contacts}, right: {app: b, object: contacts}, match: none}""")
    check = accord("check", "-c", "accord.yaml", cwd=tmp_path)  # said before anything runs
    assert check.returncode == 0 and ("people: syncs[0].match: no match key, and both apps already hold records: "
                                      "the first pass waits for a confirmation") in check.stdout, check.stdout
    plan = accord("plan", "-c", "accord.yaml", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "│ people │ held │ 30/30" in plan.stdout and "held 0/0" not in plan.stdout
    assert "this sync has no match key" in plan.stdout and "The plan shows what it does once confirmed" in plan.stdout
    held = accord("sync", "-c", "accord.yaml", cwd=tmp_path)
    assert held.returncode == 1 and "Nothing was written." in held.stderr and "--confirm" in held.stderr
    assert held.stderr.count("Nothing was written.") == 1, held.stderr  # said once, not logged and said again
    assert len(MemoryApp("b", path=str(tmp_path / "b.json")).live("contacts")) == 30
    done = accord("sync", "-c", "accord.yaml", "--confirm", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "people: confirmed: this pass creates the records of each app in the other" in done.stderr
    assert len(MemoryApp("b", path=str(tmp_path / "b.json")).live("contacts")) == 60
