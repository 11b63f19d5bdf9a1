"""The Salesforce sandbox served in-process (ASGI, no socket): ``sb`` and an ``api`` client of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from accord.sandbox.salesforce import SalesforceSandbox, SandboxSettings


@pytest.fixture()
def sb() -> SalesforceSandbox:
    return SalesforceSandbox(SandboxSettings())


@pytest.fixture()
async def api(sb: SalesforceSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sb.app), base_url="https://sf.test",
                                 headers={"Authorization": "Bearer t"}) as client:
        yield client
