"""Run a PyPI peer connector against a sandbox (runs inside its bench/.peer-venv).

The peers hard-code their vendor's URLs: Airbyte's ``source-hubspot`` has
``url_base: https://api.hubapi.com`` in a dozen requesters of its declarative manifest and a
``BASE_URL`` of its own in its Python streams; singer's ``tap-salesforce`` logs in at
``https://login.salesforce.com`` (then uses the ``instance_url`` the token endpoint answers
with, the sandbox's own). Every request of theirs goes out through ``requests``' HTTP adapter,
so this wrapper rewrites the vendor's origin to the sandbox's there, then hands over to the
peer's own entrypoint with the rest of the command line:

    python peer_redirect.py airbyte-hubspot SANDBOX_URL read --config c.json --catalog cat.json
    python peer_redirect.py tap-salesforce SANDBOX_URL --config c.json --properties cat.json

Nothing else of the peer is changed: what it requests, how it pages and backs off are its own.
"""

from __future__ import annotations

import sys
from typing import Any

import requests.adapters

ORIGINS = {
    "airbyte-hubspot": ("https://api.hubapi.com",),
    "tap-salesforce": ("https://login.salesforce.com", "https://test.salesforce.com"),
}


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
    peer, url = sys.argv[1], sys.argv[2].rstrip("/")
    redirect(ORIGINS[peer], url)
    sys.argv = [peer, *sys.argv[3:]]
    # the peers exist only in their own virtualenvs
    if peer == "airbyte-hubspot":
        from source_hubspot.run import run  # type: ignore[import-not-found]

        run()
    else:
        from tap_salesforce import main as tap_main  # type: ignore[import-not-found]

        tap_main()


if __name__ == "__main__":
    main()
