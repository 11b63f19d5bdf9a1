"""One HTTP connector and its sandbox, the same way for every vendor: what the contract suite
(test_contract.py) needs to know about each (objects, call kinds, how to seed and count records).

The sandbox is served behind :class:`Recorder`, which notes when each API request arrives, so
the suite checks rate limits and call counts on the server's side of the wire.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.connectors.http import HttpConnector, Limits
from accord.connectors.hubspot import HubSpotConnector
from accord.connectors.hubspot import Limits as HubSpotLimits
from accord.connectors.limits import RollingWindow
from accord.connectors.salesforce import SalesforceConnector
from accord.connectors.snovio import SnovioConnector
from accord.connectors.xentral import XentralConnector
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce.tls import make_jwt_keys
from accord.sandbox.server import ServerThread
from accord.sandbox.snovio import SnovioSandbox
from accord.sandbox.xentral import XentralSandbox, install

# token files of every world, one directory removed with the test process
_TOKEN_DIR = tempfile.TemporaryDirectory(prefix="accord-token-")

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class Recorder:
    """An ASGI wrapper noting (arrival time, "METHOD path") of every request but the sandbox's admin ones."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.hits: list[tuple[float, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox"):
            self.hits.append((time.monotonic(), f"{scope['method']} {scope['path']}"))
        await self.app(scope, receive, send)

    def count(self, part: str = "") -> int:
        """Requests whose "METHOD path" contains ``part``."""
        return sum(1 for _, p in self.hits if part in p)

    def busiest(self, window: float, part: str = "") -> int:
        """The most requests (whose "METHOD path" contains ``part``) that arrived within ``window`` seconds."""
        stamps = sorted(t for t, p in self.hits if part in p)
        best, lo = 0, 0
        for hi, t in enumerate(stamps):
            while stamps[lo] <= t - window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


@dataclass
class World:
    """A vendor's sandbox on loopback and how to drive its connector in the contract suite."""

    vendor: str
    object: str  # the vendor object the suite creates, scans and finds
    key: str  # its match-key field (find looks records up by it)
    memory_object: str  # the memory app's object synced with it
    create_kind: str  # the sandbox's call kind of a create (its fault queue names it)
    create_call: str  # "METHOD path" part of the create request
    limited_path: str  # requests whose path contains this pass the limit the suite checks
    resumes: bool = True  # scan_from continues after the cursor (else: from the start, re-reading)
    sandbox: Any = None
    recorder: Recorder | None = None
    server: ServerThread | None = None
    secret: str = field(default_factory=lambda: uuid.uuid4().hex)  # a fresh credential: limiters are per credential

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def serve(self, app: ASGI, **server: Any) -> None:
        self.recorder = Recorder(app)
        self.server = ServerThread(self.recorder)
        for k, v in server.items():
            setattr(self.server.server.config, k, v)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        close = getattr(self.sandbox, "close", None)
        if close is not None:
            close()

    # -- what each vendor fills in -----------------------------------------------------------------
    def start(self) -> None:
        raise NotImplementedError

    def connector(self, **kw: Any) -> HttpConnector:
        """A connector with quick retries and, unless ``shared``, limits of its own."""
        raise NotImplementedError

    def ctor(self, **kw: Any) -> tuple[str, str, dict[str, Any]]:
        """(module, class, keyword arguments) of :meth:`connector` without limits of its own, to
        build the same connector in another process."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The app's entry in accord.yaml."""
        raise NotImplementedError

    def faults(self, queue: list[str], retry_after: float | None = None, as_date: bool = False) -> None:
        self.sandbox.set_faults(queue=list(queue), retry_after=retry_after, retry_after_date=as_date)

    def seed(self, n: int) -> list[str]:
        """``n`` records made by a user; their match-key values."""
        raise NotImplementedError

    def item(self, n: int) -> dict[str, Any]:
        """A record to create through the connector (its key: ``self.key``)."""
        raise NotImplementedError

    def person(self, n: int) -> dict[str, Any]:
        """A record of the memory app's object that syncs to a new record here."""
        return {"first_name": f"Ann{n}", "last_name": f"Lee{n}", "email": f"ann{n}@example.com"}

    def person_key(self, n: int) -> str:
        return f"ann{n}@example.com"

    def count(self, key: str) -> int:
        """Live records of the object whose match key is ``key``."""
        raise NotImplementedError

    def limit(self, per_second: int) -> None:
        """Make the sandbox enforce ``per_second`` on the limited path too (where it can)."""

    # -- credentials that renew ---------------------------------------------------------------------
    def flows(self) -> dict[str, int]:
        """Each way this vendor's credential is given, and the requests its renewal costs: 1 for a
        token endpoint's answer, 0 for a token file read again."""
        raise NotImplementedError

    def flow_connector(self, flow: str) -> HttpConnector:
        """A connector whose credential is given the ``flow`` way."""
        raise NotImplementedError

    def expire(self, flow: str) -> None:
        """The credential of ``flow`` stops working: tokens expire, or a static token is rotated
        (the sandbox takes only the new one, written to the token file)."""
        raise NotImplementedError

    def token_file(self, token: str) -> str:
        path = Path(_TOKEN_DIR.name) / f"token-{uuid.uuid4().hex}"
        path.write_text(token + "\n")
        self._file = path
        return str(path)

    def rotate(self, setting: Any) -> None:
        """A new static token: the sandbox (``setting.token``) takes only it, the token file holds it."""
        setting.token = f"rotated-{uuid.uuid4().hex}"
        self._file.write_text(setting.token)


