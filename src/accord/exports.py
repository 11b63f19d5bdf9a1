"""Record exports (CSV, JSON, XLSX) shared by ``accord records``, the API and the dashboard.

Every cell is fit for every format: secrets masked (:mod:`accord.redact`), a formula
neutralised, and the characters a spreadsheet's XML cannot hold — control characters other
than tab and line breaks, lone surrogates, U+FFFE and U+FFFF — written as visible escapes
(``\x07``, ``\ud800``), the same in all three formats, so a record holding them exports.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from accord import redact
from accord.index.store import Link

EXPORT_COLUMNS = ("sync", "status", "reason", "category", "message", "hint", "left_id", "right_id", "label", "updated_at")
FORMATS = ("csv", "json", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# what XML 1.0 (so XLSX) cannot hold; CSV and JSON get the same text for the same record
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# a spreadsheet evaluates a cell whose first non-blank character is one of = + - @
_FORMULA = re.compile(r"^[\s]*[=+\-@]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_cell(v: Any) -> Any:
    """Mask secrets, escape what a spreadsheet cannot hold, and neutralise formula injection
    (a cell starting with = + - @, after any spaces or line breaks, or with a tab or CR, gets a ' first)."""
    if isinstance(v, str):
        v = _UNWRITABLE.sub(_escape, redact.scrub(v))
        if _FORMULA.match(v) or v[:1] in ("\t", "\r"):
            return "'" + v
    return v


def export_rows(links: list[Link]) -> list[dict[str, Any]]:
    return [{c: safe_cell(getattr(lk, c)) for c in EXPORT_COLUMNS} for lk in links]


def render_export(links: list[Link], fmt: str) -> bytes:
    rows = export_rows(links)
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(list(EXPORT_COLUMNS))
        for r in rows:
            ws.append([r[c] for c in EXPORT_COLUMNS])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(rows, indent=2).encode()
    text = io.StringIO()
    wr = csv.DictWriter(text, fieldnames=list(EXPORT_COLUMNS))
    wr.writeheader()
    wr.writerows(rows)
    return text.getvalue().encode()
