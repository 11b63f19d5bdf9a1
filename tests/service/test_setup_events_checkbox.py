"""The setup flow's "Sync events from <app> to HubSpot" checkbox (direction step): offered for
HubSpot contacts with Snov.io prospects or Salesforce contacts/leads only, saved as ``events: true``."""

from __future__ import annotations

from typing import Any

from accord.config import SyncConfig
from accord.service.setup_flow import Draft, apply_step, event_app
from accord.service.web import templates


def _draft(left: str, right: str) -> Draft:
    return Draft(name="s", left_app="hs", left_object=left, right_app="other", right_object=right)


def test_the_checkbox_is_offered_for_event_pairs_only() -> None:
    assert event_app(_draft("contacts", "prospects"), ("hubspot", "snovio")) == "other"
    assert event_app(_draft("contacts", "Lead"), ("hubspot", "salesforce")) == "other"
    assert event_app(Draft(left_app="sf", left_object="Contact", right_app="hs", right_object="contacts"),
                     ("salesforce", "hubspot")) == "sf"
    assert event_app(_draft("companies", "Account"), ("hubspot", "salesforce")) == ""
    assert event_app(_draft("contacts", "contacts"), ("hubspot", "memory")) == ""


def test_ticking_it_saves_events_true_and_editing_shows_it_ticked() -> None:
    d = _draft("contacts", "prospects")
    form: dict[str, list[str]] = {"direction": ["two-way"], "winner": [""], "events": ["on"]}
    assert apply_step(d, "direction", form, "next", ("hubspot", "snovio"), None) is None
    assert d.events and d.config()["events"] is True
    again = Draft.from_sync(SyncConfig.model_validate(d.config()))
    assert again.events
    apply_step(again, "direction", {"direction": ["two-way"], "winner": [""]}, "next", ("hubspot", "snovio"), None)
    assert not again.events and "events" not in again.config()  # unticked: the key is left out
    other = _draft("contacts", "contacts")
    apply_step(other, "direction", form, "next", ("hubspot", "memory"), None)
    assert not other.events  # not offered, so not taken from a forged form


def _direction_page(d: Draft, event_app_name: str) -> str:
    ctx: dict[str, Any] = {"d": d, "step": "direction", "steps": ("objects", "direction"),
                           "titles": {"objects": "Apps and objects", "direction": "Direction"},
                           "event_app": event_app_name, "csrf_token": "x", "draft_json": "{}"}
    return templates.get_template("setup.html").render(**ctx)


def test_the_direction_step_shows_the_checkbox_with_the_apps_name() -> None:
    d = _draft("contacts", "prospects")
    d.events = True
    page = _direction_page(d, "snov")
    assert "Sync events from snov to HubSpot" in page and 'name="events" checked' in page
    assert 'name="events"' not in _direction_page(_draft("contacts", "contacts"), "")
