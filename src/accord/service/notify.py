"""Notifications by e-mail and chat (accord.yaml ``notifications:``), sent through apprise.

Three events, each told once until things change:

- ``initial_sync`` — a sync's initial sync finished (what HubSpot Data Sync e-mails): its
  counts, what it created in each app, and a link to the sync's page;
- ``failing`` — a sync's failing records rose past ``failing_threshold``; told again only after
  they fell back to the threshold or below;
- ``credentials`` — an app refused its credentials during a pass; told again only after a pass
  with that app succeeded.

Sending never holds up a pass: each message goes out in a task of its own, and a failure to
send is logged. The URLs hold credentials: they are masked in every log record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from accord import redact
from accord.config import Notifications, SyncConfig
from accord.index import Store
from accord.model import AuthError
from accord.runner import PassResult

log = logging.getLogger("accord.service")

Sender = Callable[[str, str], Awaitable[bool]]


def url_secrets(url: str) -> list[str]:
    """What of a notification URL must never be logged: the URL, its password and secret-named
    parameters, and every long path segment (Slack and Teams put their tokens there)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    segments = [p for p in [parts.netloc.rpartition("@")[2], *parts.path.split("/")] if len(p) >= 12]
    return [url, *redact.url_secrets(url), *segments]


class Notifier:
    """Decides what to tell after each pass and sends it (``send``: tests replace apprise)."""

    def __init__(self, cfg: Notifications | None, store: Store, *, link: str | None = None,
                 send: Sender | None = None) -> None:
        self.store = store
        self.default_link = link  # the dashboard's address, for the link in each message
        self._send = send
        self.cfg: Notifications | None = None
        self._apprise: Any = None
        self.above: dict[str, bool] = {}  # sync -> failing records past the threshold (told)
        self.refused: set[str] = set()  # apps (or syncs, when the app is unknown) told about
        self.sent: list[tuple[str, str]] = []  # (title, body) of every message handed over to send
        self._tasks: set[asyncio.Task[Any]] = set()
        self.configure(cfg)

    def configure(self, cfg: Notifications | None) -> None:
        """Use these settings from now on (start-up, and each reload of accord.yaml)."""
        self.cfg = cfg
        self._apprise = None
        self.link = (cfg.dashboard_url if cfg is not None and cfg.dashboard_url else None) or self.default_link
        if cfg is not None:
            redact.register(v for url in cfg.urls for v in url_secrets(url))

    def use_link(self, url: str) -> None:
        """Where the dashboard is (``notifications.dashboard_url`` wins)."""
        self.default_link = url
        self.configure(self.cfg)

    def watch(self, name: str) -> None:
        """Start from the sync's present failing count: a restart over many failing records tells nothing."""
        if self.cfg is not None:
            self.above[name] = self.store.counts(name).get("failing", 0) > self.cfg.failing_threshold

    # -- after each pass ---------------------------------------------------------------------
    def after_pass(self, s: SyncConfig, was_initial: bool, result: PassResult | None, error: BaseException | None) -> None:
        """What a finished (``result``) or failed (``error``) pass of sync ``s`` has to tell."""
        if self.cfg is None:
            return
        if error is not None:
            if _refused(error):
                self._credentials(s, error)
            return
        self.refused -= {s.left.app, s.right.app, s.name}
        counts = self.store.counts(s.name)
        if was_initial and result is not None and (state := self.store.sync_state(s.name)) and state.initial_done:
            self._initial(s, result, counts)
        self._failing(s, counts.get("failing", 0))

    def _initial(self, s: SyncConfig, result: PassResult, counts: dict[str, int]) -> None:
        created = result.counters.created
        body = (f"The initial sync of {s.name} ({_sides(s)}) is done.\n\n"
                f"{counts.get('syncing', 0)} records syncing, {counts.get('failing', 0)} failing, "
                f"{counts.get('excluded', 0)} excluded.\n"
                f"Created {created['left']} in {s.left.app} and {created['right']} in {s.right.app}; updated "
                f"{result.counters.updated['left']} in {s.left.app} and {result.counters.updated['right']} in "
                f"{s.right.app}.\n\nFrom now on changes in either app are synced as they happen."
                + self._see(s.name))
        self._tell("initial_sync", f"Accord: the initial sync of {s.name} is done", body)

    def _failing(self, s: SyncConfig, failing: int) -> None:
        assert self.cfg is not None
        limit = self.cfg.failing_threshold
        if failing <= limit:
            self.above[s.name] = False
            return
        if self.above.get(s.name):
            return
        self.above[s.name] = True
        body = (f"{failing} records of the sync {s.name} ({_sides(s)}) are failing, more than the "
                f"{limit} this notification is set for (notifications.failing_threshold).\n\n"
                "Each failing record shows why and what to do about it on the sync's record list; "
                "once fixed, the records sync with the next pass." + self._see(s.name, "/records?status=failing"))
        self._tell("failing", f"Accord: {failing} records of {s.name} are failing", body)

    def _credentials(self, s: SyncConfig, error: BaseException) -> None:
        text = redact.scrub(str(error))
        app = getattr(error, "app", "") or next((a for a in (s.left.app, s.right.app) if text.startswith(a)), None)
        key = app or s.name
        if key in self.refused:
            return
        self.refused.add(key)
        who = f"The app {app}" if app else f"An app of the sync {s.name}"
        body = (f"{who} refused Accord's credentials, so the sync {s.name} stopped: {text}\n\n"
                f"Renew the token or password of {app or 'the app'} (in accord.yaml, or on the dashboard for an "
                "app added there); the next pass picks up where this one stopped." + self._see(s.name))
        self._tell("credentials", f"Accord: {app or s.name} refused the credentials", body)

    def _see(self, name: str, tail: str = "") -> str:
        return f"\n\nSee {self.link.rstrip('/')}/syncs/{name}{tail}" if self.link else ""

    # -- sending -------------------------------------------------------------------------------
    def _tell(self, event: str, title: str, body: str) -> None:
        assert self.cfg is not None
        if event not in self.cfg.events:
            return
        self.sent.append((title, body))
        try:
            task = asyncio.get_running_loop().create_task(self._deliver(title, body))
        except RuntimeError:  # no loop (a synchronous caller): nothing can be sent from here
            log.warning("notification not sent (no event loop): %s", title)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, title: str, body: str) -> None:
        try:
            ok = await (self._send or self._apprise_send)(title, body)
        except Exception:
            log.exception("notification %r could not be sent", title)
            return
        if not ok:
            log.error("notification %r could not be sent to every URL of notifications.urls", title)

    async def _apprise_send(self, title: str, body: str) -> bool:
        import apprise

        assert self.cfg is not None
        if self._apprise is None:
            self._apprise = apprise.Apprise()
            for url in self.cfg.urls:
                self._apprise.add(url)
        return bool(await self._apprise.async_notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))

    async def drain(self) -> None:
        """Wait for the messages being sent (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _sides(s: SyncConfig) -> str:
    arrow = {"two-way": "↔", "left-to-right": "→", "right-to-left": "←"}[s.direction]
    return f"{s.left.app} {s.left.label()} {arrow} {s.right.app} {s.right.label()}"


def _refused(error: BaseException) -> bool:
    """Whether a pass failed because an app refused its credentials (directly or as the cause)."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, AuthError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
