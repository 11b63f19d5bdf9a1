"""A sync renamed in accord.yaml, or removed with another made over the same objects, starts
from an empty index while the old name's pairs are still in it. Its initial sync would match
what a key matches and create every other record again in both apps: deals have no key at
all, so each would be made twice. Such a sync is refused (a config error naming its
``name``) until the old pairs are moved to it (``accord rename OLD NEW``) or dropped on
purpose (``accord forget OLD``)."""

from __future__ import annotations

from typing import Protocol

from accord.config import ConfigIssue, SyncConfig, object_pairs


class _Index(Protocol):
    def has_pairs(self, name: str) -> bool: ...
    def pairs_held_elsewhere(self, name: str, objects: list[list[list[str]]]) -> list[tuple[str, int]]: ...


def orphan_issue(index: _Index, s: SyncConfig, path: str) -> ConfigIssue | None:
    """Why ``s`` must not start its initial sync, or None. Only a sync with no pairs of its
    own is looked at: once it has some, its records are linked and nothing is made twice."""
    if index.has_pairs(s.name):
        return None
    held = index.pairs_held_elsewhere(s.name, object_pairs(s))
    if not held:
        return None
    old, n = held[0]
    return ConfigIssue(f"{path}.name", (
        f"sync {s.name!r} would start from an empty index, but the index still holds the {n:,} pairs of sync "
        f"{old!r} over the same objects ({s.left.app} {s.left.label()} ↔ {s.right.app} {s.right.label()}), which "
        f"this configuration does not have: a first pass would create every record no key matches again in both "
        f"apps. If {old!r} was renamed {s.name!r}, move its pairs with `accord rename {old} {s.name}` (or give it "
        f"its old name back); to start over on purpose, drop them with `accord forget {old}`"))
