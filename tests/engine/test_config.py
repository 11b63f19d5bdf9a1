"""accord.yaml parsing and validation: every error names the file, the key path and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.config import ConfigError, config_hash, load_config, parse_config, parse_duration
from accord.connectors.memory import MemoryApp
from accord.engine.mapping import compile_sync


def doc(**sync: Any) -> dict[str, Any]:
    base = {"name": "contacts", "left": {"app": "hs", "object": "contacts"}, "right": {"app": "sf", "object": "Contact"}}
    base.update(sync)
    return {"apps": {"hs": {"type": "hubspot", "token": "${HS_TOKEN}"},
                     "sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t"}},
            "syncs": [base]}


def issues(raw: Any, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as e:
        parse_config(raw, "accord.yaml", env={"HS_TOKEN": "x"} if env is None else env)
    return e.value.render().splitlines()


def test_valid_config_with_env_expansion() -> None:
    cfg = parse_config(doc(mappings=[{"left": "phone", "right": "Phone", "rule": "prefer-right-unless-blank"}]),
                       env={"HS_TOKEN": "secret"})
    assert cfg.apps["hs"].token == "secret"  # type: ignore[union-attr]
    assert cfg.apps["hs"].poll == 300.0
    assert cfg.syncs[0].mappings[0].rule == "prefer-right-unless-blank"


def test_missing_env_var_is_named() -> None:
    assert issues(doc(), env={}) == ["accord.yaml: apps.hs.token: environment variable HS_TOKEN is not set"]


def test_unknown_keys_are_rejected_with_their_path() -> None:
    raw = doc(mappings=[{"left": "phone", "right": "Phone", "rulez": "x"}])
    raw["apps"]["sf"]["colour"] = "red"
    assert issues(raw) == ["accord.yaml: apps.sf.colour: unknown key"]
    raw = doc(mappings=[{"left": "phone", "right": "Phone", "rulez": "x"}])
    assert issues(raw) == ["accord.yaml: syncs[0].mappings[0].rulez: unknown key"]


def test_bad_rule_and_unknown_app() -> None:
    out = issues(doc(mappings=[{"left": "phone", "right": "Phone", "rule": "sometimes"}]))
    assert out[0].startswith("accord.yaml: syncs[0].mappings[0].rule: Input should be")
    raw = doc()
    raw["syncs"][0]["right"]["app"] = "nope"
    assert issues(raw) == ["accord.yaml: syncs[0].right.app: unknown app 'nope'; defined: hs, sf"]


def test_field_mapped_twice() -> None:
    out = issues(doc(mappings=[{"left": "phone", "right": "Phone"}, {"left": "mobilephone", "right": "Phone"}]))
    assert out == ["accord.yaml: syncs[0].mappings[1].right: field 'Phone' is mapped twice (also in mappings[0])"]


def test_required_mapping_cannot_change_or_go_missing() -> None:
    out = issues(doc(mappings=[{"left": "email", "right": "Secondary_Email__c"}]))
    assert out == ["accord.yaml: syncs[0].mappings[0].right: email ↔ Email is a required mapping and cannot be changed"]
    out = issues(doc(defaults=False, mappings=[{"left": "email", "right": "Email"}]))
    assert "accord.yaml: syncs[0].mappings: required mapping firstname ↔ FirstName is missing" in out
    assert len(out) == 2


def test_type_incompatible_mapping_against_schemas() -> None:
    raw = {"apps": {"a": {"type": "memory"}, "b": {"type": "memory"}}, "syncs": [{
        "name": "s", "left": {"app": "a", "object": "contacts"}, "right": {"app": "b", "object": "contacts"},
        "mappings": [{"left": "phone", "right": "phone"}, {"left": "score", "right": "vip"},
                     {"left": "birthday", "right": "notes"}, {"left": "notes", "right": "score", "direction": "left-to-right"}]}]}
    cfg = parse_config(raw, env={})
    a = MemoryApp("a")
    schema = a.objects["contacts"].schema
    from accord.model import ObjectSchema
    s = ObjectSchema("contacts", schema)
    spec, errs = compile_sync(cfg.syncs[0], "memory", "memory", s, s, path="syncs[0]")
    assert [(e.path, e.message) for e in errs] == [
        ("syncs[0].mappings[1].right", "type-incompatible: score (number) ↔ vip (bool)"),
        ("syncs[0].mappings[3].right", "type-incompatible: notes (text) ↔ score (number) can only flow right to left"),
    ]
    # date → text is allowed one way only: the mapping narrows to left-to-right
    m = next(m for m in spec.mappings if m.left == "birthday")
    assert (m.to_right, m.to_left) == (True, False)


def test_load_config_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "accord.yaml"
    p.write_text("apps: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(p) in e.value.render() and "not valid YAML" in e.value.render()
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")


def test_durations_and_hash() -> None:
    assert parse_duration("5m") == 300 and parse_duration("1h") == 3600 and parse_duration(30) == 30
    with pytest.raises(ValueError):
        parse_duration("soon")
    a = parse_config(doc(), env={"HS_TOKEN": "x"}).syncs[0]
    b = parse_config(doc(direction="left-to-right"), env={"HS_TOKEN": "x"}).syncs[0]
    assert config_hash(a) != config_hash(b)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(json_like, st.fixed_dictionaries({"apps": json_like, "syncs": json_like})))
def test_fuzz_config_never_crashes(raw: Any) -> None:
    """Any document either parses or gives a ConfigError: never another exception."""
    try:
        parse_config(raw, env={})
    except ConfigError as e:
        assert e.issues


def test_deletes_default_by_direction_and_vendor_pair() -> None:
    from accord.catalog import pair_rules
    from accord.config import SyncConfig, effective_deletes

    def sync(**kw: Any) -> SyncConfig:
        return SyncConfig.model_validate({"name": "s", "left": {"app": "a", "object": "contacts"},
                                          "right": {"app": "b", "object": "prospects"}, **kw})

    assert effective_deletes(sync(), "hubspot", "salesforce") == "mark"
    assert effective_deletes(sync(direction="left-to-right"), "hubspot", "salesforce") == "propagate"
    # Snov.io's integrations sync deletes both ways (seed 000), whatever the other app and side
    for pair in (("hubspot", "snovio"), ("snovio", "hubspot"), ("snovio", "salesforce"), ("sql", "snovio")):
        assert effective_deletes(sync(), *pair) == "propagate"
    assert effective_deletes(sync(deletes="mark"), "hubspot", "snovio") == "mark"  # explicit wins
    assert pair_rules("salesforce", "hubspot").match_once_outside_list
    assert not pair_rules("hubspot", "xentral").match_once_outside_list


@pytest.mark.parametrize(("given", "means"), [("true", True), ("False", False), ("no", False), ("1", True),
                                              ("/etc/ssl/ca.pem", "/etc/ssl/ca.pem"), (False, False)])
def test_salesforce_verify_from_an_environment_variable(given: str | bool, means: str | bool) -> None:
    """``verify: ${SF_VERIFY}`` reaches the settings as a string: "true"/"false" are booleans, not CA files."""
    verify = "${SF_VERIFY}" if isinstance(given, str) else given  # a plain YAML boolean stays one
    raw = {"apps": {"sf": {"type": "salesforce", "instance_url": "https://x", "access_token": "t", "verify": verify},
                    "m": {"type": "memory"}}}
    cfg = parse_config(raw, env={"SF_VERIFY": str(given)})
    assert cfg.apps["sf"].verify == means  # type: ignore[attr-defined]


def test_contact_lead_routing_config() -> None:
    routed = {"app": "sf", "object": ["Lead", "Contact"], "new_records_as": "Contact"}
    s = parse_config(doc(right=routed), env={"HS_TOKEN": "x"}).syncs[0]
    assert s.right.routed and s.right.connector_object() == "Contact+Lead>Contact"
    assert s.model_dump(mode="json")["right"]["object"] == ["Contact", "Lead"]  # written back as a list
    default = parse_config(doc(right={"app": "sf", "object": ["Contact", "Lead"]}), env={"HS_TOKEN": "x"}).syncs[0]
    assert default.right.connector_object() == "Contact+Lead" and config_hash(default) != config_hash(s)
    # any other list names the key; exit code 2 is ConfigError's
    assert issues(doc(right={"app": "sf", "object": ["Contact", "Account"]})) == [
        "accord.yaml: syncs[0].right.object: Value error, a list of objects can only be [Contact, Lead]: a Salesforce "
        "side that syncs HubSpot contacts with Contacts and Leads; name one object otherwise"]
    # only a Salesforce side facing HubSpot contacts
    assert issues(doc(left={"app": "hs", "object": "companies"}, right={"app": "sf", "object": ["Contact", "Lead"]})) \
        == ["accord.yaml: syncs[0].right.object: [Contact, Lead] is a Salesforce side synced with HubSpot contacts "
            "only (Contact/Lead routing); name one object here"]
    assert issues(doc(left={"app": "sf", "object": ["Contact", "Lead"]}, right={"app": "hs", "object": "companies"}))[0] \
        .startswith("accord.yaml: syncs[0].left.object: [Contact, Lead] is a Salesforce side")
    assert issues(doc(right={"app": "sf", "object": "Contact", "new_records_as": "Lead"})) == [
        "accord.yaml: syncs[0].right.new_records_as: only with object: [Contact, Lead]"]
    assert issues(doc(right={"app": "sf", "object": ["Contact", "Lead"], "new_records_as": "Account"}))[0].startswith(
        "accord.yaml: syncs[0].right.new_records_as: Input should be 'Lead' or 'Contact'")


@pytest.mark.parametrize("other", ["Contact", "Lead"])
def test_contact_lead_sync_overlaps_a_contact_or_a_lead_sync(other: str) -> None:
    raw = doc(right={"app": "sf", "object": ["Contact", "Lead"]})
    raw["syncs"].append({"name": "more", "left": {"app": "hs", "object": "contacts"}, "right": {"app": "sf", "object": other}})
    found = issues(raw)
    assert len(found) == 1 and found[0].startswith(
        f"accord.yaml: syncs[1].right: sync 'more' pairs hs contacts with sf {other}, as sync 'contacts' already does")
    raw["syncs"].reverse()  # the other way round too
    assert issues(raw)[0].startswith("accord.yaml: syncs[1].right: sync 'contacts' pairs hs contacts with sf "
                                     "Contacts and Leads, as sync 'more' already does")
    # a Lead sync and a Contact sync of other HubSpot objects do not overlap it
    raw["syncs"][0]["left"]["object"] = "companies"
    raw["syncs"][0]["right"]["object"] = "Account"
    parse_config(raw, env={"HS_TOKEN": "x"})


def test_relative_sqlite_paths_are_beside_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cron job or a service started in another folder must open the same index: with the
    path read from the working directory it made a new, empty one, and every sync started
    over (creating again every record no key matched: every deal)."""
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "accord.yaml").write_text(
        "state: sqlite:///accord.db?timeout=20\n"
        "apps:\n  a: {type: memory}\n  crm: {type: sql, url: 'sqlite:///data/crm.db', tables: {contacts: people}}\n"
        "  pg: {type: sql, url: 'postgresql+psycopg://u@h/db'}\n"
        "  abs: {type: sql, url: 'sqlite:////var/lib/x.db'}\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(conf / "accord.yaml", require_apps=False)
    assert cfg.state == f"sqlite:///{conf}/accord.db?timeout=20"
    assert cfg.apps["crm"].model_dump()["url"] == f"sqlite:///{conf}/data/crm.db"
    assert cfg.apps["pg"].model_dump()["url"] == "postgresql+psycopg://u@h/db"
    assert cfg.apps["abs"].model_dump()["url"] == "sqlite:////var/lib/x.db"
    assert parse_config({"state": "sqlite://", "apps": {}}, env={}, require_apps=False).state == "sqlite://"

    # an index only where the working directory put it: said, not silently left behind
    (elsewhere / "accord.db").write_bytes(b"")
    with pytest.raises(ConfigError) as e:
        load_config(conf / "accord.yaml", require_apps=False)
    (issue,) = e.value.issues
    assert issue.path == "state" and f"{elsewhere}/accord.db does" in issue.message
    assert f"sqlite:///{elsewhere}/accord.db" in issue.message
    # once it is beside the config (or there already), that one is used
    (conf / "accord.db").write_bytes(b"")
    assert load_config(conf / "accord.yaml", require_apps=False).state.startswith(f"sqlite:///{conf}/accord.db")


def test_a_memory_apps_file_is_beside_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rule for a memory app's JSON file: from another folder, an empty app in its place
    would read as every record deleted."""
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "accord.yaml").write_text("apps:\n  a: {type: memory, path: a.json}\n  b: {type: memory, path: /srv/b.json}\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(conf / "accord.yaml", require_apps=False)
    assert cfg.apps["a"].model_dump()["path"] == f"{conf}/a.json"
    assert cfg.apps["b"].model_dump()["path"] == "/srv/b.json"
    (elsewhere / "a.json").write_text("{}")
    with pytest.raises(ConfigError) as e:
        load_config(conf / "accord.yaml", require_apps=False)
    (issue,) = e.value.issues
    assert issue.path == "apps.a.path" and f"{elsewhere}/a.json does" in issue.message
