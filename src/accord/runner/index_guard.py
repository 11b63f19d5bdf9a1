"""A sync's pairs in the index belong to the objects, and the sides, they were made with.
Two everyday edits of accord.yaml would otherwise throw them away and create records again:

- **Renaming a sync** (or removing it and adding another over the same objects): the new
  name starts from an empty index while the old name's pairs are still in it. Its initial
  sync would match what a key matches and create everything else again in both apps; deals
  have no key at all, so each would be made twice. Refused until the old pairs are moved to
  it (``accord rename OLD NEW``) or dropped on purpose (``accord forget OLD``).
- **Changing a sync's sides** (swapping left and right, or naming another app or object on
  a side): its pairs' ids would be read as the other side's, or as another object's, so no
  pair would be found again. Refused until the sides are as the pairs were made.
- **Credentials of another account** (a token replaced with another portal's or org's, say a
  sandbox's): the pairs' records would read as deleted and the other account's as new.
  Refused until the credentials sign in to the account the pairs were made with.

All three are config errors naming the key (exit 2 from the CLI; a failed pass saying why in
``accord run``); nothing is written to either app.
"""

from __future__ import annotations

from typing import Any, Protocol

from accord.config import ConfigIssue, SyncConfig, sync_sides
from accord.index.sync_state import SyncState


class _Index(Protocol):
    def sync_state(self, name: str) -> SyncState | None: ...
    def has_pairs(self, name: str) -> bool: ...
    def pair_count(self, name: str) -> int: ...
    def pairs_held_elsewhere(self, name: str, objects: dict[str, list[Any]]) -> list[tuple[str, int]]: ...


def pairs(n: int) -> str:
    return f"{n:,} pair" + ("" if n == 1 else "s")


def _pairs_made(n: int) -> str:
    return f"{pairs(n)} {'was' if n == 1 else 'were'} made"


def index_issue(index: _Index, s: SyncConfig, path: str,
                accounts: dict[str, str | None] | None = None) -> ConfigIssue | None:
    """Why ``s`` must not run against ``index`` as configured, or None. ``accounts``: the
    accounts its apps' credentials sign in to now (Connector.account), when known."""
    sides = sync_sides(s)
    if index.has_pairs(s.name):
        known = index.sync_state(s.name)
        if known is None:
            return None
        # NULL: recorded by no pass yet (an index from before revision 0015): recorded now
        if known.objects and not _still_holds(known.objects, sides):
            return _sides_issue(s, path, known.objects, sides, index.pair_count(s.name))
        for side in ("left", "right"):
            was, now = (known.accounts or {}).get(side), (accounts or {}).get(side)
            if was and now and was != now:
                return _account_issue(s, side, was, now, index.pair_count(s.name))
        return None
    held = index.pairs_held_elsewhere(s.name, sides)
    if not held:
        return None
    old, n = held[0]
    return ConfigIssue(f"{path}.name", (
        f"sync {s.name!r} would start from an empty index, but the index still holds the {pairs(n)} of sync "
        f"{old!r} over the same objects ({s.left.app} {s.left.label()} ↔ {s.right.app} {s.right.label()}), which "
        f"this configuration does not have: a first pass would create every record no key matches again in both "
        f"apps. If {old!r} was renamed {s.name!r}, move its pairs with `accord rename {old} {s.name}` (or give it "
        f"its old name back); to start over on purpose, drop them with `accord forget {old}`"))


def _still_holds(was: dict[str, list[Any]], now: dict[str, list[Any]]) -> bool:
    """Each side is the same app with every object it had (a Contact side that became
    ``[Contact, Lead]`` still reads its pairs' Contacts; the reverse loses the Leads)."""
    return all(was[k][0] == now[k][0] and set(was[k][1]) <= set(now[k][1]) for k in ("left", "right"))


def _sides_issue(s: SyncConfig, path: str, was: dict[str, list[Any]], now: dict[str, list[Any]], n: int) -> ConfigIssue:
    def say(side: list[Any]) -> str:
        return f"{side[0]} {' and '.join(side[1])}"

    made = f"{say(was['left'])} on the left and {say(was['right'])} on the right"
    if was == {"left": now["right"], "right": now["left"]}:
        return ConfigIssue(f"{path}.left", (
            f"sync {s.name!r} now has its apps the other way round: its {_pairs_made(n)} with {made}. Read with "
            "the sides exchanged, no pair would be found again and records would be created twice. Put the sides "
            "back: which app wins a conflict is `winner:` (and each mapping's `rule`), and which way records flow is "
            "`direction:`, whichever side an app is on"))
    moved = "left" if was["left"] != now["left"] else "right"
    renamed_app = was[moved][0] != now[moved][0] and set(was[moved][1]) <= set(now[moved][1])
    return ConfigIssue(f"{path}.{moved}", (
        f"sync {s.name!r} now has {say(now[moved])} on the {moved}, but its {_pairs_made(n)} with {made}: its "
        f"passes would not find those records again. Put the {moved} side back"
        + (f" (if only the app's name changed in the file, give {now[moved][0]!r} its old name, {was[moved][0]!r}, "
           "again)" if renamed_app else "")
        + f"; to sync other objects, add a sync with another name instead (once this one is removed from the file, "
        f"`accord forget {s.name}` drops its pairs)"))


def _account_issue(s: SyncConfig, side: str, was: str, now: str, n: int) -> ConfigIssue:
    app, other = (s.left.app, s.right.app) if side == "left" else (s.right.app, s.left.app)
    return ConfigIssue(f"apps.{app}", (
        f"sync {s.name!r}: app {app!r} now signs in to {now}, but the sync's {_pairs_made(n)} with {was}: that "
        f"account's records would read as deleted and this one's as new, created again in {other!r}. If the "
        f"credentials were replaced by mistake, give {app!r} those of {was} again; to sync {now} from now on, add "
        f"a sync with another name (once this one is removed from the file, `accord forget {s.name}` drops its "
        "pairs)"))
