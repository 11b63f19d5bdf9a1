"""The setup flow's forms over HTTP (the browser tests walk the same pages): what each control
does to the draft, with two memory apps."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest
from service_world import World, login

from accord.model import FieldSchema, FieldType, Option


class Flow:
    """One draft through the steps, posted as the page's form would post it."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        page = client.get("/setup").text
        self.csrf = page.split('csrf_token" value="')[1].split('"')[0]
        self.draft = self._draft(page)
        self.page = page

    @staticmethod
    def _draft(page: str) -> dict[str, Any]:
        m = re.search(r'name="draft" value="([^"]*)"', page)
        assert m, page[:2000]
        out: dict[str, Any] = json.loads(html.unescape(m.group(1)))
        return out

    def post(self, step: str, action: str = "refresh", status: int = 200, **fields: Any) -> str:
        data: dict[str, Any] = {"draft": json.dumps(self.draft), "csrf_token": self.csrf, "action": action, **fields}
        r = self.client.post(f"/setup/{step}", data=data)
        error = re.search(r'id="setup-error">([^<]*)', r.text)
        assert r.status_code == status, (r.status_code, error.group(1) if error else r.text[:3000])
        self.page = r.text
        self.draft = self._draft(r.text)
        return r.text


@pytest.fixture
def flow(world: World) -> Flow:
    return Flow(login(world.url))


def _to_mappings(flow: Flow, obj: str = "deals") -> None:
    flow.post("objects", "next", name="pipeline", left_app="a", left_object=obj, right_app="b", right_object=obj)
    flow.post("direction", "next", direction="two-way", winner="")
    assert 'data-step="mappings"' in flow.page


def test_each_side_lists_only_its_apps_objects_and_a_new_app_resets_the_object(flow: Flow, world: World) -> None:
    assert '<option value="contacts"' in flow.page
    flow.post("objects", name="x", left_app="a", left_object="deals", right_app="b", right_object="deals")
    assert flow.draft["left_object"] == "deals"
    flow.post("objects", name="x", left_app="b", left_object="deals", right_app="b", right_object="deals")
    assert flow.draft["left_app"] == "b" and flow.draft["left_object"] == ""  # b's objects are shown now
    flow.post("objects", "next", 422, name="x", left_app="b", left_object="", right_app="b", right_object="deals")
    assert "pick an object in each app" in flow.page


def test_deal_stages_have_their_table_not_a_value_map(flow: Flow) -> None:
    _to_mappings(flow)
    stage = re.search(r'<tr class="mapping[^"]*" data-left="stage".*?</tr>', flow.page, re.S)
    assert stage is not None and "values:" not in stage.group(0)
    assert 'id="stages"' in flow.page and 'id="unmapped"' not in flow.page


