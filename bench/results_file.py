"""bench/results.json: each benchmark replaces its own section and keeps the others."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save_section(path: str | Path, key: str, section: dict[str, Any]) -> None:
    p = Path(path)
    results = json.loads(p.read_text()) if p.exists() else {}
    results[key] = section
    p.write_text(json.dumps(results, indent=2) + "\n")
