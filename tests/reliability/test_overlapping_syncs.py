"""Two syncs on one object pair are refused; hub and spoke is allowed and never loops (issue #16, point 2).

Two syncs over the same two objects each create what the other created, forever (HubSpot went
from 394 to 2,384 deals in 2.5 minutes). A hub synced with two spokes is a normal set-up
(HubSpot contacts ↔ Salesforce and HubSpot contacts ↔ Snov.io): a record made in one spoke
reaches the hub through one sync and the other spoke through the other, once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord.config import ConfigError, parse_config
from accord.connectors.memory import MemoryApp
from accord.index import Store
from accord.runner import SyncRunner
from helpers import by_email, person

APPS = {"hub": {"type": "memory"}, "crm": {"type": "memory"}, "mail": {"type": "memory"}}


def sync(name: str, left: str, right: str, **extra: object) -> dict[str, object]:
    return {"name": name, "left": {"app": left, "object": "contacts"}, "right": {"app": right, "object": "contacts"},
            **extra}


@pytest.mark.parametrize("second", [
    sync("contacts2", "hub", "crm"),
    sync("reversed", "crm", "hub", direction="left-to-right"),  # the same pair, sides swapped, one way
])
def test_a_second_sync_on_the_same_object_pair_is_a_config_error(second: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"apps": APPS, "syncs": [sync("contacts", "hub", "crm"), second]}, env={})
    (issue,) = e.value.issues
    assert issue.path == "syncs[1].right"
    assert f"sync {second['name']!r} pairs" in issue.message and "as sync 'contacts' already does" in issue.message


def test_accord_check_refuses_the_overlap_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "accord.yaml").write_text(f"""
state: sqlite:///{tmp_path}/accord.db
apps:
  hs: {{type: memory}}
  sf: {{type: memory}}
syncs:
  - name: deals
    left: {{app: hs, object: deals}}
    right: {{app: sf, object: deals}}
  - name: deals2
    left: {{app: hs, object: deals}}
    right: {{app: sf, object: deals}}
""")
    r = subprocess.run([sys.executable, "-m", "accord.cli", "check", "-c", "accord.yaml"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "syncs[1].right: sync 'deals2' pairs hs deals with sf deals, as sync 'deals' already does" in r.stderr


async def test_hub_and_spoke_creates_each_record_once_in_each_app() -> None:
    cfg = parse_config({"apps": APPS, "syncs": [sync("hub-crm", "hub", "crm"), sync("hub-mail", "hub", "mail")]},
                       env={})
    hub, crm, mail = MemoryApp("hub"), MemoryApp("crm"), MemoryApp("mail")
    store = Store("sqlite://")
    runners = [SyncRunner(cfg.syncs[0], store, hub, crm), SyncRunner(cfg.syncs[1], store, hub, mail)]
    crm.user_create("contacts", person("Ann", "Lee", "ann@x.com", phone="1"))
    mail.user_create("contacts", person("Bob", "Ray", "bob@x.com"))
    hub.user_create("contacts", person("Cy", "Do", "cy@x.com"))
    for i in range(6):  # a record one sync creates in the hub is picked up by the other sync
        for r in runners:
            await r.run(full=i == 3)
        if i == 2:
            rid = next(r.id for r in mail.live("contacts") if r.properties["email"] == "ann@x.com")
            mail.user_update("contacts", rid, {"phone": "2"})
    for app in (hub, crm, mail):
        emails = [r.properties["email"] for r in app.live("contacts")]
        assert sorted(emails) == ["ann@x.com", "bob@x.com", "cy@x.com"], (app.name, emails)
        assert by_email(app)["ann@x.com"]["phone"] == "2"
    quiet = [await r.run() for r in runners]
    assert all(sum(q.counters.created.values()) + sum(q.counters.updated.values()) == 0 for q in quiet)
