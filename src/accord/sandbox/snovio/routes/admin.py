"""``/_sandbox/``: seed, reset, lists, prospects and custom fields as a user edits them, faults, counters.

Not part of Snov.io's API, so the gate lets these through without limits or faults.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.snovio.core import SnovioCore
from accord.sandbox.snovio.store import ApiError


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except json.JSONDecodeError as e:
        raise ApiError(400, f"Invalid JSON: {e.msg}") from None
    return data if isinstance(data, dict) else {}


def register(app: FastAPI, sb: SnovioCore) -> None:
    _account(app, sb)
    _knobs(app, sb)


def _account(app: FastAPI, sb: SnovioCore) -> None:
    """The account's data: summary, seed, reset, and lists, prospects and custom fields as a user edits them."""
    store = sb.store

    @app.get("/_sandbox/")
    async def summary() -> dict[str, Any]:
        with store.lock:
            return {"vendor": "snovio", "prospects": len(store.prospects),
                    "lists": {x.name: len(x.members) for x in store.lists.values() if x.deleted is None},
                    "customFields": [f.name for f in store.fields.values()]}

    @app.post("/_sandbox/seed")
    async def seed(request: Request) -> dict[str, Any]:
        b = await _body(request)
        return sb.seed(int(b.get("records", 100)), int(b.get("seed", sb.settings.seed)))

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        sb.reset()
        return {"ok": True}

    @app.post("/_sandbox/lists")
    async def create_list(request: Request) -> dict[str, Any]:
        return {"id": sb.create_list(str((await _body(request)).get("name", "")))}

    @app.delete("/_sandbox/lists/{list_id}")
    async def delete_list(list_id: int) -> dict[str, Any]:
        return {"deleted": sb.delete_list(list_id)}

    @app.get("/_sandbox/prospects")
    async def prospects(request: Request) -> list[dict[str, Any]]:
        lid = request.query_params.get("listId")
        return sb.prospects(int(lid) if lid else None)

    @app.post("/_sandbox/prospects")
    async def user_add(request: Request) -> JSONResponse:
        b = await _body(request)
        pid = sb.user_add(int(b.pop("listId")), emails=list(b.pop("emails")), phones=b.pop("phones", None),
                          custom=b.pop("customFields", None), **{k: str(v) for k, v in b.items()})
        return JSONResponse({"id": pid}, status_code=201)

    @app.patch("/_sandbox/prospects/{pid}")
    async def user_update(pid: str, request: Request) -> dict[str, Any]:
        b = await _body(request)
        sb.user_update(pid, phones=b.pop("phones", None), custom=b.pop("customFields", None),
                       emails=b.pop("emails", None), **{k: str(v) for k, v in b.items()})
        with store.lock:
            return store.prospect_json(store.get(pid))

    @app.delete("/_sandbox/prospects/{pid}")
    async def user_delete(pid: str) -> dict[str, Any]:
        return {"deleted": sb.user_delete(pid)}

    @app.post("/_sandbox/custom-fields")
    async def add_field(request: Request) -> dict[str, Any]:
        b = await _body(request)
        sb.add_field(str(b.get("name", "")), str(b.get("type", "string")))
        return {"ok": True}

    @app.delete("/_sandbox/custom-fields/{name}")
    async def delete_field(name: str) -> dict[str, Any]:
        return {"deleted": sb.delete_field(name)}

    @app.post("/_sandbox/tokens/expire")
    async def expire() -> dict[str, Any]:
        return {"expired": sb.expire_tokens()}


def _knobs(app: FastAPI, sb: SnovioCore) -> None:
    """The sandbox's knobs: faults, counters and settings."""

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sb.faults)

    @app.put("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            return asdict(sb.set_faults(**{str(k): v for k, v in (await _body(request)).items()}))
        except ValueError as e:
            raise ApiError(400, str(e)) from None

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> dict[str, Any]:
        sb.clear_faults()
        return asdict(sb.faults)

    @app.get("/_sandbox/counters")
    async def counters() -> dict[str, int]:
        return dict(sb.counters)

    @app.delete("/_sandbox/counters")
    async def clear_counters() -> dict[str, int]:
        sb.counters.clear()
        return {}

    @app.get("/_sandbox/settings")
    async def get_settings() -> dict[str, Any]:
        return asdict(sb.settings)

    @app.put("/_sandbox/settings")
    async def put_settings(request: Request) -> dict[str, Any]:
        for k, v in (await _body(request)).items():
            if not hasattr(sb.settings, k):
                raise ApiError(400, f"unknown setting {k}")
            setattr(sb.settings, k, v)
        return asdict(sb.settings)
