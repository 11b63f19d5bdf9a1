"""Every YAML block in README.md and docs/ is valid YAML, and every accord.yaml among them is
a valid config (issue #19: the README's reference config was not YAML at all: a bare
`${VAR}` inside a `{…}` flow mapping).

A block with ``apps:`` or ``syncs:`` is checked as ``accord check`` checks a file before it
connects to anything (keys, types, references, mappings, overlapping syncs), with every
``${VAR}`` it uses set to a plausible value. Blocks that show only part of a file (no
``apps:``) are checked as YAML.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from accord.config import parse_config

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [(doc, i, block) for doc in DOCS
          for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc.read_text(), re.S))]


def _env(block: str) -> dict[str, str]:
    names = set(re.findall(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", block))
    return {n: "https://example.com" if n.endswith("URL") else f"value-of-{n.lower()}" for n in names}


def test_the_docs_have_yaml_blocks() -> None:
    assert len(BLOCKS) >= 8 and any(doc.name == "README.md" for doc, _, _ in BLOCKS)


@pytest.mark.parametrize(("doc", "i", "block"), BLOCKS, ids=[f"{d.relative_to(ROOT)}#{i}" for d, i, _ in BLOCKS])
def test_every_yaml_block_parses_and_every_config_is_valid(doc: Path, i: int, block: str) -> None:
    data = yaml.safe_load(block)
    if isinstance(data, dict) and "apps" in data:
        parse_config(data, f"{doc.relative_to(ROOT)} block {i}", env=_env(block))