class HubSpotWorld(World):
    def __init__(self) -> None:
        super().__init__("hubspot", "companies", "name", "companies", "batch_create", "POST /crm/v3/objects/companies/batch/create",
                         "/search")

    def start(self) -> None:
        self.sandbox = HubSpotSandbox(SandboxSettings(rate_limit=100_000, search_rate=100_000))
        self.serve(self.sandbox.app)

    def _kw(self, **kw: Any) -> dict[str, Any]:
        return {"token": f"t-{self.secret}", "base_url": self.url, "backoff": 0.01, "max_backoff": 0.05,
                "read_ahead": 0, "timeout": 5.0, **kw}

    def connector(self, **kw: Any) -> HttpConnector:
        if not kw.pop("shared", False):
            kw.setdefault("limits", HubSpotLimits(RollingWindow(10_000, 10.0), RollingWindow(10_000, 1.0)))
        return HubSpotConnector("hs", **self._kw(**kw))

    def ctor(self, **kw: Any) -> tuple[str, str, dict[str, Any]]:
        return "accord.connectors.hubspot", "HubSpotConnector", {"name": "hs", **self._kw(**kw)}

    def settings(self) -> dict[str, Any]:
        return {"type": "hubspot", "token": f"t-{self.secret}", "base_url": self.url}

    def seed(self, n: int) -> list[str]:
        for i in range(n):
            self.sandbox.user_create("companies", {"name": f"Seed {i}", "domain": f"seed{i}.example.com"})
        return [f"Seed {i}" for i in range(n)]

    def item(self, n: int) -> dict[str, Any]:
        return {"name": f"New {n}", "domain": f"new{n}.example.com"}

    def person(self, n: int) -> dict[str, Any]:
        return {"name": f"Acme {n}", "domain": f"acme{n}.example.com"}

    def person_key(self, n: int) -> str:
        return f"Acme {n}"

    def count(self, key: str) -> int:
        return sum(1 for r in self.sandbox.records("companies") if r["properties"].get("name") == key)

    def limit(self, per_second: int) -> None:
        self.sandbox.settings.search_rate = per_second

    def flows(self) -> dict[str, int]:
        return {"oauth": 1, "private-app-file": 0}

    def flow_connector(self, flow: str) -> HttpConnector:
        kw = self._kw(limits=HubSpotLimits(RollingWindow(10_000, 10.0), RollingWindow(10_000, 1.0)))
        del kw["token"]
        if flow == "oauth":
            s = self.sandbox.settings
            kw.update(client_id=s.client_id, client_secret=s.client_secret,
                      refresh_token=self.sandbox.oauth.new_refresh(s.client_id))
        else:
            kw["token_file"] = self.token_file(f"pat-{self.secret}")
        return HubSpotConnector("hs", **kw)

    def expire(self, flow: str) -> None:
        if flow == "oauth":
            self.sandbox.expire_tokens()
        else:
            self.rotate(self.sandbox.settings)


