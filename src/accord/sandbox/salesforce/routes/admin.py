"""``/_sandbox/``: state, users' edits, faults and rules. Not part of Salesforce's API,
so no auth and no API-call accounting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from fastapi import FastAPI

from accord.sandbox.oauth import token_admin_routes
from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.core import SalesforceCore
from accord.sandbox.salesforce.store import RecordError, RequestError, fmt_datetime

T = TypeVar("T")


def _wrap(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except RecordError as e:
        raise RequestError(400, e.errors[0].code, e.errors[0].message) from e


def register(app: FastAPI, sb: SalesforceCore) -> None:
    _records(app, sb)
    _knobs(app, sb)


def _records(app: FastAPI, sb: SalesforceCore) -> None:
    """The org's data: reset, seed, and records as a user edits them."""

    @app.post("/_sandbox/reset")
    async def reset(body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body or {}
        sb.reset(int(body.get("records", 0)), body.get("seed"))
        return {"ok": True}

    @app.post("/_sandbox/seed")
    async def seed(body: dict[str, Any]) -> dict[str, int]:
        return sb.seed(int(body.get("records", 100)), body.get("seed"))

    @app.get("/_sandbox/records/{t}")
    async def list_records(t: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        return sb.records(t, include_deleted)

    @app.post("/_sandbox/records/{t}")
    async def user_create(t: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": _wrap(lambda: sb.create(t, body))}

    @app.patch("/_sandbox/records/{t}/{id}")
    async def user_update(t: str, id: str, body: dict[str, Any]) -> dict[str, Any]:
        _wrap(lambda: sb.update(t, id, body))
        return {"id": id}

    @app.delete("/_sandbox/records/{t}/{id}")
    async def user_delete(t: str, id: str) -> dict[str, Any]:
        _wrap(lambda: sb.delete(t, id))
        return {"id": id}

    @app.post("/_sandbox/records/{t}/{id}/undelete")
    async def user_undelete(t: str, id: str) -> dict[str, Any]:
        """Restore a deleted record from the Recycle Bin as a user does."""
        _wrap(lambda: sb.undelete(t, id))
        return {"id": id}

    @app.post("/_sandbox/records/{t}/{id}/touch")
    async def touch(t: str, id: str) -> dict[str, Any]:
        _wrap(lambda: sb.touch(t, id))
        return {"id": id}

    @app.post("/_sandbox/leads/{id}/convert")
    async def convert_lead(id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Convert a lead as a user does (body: contactId, accountId of existing records to convert
        into, opportunity: true to create one); answers with LeadConvertResult's ids."""
        body = body or {}
        done = _wrap(lambda: sb.convert_lead(id, contact_id=body.get("contactId"), account_id=body.get("accountId"),
                                             opportunity=bool(body.get("opportunity", False))))
        return {**done, "success": True}

    @app.post("/_sandbox/records/{t}/{id}/merge")
    async def merge(t: str, id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Merge records into ``id`` as a user does (body: merge, the one or two ids of the same
        object to merge into it); answers with MergeResult's ids."""
        ids = body.get("merge")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RequestError(400, "INVALID_FIELD", "merge: a list of the one or two record ids to merge")
        done = _wrap(lambda: sb.merge(t, id, ids))
        return {**done, "success": True}

    @app.post("/_sandbox/purge-deleted/{t}")
    async def purge(t: str) -> dict[str, Any]:
        sb.org.purge_deleted(t)
        return {"ok": True}


def _knobs(app: FastAPI, sb: SalesforceCore) -> None:
    """The org's knobs: faults, validation and duplicate rules, API usage and the clock."""

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def put_faults(body: dict[str, Any]) -> dict[str, Any]:
        return asdict(sb.set_faults(**body))

    @app.get("/_sandbox/validation-rules")
    async def get_rules() -> list[dict[str, Any]]:
        return [r.as_dict() for r in sb.org.validation_rules]

    @app.put("/_sandbox/validation-rules")
    async def put_rules(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sb.org.validation_rules = []
        for r in body:
            try:
                sb.add_validation_rule(r["object"], r["condition"], r["message"], r.get("field"), r.get("name"))
            except soql.SoqlError as e:
                raise RequestError(400, e.code, e.message) from e
        return [r.as_dict() for r in sb.org.validation_rules]

    @app.put("/_sandbox/duplicate-rule")
    async def put_duplicate_rule(body: dict[str, Any]) -> dict[str, Any]:
        objects = tuple(body.get("objects", ("Contact", "Lead")))
        sb.set_duplicate_rule(bool(body.get("enabled", True)), objects)
        return {"objects": sorted(sb.org.duplicate_objects)}

    @app.get("/_sandbox/stats")
    async def stats() -> dict[str, Any]:
        return {**sb.stats.as_dict(), "api_usage": sb.api_used, "daily_limit": sb.settings.daily_limit}

    @app.put("/_sandbox/limits")
    async def put_limits(body: dict[str, Any]) -> dict[str, Any]:
        sb.set_limits(body.get("daily_limit"), body.get("used"))
        return {"api_usage": sb.api_used, "daily_limit": sb.settings.daily_limit}

    token_admin_routes(app, sb.oauth)

    @app.put("/_sandbox/oauth")
    async def put_oauth(body: dict[str, Any]) -> dict[str, Any]:
        """The connected app's settings: token_ttl, client_credentials, jwt_certificate, username."""
        for k in ("token_ttl", "client_credentials", "jwt_certificate", "username", "client_id", "client_secret"):
            if k in body:
                setattr(sb.settings, k, body[k])
        return {"token_ttl": sb.settings.token_ttl, "client_credentials": sb.settings.client_credentials,
                "jwt": sb.settings.jwt_certificate is not None, "username": sb.settings.username}

    @app.get("/_sandbox/clock")
    async def clock() -> dict[str, str]:
        return {"now": fmt_datetime(sb.org.now())}

    @app.post("/_sandbox/clock")
    async def advance(body: dict[str, Any]) -> dict[str, str]:
        return {"now": fmt_datetime(sb.advance(float(body.get("advance_seconds", 0))))}
