"""Request parsing and error answers shared by the Salesforce sandbox's route modules."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from accord.sandbox.salesforce.store import RequestError, SfError

MAX_COLLECTION = 200


def errors_response(status: int, *errors: SfError) -> JSONResponse:
    return JSONResponse([e.rest() for e in errors], status_code=status)


def allow_save(request: Request) -> bool:
    header = request.headers.get("sforce-duplicate-rule-header", "")
    return bool(re.search(r"allowSave\s*=\s*true", header, re.IGNORECASE))


def batch_size(request: Request, default: int) -> int:
    m = re.search(r"batchSize\s*=\s*(\d+)", request.headers.get("sforce-query-options", ""))
    # Salesforce clamps batchSize to 200..2000 and may answer with smaller pages than asked
    # (it does, for wide rows): the sandbox's page_size caps the page, so tests can have many
    return min(default, max(200, min(2000, int(m.group(1))))) if m else default


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except json.JSONDecodeError as e:
        raise RequestError(400, "JSON_PARSER_ERROR", f"Unexpected character: {e.msg} at [line:{e.lineno}, "
                           f"column:{e.colno}]") from e


def field_name(obj: Any, name: str) -> str:
    f = obj.field(name.strip())
    if f is None:
        raise RequestError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
    return str(f.name)


def external_field(obj: Any, name: str) -> str:
    f = obj.field(name)
    if f is None or not (f.external_id or f.name == "Id"):
        raise RequestError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
    return str(f.name)
