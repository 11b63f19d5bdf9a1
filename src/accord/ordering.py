"""The order syncs run in when several run one after another in one go (``accord sync`` without
``--sync``, ``accord plan``, the demo): each after the syncs its ``associations:`` name.

A sync whose creates must name a parent (a line items sync with ``associations: [deals, products]``,
:mod:`accord.parents`) leaves its records waiting for the next pass when it runs before its
parents' syncs; running the parents first pairs them in the same run. Associations that form a
cycle (contacts ↔ companies, each naming the other) order nothing, and syncs nothing orders keep
the user's order: of all orders that put every parent (outside a cycle) first, the one closest
to the user's (a stable topological sort). Display order (``accord status``, the dashboard) stays
the user's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.config import SyncConfig


def dependency_order(names: Sequence[str], after: Mapping[str, Sequence[str]]) -> list[str]:
    """``names`` reordered so that each comes after the names ``after[name]`` lists, except where
    those form a cycle (a name in the same cycle as ``name``); otherwise in the given order.

    Names ``after`` lists that are not in ``names`` (or the name itself) are ignored. Among the
    orders that keep these constraints, this is the lexicographically smallest by position in
    ``names``: at each step, the earliest name whose parents have all been placed.
    """
    pos = {n: i for i, n in enumerate(names)}
    parents = {n: sorted({pos[p] for p in after.get(n, ()) if p in pos and p != n}) for n in names}
    children: list[list[int]] = [[] for _ in names]
    for n, ps in parents.items():
        for p in ps:
            children[p].append(pos[n])
    reach = [_reachable(i, children) for i in range(len(names))]
    # an edge parent -> child inside a cycle (the child reaches its parent back) orders nothing
    blocking = [[p for p in parents[n] if p not in reach[pos[n]]] for n in names]
    placed = [False] * len(names)
    out: list[str] = []
    while len(out) < len(names):  # n is the number of syncs: a few dozen at most
        i = next(i for i in range(len(names)) if not placed[i] and all(placed[p] for p in blocking[i]))
        placed[i] = True
        out.append(names[i])
    return out


def _reachable(start: int, children: Sequence[Sequence[int]]) -> set[int]:
    """The nodes reachable from ``start`` by one edge or more."""
    seen: set[int] = set()
    todo = list(children[start])
    while todo:
        i = todo.pop()
        if i not in seen:
            seen.add(i)
            todo.extend(children[i])
    return seen


def run_order(syncs: Sequence[SyncConfig]) -> list[SyncConfig]:
    """The syncs in the order they run one after another (:func:`dependency_order` of their
    ``associations:``)."""
    by_name = {s.name: s for s in syncs}
    return [by_name[n] for n in dependency_order([s.name for s in syncs], {s.name: s.associations for s in syncs})]
