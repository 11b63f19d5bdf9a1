"""accord.engine.events: which app events become which timeline events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from accord.engine.events import (
    NO_CONTACT_IN_HUBSPOT,
    NOT_A_CONTACT,
    AppEvent,
    emails_to_look_up,
    plan_events,
    timeline_id,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _e(eid: str, email: str | None, record: str | None = None, contact: bool = True) -> AppEvent:
    return AppEvent(eid, "opened", AT, email, record, contact)


def test_the_link_wins_then_the_email_and_the_rest_is_dropped_with_its_reason() -> None:
    events = [_e("1", "ann@x.com", "003A"), _e("2", " Bob@X.com "), _e("3", "ghost@x.com"),
              _e("4", None, None, contact=False), _e("5", None, "003Z")]
    by_record = {"003A": "hs-ann-linked"}
    assert emails_to_look_up(events, by_record) == ["bob@x.com", "ghost@x.com"]  # Ann's link is enough
    plan = plan_events(events, by_record, {"bob@x.com": "hs-bob", "ann@x.com": "hs-ann-by-email"})
    assert [(e.id, cid) for e, cid in plan.writes] == [("1", "hs-ann-linked"), ("2", "hs-bob")]
    assert plan.dropped == {NO_CONTACT_IN_HUBSPOT: 2, NOT_A_CONTACT: 1}


def test_timeline_ids_are_stable_and_per_app() -> None:
    assert timeline_id("snovio", "abc") == timeline_id("snovio", "abc")
    assert timeline_id("snovio", "abc") != timeline_id("salesforce", "abc")
    assert timeline_id("snovio", "abc") != timeline_id("snovio", "abd")
