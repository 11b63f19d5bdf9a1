"""The auth flows against the sandboxes' OAuth servers: tokens renewed before they expire, the
per-second limit an OAuth token's answers announce, and what a refused renewal says — the
credential to replace, for every flow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.connectors.hubspot import HubSpotConnector, HubSpotSettings
from accord.connectors.hubspot import Limits as HubSpotLimits
from accord.connectors.limits import RollingWindow
from accord.connectors.salesforce import SalesforceConnector, SalesforceSettings
from accord.model import AuthError
from accord.sandbox.hubspot import HubSpotSandbox, SandboxSettings
from accord.sandbox.salesforce import SalesforceSandbox
from accord.sandbox.salesforce.tls import make_jwt_keys
from accord.sandbox.server import ServerThread


@pytest.fixture
def hs() -> Iterator[tuple[HubSpotSandbox, str]]:
    sb = HubSpotSandbox(SandboxSettings(token_ttl=2.0))
    srv = ServerThread(sb.app).start()
    try:
        yield sb, srv.url
    finally:
        srv.stop()
        sb.close()


@pytest.fixture
def sf() -> Iterator[tuple[SalesforceSandbox, str]]:
    sb = SalesforceSandbox(records=3)
    srv = ServerThread(sb.app).start()
    try:
        yield sb, srv.url
    finally:
        srv.stop()


def _hubspot(sb: HubSpotSandbox, url: str, refresh: str | None = None) -> HubSpotConnector:
    s = sb.settings
    return HubSpotConnector("hs", base_url=url, client_id=s.client_id, client_secret=s.client_secret,
                            refresh_token=refresh or sb.oauth.new_refresh(s.client_id), read_ahead=0,
                            limits=HubSpotLimits(RollingWindow(10_000, 10.0), RollingWindow(10_000, 1.0)))


async def test_a_hubspot_oauth_token_is_renewed_before_it_expires(hs: tuple[HubSpotSandbox, str]) -> None:
    sb, url = hs
    conn = _hubspot(sb, url)
    await conn.check()
    await asyncio.sleep(1.2)  # within the last tenth (at least a second) of its 2 s life
    await conn.check()
    assert conn.calls["oauth/token"] == 2 and conn.calls["list"] == 2  # renewed first: no call was refused
    assert conn.auth.renewals == 1
    # OAuth tokens' answers announce the per-second limit: the connector holds itself to it
    assert conn.http.limits.secondly.limit == sb.secondly()
    await conn.aclose()


async def test_a_revoked_refresh_token_names_the_credential_to_replace(hs: tuple[HubSpotSandbox, str]) -> None:
    sb, url = hs
    conn = _hubspot(sb, url)
    await conn.check()
    sb.revoke_refresh_tokens()
    with pytest.raises(AuthError) as caught:
        await conn.check()
    assert caught.value.app == "hs" and "BAD_REFRESH_TOKEN" in str(caught.value)
    assert "refresh token" in caught.value.hint and "Apps page" in caught.value.hint
    bad = HubSpotConnector("hs2", base_url=url, client_id="nobody", client_secret="x", refresh_token="r")
    with pytest.raises(AuthError) as caught:
        await bad.check()
    assert "client_id and client_secret" in caught.value.hint
    for c in (conn, bad):
        await c.aclose()


async def test_an_expired_hubspot_token_is_answered_as_hubspot_does(hs: tuple[HubSpotSandbox, str]) -> None:
    sb, url = hs
    token, _ = sb.oauth.new_access(sb.settings.client_id)
    sb.expire_tokens()
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.get("/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired" in r.json()["message"]


async def test_an_expired_salesforce_session_is_invalid_session_id(sf: tuple[SalesforceSandbox, str]) -> None:
    sb, url = sf
    token, _ = sb.oauth.new_access(sb.settings.client_id)
    async with httpx.AsyncClient(base_url=url) as client:
        ok = await client.get("/services/data/v62.0/limits", headers={"Authorization": f"Bearer {token}"})
        sb.expire_tokens()
        r = await client.get("/services/data/v62.0/limits", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert r.status_code == 401
    assert [{k: e[k] for k in ("message", "errorCode")} for e in r.json()] == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


async def test_salesforce_token_answers_have_salesforce_s_shape(sf: tuple[SalesforceSandbox, str]) -> None:
    sb, url = sf
    s = sb.settings
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/services/oauth2/token", data={"grant_type": "client_credentials",
                                                              "client_id": s.client_id, "client_secret": s.client_secret})
        bad = await client.post("/services/oauth2/token", data={"grant_type": "refresh_token", "client_id": s.client_id,
                                                                "refresh_token": "nope"})
    assert set(r.json()) == {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}
    assert r.json()["token_type"] == "Bearer" and r.json()["access_token"].startswith(s.org_id + "!")
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_grant",
                                                     "error_description": "expired access/refresh token"}


def _sf(sb: SalesforceSandbox, url: str, **kw: object) -> SalesforceConnector:
    return SalesforceConnector("sf", url, client_id=sb.settings.client_id, login_url=url, backoff=0.01, **kw)  # type: ignore[arg-type]


async def test_each_salesforce_flow_says_what_to_replace_when_refused(sf: tuple[SalesforceSandbox, str],
                                                                      tmp_path: Path) -> None:
    sb, url = sf
    keys, other = make_jwt_keys(), make_jwt_keys()
    sb.settings.jwt_certificate = keys.certificate
    key_file = tmp_path / "sf.key"
    key_file.write_text(other.private_key)  # not the key of the connected app's certificate
    jwt = _sf(sb, url, username=sb.settings.username, private_key_file=str(key_file))
    with pytest.raises(AuthError) as caught:
        await jwt.check()
    assert "certificate" in caught.value.hint and str(key_file) in caught.value.hint
    key_file.write_text(keys.private_key)  # the right key: the next call goes on by itself
    await jwt.check()
    stranger = _sf(sb, url, username="someone@else.example", private_key=keys.private_key)
    with pytest.raises(AuthError, match="hasn't approved"):
        await stranger.check()
    sb.settings.client_credentials = False
    cc = _sf(sb, url, client_secret=sb.settings.client_secret)
    with pytest.raises(AuthError) as caught:
        await cc.check()
    assert "Client Credentials Flow" in caught.value.hint
    for c in (jwt, stranger, cc):
        await c.aclose()


def test_settings_take_one_way_to_sign_in() -> None:
    with pytest.raises(ValueError, match="not both"):
        HubSpotSettings.model_validate({"type": "hubspot", "token": "t", "refresh_token": "r", "client_id": "c",
                                        "client_secret": "s"})
    with pytest.raises(ValueError, match="needs client_id, client_secret and refresh_token"):
        HubSpotSettings.model_validate({"type": "hubspot", "refresh_token": "r"})
    oauth = HubSpotSettings.model_validate({"type": "hubspot", "client_id": "c", "client_secret": "s",
                                            "refresh_token": "r"})
    assert oauth.rate() == 110  # an OAuth app's limit unless set
    base = {"type": "salesforce", "instance_url": "https://x.my.salesforce.com"}
    assert SalesforceSettings.model_validate({**base, "access_token": "t"}).flow() == "access_token"
    assert SalesforceSettings.model_validate({**base, "client_id": "c", "username": "u",
                                              "private_key_file": "/k"}).flow() == "jwt"
    assert SalesforceSettings.model_validate({**base, "client_id": "c", "client_secret": "s"}).flow() == \
        "client_credentials"
    with pytest.raises(ValueError, match="username"):
        SalesforceSettings.model_validate({**base, "client_id": "c", "private_key": "k"})
    with pytest.raises(ValueError, match="one way to sign in"):
        SalesforceSettings.model_validate({**base, "access_token": "t", "client_id": "c", "refresh_token": "r"})
