"""Fixtures shared by the connector tests; each module defines its own ``sandbox``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.sandbox.hubspot import HubSpotSandbox
from accord.sandbox.server import ServerThread


@pytest.fixture
def server(sandbox: HubSpotSandbox) -> Iterator[ServerThread]:
    """The module's HubSpot sandbox served over loopback HTTP."""
    with ServerThread(sandbox.app) as srv:
        yield srv
