"""ASGI middleware that refuses oversized request bodies before any route reads them."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY = 5 * 1024 * 1024  # webhook batches are at most 100 events; configs far smaller


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, read or declared."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        seen = 0
        refused = False

        async def counted() -> Any:
            # a body without Content-Length is counted as it arrives; past the limit the
            # client gets 413 at once and the app sees a disconnect
            nonlocal seen, refused
            msg = await receive()
            if msg["type"] == "http.request" and not refused:
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    refused = True
                    await _too_large(send, self.limit)
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Any) -> None:
            if not refused:
                await send(msg)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
