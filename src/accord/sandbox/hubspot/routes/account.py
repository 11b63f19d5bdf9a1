"""Account information: ``GET /account-info/v3/details``, the portal the token belongs to
(HubSpot's shape: portalId, accountType, time zone, currencies, data hosting location)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from accord.sandbox.hubspot.core import HubSpotCore


def register(app: FastAPI, sb: HubSpotCore) -> None:
    @app.get("/account-info/v3/details")
    async def details() -> dict[str, Any]:
        return {"portalId": sb.settings.portal_id, "accountType": "STANDARD", "timeZone": "US/Eastern",
                "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}
