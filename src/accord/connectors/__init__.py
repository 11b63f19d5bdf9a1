"""Connectors: one module per vendor, all implementing :class:`accord.connectors.base.Connector`."""

from __future__ import annotations

from typing import Any

from accord.connectors.base import Connector


def build_connector(name: str, app: Any) -> Connector:
    """Create the connector for one ``apps:`` entry of accord.yaml."""
    kind = app.type
    if kind == "memory":
        from accord.connectors.memory import MemoryApp

        return MemoryApp(name, page_size=app.page_size, path=app.path)
    if kind == "hubspot":
        from accord.connectors import hubspot

        return hubspot.from_config(name, app)  # type: ignore[attr-defined,no-any-return]
    if kind == "salesforce":
        from accord.connectors import salesforce

        return salesforce.from_config(name, app)  # type: ignore[attr-defined,no-any-return]
    if kind == "snovio":
        from accord.connectors import snovio

        return snovio.from_config(name, app)
    if kind == "xentral":
        from accord.connectors import xentral

        return xentral.from_config(name, app)
    if kind == "sql":
        from accord.connectors import sql

        return sql.from_config(name, app)
    raise NotImplementedError(f"app {name!r}: the {kind} connector is not available yet")


__all__ = ["Connector", "build_connector"]
