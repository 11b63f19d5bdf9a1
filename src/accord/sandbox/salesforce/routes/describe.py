"""Describe: ``/services/data/{v}/sobjects`` (global), ``…/sobjects/{t}/describe`` and ``…/sobjects/{t}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.routes.common import MAX_COLLECTION
from accord.sandbox.salesforce.schema import OBJECTS


def register(app: FastAPI, sb: SalesforceCore) -> None:
    @app.get("/services/data/{v}/sobjects")
    async def global_describe(v: str) -> dict[str, Any]:
        return {"encoding": "UTF-8", "maxBatchSize": MAX_COLLECTION,
                "sobjects": [o.summary(v) for o in OBJECTS.values()]}

    # ahead of the record routes: "describe" would otherwise read as a record id
    @app.get("/services/data/{v}/sobjects/{t}/describe")
    async def describe(v: str, t: str) -> dict[str, Any]:
        return sb.org.obj(t).describe(v)

    @app.get("/services/data/{v}/sobjects/{t}")
    async def sobject_info(v: str, t: str) -> dict[str, Any]:
        return {"objectDescribe": sb.org.obj(t).summary(v), "recentItems": []}
