import sys
from pathlib import Path

# tests/helpers.py is shared by test modules in sub-folders
sys.path.insert(0, str(Path(__file__).parent))

import itertools
import os
from collections.abc import Iterator

import pytest

from pg import create_database, postgres_server

_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        if url is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not installed: .ci/run must install the postgresql package")
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return create_database(pg_server, f"accord_test_{os.getpid()}_{next(_db_names)}")
