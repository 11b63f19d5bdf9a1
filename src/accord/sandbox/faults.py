"""Fault injection the sandboxes share (each has its own ``Faults`` and error bodies).

* **Queued faults** (``Faults.queue``): the next calls' outcomes, in order, for deterministic
  tests. An entry is a fault name, or ``NAME:KIND`` to hit the next call of that kind only
  (the sandbox's own call kinds, as its counters name them: ``batch_create``, ``composite``,
  ``add-prospect-to-list``, ``adressen_create`` …). Every sandbox knows ``429`` (with
  ``Retry-After``), ``500`` (nothing carried out), ``500_applied`` (the request is carried out,
  then answered 500) and ``reset_applied`` (carried out, then the connection drops); some know
  more (HubSpot's ``timeout``, Salesforce's ``rate_limit``, ``error`` and ``timeout``).
* ``Retry-After`` in seconds, or as an HTTP date (``retry_after_date``), as servers send either.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from starlette.responses import Response

#: faults that carry the request out before failing its answer
APPLIED = frozenset({"500_applied", "reset_applied"})


def take(queue: list[str], kind: str, lock: threading.Lock | None = None) -> str | None:
    """Pop the first queued fault for a call of ``kind`` (entries without a kind match any call)."""
    with lock or threading.Lock():
        for n, entry in enumerate(queue):
            name, _, want = str(entry).partition(":")
            if not want or want == kind:
                del queue[n]
                return name
    return None


def retry_after(seconds: float, as_date: bool = False) -> str:
    """A ``Retry-After`` value: whole seconds, or the HTTP date that many seconds from now."""
    if as_date:
        return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)
    return str(max(0, math.ceil(seconds)))


class ResetResponse(Response):
    """A connection that drops mid-response: the headers promise a body that never comes."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
        # returning with the body unfinished makes the server close the connection


async def after_applied(fault: str | None, response: Response, error: Response) -> Response:
    """The answer to a call whose route ran: ``response`` itself, or — for a fault that carries
    the request out first — ``error`` (``500_applied``) or a dropped connection."""
    if fault not in APPLIED:
        return response
    async for _ in response.body_iterator:  # type: ignore[attr-defined]
        pass  # carried out; its answer is lost
    return ResetResponse() if fault == "reset_applied" else error


__all__ = ["APPLIED", "ResetResponse", "after_applied", "retry_after", "take"]
