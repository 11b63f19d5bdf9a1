"""Hostile input to the config loader: every bad file is a ConfigError naming the key, never a crash.

Hypothesis mutates a valid ``accord.yaml`` (any key replaced by any JSON/YAML value, deleted,
or joined by an unknown key), generates whole random documents and random text, and feeds
them to ``parse_config`` / ``load_config``: each is either a valid Config or a ConfigError
whose issues carry a message and a key path. ``accord check`` and ``accord sync`` on a bad
file exit 2 with ``FILE: KEY.PATH: reason`` and no traceback, including for files made to
hurt: YAML alias bombs, absurd nesting, impossible dates, binary data.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from accord.cli import app as cli
from accord.config import Config, ConfigError, load_config, parse_config

ENV = {"TOKEN": "secret-token"}
BASE: dict[str, Any] = {
    "state": "sqlite:///accord.db",
    "apps": {
        "mem": {"type": "memory", "poll": "5m", "page_size": 50},
        "hs": {"type": "hubspot", "token": "${TOKEN}", "rate_limit": 190, "search_rate": 5, "timeout": 10},
        "sf": {"type": "salesforce", "instance_url": "https://x.my.salesforce.com", "access_token": "${TOKEN}",
               "api_budget": 0.5},
    },
    "syncs": [
        {"name": "contacts", "left": {"app": "hs", "object": "contacts"}, "right": {"app": "sf", "object": "Contact"},
         "direction": "two-way", "winner": "hs", "match": ["email"], "require_match_key": True, "defaults": True,
         "mappings": [{"left": "jobtitle", "right": "Title", "rule": "prefer-left-unless-blank"},
                      {"left": "hs_lead_status", "right": "LeadSource", "direction": "left-to-right"}],
         "constants": {"to_right": {"Description": "from HubSpot"}},
         "filters": {"left": [{"field": "lifecyclestage", "op": "in", "value": ["lead", "customer"]}]},
         "created_after": "2024-01-01T00:00:00Z", "deletes": "mark", "poll": "1m", "enabled": True},
        {"name": "companies", "left": {"app": "mem", "object": "companies"}, "right": {"app": "hs", "object": "companies"},
         "direction": "left-to-right", "match": [{"left": "domain", "right": "domain"}]},
    ],
}
KEYS = ["state", "apps", "syncs", "type", "token", "name", "left", "right", "app", "object", "direction", "winner",
        "match", "mappings", "rule", "filters", "field", "op", "value", "constants", "to_left", "to_right",
        "inclusion", "list", "side", "poll", "deletes", "stages", "associations", "enabled", "values"]
WORDS = ["memory", "hubspot", "salesforce", "sql", "two-way", "left-to-right", "left", "right", "mem", "hs", "sf",
         "contacts", "Contact", "companies", "email", "none", "mark", "propagate", "5m", "-1s", "1e309", "${TOKEN}",
         "${NOPE}", "${X:-y}", "${", "sqlite://", "postgresql+psycopg://u@h/db", "nonsense://", "auto", "", "\x00",
         "always-left", "fill-blanks-only", "in", "eq", "2024-13-45T99:00:00Z"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
                    st.floats(), st.text(max_size=20), st.sampled_from(WORDS))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4)
                      | st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), c, max_size=4),
                      max_leaves=12)
# pydantic's names for the members of a union: they are not keys of the user's file
NOT_KEYS = re.compile(r"union\[|literal\[|function-(after|before|wrap|plain)|list\[|dict\[|json-or-python|is-instance")


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = paths(BASE)


def mutate(doc: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "unknown key" and isinstance(parent, dict):
        parent[f"{last}_x"] = value
    else:
        parent[last] = value
    return out


def check_error(e: ConfigError, file: str = "accord.yaml") -> None:
    assert e.issues, "a ConfigError lists its problems"
    for issue in e.issues:
        assert issue.message.strip(), issue
        assert not NOT_KEYS.search(issue.path), f"not a key path: {issue.path!r}"
    for line in e.render().splitlines():
        assert line.startswith(f"{file}: "), line


def test_the_base_config_is_valid() -> None:
    cfg = parse_config(copy.deepcopy(BASE), env=ENV)
    assert isinstance(cfg, Config) and [s.name for s in cfg.syncs] == ["contacts", "companies"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=st.sampled_from(ALL_PATHS), action=st.sampled_from(["replace", "replace", "delete", "unknown key"]),
       value=values)
def test_a_mutated_config_is_valid_or_a_config_error_at_its_key(where: tuple[Any, ...], action: str, value: Any) -> None:
    doc = mutate(BASE, where, action, value)
    try:
        parse_config(doc, env=ENV)
    except ConfigError as e:
        check_error(e)
        # the problem is reported where it is (a deleted or renamed app: where the syncs use it)
        heads = {re.split(r"[.\[]", i.path)[0] for i in e.issues}
        head = f"{where[0]}_x" if action == "unknown key" and len(where) == 1 else str(where[0])
        assert "" in heads or head in heads or (where[0] == "apps" and "syncs" in heads), (heads, where)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=values)
def test_any_document_is_valid_or_a_config_error(doc: Any) -> None:
    try:
        parse_config(doc, env=ENV)
    except ConfigError as e:
        check_error(e)


def _yaml_texts() -> st.SearchStrategy[str]:
    dumped = st.builds(lambda p, a, v: yaml.safe_dump(mutate(BASE, p, a, v)), st.sampled_from(ALL_PATHS),
                       st.sampled_from(["replace", "delete"]), values)
    spliced = st.builds(lambda t, i, s: t[:i % (len(t) + 1)] + s + t[i % (len(t) + 1):], dumped, st.integers(0, 10**6),
                        st.sampled_from(["&a", "*a", "!!binary", "!!python/object:os.system", "? [a]\n: 1", "\t",
                                         "{", "]", "---\n", "%YAML 9.9\n", ": :", "<<: *nope", "2024-13-45", "\x85"]))
    return st.one_of(dumped, spliced, st.text(max_size=200))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_yaml_texts())
def test_any_yaml_text_is_valid_or_a_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accord.yaml"
        path.write_text(text)
        try:
            load_config(path, env=ENV)
        except ConfigError as e:
            check_error(e, str(path))


HOSTILE = {
    "alias bomb": "\n".join([f"l0: &l0 {json.dumps(['x'] * 9)}"]
                            + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]) + "\napps: *l8\n",
    "nested": "apps: " + "[" * 5000 + "]" * 5000 + "\n",
    "nested mapping": "apps:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 200)) + "\n",
    "impossible date": "apps: {a: {type: memory}}\nsyncs: [{name: x, left: {app: a, object: contacts}, "
                       "right: {app: a, object: deals}, created_after: 2024-13-45}]\n",
    "not a database": "state: nonsense\napps: {a: {type: memory}}\n",
    "python tag": "apps: !!python/object/apply:os.system ['echo pwned']\n",
    "empty": "",
    "a list": "- apps\n- syncs\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_exit_2_with_the_reason(tmp_path: Path, name: str) -> None:
    path = tmp_path / "accord.yaml"
    path.write_text(HOSTILE[name])
    for command in ("check", "sync"):
        res = CliRunner().invoke(cli, [command, "-c", str(path)])
        assert res.exit_code == 2, (name, res.exit_code, res.output[-500:], res.exception)
        assert "Traceback" not in res.output and f"{path}:" in res.output, res.output[-500:]


def test_binary_file_and_a_bomb_from_the_real_command_line(tmp_path: Path) -> None:
    binary, bomb = tmp_path / "binary.yaml", tmp_path / "bomb.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    bomb.write_text(HOSTILE["alias bomb"])
    for path in (binary, bomb):
        p = subprocess.run([sys.executable, "-m", "accord.cli", "check", "-c", str(path)], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2 and p.stderr.startswith(f"{path}: ") and "Traceback" not in p.stderr, p.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=st.sampled_from(ALL_PATHS), value=values)
def test_the_cli_reports_config_errors_with_exit_2(where: tuple[Any, ...], value: Any) -> None:
    doc = mutate(BASE, where, "replace", value)
    try:
        parse_config(doc, env=ENV)
        return  # still valid (check would try to reach the apps)
    except ConfigError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accord.yaml"
        path.write_text(json.dumps(doc).replace("${TOKEN}", "t"))
        res = CliRunner().invoke(cli, ["check", "-c", str(path)])
        if res.exit_code == 2:
            assert f"{path}: " in res.output and "Traceback" not in res.output, res.output[-500:]
        else:  # only the TOKEN substitution made it valid
            parse_config(json.loads(path.read_text()), env={})
