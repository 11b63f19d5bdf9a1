"""The convergence world on two HubSpot sandboxes over loopback HTTP, with the real connector.

Users edit the sandboxes directly (changeSource CRM_UI); the engine talks to them through
``HubSpotConnector``; faults are injected by the sandboxes (429, 500, time-outs, connection
resets before and after carrying a request out, half-carried-out batches), so the
connector's own retries and its WriteOutcomeUnknown are part of what is tested.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from convergence import World

from accord.config import parse_config
from accord.connectors.hubspot import HubSpotConnector
from accord.model import Side, Value
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.hubspot.schema import LEAD_STATUS
from accord.sandbox.hubspot.store import Store
from accord.sandbox.server import ServerThread

CLIENT_TIMEOUT = 0.3


class _QuietResets(logging.Filter):
    """The sandbox's injected connection resets are expected: not worth an error line each."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietResets())


def _wire(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class HubSpotUser:
    fields = {"email": "email", "first_name": "firstname", "last_name": "lastname", "phone": "phone",
              "city": "city", "job_title": "jobtitle", "lead_status": "hs_lead_status"}
    options = tuple(LEAD_STATUS)

    def __init__(self, sb: HubSpotSandbox) -> None:
        self.sb = sb

    def live(self) -> list[tuple[str, dict[str, Value]]]:
        return [(r["id"], {k: (v if v != "" else None) for k, v in r["properties"].items()})
                for r in self.sb.records("contacts")]

    def create(self, props: Mapping[str, Value]) -> str:
        return str(self.sb.user_create("contacts", {k: _wire(v) for k, v in props.items()})["id"])

    def update(self, rid: str, props: Mapping[str, Value]) -> None:
        self.sb.user_update("contacts", rid, {k: _wire(v) for k, v in props.items()})

    def delete(self, rid: str) -> None:
        self.sb.user_delete("contacts", rid)

    def mark(self) -> int:
        return self.sb.store.clock()

    def changed_since(self, mark: int) -> list[str]:
        with self.sb.store.lock:
            objs = self.sb.store.objs[Store.object_type("contacts")].values()
            return [str(o.id) for o in objs if o.updated >= mark or (o.archived_at or 0) >= mark]


class HubSpotWorld(World):
    """A World that owns its two sandboxes and their servers (closed by ``aclose``)."""

    def __init__(self, winner: Side, hit_known_bugs: bool = False) -> None:
        settings = {"rate_limit": 100_000, "search_rate": 100_000}
        self.sandboxes = (HubSpotSandbox(SandboxSettings(**settings)),  # type: ignore[arg-type]
                          HubSpotSandbox(SandboxSettings(**settings)))  # type: ignore[arg-type]
        self.servers = [ServerThread(sb.app).start() for sb in self.sandboxes]
        apps = {n: {"type": "hubspot", "token": f"{n}-{uuid.uuid4().hex}", "base_url": srv.url,
                    "rate_limit": 100_000, "search_rate": 100_000, "timeout": CLIENT_TIMEOUT}
                for n, srv in zip("ab", self.servers, strict=True)}
        cfg: dict[str, Any] = {
            "apps": apps,
            "syncs": [{"name": "contacts", "left": {"app": "a", "object": "contacts"},
                       "right": {"app": "b", "object": "contacts"}}],
        }  # the winner, direction, filters and mappings are the World's (operators change them)
        parsed = parse_config(cfg, env={})
        conns = []
        for n in "ab":
            app = parsed.apps[n]
            c = HubSpotConnector(n, token=app.token, base_url=app.base_url, rate_limit=100_000,  # type: ignore[attr-defined]
                                 search_rate=100_000, timeout=CLIENT_TIMEOUT, backoff=0.01, max_backoff=0.05)
            conns.append(c)
        super().__init__(winner=winner, users=(HubSpotUser(self.sandboxes[0]), HubSpotUser(self.sandboxes[1])),
                         connectors=(conns[0], conns[1]), config=cfg, faults=self._set_faults,
                         fault_counts=self._counts, hit_known_bugs=hit_known_bugs)

    def _set_faults(self, rate: float, seed: int) -> None:
        for n, sb in enumerate(self.sandboxes):
            if rate <= 0:
                sb.clear_faults()
            else:
                sb.set_faults(rate_429=rate / 5, rate_500=rate / 5, rate_timeout=rate / 20,
                              hang_seconds=CLIENT_TIMEOUT + 0.05, rate_reset=rate / 5, reset_applied=0.5,
                              rate_half_batch=rate, seed=seed + n)

    def _counts(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for sb in self.sandboxes:
            out.update({k.removeprefix("fault_"): v for k, v in sb.counters.items() if k.startswith("fault_")})
        return out

    async def aclose(self) -> None:
        await super().aclose()
        for srv, sb in zip(self.servers, self.sandboxes, strict=True):
            srv.stop()
            sb.close()


def hubspot_world(winner: Side, hit_known_bugs: bool = False) -> World:
    return HubSpotWorld(winner, hit_known_bugs)
