"""Pairing the options of two enumeration fields, and "did you mean" for names people type.

Defaults pair options by equal value, then equal label, then *similar* label: every word of
the shorter label must be a word of the longer one, or nearly (``Finance`` ~ ``Financial
Services``, ``Healthcare`` ~ ``Health Care``). A plain similarity score is not enough for
values people rely on: it would pair ``Mr.`` with ``Mrs.``, ``Lead`` with ``Leadership`` and
``Unqualified`` with ``Qualified``; words that negate (``not``, ``un…``) must agree too.
Everything here is deterministic: the same two option lists always give the same map (a
changed map resets the field's bases, see ``FieldMap.base_key``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from accord.model import Option

_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset({"and", "or", "of", "the", "a", "an", "for", "to", "in"})
_NEGATIONS = frozenset({"not", "no", "non", "never", "without"})
_NEG_PREFIXES = ("un", "non", "dis", "in")
WORD_SIMILARITY = 85.0  # two words this similar are one word (plural, "finance"/"financial")
MIN_FUZZY_WORD = 5  # shorter words must be equal: "mr"/"mrs", "her"/"herr" are not alike


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP]


def _negated(ws: Sequence[str], other: Sequence[str]) -> bool:
    """``ws`` carries a negation ``other`` lacks: ``not``, or ``un``/``dis``… before a word of ``other``."""
    if any(w in _NEGATIONS for w in ws) and not any(w in _NEGATIONS for w in other):
        return True
    rest = set(other)
    return any(w.startswith(p) and w[len(p):] in rest for w in ws for p in _NEG_PREFIXES)


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_FUZZY_WORD:
        return False
    from rapidfuzz import fuzz  # loaded once labels are compared, not with every CLI start

    stem = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    # "finance" / "financial": one stem
    return fuzz.ratio(a, b) >= WORD_SIMILARITY or stem >= max(MIN_FUZZY_WORD, min(len(a), len(b)) - 2)


def _word_in(w: str, longer: Sequence[str]) -> bool:
    for i, x in enumerate(longer):
        if _same_word(w, x):
            return True
        if len(w) >= MIN_FUZZY_WORD and any(w == "".join(longer[i:j]) for j in range(i + 2, min(i + 4, len(longer) + 1))):
            return True  # "healthcare" is "health care"
    return False


def alike(a: str, b: str) -> bool:
    """Whether two labels name the same thing (see the module's docstring)."""
    wa, wb = words(a), words(b)
    if not wa or not wb or _negated(wa, wb) or _negated(wb, wa):
        return False
    short, long_ = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return all(_word_in(w, long_) for w in short)


def _key(o: Option) -> str:
    return " ".join(words(o.label or o.value))


def pair_options(src: Sequence[Option], dst: Sequence[Option]) -> dict[str, str]:
    """Source option value → target option value: equal value, else equal label, else a similar
    label (best first, each target taken by at most one similar pair). Unpaired options are left out."""
    by_value = {o.value for o in dst}
    by_label: dict[str, str] = {}
    for o in dst:
        by_label.setdefault(_key(o), o.value)
    out: dict[str, str] = {}
    rest: list[Option] = []
    for o in src:
        if o.value in by_value:
            out[o.value] = o.value
        elif _key(o) and _key(o) in by_label:
            out[o.value] = by_label[_key(o)]
        else:
            rest.append(o)
    if rest:
        out.update(_similar(rest, [o for o in dst if o.value not in set(out.values())]))
    return out


def _similar(src: Sequence[Option], dst: Sequence[Option]) -> dict[str, str]:
    from rapidfuzz import fuzz, process

    keys = [_key(o) for o in dst]
    scored: list[tuple[float, int, int]] = []
    for i, o in enumerate(src):
        for _, score, j in process.extract(_key(o), keys, scorer=fuzz.WRatio, limit=None):
            if alike(_key(o), keys[j]):
                scored.append((-score, i, j))
    scored.sort()
    out: dict[str, str] = {}
    used: set[int] = set()
    for _, i, j in scored:
        if src[i].value in out or j in used:
            continue
        out[src[i].value] = dst[j].value
        used.add(j)
    return out


def did_you_mean(name: str, candidates: Iterable[str], labels: dict[str, str] | None = None,
                 cutoff: float = 70.0) -> str | None:
    """The candidate closest to a misspelled ``name`` (compared with each candidate and its label), or None."""
    names = list(dict.fromkeys(candidates))
    if not names or not name:
        return None
    from rapidfuzz import fuzz

    best: tuple[float, str] | None = None
    for cand in names:
        texts = [cand] + ([labels[cand]] if labels and labels.get(cand) else [])
        score = max(fuzz.WRatio(name.casefold(), t.casefold()) for t in texts)
        if score >= cutoff and (best is None or score > best[0]):
            best = (score, cand)
    return best[1] if best else None


def suggestion(name: str, candidates: Iterable[str], labels: dict[str, str] | None = None) -> str:
    """``; did you mean 'X'?`` for a misspelled name, or ``""``."""
    hit = did_you_mean(name, candidates, labels)
    return f"; did you mean {hit!r}?" if hit is not None else ""
