"""Text reports of passes and syncs for the terminal (``accord sync``/``plan``/``status``, ``accord demo``).

Rendering only: the callers gather the results and print what these return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

if TYPE_CHECKING:  # annotations only: `accord status` need not load the runner
    from accord.index import Store
    from accord.runner import PassResult


def summary_table(results: list[PassResult], store: Store) -> Table:
    """Finished passes with the index's counts of their syncs."""
    # short headers and no outer box: the table must fit an 80-column terminal
    t = Table(title="Sync summary", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
              caption="ok/fail/excl: records syncing/failing/excluded; created, updated, assoc: left app/right app; "
                      "confl: fields that differed in both apps, settled by the sync's conflict rule")
    for col in ("sync", "pass", "ok", "fail", "excl", "created", "updated", "confl", "assoc"):
        t.add_column(col, justify="right" if col not in ("sync", "pass") else "left", no_wrap=True)
    for r in results:
        c = store.counts(r.sync)
        k = r.counters
        t.add_row(r.sync, r.kind, str(c.get("syncing", 0)), str(c.get("failing", 0)), str(c.get("excluded", 0)),
                  f"{k.created['left']}/{k.created['right']}", f"{k.updated['left']}/{k.updated['right']}", str(k.conflicts),
                  f"{k.associated['left']}/{k.associated['right']}")
    return t


def events_lines(results: list[PassResult]) -> list[str]:
    """One line per pass that synced events (``events: true``): what reached HubSpot's timeline."""
    out: list[str] = []
    for r in results:
        e = r.counters.events
        if not e:
            continue
        parts = [f"{e.get('written', 0)} written to HubSpot's timeline"]
        for key, words in (("already", "already there"), ("no_contact_in_hubspot", "dropped: no contact in HubSpot"),
                           ("not_a_contact", "not a contact's"), ("failed", "failed (retried next pass)"),
                           ("errors", "event sync stopped: see the log")):
            if e.get(key):
                parts.append(f"{e[key]} {words}")
        out.append(f"{r.sync}: events read {e.get('read', 0)}; " + ", ".join(parts))
    return out


def plan_table(results: list[dict[str, Any]]) -> Table:
    """What dry-run passes (``PassResult.as_dict()``) would have written."""
    t = Table(title="Plan (dry run: nothing was written)")
    for col in ("sync", "pass", "create L/R", "update L/R", "delete L/R", "conflicts", "excluded"):
        t.add_column(col)
    for r in results:
        hold = r.get("deletes_held") or {}
        held = hold.get("targets") if hold.get("kind") != "unmatched" else None  # (no delete in it)
        deletes = f"held {held['left']}/{held['right']}" if held else f"{r['archived']['left']}/{r['archived']['right']}"
        t.add_row(r["sync"], r["kind"], f"{r['created']['left']}/{r['created']['right']}",
                  f"{r['updated']['left']}/{r['updated']['right']}", deletes,
                  str(r["conflicts"]), ", ".join(f"{k}: {v}" for k, v in r["excluded"].items()) or "-")
    return t


def lag_text(seconds: float | None) -> str:
    """How long ago the last run finished, as the dashboard says it ("12 s ago", "11 min ago", "3 h
    ago", "2 d ago"); ``accord status --json`` keeps the seconds (``lag_seconds``)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def status_table(rows: list[dict[str, Any]]) -> Table:
    """Per sync: on or off, record counts, the last run (and what it did with activities) and its
    lag (the rows of ``accord status --json``)."""
    t = Table(title="Status")
    for col in ("sync", "enabled", "syncing", "failing", "excluded", "last run", "finished"):
        t.add_column(col)
    for r in rows:
        c = r["counts"]
        lr = r["last_run"]
        held = r.get("deletes_held")
        t.add_row(r["sync"], "yes" if r["enabled"] else "no", str(c.get("syncing", 0)), str(c.get("failing", 0)),
                  str(c.get("excluded", 0)), f"{lr['kind']} {lr['status']}" if lr else "never",
                  lag_text(r["lag_seconds"]))
        if lr and lr.get("activities"):  # what the last run did with HubSpot activities
            t.add_row("", f"activities: {activities_text(lr['activities'])}", "", "", "", "", "")
        if r.get("refused") or held:  # said under the table (status_notes)
            t.add_row("", "", "", "", "", "refused, see below" if r.get("refused") else "held, see below", "")
    return t


def status_notes(rows: list[dict[str, Any]]) -> list[str]:
    """What the table's rows cannot hold, under it: why a sync's passes are refused
    (accord.runner.index_guard) and what a sync waits for (a hold), with what to do. In a
    column of the table a paragraph became a tower of three-word lines."""
    out: list[str] = []
    for r in rows:
        if r.get("refused"):
            out.append(f"{r['sync']}: refused: {r['refused']}")
        if held := r.get("deletes_held"):
            out.append(f"{r['sync']}: held: {held.get('message')}")
            out.append(f"  hint: {held.get('hint')}")
    return out


def reasons_line(sync: str, reasons: Mapping[str, int]) -> str:
    """Excluded reasons, error categories and what queued pairs wait for, with their counts, on one line."""
    return f"  {sync}: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))


def activities_line(r: PassResult) -> str | None:
    """What a pass did with HubSpot activities (accord.runner.activities), per type; ``None``
    when the sync copies none."""
    if not r.activities:
        return None
    return f"{r.sync} activities to Salesforce: " + activities_text(r.activities)


def activities_text(counts: Mapping[str, Mapping[str, int]] | None) -> str:
    """Per activity type, what it created, updated, failed, left waiting or excluded (the
    activities of a pass's result or of a run's counters); "" when there were none."""
    parts = []
    for kind, c in (counts or {}).items():
        done = [f"{c[k]} {k}" for k in ("created", "updated", "failed", "waiting", "excluded") if c.get(k)]
        parts.append(f"{kind} {', '.join(done) if done else 'in step'}")
    return "; ".join(parts)


def changes_line(r: PassResult, left: str = "HubSpot", right: str = "Salesforce") -> str | None:
    """What a pass wrote, in one line; ``None`` when it wrote nothing."""
    k = r.counters
    parts = []
    for what, d in (("created", k.created), ("updated", k.updated), ("failed", k.failed)):
        if d["left"] or d["right"]:
            parts.append(f"{what} {d['left']} in {left} / {d['right']} in {right}")
    if k.conflicts:
        parts.append(f"{k.conflicts} conflicts settled")
    return f"{r.sync}: " + ", ".join(parts) if parts else None
