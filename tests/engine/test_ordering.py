"""The order syncs run in one after another (accord.ordering): parents first, else the user's order."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.config import SyncConfig
from accord.ordering import dependency_order, run_order


def _closure(n: int, edges: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """(a, b) when b is reachable from a by one edge or more (Floyd–Warshall, independent of the code)."""
    reach = set(edges)
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if (i, k) in reach and (k, j) in reach:
                    reach.add((i, j))
    return reach


def _expected(names: Sequence[str], after: Mapping[str, Sequence[str]]) -> list[str]:
    """By brute force: the first permutation, in the user's order's lexicographic order, that puts
    every parent before its child unless the two are in one cycle."""
    pos = {n: i for i, n in enumerate(names)}
    edges = {(pos[p], pos[c]) for c in names for p in after.get(c, ()) if p in pos and p != c}
    reach = _closure(len(names), edges)
    must = [(p, c) for p, c in edges if (c, p) not in reach]
    for perm in itertools.permutations(range(len(names))):  # lexicographic, from the identity
        at = {i: k for k, i in enumerate(perm)}
        if all(at[p] < at[c] for p, c in must):
            return [names[i] for i in perm]
    raise AssertionError("no order")  # the non-cycle edges form a DAG: some order always exists


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    n = draw(st.integers(0, 6))
    names = [f"s{i}" for i in draw(st.permutations(range(n)))]  # user order unrelated to the names
    pool = [*names, "missing"]  # a name no sync has is ignored
    after = {m: draw(st.lists(st.sampled_from(pool), max_size=3)) for m in names}
    return names, after


@settings(max_examples=300, deadline=None)
@given(_graphs())
def test_dependency_order_is_the_stable_topological_sort(graph: tuple[list[str], dict[str, list[str]]]) -> None:
    names, after = graph
    assert dependency_order(names, after) == _expected(names, after)


def test_every_graph_of_four_syncs() -> None:
    """Exhaustively: every set of associations among four syncs (4096 graphs; self-references: above)."""
    names = ["a", "b", "c", "d"]
    pairs = [(p, c) for p in names for c in names if p != c]
    for bits in range(1 << len(pairs)):
        after: dict[str, list[str]] = {n: [] for n in names}
        for k, (p, c) in enumerate(pairs):
            if bits >> k & 1:
                after[c].append(p)
        assert dependency_order(names, after) == _expected(names, after), after


def test_examples() -> None:
    # line items listed first run after deals and products; the rest keeps its place
    assert dependency_order(["line_items", "contacts", "deals", "products"],
                            {"line_items": ["deals", "products"]}) == ["contacts", "deals", "products", "line_items"]
    # a cycle (contacts ↔ companies) keeps the user's order, either way round
    assert dependency_order(["contacts", "companies"], {"contacts": ["companies"], "companies": ["contacts"]}) \
        == ["contacts", "companies"]
    assert dependency_order(["companies", "contacts"], {"contacts": ["companies"], "companies": ["contacts"]}) \
        == ["companies", "contacts"]
    # a sync after a cycle runs after all of it
    assert dependency_order(["deals", "contacts", "companies"],
                            {"deals": ["contacts", "companies"], "contacts": ["companies"],
                             "companies": ["contacts"]}) == ["contacts", "companies", "deals"]
    # an order that already fits is left alone
    assert dependency_order(["deals", "products", "line_items"], {"line_items": ["deals", "products"]}) \
        == ["deals", "products", "line_items"]


def _sync(name: str, *associations: str) -> SyncConfig:
    return SyncConfig(name=name, left={"app": "hubspot", "object": name},  # type: ignore[arg-type]
                      right={"app": "sf", "object": name.title()},  # type: ignore[arg-type]
                      associations=list(associations))


def test_run_order_of_sync_configs() -> None:
    syncs = [_sync("line_items", "deals", "products"), _sync("deals"), _sync("products")]
    ordered = run_order(syncs)
    assert [s.name for s in ordered] == ["deals", "products", "line_items"]
    assert ordered[2] is syncs[0]


def test_activities_run_after_the_syncs_of_their_deals_and_companies() -> None:
    """A contacts sync with ``activities:`` finds an activity's deal and company (its WhatId) through
    the deals ↔ Opportunity and companies ↔ Account syncs of the same apps: those run first, though
    ``associations`` cannot name the deals sync. Other apps' syncs and syncs without activities
    are not ordered by it."""
    def sync(name: str, left: str, right: str, apps: tuple[str, str] = ("hs", "sf"), **kw: object) -> SyncConfig:
        return SyncConfig(name=name, left={"app": apps[0], "object": left},  # type: ignore[arg-type]
                          right={"app": apps[1], "object": right}, **kw)  # type: ignore[arg-type]

    contacts = sync("contacts", "contacts", "Contact", activities=["calls"])
    syncs = [contacts, sync("other_deals", "deals", "Opportunity", apps=("hs2", "sf")),
             sync("deals", "deals", "Opportunity"), sync("companies", "companies", "account")]
    assert [s.name for s in run_order(syncs)] == ["other_deals", "deals", "companies", "contacts"]
    plain = [sync("contacts", "contacts", "Contact"), *syncs[1:]]
    assert [s.name for s in run_order(plain)] == ["contacts", "other_deals", "deals", "companies"]
