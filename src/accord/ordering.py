"""The order syncs run in when several run one after another in one go (``accord sync`` without
``--sync``, ``accord plan``, the demo): each after the syncs its ``associations:`` name, and a
contacts sync with ``activities:`` after the syncs of its activities' deals and companies.

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
    first = parents_first(names, after)
    out: list[str] = []
    placed: set[str] = set()
    while len(out) < len(names):  # n is the number of syncs: a few dozen at most
        # always found: the edges left outside cycles form no cycle
        n = next(n for n in names if n not in placed and placed.issuperset(first[n]))
        placed.add(n)
        out.append(n)
    return out


def parents_first(names: Sequence[str], after: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Per name, the names of ``after[name]`` it must come after: those in ``names``, other than
    itself, and not in one cycle with it (a parent it reaches back through ``after``)."""
    pos = {n: i for i, n in enumerate(names)}
    parents = {n: sorted({pos[p] for p in after.get(n, ()) if p in pos and p != n}) for n in names}
    children: list[list[int]] = [[] for _ in names]
    for n, ps in parents.items():
        for p in ps:
            children[p].append(pos[n])
    # an edge parent -> child inside a cycle (the child reaches its parent back) orders nothing
    return {n: [names[p] for p in parents[n] if p not in _reachable(pos[n], children)] for n in names}


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


_ACTIVITY_PARENTS = {("companies", "account"), ("deals", "opportunity")}


def activity_parents(syncs: Sequence[SyncConfig], s: SyncConfig) -> list[SyncConfig]:
    """The syncs an activity of ``s`` (a contacts sync with ``activities:``) finds its company and
    deal through (its Salesforce ``WhatId``): those pairing companies with Account and deals with
    Opportunity between the same two apps, on the same sides. They need not be listed in
    ``associations`` (Salesforce has no Contact → Opportunity lookup for that to sync)."""
    out = []
    for t in syncs:
        if (t.left.app, t.right.app) != (s.left.app, s.right.app):
            continue
        objs = (str(t.left.object).casefold(), str(t.right.object).casefold())
        if objs in _ACTIVITY_PARENTS or objs[::-1] in _ACTIVITY_PARENTS:
            out.append(t)
    return out


def _parents(syncs: Sequence[SyncConfig]) -> dict[str, list[str]]:
    """Per sync, the syncs it needs paired first: its ``associations:``, and with ``activities:``
    the syncs of its activities' deals and companies (an activity synced before its deal is
    paired goes to Salesforce without its ``WhatId``)."""
    return {s.name: [*s.associations, *(t.name for t in activity_parents(syncs, s) if s.activities)] for s in syncs}


def run_order(syncs: Sequence[SyncConfig]) -> list[SyncConfig]:
    """The syncs in the order they run one after another (:func:`dependency_order` of
    :func:`_parents`)."""
    by_name = {s.name: s for s in syncs}
    return [by_name[n] for n in dependency_order([s.name for s in syncs], _parents(syncs))]


def runs_after(syncs: Sequence[SyncConfig]) -> dict[str, list[str]]:
    """Per sync, the syncs (of ``syncs``) it runs after: :func:`parents_first` of :func:`_parents`."""
    return parents_first([s.name for s in syncs], _parents(syncs))
