"""Default enumeration value maps between vendors (catalog.VALUE_MAPS) in compiled syncs."""

from __future__ import annotations

from accord import catalog
from accord.config import parse_config
from accord.engine.mapping import compile_sync
from accord.model import FieldSchema, FieldType, ObjectSchema, Option


def _schema(obj: str, fields: dict[str, list[str] | None]) -> ObjectSchema:
    return ObjectSchema(obj, {n: FieldSchema(n, FieldType.ENUM if opts else FieldType.TEXT,
                                             options=tuple(Option(o, o.title()) for o in opts or ()))
                              for n, opts in fields.items()})


def _sync(left: str, right: str) -> object:
    cfg = parse_config({"apps": {"hs": {"type": "hubspot", "token": "t"},
                                 "sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t"}},
                        "syncs": [{"name": "s", "left": {"app": left[0], "object": left[1]},
                                   "right": {"app": right[0], "object": right[1]}}]}, env={})
    return cfg.syncs[0]


HS = _schema("contacts", {"firstname": None, "lastname": None, "email": None,
                          "hs_lead_status": ["NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED", "CUSTOM"]})
SF = _schema("Lead", {"FirstName": None, "LastName": None, "Email": None,
                      "Status": ["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"]})


def test_lead_status_value_map_both_ways() -> None:
    spec, issues = compile_sync(_sync(("hs", "contacts"), ("sf", "Lead")), "hubspot", "salesforce", HS, SF)  # type: ignore[arg-type]
    assert issues == []
    m = next(m for m in spec.mappings if m.left == "hs_lead_status")
    assert m.to_right and m.to_left
    # only options both apps have; several HubSpot values may land on one Salesforce value
    assert m.lr_values == {"NEW": "Open - Not Contacted", "IN_PROGRESS": "Working - Contacted",
                           "UNQUALIFIED": "Closed - Not Converted", "OPEN": "Open - Not Contacted"}
    # back to HubSpot, the first value listed for a Salesforce value wins
    assert m.rl_values == {"Open - Not Contacted": "NEW", "Working - Contacted": "IN_PROGRESS",
                           "Closed - Not Converted": "UNQUALIFIED"}


def test_value_map_reversed_when_salesforce_is_left() -> None:
    spec, issues = compile_sync(_sync(("sf", "Lead"), ("hs", "contacts")), "salesforce", "hubspot", SF, HS)  # type: ignore[arg-type]
    assert issues == []
    m = next(m for m in spec.mappings if m.left == "Status")
    assert m.lr_values == {"Open - Not Contacted": "NEW", "Working - Contacted": "IN_PROGRESS",
                           "Closed - Not Converted": "UNQUALIFIED"}
    assert catalog.default_values("memory", "memory", "lead_status") is None
