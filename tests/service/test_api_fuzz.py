"""Property-based fuzzing of the REST API with schemathesis, against its own /openapi.json.

A few hundred generated requests — valid and invalid — with a valid token, against the
service over loopback with two memory apps: no answer may be a 5xx, and every status a route
answers must be one its OpenAPI description lists. Apps created by the fuzzer are memory
apps in the process (no connector dials anywhere). Under CI the cases are the same every
run (derandomized); locally each run draws new ones.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from service_world import TOKEN, World

from accord.connectors.memory import MemoryApp
from accord.vault import Vault

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error, status_code_conformance  # noqa: E402

CASES = 400


def offline(world: World) -> None:
    """Every app the fuzzer adds is an in-process memory app: nothing is ever dialled."""
    session = world.session

    def connector(app: str) -> Any:
        if app not in session.connectors:
            session.connectors[app] = MemoryApp(app)
        return session.connectors[app]

    session.connector = connector  # type: ignore[method-assign]


@pytest.mark.timeout(180)
def test_api_answers_no_5xx_and_only_documented_statuses(tmp_path: Path) -> None:
    with World(tmp_path, vault=Vault(Fernet.generate_key())) as world:
        offline(world)
        schema = schemathesis.openapi.from_dict(world.client.get("/openapi.json").json())
        # random names mostly find no sync: a third of the cases name one that exists
        cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE),
                          schema.as_strategy(GenerationMode.POSITIVE, path_parameters={"name": "contacts"}))
        seen: dict[tuple[str, str], set[int]] = {}
        started = time.monotonic()

        @settings(max_examples=CASES, deadline=None, database=None, derandomize=bool(os.environ.get("CI")),
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=cases)
        def fuzz(case: Any) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            response = case.call(base_url=world.url, headers=headers, timeout=10)
            seen.setdefault((case.method, case.path), set()).add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance], headers=headers)

        fuzz()
        assert time.monotonic() - started < 120, "the fuzzing run must stay under 2 minutes"
        # the run reached most routes (each with an answer it documents)
        assert len(seen) >= 15, sorted(seen)
