"""Enumeration defaults that work: options paired by value and label similarity; a value with no
counterpart among the target's options is left out of the write instead of failing the record."""

from __future__ import annotations

from typing import Any

from accord.config import parse_config
from accord.engine.mapping import compile_sync, unmapped_values
from accord.engine.merge import NO_BASE, merge_field
from accord.engine.options import alike, did_you_mean, pair_options
from accord.engine.planner import PairInput, plan_create, plan_pair
from accord.model import FieldSchema, FieldType, ObjectSchema, Option, Record, Side

HS_INDUSTRIES = ["ACCOUNTING", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE",
                 "MARKETING_AND_ADVERTISING", "RETAIL", "AUTOMOTIVE", "CONSTRUCTION", "EDUCATION_MANAGEMENT",
                 "INFORMATION_TECHNOLOGY_AND_SERVICES"]
SF_INDUSTRIES = ["Agriculture", "Banking", "Communications", "Consulting", "Education", "Electronics", "Energy",
                 "Finance", "Healthcare", "Manufacturing", "Media", "Retail", "Technology", "Other"]


def _hs_opts() -> tuple[Option, ...]:
    return tuple(Option(v, v.replace("_", " ").title()) for v in HS_INDUSTRIES)


def _sf_opts() -> tuple[Option, ...]:
    return tuple(Option(v, v) for v in SF_INDUSTRIES)


HS = ObjectSchema("companies", {"name": FieldSchema("name", FieldType.TEXT),
                                "industry": FieldSchema("industry", FieldType.ENUM, "Industry", options=_hs_opts())})
SF = ObjectSchema("Account", {"Name": FieldSchema("Name", FieldType.TEXT),
                              "Industry": FieldSchema("Industry", FieldType.ENUM, "Industry", options=_sf_opts())})


def _sync(**extra: Any) -> Any:
    cfg = parse_config({"apps": {"hs": {"type": "hubspot", "token": "t"},
                                 "sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t"}},
                        "syncs": [{"name": "companies", "left": {"app": "hs", "object": "companies"},
                                   "right": {"app": "sf", "object": "Account"}, "match": [{"left": "name", "right": "Name"}],
                                   **extra}]}, env={})
    return cfg.syncs[0]


def _spec(**extra: Any) -> Any:
    spec, issues = compile_sync(_sync(**extra), "hubspot", "salesforce", HS, SF)
    assert issues == []
    return spec


def test_similar_labels_pair_and_opposites_do_not() -> None:
    assert pair_options(_sf_opts(), _hs_opts()) == {
        "Retail": "RETAIL", "Education": "EDUCATION_MANAGEMENT", "Technology": "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "Finance": "FINANCIAL_SERVICES", "Healthcare": "HOSPITAL_HEALTH_CARE"}
    for a, b in (("Mr.", "Mrs."), ("Lead", "Leadership"), ("Unqualified", "Qualified"), ("Closed Won", "Closed Lost"),
                 ("Open", "Open - Not Contacted"), ("Consulting", "Construction")):
        assert not alike(a, b), (a, b)
    assert alike("Communications", "Telecommunications") and alike("Healthcare", "Hospital Health Care")
    # deterministic: the same lists give the same map, whatever ran before
    assert pair_options(_sf_opts(), _hs_opts()) == pair_options(_sf_opts(), _hs_opts())


def test_did_you_mean() -> None:
    assert did_you_mean("fristname", ["firstname", "lastname"]) == "firstname"
    assert did_you_mean("Hubspt", ["Hubspot", "Kunden"]) == "Hubspot"
    assert did_you_mean("zzz", ["firstname"]) is None
    assert did_you_mean("Job title", ["jobtitle", "email"], {"jobtitle": "Job Title"}) == "jobtitle"


def test_default_industry_map_pairs_by_catalog_and_similarity() -> None:
    m = next(m for m in _spec().mappings if m.left == "industry")
    assert m.lr_values is not None and m.rl_values is not None
    assert m.lr_values["ACCOUNTING"] == "Finance"  # the catalog's map between the two vendors
    assert m.rl_values["Finance"] == "FINANCIAL_SERVICES" and m.rl_values["Technology"] == "COMPUTER_SOFTWARE"
    assert m.rl_values["Healthcare"] == "HOSPITAL_HEALTH_CARE"
    assert "Electronics" not in m.rl_values


def test_values_with_no_counterpart_are_reported_and_not_written() -> None:
    spec = _spec()
    found = {(u.mapping.left, u.to): u.values for u in unmapped_values(spec, HS, SF)}
    assert found == {("industry", Side.LEFT): ("Agriculture", "Banking", "Communications", "Consulting",
                                               "Electronics", "Energy")}
    # a Salesforce account in an industry HubSpot lacks is created without it, not failing
    plan = plan_create(spec, Record("a1", {"Name": "Acme", "Industry": "Electronics"}), Side.RIGHT)
    assert plan.create is Side.LEFT and plan.status is not None and plan.status.value == "syncing"
    assert plan.create_props == {"name": "Acme"}
    plan = plan_create(spec, Record("a2", {"Name": "Beta", "Industry": "Finance"}), Side.RIGHT)
    assert plan.create_props == {"name": "Beta", "industry": "FINANCIAL_SERVICES"}
    # on a linked pair the HubSpot field keeps its value
    m = next(m for m in spec.mappings if m.left == "industry")
    assert not merge_field(m, "RETAIL", "Electronics", "RETAIL", "Retail", Side.LEFT).write_left
    out = merge_field(m, None, "Energy", NO_BASE, NO_BASE, Side.RIGHT)
    assert not out.write_left and out.error is None
    pair = plan_pair(spec, PairInput(Record("h", {"name": "Acme", "industry": None}),
                                     Record("a", {"Name": "Acme", "Industry": "Energy"})))
    assert pair.status is not None and pair.status.value == "syncing" and not pair.update[Side.LEFT]


def test_user_value_maps_add_to_the_defaults_and_map_several_right_values_onto_one() -> None:
    spec = _spec(mappings=[{"left": "industry", "right": "Industry",
                            "values": {"FINANCIAL_SERVICES": "Finance", "COMPUTER_SOFTWARE": "Technology"},
                            "values_to_left": {"Finance": "FINANCIAL_SERVICES", "Banking": "FINANCIAL_SERVICES",
                                               "Electronics": "COMPUTER_SOFTWARE"}}])
    m = next(m for m in spec.mappings if m.left == "industry")
    assert m.rl_values is not None and m.lr_values is not None
    assert {k: m.rl_values[k] for k in ("Finance", "Banking", "Electronics")} == {
        "Finance": "FINANCIAL_SERVICES", "Banking": "FINANCIAL_SERVICES", "Electronics": "COMPUTER_SOFTWARE"}
    # a user's map adds to the defaults (the catalog's and similar labels), it does not replace them
    assert m.rl_values["Healthcare"] == "HOSPITAL_HEALTH_CARE" and m.lr_values["RETAIL"] == "Retail"
    plan = plan_create(spec, Record("a1", {"Name": "Acme", "Industry": "Banking"}), Side.RIGHT)
    assert plan.create_props["industry"] == "FINANCIAL_SERVICES"
    to_left = next(u for u in unmapped_values(spec, HS, SF) if u.to is Side.LEFT)
    assert "Banking" not in to_left.values and "Agriculture" in to_left.values
