"""Connectors: one module per vendor, all implementing :class:`accord.connectors.base.Connector`,
each declaring itself in the registry (:mod:`accord.connectors.registry`)."""

from __future__ import annotations

from accord.connectors import registry
from accord.connectors.base import Connector
from accord.connectors.settings import AppSettings


def build_connector(name: str, app: AppSettings) -> Connector:
    """Create the connector for one ``apps:`` entry of accord.yaml."""
    return registry.build(name, app)


__all__ = ["Connector", "build_connector"]
