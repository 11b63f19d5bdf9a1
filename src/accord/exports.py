"""Record exports (CSV, JSON, XLSX) shared by ``accord records``, the API and the dashboard."""

from __future__ import annotations

import csv
import io
import json
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


def safe_cell(v: Any) -> Any:
    """Neutralise spreadsheet formula injection (a cell starting with = + - @ gets a ' first); mask secrets."""
    if isinstance(v, str):
        v = redact.scrub(v)
        if v[:1] in ("=", "+", "-", "@", "\t", "\r"):
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