def test_default_rules_values_and_confirmed_replacements(flow: Flow, world: World) -> None:
    for app in (world.left, world.right):  # an enumeration both apps have, with options that differ
        app.add_field("deals", FieldSchema("priority", FieldType.ENUM, "Priority", options=tuple(
            Option(v, v.title()) for v in (["low", "high", "urgent"] if app is world.left else ["Low", "High"]))))
    world.right.add_field("deals", FieldSchema("total", FieldType.NUMBER, "Total"))
    _to_mappings(flow)
    flow.post("mappings", "add", new_left="priority", new_right="priority")
    assert "urgent" in flow.page and "have no counterpart" in flow.page
    # the value editor: "urgent" has no counterpart; saving keeps only what differs from the pairing
    flow.post("mappings", "values:priority|priority")
    assert 'id="value-map"' in flow.page
    flow.post("mappings", "values_save", lr_0="Low", lr_1="High", lr_2="High", rl_0="low", rl_1="high")
    m = next(m for m in flow.draft["mappings"] if m["left"] == "priority")
    assert m["values"] == {"urgent": "High"} and "values_to_left" not in m
    assert "have no counterpart" not in flow.page
    # a default's rule: restated as the user's own mapping, and back
    rows = re.findall(r'name="dkey_(\d+)" value="([^"]+)"', flow.page)
    i = next(i for i, key in rows if key == "amount|amount")
    fields = {f"dkey_{j}": key for j, key in rows}
    flow.post("mappings", **fields, **{f"drule_{i}": "prefer-left-unless-blank"})
    assert {"left": "amount", "right": "amount", "rule": "prefer-left-unless-blank"} in flow.draft["mappings"]
    flow.post("mappings", **fields, **{f"drule_{i}": ""})
    assert not any(m["left"] == "amount" for m in flow.draft["mappings"])
    # replacing a default asks first; cancelling adds nothing, confirming replaces it
    flow.post("mappings", "add", new_left="amount", new_right="total")
    assert 'id="confirm-replace"' in flow.page and flow.draft["pending"] == {"left": "amount", "right": "total"}
    assert "Amount ↔ Amount" in flow.page  # the default it replaces, by label
    flow.post("mappings", "cancel_add")
    assert flow.draft["pending"] is None and not any(m["right"] == "total" for m in flow.draft["mappings"])
    flow.post("mappings", "add", new_left="amount", new_right="total")
    flow.post("mappings", "confirm_add")
    assert {"left": "amount", "right": "total"} in flow.draft["mappings"]
    assert 'data-left="amount" data-right="amount"' not in flow.page
    # a required default cannot be replaced
    flow.post("mappings", "add", 422, new_left="close_date", new_right="name")
    assert "is a required mapping and cannot be replaced" in flow.page


def test_records_and_options_steps_fill_every_setting(flow: Flow, world: World) -> None:
    world.left.lists["VIPs"] = set()
    flow.post("objects", "next", name="people", left_app="a", left_object="deals", right_app="b", right_object="deals")
    flow.post("direction", "next", direction="left-to-right", winner="")
    flow.post("mappings", "next")
    flow.post("filters", filter_side="left", filter_field="amount", filter_op="gte")
    assert 'id="filter_value" name="filter_value" type="number"' in flow.page
    flow.post("filters", "filter_add", filter_side="left", filter_field="amount", filter_op="gte", filter_value="100",
              inclusion_side="left")
    assert '<option value="VIPs"' in flow.page
    flow.post("filters", "next", filter_side="left", inclusion_side="left", inclusion_list="VIPs", match_mode="custom",
              match_left="name", match_right="name", created_after="2024-05-01T10:00")
    assert 'data-step="options"' in flow.page
    flow.post("options", "next", deletes="mark", guard_share="20", guard_floor="5", poll="5m")
    cfg = flow.draft
    assert cfg["filters_left"] == [{"field": "amount", "op": "gte", "value": "100"}]
    assert (cfg["inclusion_side"], cfg["inclusion_list"]) == ("left", "VIPs")
    assert cfg["match"] == [{"left": "name", "right": "name"}] and cfg["require_match_key"] is False
    assert (cfg["deletes"], cfg["guard_share"], cfg["guard_floor"], cfg["poll"]) == ("mark", "20", "5", "5m")
    r = flow.client.post("/setup/review", data={"draft": json.dumps(flow.draft), "csrf_token": flow.csrf,
                                                "action": "next"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    saved = world.client.get("/api/syncs/people/config").json()
    assert saved["delete_guard"] == {"share": 0.2, "floor": 5} and saved["poll"] == 300.0
    assert saved["inclusion"] == {"side": "left", "list": "VIPs"} and saved["require_match_key"] is False


def test_a_filter_value_the_field_does_not_have_stops_the_step(flow: Flow) -> None:
    flow.post("objects", "next", name="people", left_app="a", left_object="contacts", right_app="b",
              right_object="deals")
    flow.draft["filters_left"] = [{"field": "lead_status", "op": "eq", "value": "opne"}]
    flow.post("direction", "next", direction="two-way", winner="")
    flow.post("mappings", "next")
    flow.post("filters", "next", 422, match_mode="default", require_match_key="on")
    assert "did you mean &#39;open&#39;?" in flow.page
