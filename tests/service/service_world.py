"""The service under test: ``accord run``'s app over loopback with two memory apps."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from accord.config import parse_config
from accord.connectors.memory import MemoryApp
from accord.model import ErrorCategory, WriteError
from accord.sandbox.server import ServerThread
from accord.service.app import create_app
from accord.service.core import Service
from accord.session import Session

TOKEN = "test-token-123"


def login(url: str, token: str = TOKEN) -> httpx.Client:
    """A client logged in to the dashboard as a browser is: it holds the session cookie."""
    client = httpx.Client(base_url=url, timeout=10)
    r = client.post("/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303 and "accord_session" in client.cookies, r.text
    return client


def no_ray(obj: str, props: Any) -> WriteError | None:
    if props.get("last_name") == "Ray":
        return WriteError(ErrorCategory.CUSTOM_CODE, "Validation rule: Ray is not allowed", hint="Fix the rule")
    return None


class World:
    """``contacts``: more settings of the contacts sync; ``apps``: the two memory apps of an earlier
    World (a restarted service over the same index and apps)."""

    def __init__(self, tmp: Path, *, poll: str = "1h", schedule: bool = False, contacts: dict[str, Any] | None = None,
                 apps: tuple[MemoryApp, MemoryApp] | None = None, notifications: dict[str, Any] | None = None,
                 **service_kw: Any) -> None:
        self.cfg = parse_config({
            **({"notifications": notifications} if notifications else {}),
            "state": f"sqlite:///{tmp}/index.db",
            "apps": {"a": {"type": "memory", "poll": poll}, "b": {"type": "memory", "poll": poll}},
            "syncs": [{"name": "contacts", "left": {"app": "a", "object": "contacts"},
                       "right": {"app": "b", "object": "contacts"}, **(contacts or {})},
                      {"name": "companies", "left": {"app": "a", "object": "companies"},
                       "right": {"app": "b", "object": "companies"}}],
        }, env={})
        if apps is not None:
            self.left, self.right = apps
        else:
            self.left = MemoryApp("a", page_size=3)
            self.right = MemoryApp("b", page_size=3)
            self.right.validators.append(no_ray)
            for first, last in (("Ann", "Lee"), ("Bob", "Ray"), ("Cid", "Kim"), ("Dee", "Ray")):
                self.left.user_create("contacts", {"first_name": first, "last_name": last, "email": f"{first}@x.com"})
            self.left.user_create("contacts", {"first_name": "No", "last_name": "Mail", "email": None})
        self.session = Session(self.cfg, connectors={"a": self.left, "b": self.right})
        self.service = Service(self.cfg, self.session, schedule=schedule, **service_kw)
        self.app = create_app(self.cfg, self.service, token=TOKEN)
        self.server = ServerThread(self.app)

    def __enter__(self) -> World:
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def wait(self, cond: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = cond()
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError("condition not met in time")

    def run_pass(self, name: str = "contacts", full: bool = False) -> dict[str, Any]:
        before = len(self.client.get(f"/api/syncs/{name}/runs").json())
        assert self.client.post(f"/api/syncs/{name}/run", params={"full": full}).status_code == 202
        runs = self.wait(lambda: (r := self.client.get(f"/api/syncs/{name}/runs").json()) and len(r) > before
                         and r[0]["status"] != "running" and r)
        last: dict[str, Any] = runs[0]
        return last
