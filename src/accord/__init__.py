"""Accord: a self-hosted, two-way record sync engine for CRM and sales apps."""

__version__ = "0.1.0"
