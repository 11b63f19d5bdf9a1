"""The setup flow's draft with a Contacts-and-Leads side (Contact/Lead routing): the object and
its ``new_records_as`` setting survive editing and saving."""

from __future__ import annotations

from typing import Any

from accord.config import parse_config
from accord.service.setup_flow import Draft, _apply_objects


def _cfg(right: dict[str, Any]) -> Any:
    return parse_config({"apps": {"hs": {"type": "hubspot", "token": "t"},
                                  "sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t"}},
                         "syncs": [{"name": "contacts", "left": {"app": "hs", "object": "contacts"}, "right": right}]},
                        env={})


def test_draft_keeps_the_routed_object_and_new_records_as() -> None:
    d = Draft.from_sync(_cfg({"app": "sf", "object": ["Contact", "Lead"], "new_records_as": "Contact"}).syncs[0])
    assert (d.right_object, d.new_records_as) == ("Contact+Lead", "Contact")
    out = d.config()
    assert out["right"] == {"app": "sf", "object": "Contact+Lead", "new_records_as": "Contact"}
    assert _cfg(out["right"]).syncs[0].right.connector_object() == "Contact+Lead>Contact"
    # the objects step: the choice is kept for the routed object, dropped for any other
    form = {"name": ["contacts"], "left_app": ["hs"], "left_object": ["contacts"], "right_app": ["sf"],
            "right_object": ["Contact+Lead"], "new_records_as": ["Lead"]}
    assert _apply_objects(d, form, "next") is None and d.new_records_as == "Lead"
    assert _apply_objects(d, {**form, "right_object": ["Contact"]}, "next") is None and d.new_records_as == ""
    assert "new_records_as" not in d.config()["right"]
