"""bench/results.json: each benchmark replaces its own section and keeps the others."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


def save_section(path: str | Path, key: str, section: dict[str, Any]) -> None:
    """Replace section ``key`` (stamped with the time it was saved), keep the others."""
    p = Path(path)
    results = json.loads(p.read_text()) if p.exists() else {}
    results[key] = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **section}
    p.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
