"""Notifications (issue #19): e-mail through a real SMTP server on loopback when an initial sync
completes, when failing records rise past the threshold, when an app refuses its credentials;
``notifications:`` in accord.yaml validated with key paths."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_world import World
from smtp import Inbox, smtp_server, text_of

from accord.config import ConfigError, parse_config
from accord.model import AuthError


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


def _cfg(notifications: Any) -> dict[str, Any]:
    return {"apps": {"a": {"type": "memory"}, "b": {"type": "memory"}}, "notifications": notifications}


def test_the_notifications_section_is_checked_with_key_paths() -> None:
    parse_config(_cfg({"urls": ["mailtos://u:p@smtp.example.com?to=ops@example.com", "slack://T1/B1/X1"]}), env={})
    with pytest.raises(ConfigError) as bad:
        parse_config(_cfg({"urls": ["mailto://u:secret@smtp.example.com?to=a@b.c", "smtp.example.com"],
                           "events": ["initial_sync", "done"], "failing_threshold": -1}), env={})
    lines = bad.value.render().splitlines()
    assert lines[0].startswith("accord.yaml: notifications.events[1]: Input should be 'initial_sync', 'failing'")
    assert lines[1] == "accord.yaml: notifications.failing_threshold: Input should be greater than or equal to 0"
    with pytest.raises(ConfigError) as url:
        parse_config(_cfg({"urls": ["mailto://u:secret@smtp.example.com?to=a@b.c", "smtp.example.com"]}), env={})
    assert url.value.render().startswith("accord.yaml: notifications.urls[1]: not a notification URL Accord can use; "
                                         "e.g. mailtos://user:password@smtp.example.com?to=you@example.com")
    with pytest.raises(ConfigError) as empty:
        parse_config(_cfg({"urls": []}), env={})
    assert "notifications.urls: List should have at least 1 item" in empty.value.render()


def test_initial_sync_and_failing_records_are_e_mailed(tmp_path: Path, inbox: Inbox) -> None:
    with World(tmp_path, notifications={"urls": [inbox.url()], "failing_threshold": 1,
                                        "dashboard_url": "https://accord.example.com"}) as world:
        world.run_pass()
        done = inbox.wait_for("the initial sync of contacts is done")
        assert done["To"] == "ops@example.com" and done["From"] == "accord@example.com"
        body = text_of(done)
        assert "The initial sync of contacts (a contacts ↔ b contacts) is done." in body
        assert "2 records syncing, 2 failing, 1 excluded." in body
        assert "Created 0 in a and 2 in b" in body
        assert "See https://accord.example.com/syncs/contacts" in body
        failing = inbox.wait_for("2 records of contacts are failing")
        assert "more than the 1 this notification is set for" in text_of(failing)
        assert "https://accord.example.com/syncs/contacts/records?status=failing" in text_of(failing)
        # the next pass changes nothing: nothing is told again
        world.run_pass()
        world.service.notifier.sent.clear()
        world.run_pass()
        assert world.service.notifier.sent == []
        assert len(inbox.messages) == 2


def test_refused_credentials_are_told_once_until_a_pass_succeeds(tmp_path: Path, inbox: Inbox,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with World(tmp_path, notifications={"urls": [inbox.url()], "events": ["credentials"]}) as world:
        world.run_pass()
        real = world.right.describe

        async def refused(obj: str) -> Any:
            raise AuthError("b rejected the credentials: token expired")

        world.right.describe = refused  # type: ignore[method-assign]
        world.service.slot("contacts").runner.spec = None  # the next pass reads the schemas again
        caplog.set_level(logging.CRITICAL, logger="accord.service")
        for _ in range(2):
            assert world.run_pass()["status"] == "failed"
        mail = inbox.wait_for("b refused the credentials")
        assert "The app b refused Accord's credentials, so the sync contacts stopped" in text_of(mail)
        assert len(world.service.notifier.sent) == 1  # told once, not at each failing pass
        world.right.describe = real  # type: ignore[method-assign]
        assert world.run_pass()["status"] == "ok"
        world.right.describe = refused  # type: ignore[method-assign]
        world.service.slot("contacts").runner.spec = None
        world.run_pass()
        assert len(world.service.notifier.sent) == 2  # working again in between: told again
