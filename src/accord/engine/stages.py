"""Deal stage mapping: ``stages: auto`` pairs stages whose labels look alike."""

from __future__ import annotations

from collections.abc import Sequence

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
    from rapidfuzz import fuzz, process  # loaded when stages are mapped, not with every CLI start

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


# -- copying a pipeline's stages 1:1 (xentral's "Automatisch") -------------------------------------
def missing_stages(source: Pipeline, targets: Sequence[Pipeline]) -> list[str]:
    """Labels of ``source``'s stages no target stage carries (compared case-insensitively,
    trimmed), in the pipeline's order, each once."""
    have = {_label(s) for p in targets for s in p.stages}
    out: list[str] = []
    for s in source.stages:
        if _label(s) not in have:
            have.add(_label(s))
            out.append(s.label)
    return out


def copied_stage_map(source: Sequence[Pipeline], target: Sequence[Pipeline]) -> dict[str, str]:
    """Source stage ids → target stage ids when the target copies the source's first pipeline 1:1:
    each of its stages pairs with the target stage of the same label; the other stages (other
    pipelines, other board stages) are paired by :func:`auto_map_stages` among themselves."""
    pairs: dict[str, str] = {}
    if source and target:
        by_label: dict[str, str] = {}
        for p in target:
            for s in p.stages:
                by_label.setdefault(_label(s), s.id)
        used: set[str] = set()
        for s in source[0].stages:
            t = by_label.get(_label(s))
            if t is not None and t not in used:
                pairs[s.id] = t
                used.add(t)
    rest_src = [Pipeline(p.id, p.label, tuple(s for s in p.stages if s.id not in pairs)) for p in source]
    taken = set(pairs.values())
    rest_dst = [Pipeline(p.id, p.label, tuple(s for s in p.stages if s.id not in taken)) for p in target]
    pairs.update(auto_map_stages(rest_src, rest_dst))
    return pairs
