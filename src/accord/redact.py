"""Keep secrets out of logs, error texts and exports.

Two kinds of masking, both in :func:`scrub`:

- every credential Accord knows of (the API token, each app's tokens and passwords) is
  registered here and masked wherever it appears, also percent-encoded as a URL carries
  it; one of 6 characters or more anywhere in a text, a shorter one only as a whole word
  (masking every ``abc`` inside other words would garble the text and still tell nothing);
- whatever the value, the forms a secret takes in a text: a URL's password
  (``scheme://user:[redacted]@host``), a query or DSN parameter named like a secret
  (``?password=``, ``access_token=``, ``client_secret=`` …) and a JSON or Python-dict
  field named like one (``"token": "…"``).

A log record factory applies it to every record before any handler sees it, whichever
library logged it: the format string and each argument separately, so a handler that reads
the arguments (uvicorn's access log unpacks them) still gets its tuple, and tracebacks.
:func:`scrub_error` also removes the record values an error quotes, for run errors.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "[redacted]"
_MIN_LEN = 6  # shorter secrets are masked only as whole words, not inside other words
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None
_lock = threading.Lock()
_installed = False

# what a key holding a secret is called (case-insensitive, inside a longer name too:
# db_password, client_secret, X-Api-Key, refresh_token …)
_NAME = r"[\w.-]*?(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|authorization)[\w.-]*"
_URL_PASSWORD = re.compile(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#:@\"'<>]*:)(?P<v>[^\s/?#\"'<>]+)(?=@)")
_PARAM = re.compile(rf"(?i)(?P<pre>(?<![\w.-]){_NAME}=)(?P<v>[^&#\s\"',;<>]+)")
_JSON_FIELD = re.compile(rf'(?i)(?P<pre>"{_NAME}"\s*:\s*")(?P<v>(?:[^"\\]|\\.)+)(?=")')
_DICT_FIELD = re.compile(rf"(?i)(?P<pre>'{_NAME}'\s*:\s*')(?P<v>(?:[^'\\]|\\.)+)(?=')")
_FORMS = (_URL_PASSWORD, _PARAM, _JSON_FIELD, _DICT_FIELD)


def _masker(mask: str) -> Any:
    def masked(m: re.Match[str]) -> str:
        return m.group(0) if m.group("v") in (MASK, mask) else m.group("pre") + mask
    return masked


_masked = _masker(MASK)


def _variants(value: str) -> set[str]:
    """A secret and the forms a URL or a form body carries it in."""
    return {value, quote(value, safe=""), quote_plus(value, safe="")}


def register(values: Iterable[str]) -> None:
    """Add credential values to mask (and install the log filter on first use)."""
    global _secret_re
    with _lock:
        new = {v for raw in values if isinstance(raw, str) and raw.strip() for v in _variants(raw)}
        if not new <= _secrets:
            _secrets.update(new)
            long_first = sorted(_secrets, key=len, reverse=True)  # a secret may contain another
            _secret_re = re.compile("|".join(
                re.escape(s) if len(s) >= _MIN_LEN else rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])"
                for s in long_first))
    install()


def scrub(text: str) -> str:
    """``text`` with every registered secret and every secret-shaped value masked."""
    if not text:
        return text
    pattern = _secret_re
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if "=" in text or "://" in text or ":" in text:
        for form in _FORMS:
            text = form.sub(_masked, text)
    return text


def scrub_any(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


def scrub_forms(text: str, mask: str = MASK) -> str:
    """Only the secret-shaped values of ``text`` (a URL's password, secret-named parameters and
    fields) replaced by ``mask``: for settings shown back, e.g. a database URL."""
    masked = _masker(mask)
    for form in _FORMS:
        text = form.sub(masked, text)
    return text


_SECRET_NAME = re.compile(rf"(?i)^{_NAME}$")


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: its password and its secret-named query parameters."""
    try:
        parts = urlsplit(url)
        out = [unquote(parts.password)] if parts.password else []
    except ValueError:  # not a URL after all (e.g. a bad port)
        return []
    out += [v for k, v in parse_qsl(parts.query) if v and _SECRET_NAME.match(k)]
    return out


# -- run errors: no record values -----------------------------------------------------------
# SQLAlchemy appends the statement's parameters to a database error: the record's values
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background on this error|$))", re.S)
# PostgreSQL's detail of a constraint names the column and quotes the value: Key (email)=(a@b.c)
_KEY_DETAIL = re.compile(r"(?P<pre>\bKey \((?P<cols>[^)]*)\)=\()(?P<v>.*?)(?P<post>\)(?: already exists| is not present|\s|$))")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def scrub_error(text: str) -> str:
    """A run error fit to store and show: secrets masked (:func:`scrub`) and the record values
    an error can quote removed — a database error's SQL parameters, the value in a key
    constraint's detail, e-mail addresses. Ids, field and column names stay."""
    if not text:
        return text
    text = _SQL_PARAMETERS.sub(f"[parameters: {MASK}]", text)
    text = _KEY_DETAIL.sub(lambda m: f"{m.group('pre')}{MASK}{m.group('post')}", text)
    text = _EMAIL.sub(MASK, text)
    return scrub(text)


# -- log records ----------------------------------------------------------------------------
def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return scrub(arg)
    if isinstance(arg, int | float | bool) or arg is None:
        return arg  # %d and %f formats need the number itself
    try:
        text = str(arg)
    except Exception:
        return arg
    clean = scrub(text)
    return arg if clean == text else clean  # an object whose text shows a secret: its text, masked


def _scrub_record(rec: logging.LogRecord) -> None:
    """Mask secrets in a record in place, keeping its format string and arguments apart."""
    try:
        before = rec.getMessage()
    except Exception:  # a bad format string: leave it to the handler to report
        return
    if isinstance(rec.msg, str):
        rec.msg = scrub(rec.msg)
    if isinstance(rec.args, tuple):
        rec.args = tuple(_scrub_arg(a) for a in rec.args)
    elif isinstance(rec.args, Mapping):
        rec.args = {k: _scrub_arg(v) for k, v in rec.args.items()}
    try:
        after = rec.getMessage()
    except Exception:  # masking changed an argument a format needed: mask the whole message
        after = before
    clean = scrub(after)
    if clean != after:  # a secret only whole once formatted (split between format and arguments)
        rec.msg, rec.args = clean, ()
    if rec.exc_info and rec.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*rec.exc_info))
        rec.exc_text = scrub(text.rstrip("\n"))
    if rec.stack_info:
        rec.stack_info = scrub(rec.stack_info)


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = base(*args, **kwargs)
        _scrub_record(rec)
        return rec

    logging.setLogRecordFactory(factory)
