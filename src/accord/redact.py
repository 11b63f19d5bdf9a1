"""Keep secrets out of logs, error texts and exports.

Every credential Accord knows of (the API token, each app's tokens and passwords) is
registered here; a log record factory replaces them in every message and traceback
before any handler sees it, whichever library logged it, and :func:`scrub` does the
same for texts shown to users (run errors, exports, API error details).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"
_MIN_LEN = 6  # shorter values would mask ordinary words
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register(values: Iterable[str]) -> None:
    """Add credential values to mask (and install the log filter on first use)."""
    with _lock:
        _secrets.update(v for v in values if isinstance(v, str) and len(v) >= _MIN_LEN)
    install()


def scrub(text: str) -> str:
    if not _secrets or not text:
        return text
    for s in sorted(_secrets, key=len, reverse=True):  # longest first: a secret may contain another
        if s in text:
            text = text.replace(s, MASK)
    return text


def scrub_any(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = base(*args, **kwargs)
        if not _secrets:
            return rec
        try:
            msg = rec.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return rec
        clean = scrub(msg)
        if clean != msg:
            rec.msg, rec.args = clean, None
        if rec.exc_info and rec.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*rec.exc_info))
            rec.exc_text = scrub(text.rstrip("\n"))
        return rec

    logging.setLogRecordFactory(factory)
