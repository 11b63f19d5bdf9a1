"""Run an Airbyte source (a PyPI connector) against a sandbox (runs inside its bench/.peer-venv).

Airbyte's Python sources hard-code their vendor's URLs in many places (HubSpot's declarative
manifest has ``url_base: https://api.hubapi.com`` in a dozen requesters, its Python streams a
``BASE_URL`` of their own). Every request of theirs goes out through ``requests``' HTTP
adapter, so this wrapper rewrites the vendor's origin to the sandbox's there, then hands over
to the source's own entrypoint (same argv: ``read --config c.json --catalog cat.json``):

    python peer_airbyte.py hubspot SANDBOX_URL read --config c.json --catalog cat.json

Nothing else of the source is changed: what it requests, how it pages and backs off are its own.
"""

from __future__ import annotations

import sys
from typing import Any

import requests.adapters

ORIGINS = {"hubspot": ("https://api.hubapi.com",)}


def redirect(origins: tuple[str, ...], to: str) -> None:
    send = requests.adapters.HTTPAdapter.send

    def send_to_sandbox(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        for origin in origins:
            if request.url.startswith(origin):
                request.url = to + request.url[len(origin):]
                break
        return send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send_to_sandbox  # type: ignore[method-assign]


def main() -> None:
    vendor, url = sys.argv[1], sys.argv[2].rstrip("/")
    redirect(ORIGINS[vendor], url)
    sys.argv = [f"source-{vendor}", *sys.argv[3:]]
    if vendor == "hubspot":
        from source_hubspot.run import run  # type: ignore[import-not-found]  # only in the peer's virtualenv
    run()


if __name__ == "__main__":
    main()
