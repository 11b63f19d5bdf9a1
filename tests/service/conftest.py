"""Fixtures of the service tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import ARGS, CHROMIUM, missing
from service_world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        yield w


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium; skipped when missing, except under CI (``CI`` set), where it fails."""
    why = missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need chromium under CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