class SalesforceWorld(World):
    def __init__(self) -> None:
        super().__init__("salesforce", "Contact", "Email", "contacts", "composite", "POST /services/data/v62.0/composite/sobjects",
                         "/services/data/")

    def start(self) -> None:
        self.sandbox = SalesforceSandbox()
        self.serve(self.sandbox.app, date_header=False)  # the org sends its own Date

    def _kw(self, **kw: Any) -> dict[str, Any]:
        return {"instance_url": self.url, "access_token": f"t-{self.secret}", "backoff": 0.01, "timeout": 5.0,
                "page_size": 200, **kw}

    def connector(self, **kw: Any) -> HttpConnector:
        kw.pop("shared", None)  # without rate_limit Salesforce has no limiter of its own
        return SalesforceConnector("sf", **self._kw(**kw))

    def ctor(self, **kw: Any) -> tuple[str, str, dict[str, Any]]:
        return "accord.connectors.salesforce", "SalesforceConnector", {"name": "sf", **self._kw(**kw)}

    def settings(self) -> dict[str, Any]:
        return {"type": "salesforce", "instance_url": self.url, "access_token": f"t-{self.secret}"}

    def faults(self, queue: list[str], retry_after: float | None = None, as_date: bool = False) -> None:
        self.sandbox.set_faults(queue=list(queue), retry_after=retry_after, retry_after_date=as_date)

    def seed(self, n: int) -> list[str]:
        for i in range(n):
            self.sandbox.create("Contact", {"LastName": f"Seed{i}", "Email": f"seed{i}@example.com"})
        return [f"seed{i}@example.com" for i in range(n)]

    def item(self, n: int) -> dict[str, Any]:
        return {"LastName": f"New{n}", "Email": f"new{n}@example.com"}

    def count(self, key: str) -> int:
        return sum(1 for r in self.sandbox.records("Contact") if (r.get("Email") or "").lower() == key.lower())

    def flows(self) -> dict[str, int]:
        return {"refresh_token": 1, "jwt": 1, "client_credentials": 1, "session-file": 0}

    def flow_connector(self, flow: str) -> HttpConnector:
        kw = self._kw()
        del kw["access_token"]
        s = self.sandbox.settings
        if flow == "session-file":
            kw["token_file"] = self.token_file(f"t-{self.secret}")
        elif flow == "refresh_token":
            kw.update(client_id=s.client_id, client_secret=s.client_secret, login_url=self.url,
                      refresh_token=self.sandbox.oauth.new_refresh(s.client_id))
        elif flow == "jwt":
            keys = make_jwt_keys()
            s.jwt_certificate = keys.certificate
            kw.update(client_id=s.client_id, username=s.username, private_key=keys.private_key, login_url=self.url)
        else:
            kw.update(client_id=s.client_id, client_secret=s.client_secret)
        return SalesforceConnector("sf", **kw)

    def expire(self, flow: str) -> None:
        if flow == "session-file":
            self.rotate(self.sandbox.settings)
        else:
            self.sandbox.expire_tokens()


