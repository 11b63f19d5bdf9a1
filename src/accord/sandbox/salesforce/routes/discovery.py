"""Discovery: ``/services/data`` (versions), ``/services/data/{v}`` (resources) and ``…/limits``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from accord.sandbox.salesforce.core import SalesforceCore

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")
_RELEASES = {"58.0": "Summer '23", "59.0": "Winter '24", "60.0": "Spring '24", "61.0": "Summer '24",
             "62.0": "Winter '25"}


def register(app: FastAPI, sb: SalesforceCore) -> None:
    @app.get("/services/data")
    async def versions() -> list[dict[str, str]]:
        return [{"label": _RELEASES[v], "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]

    @app.get("/services/data/{v}")
    async def resources(v: str) -> dict[str, str]:
        base = f"/services/data/{v}"
        return {k: f"{base}/{k}" for k in ("sobjects", "query", "queryAll", "limits", "composite")}

    @app.get("/services/data/{v}/limits")
    async def limits(v: str) -> dict[str, Any]:
        m = sb.settings.daily_limit
        return {
            "DailyApiRequests": {"Max": m, "Remaining": max(0, m - sb.api_used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
        }
