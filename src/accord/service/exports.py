"""Record exports as bytes (CSV, JSON, XLSX) for the API and the dashboard.

The rows come from the CLI's ``export_rows`` (same columns, same formula-injection guard
as ``accord records``), so a file exported from the dashboard matches the CLI's.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from accord.cli import EXPORT_COLUMNS, export_rows
from accord.index.store import Link

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_export(links: list[Link], fmt: str) -> bytes:
    rows: list[dict[str, Any]] = export_rows(links)
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
