"""SOQL through the Salesforce sandbox served in-process (the ``sb`` and ``api`` fixtures of
conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx

V = "/services/data/v62.0"


async def q(api: httpx.AsyncClient, soql: str, endpoint: str = "query") -> list[dict[str, Any]]:
    """The records a SOQL query answers (``endpoint`` queryAll: deleted ones too)."""
    r = await api.get(f"{V}/{endpoint}", params={"q": soql})
    assert r.status_code == 200, r.text
    return list(r.json()["records"])
