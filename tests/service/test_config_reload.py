"""accord.yaml reloaded while the service runs (issue #19): on change and on SIGHUP, validated
first; a bad file is refused, logged and shown, and the running configuration kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from service_world import TOKEN, login

from accord.config import load_config
from accord.connectors.memory import MemoryApp
from accord.sandbox.server import ServerThread, free_port
from accord.service.app import create_app
from accord.service.core import Service


def _write(path: Path, syncs: list[dict[str, Any]], **extra: Any) -> None:
    tmp = path.parent
    doc = {"state": f"sqlite:///{tmp}/index.db",
           "apps": {"a": {"type": "memory", "poll": "1h", "path": f"{tmp}/a.json"},
                    "b": {"type": "memory", "poll": "1h", "path": f"{tmp}/b.json"}},
           "syncs": syncs, **extra}
    path.write_text(yaml.safe_dump(doc))


CONTACTS = {"name": "contacts", "left": {"app": "a", "object": "contacts"}, "right": {"app": "b", "object": "contacts"}}
COMPANIES = {"name": "companies", "left": {"app": "a", "object": "companies"},
             "right": {"app": "b", "object": "companies"}}


class Served:
    def __init__(self, tmp: Path) -> None:
        for name in ("a", "b"):
            MemoryApp(name, path=str(tmp / f"{name}.json")).save()
        self.path = tmp / "accord.yaml"
        _write(self.path, [CONTACTS])
        cfg = load_config(self.path)
        self.service = Service(cfg, schedule=False)
        self.app = create_app(cfg, self.service, token=TOKEN, config_path=self.path, reload_interval=0.1)
        self.server = ServerThread(self.app).start()
        self.client = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def names(self) -> list[str]:
        return [s["name"] for s in self.client.get("/api/syncs").json()]

    def wait(self, cond: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = cond()
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    def outcome(self) -> Any:
        return self.app.state.reloader.last


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path)
    yield s
    s.client.close()
    s.server.stop()


def test_a_changed_file_is_applied_and_a_bad_one_refused(served: Served) -> None:
    assert served.names() == ["contacts"]
    _write(served.path, [CONTACTS, COMPANIES])
    served.wait(lambda: served.names() == ["contacts", "companies"])
    assert served.outcome().ok and "added or changed: companies" in served.outcome().message

    # a bad file: refused with the key path, the running syncs stay, the dashboard says so
    served.path.write_text(served.path.read_text().replace("poll: 1h", "pol: 1h", 1))
    served.wait(lambda: served.outcome() and not served.outcome().ok)
    assert "apps.a.pol: unknown key" in served.outcome().message
    assert "was not reloaded (the running configuration is kept)" in served.outcome().message
    assert served.names() == ["contacts", "companies"]
    browser = login(served.server.url)
    page = browser.get("/").text
    assert "was not reloaded" in page and "apps.a.pol: unknown key" in page

    # a mapping onto a field the app does not have: the apps' schemas are checked too
    _write(served.path, [{**CONTACTS, "mappings": [{"left": "score", "right": "vip"}]}, COMPANIES])
    served.wait(lambda: "vip" in served.outcome().message)
    assert served.outcome().message.endswith(
        "syncs[0].mappings[0].right: type-incompatible: score (number) ↔ vip (bool)")
    assert served.names() == ["contacts", "companies"]

    # the index cannot change without a restart
    _write(served.path, [CONTACTS], state="sqlite:///elsewhere.db")
    served.wait(lambda: "state: the index cannot change" in served.outcome().message)

    # removing a sync stops it and keeps its index
    _write(served.path, [CONTACTS])
    served.wait(lambda: served.names() == ["contacts"])
    assert served.service.store.sync_state("companies") is not None
    assert "stopped: companies" in served.outcome().message
    assert "was not reloaded" not in browser.get("/").text


@pytest.mark.timeout(60)
def test_accord_run_reloads_on_sighup(tmp_path: Path) -> None:
    for name in ("a", "b"):
        MemoryApp(name, path=str(tmp_path / f"{name}.json")).save()
    cfg = tmp_path / "accord.yaml"
    _write(cfg, [CONTACTS])
    port = free_port()
    env = {**os.environ, "ACCORD_API_TOKEN": "t" * 32}
    proc = subprocess.Popen([sys.executable, "-m", "accord.cli", "run", "-c", str(cfg), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Accord on http" in line:
                break
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        # SIGHUP reloads even an unchanged file (the watcher alone would not), and does not stop the service
        proc.send_signal(signal.SIGHUP)
        for line in proc.stdout:
            lines.append(line)
            if "reloaded" in line:
                break
        assert f"{cfg} reloaded: no sync changed" in "".join(lines)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
