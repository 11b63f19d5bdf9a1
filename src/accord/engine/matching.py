"""Match keys: which records on the two sides are the same contact, company or deal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from accord.engine import normalize
from accord.model import Value


@dataclass(frozen=True)
class MatchKeySpec:
    """One key: a field on each side and how to normalise it. Several keys match on any."""

    name: str  # e.g. "email", "domain", or "custom:<left>:<right>"
    left_field: str
    right_field: str
    normalise: Callable[[Value], str | None]

    def field(self, side: str) -> str:
        return self.left_field if side == "left" else self.right_field


def key_spec(name: str, left_field: str, right_field: str) -> MatchKeySpec:
    return MatchKeySpec(name, left_field, right_field, normalize.NORMALISERS.get(name, normalize.text))


def match_keys(props: Mapping[str, Value], specs: tuple[MatchKeySpec, ...], side: str) -> list[str]:
    """The record's normalised keys, prefixed by key name so ``name:acme`` never meets ``domain:acme``."""
    out = []
    for spec in specs:
        k = spec.normalise(props.get(spec.field(side)))
        if k:
            out.append(f"{spec.name}:{k}")
    return out
