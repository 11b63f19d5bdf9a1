"""Deal stage mapping: ``stages: auto`` pairs stages whose labels look alike."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz, process

from accord.model import Pipeline, Stage


def _label(s: Stage) -> str:
    return s.label.casefold().strip()


def auto_map_stages(left: Sequence[Pipeline], right: Sequence[Pipeline], threshold: float = 70.0) -> dict[str, str]:
    """Map left stage ids to right stage ids by label similarity, one-to-one.

    Pairs are taken best score first so two left stages never claim the same right stage;
    stages with no label scoring ``threshold`` or more stay unmapped (their deals are
    excluded with reason ``unmapped_stage``), as HubSpot's "auto-map" leaves them for the
    user to pick.
    """
    ls = [s for p in left for s in p.stages]
    rs = [s for p in right for s in p.stages]
    if not ls or not rs:
        return {}
    scored = []
    labels = [_label(r) for r in rs]
    for i, l in enumerate(ls):
        for _, score, j in process.extract(_label(l), labels, scorer=fuzz.WRatio, limit=None):
            if score >= threshold:
                scored.append((-score, i, j))
    scored.sort()
    out: dict[str, str] = {}
    used: set[int] = set()
    for _, i, j in scored:
        if ls[i].id in out or j in used:
            continue
        out[ls[i].id] = rs[j].id
        used.add(j)
    return out


def resolve_stage_map(
    setting: str | dict[str, str] | None, left: Sequence[Pipeline], right: Sequence[Pipeline]
) -> dict[str, str] | None:
    """Explicit pairs may name stages by id or label; ``auto`` uses :func:`auto_map_stages`."""
    if setting is None:
        return None
    if setting == "auto":
        return auto_map_stages(left, right)
    assert isinstance(setting, dict)
    lid = {s.label.casefold(): s.id for p in left for s in p.stages}
    rid = {s.label.casefold(): s.id for p in right for s in p.stages}
    return {lid.get(str(k).casefold(), str(k)): rid.get(str(v).casefold(), str(v)) for k, v in setting.items()}
