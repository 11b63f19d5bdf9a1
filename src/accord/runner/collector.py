"""The garbage collector's pace during a pass.

A pass allocates and frees tens of thousands of small containers per page (records, their
properties, plans, index rows), so with CPython's default young-generation threshold (700)
the cyclic collector runs thousands of times per pass, and every tenth run of the older
generations walks every object of the process (SQLAlchemy's, httpx's …): a tenth of a pass's
CPU in the engine benchmark. Nearly all of that garbage is freed by reference counting
anyway; with a threshold above a page's working set, collections become rare.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

PASS_THRESHOLD = 50_000  # young objects between collections while a pass runs

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold while the body runs (passes may overlap, in tasks
    or threads: the process's own setting comes back when the last one ends)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            now = gc.get_threshold()
            if 0 < now[0] < PASS_THRESHOLD:  # 0: collection turned off by the process itself
                _saved = now
                gc.set_threshold(PASS_THRESHOLD, *now[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
