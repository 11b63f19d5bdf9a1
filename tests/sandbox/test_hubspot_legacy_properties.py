"""The HubSpot sandbox's legacy Properties API (v1/v2), as Airbyte's source-hubspot reads it.

source-hubspot builds each CRM stream's property list and JSON schema from
``GET /properties/v2/{contact,company,deal}/properties`` (singular object names); the sandbox
answered 404, so the peer benchmark's Airbyte source could not read contacts at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.server import ServerThread

AUTH = {"Authorization": "Bearer pat-test"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    sb = HubSpotSandbox(SandboxSettings(records=3, seed=3))
    with ServerThread(sb.app) as srv, httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as c:
        yield c
    sb.close()


@pytest.mark.parametrize("object_type", ["contact", "contacts", "company", "deal"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_legacy_properties_are_a_bare_array_like_v3s(http: httpx.Client, version: str, object_type: str) -> None:
    r = http.get(f"/properties/{version}/{object_type}/properties")
    assert r.status_code == 200, r.text
    legacy = r.json()
    assert isinstance(legacy, list) and legacy  # no ``results`` wrapper
    v3 = {p["name"]: p for p in http.get(f"/crm/v3/properties/{object_type}").json()["results"]}
    assert [p["name"] for p in legacy] == list(v3)
    for p in legacy:
        # the fields source-hubspot's schema loader reads, flags at the top level, epoch ms times
        assert p["type"] == v3[p["name"]]["type"] and p["fieldType"] == v3[p["name"]]["fieldType"]
        assert isinstance(p["createdAt"], int) and isinstance(p["readOnlyValue"], bool) and p["deleted"] is False
        assert "modificationMetadata" not in p
    email = next(p for p in legacy if p["name"] == "email") if object_type.startswith("contact") else None
    assert email is None or email["groupName"] == "contactinformation"


def test_legacy_properties_of_an_unknown_type_are_an_error(http: httpx.Client) -> None:
    assert http.get("/properties/v2/widgets/properties").status_code == 400
    assert http.get("/properties/v9/contacts/properties").status_code == 404