class SnovioWorld(World):
    def __init__(self) -> None:
        super().__init__("snovio", "prospects", "email", "contacts", "add-prospect-to-list",
                         "POST /v1/add-prospect-to-list", "/v1/", resumes=False)

    def start(self) -> None:
        self.sandbox = SnovioSandbox(rate_limit=100_000, rate_window=1.0)
        self.list_id = self.sandbox.create_list("Sync")
        self.serve(self.sandbox.app)

    def _kw(self, **kw: Any) -> dict[str, Any]:
        return {"client_id": f"c-{self.secret}", "client_secret": "secret", "list_name": "Sync", "base_url": self.url,
                "backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, "page_size": 50, **kw}

    def connector(self, **kw: Any) -> HttpConnector:
        if not kw.pop("shared", False):
            kw.setdefault("window", RollingWindow(100_000, 1.0))
        return SnovioConnector("snov", **self._kw(**kw))

    def ctor(self, **kw: Any) -> tuple[str, str, dict[str, Any]]:
        return "accord.connectors.snovio", "SnovioConnector", {"name": "snov", **self._kw(**kw)}

    def settings(self) -> dict[str, Any]:
        return {"type": "snovio", "client_id": f"c-{self.secret}", "client_secret": "secret", "list": "Sync",
                "base_url": self.url}

    def seed(self, n: int) -> list[str]:
        for i in range(n):
            self.sandbox.user_add(self.list_id, emails=[f"seed{i}@example.com"], firstName=f"Seed{i}")
        return [f"seed{i}@example.com" for i in range(n)]

    def item(self, n: int) -> dict[str, Any]:
        return {"email": f"new{n}@example.com", "firstName": f"New{n}"}

    def count(self, key: str) -> int:
        return sum(1 for p in self.sandbox.prospects(self.list_id)
                   if any(str(e.get("email", "")).lower() == key.lower() for e in p.get("emails") or []))

    def limit(self, per_second: int) -> None:
        self.sandbox.settings.rate_limit, self.sandbox.settings.rate_window = per_second, 1.0

    def flows(self) -> dict[str, int]:
        return {"client_credentials": 1}

    def flow_connector(self, flow: str) -> HttpConnector:
        return self.connector()

    def expire(self, flow: str) -> None:
        self.sandbox.expire_tokens()


class XentralWorld(World):
    def __init__(self) -> None:
        super().__init__("xentral", "adressen", "email", "contacts", "adressen_create", "POST /api/v1/adressen",
                         "/api/")

    def start(self) -> None:
        self.sandbox = XentralSandbox()
        self.sandbox.settings.rate_limit = 100_000
        install(self.sandbox.store)
        self.serve(self.sandbox.app)

    def _kw(self, **kw: Any) -> dict[str, Any]:
        return {"base_url": self.url, "token": f"t-{self.secret}", "backoff": 0.01, "max_backoff": 0.05,
                "timeout": 5.0, "page_size": 50, **kw}

    def connector(self, **kw: Any) -> HttpConnector:
        if not kw.pop("shared", False):
            kw.setdefault("limits", Limits(RollingWindow(100_000, 60.0)))
        return XentralConnector("xentral", **self._kw(**kw))

    def ctor(self, **kw: Any) -> tuple[str, str, dict[str, Any]]:
        return "accord.connectors.xentral", "XentralConnector", {"name": "xentral", **self._kw(**kw)}

    def settings(self) -> dict[str, Any]:
        return {"type": "xentral", "base_url": self.url, "token": f"t-{self.secret}"}

    def seed(self, n: int) -> list[str]:
        for i in range(n):
            self.sandbox.user_create_address({"vorname": "Seed", "nachname": f"{i}", "email": f"seed{i}@example.com"})
        return [f"seed{i}@example.com" for i in range(n)]

    def item(self, n: int) -> dict[str, Any]:
        return {"vorname": "New", "nachname": f"{n}", "email": f"new{n}@example.com"}

    def count(self, key: str) -> int:
        with self.sandbox.store.lock:
            return sum(1 for a in self.sandbox.store.addresses.values()
                       if not a.deleted and a.cols.get("email", "").lower() == key.lower())

    def limit(self, per_second: int) -> None:
        self.sandbox.settings.rate_limit, self.sandbox.settings.rate_window = per_second, 1.0


    def flows(self) -> dict[str, int]:
        return {"pat-file": 0}

    def flow_connector(self, flow: str) -> HttpConnector:
        kw = self._kw(limits=Limits(RollingWindow(100_000, 60.0)))
        del kw["token"]
        return XentralConnector("xentral", token_file=self.token_file(f"t-{self.secret}"), **kw)

    def expire(self, flow: str) -> None:
        self.rotate(self.sandbox.settings)


WORLDS: dict[str, type[World]] = {"hubspot": HubSpotWorld, "salesforce": SalesforceWorld, "snovio": SnovioWorld,
                                  "xentral": XentralWorld}
