"""Secrets: the vault key file, sealed credentials, and no token in logs, errors, API answers or exports."""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from accord import redact
from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.exports import render_export
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.session import Session
from accord.vault import Vault, VaultError, load_key

APP_TOKEN = "pat-eu1-SECRET-4f2a9c1e"
API_TOKEN = "api-SECRET-token-77"
HOOK_SECRET = "hook-SECRET-1b2c3d"


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "accord.key"
    key = load_key(path, env={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, env={}) == key
    sealed = Vault(key).seal({"token": APP_TOKEN})
    assert APP_TOKEN not in sealed and Vault(key).open(sealed) == {"token": APP_TOKEN}
    with pytest.raises(VaultError, match="cannot be decrypted"):
        Vault(Fernet.generate_key()).open(sealed)
    # the environment wins over the file; a passphrase is stretched into a key
    env_key = load_key(path, env={"ACCORD_SECRET_KEY": "correct horse battery staple"})
    assert env_key != key and Vault(env_key).open(Vault(env_key).seal({"a": 1})) == {"a": 1}
    given = Fernet.generate_key().decode()
    assert load_key(path, env={"ACCORD_SECRET_KEY": given}) == given.encode()


def test_log_records_are_scrubbed_even_in_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    redact.register([APP_TOKEN])
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        log.warning("calling with Authorization: Bearer %s", APP_TOKEN)
        try:
            raise RuntimeError(f"server said: bad token {APP_TOKEN}")
        except RuntimeError:
            log.exception("request failed")
    text = caplog.text
    assert APP_TOKEN not in text and text.count(redact.MASK) >= 2
    assert APP_TOKEN not in render_export([], "csv").decode()


def test_no_secret_in_logs_answers_or_exports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sandbox = HubSpotSandbox(SandboxSettings(records=0, token="the-only-valid-token"))  # refuses APP_TOKEN
    hub = ServerThread(sandbox.app).start()
    cfg = parse_config({
        "state": f"sqlite:///{tmp_path}/index.db",
        "apps": {"hs": {"type": "hubspot", "token": APP_TOKEN, "base_url": hub.url, "webhook_secret": HOOK_SECRET,
                        "poll": "1h", "timeout": 5},
                 "mem": {"type": "memory", "poll": "1h"}},
        "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"},
                   "right": {"app": "mem", "object": "contacts"}}],
    }, env={})
    service = Service(cfg, Session(cfg, connectors={"mem": MemoryApp("mem")}), schedule=False,
                      vault=Vault(Fernet.generate_key()))
    server = ServerThread(create_app(cfg, service, token=API_TOKEN)).start()
    seen: list[str] = []
    try:
        with caplog.at_level(logging.DEBUG), httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=20) as api:
            assert api.post("/api/syncs/contacts/run").status_code == 202
            runs = []
            for _ in range(200):
                runs = api.get("/api/syncs/contacts/runs").json()
                if runs and runs[0]["status"] != "running":
                    break
                time.sleep(0.05)
            seen += [api.get(p).text for p in ("/api/syncs", "/api/syncs/contacts/runs", "/api/apps",
                                                "/api/syncs/contacts/config", "/api/syncs/contacts/export",
                                                "/api/syncs/contacts/progress", "/metrics")]
            seen.append(api.put("/api/apps/other", json={"type": "hubspot", "token": APP_TOKEN + "-2",
                                                         "base_url": hub.url}).text)
            seen.append(api.post("/api/syncs", json={"name": "x", "left": {"app": "other", "object": "contacts"},
                                                      "right": {"app": "mem", "object": "contacts"}}).text)
            seen.append(httpx.post(f"{server.url}/webhooks/hs", json=[{"eventId": 1}]).text)  # unsigned: 401
        assert runs and runs[0]["status"] == "failed", runs
    finally:
        server.stop()
        hub.stop()
        sandbox.close()
    everything = caplog.text + "\n".join(seen)
    assert "401" in everything or "nauthorized" in everything  # the failure itself is reported
    for secret in (APP_TOKEN, API_TOKEN, HOOK_SECRET):
        assert secret not in everything, secret


def test_masking_keeps_every_log_record_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """A request line with a secret in it: uvicorn's access formatter unpacks the record's
    arguments, so masking must keep them a tuple (it used to print a 'Logging error' traceback)."""
    import io

    from uvicorn.logging import AccessFormatter

    redact.register([API_TOKEN])
    def logger(name: str, formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        log = logging.getLogger(name)
        log.handlers, log.propagate = [handler], False
        log.setLevel(logging.INFO)
        return log, stream

    access, access_out = logger("test.access", AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s',
                                                               use_colors=False))
    other, other_out = logger("test.other", logging.Formatter("%(message)s"))
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/syncs?token={API_TOKEN}&x=1", "1.1", 200)
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/syncs?password=hunter2&access_token=zz",
                "1.1", 401)
    other.info("dsn %s", {"password": "pw-in-a-dict", "user": "u"})
    other.info("%d records, %s", 5, "ok")
    assert access_out.getvalue().splitlines() == [
        '127.0.0.1:5000 - "GET /api/syncs?token=[redacted]&x=1 HTTP/1.1" 200 OK',
        '127.0.0.1:5000 - "GET /api/syncs?password=[redacted]&access_token=[redacted] HTTP/1.1" 401 Unauthorized',
    ]
    assert other_out.getvalue().splitlines() == ["dsn {'password': '[redacted]', 'user': 'u'}", "5 records, ok"]
    assert "Logging error" not in capsys.readouterr().err


def test_secrets_in_every_form_and_short_ones_as_words(monkeypatch: pytest.MonkeyPatch) -> None:
    # only this test's secrets: others registered in this process (e.g. "secret") would mask more
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_secret_re", None)
    redact.register(["pw!/+ x", "abc"])  # a short secret: masked as a whole word only
    assert redact.scrub("login abc, not abcdef nor xabc") == "login [redacted], not abcdef nor xabc"
    # percent-encoded as a URL or a form body carries it
    assert redact.scrub("GET /x?p=pw%21%2F%2B%20x and pw%21%2F%2B+x") == "GET /x?p=[redacted] and [redacted]"
    assert redact.scrub("mysql://app:s3cr3t@db/crm") == "mysql://app:[redacted]@db/crm"
    assert redact.scrub('{"client_secret": "q\\"w", "list": "Leads"}') == '{"client_secret": "[redacted]", "list": "Leads"}'
    assert redact.scrub("host=db password=x1 sslmode=require") == "host=db password=[redacted] sslmode=require"
    assert redact.scrub("missing or wrong API token") == "missing or wrong API token"
    assert redact.url_secrets("postgresql://u:p%40ss@h/db?password=q&sslmode=x") == ["p@ss", "q"]
