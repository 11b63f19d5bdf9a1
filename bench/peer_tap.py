"""Run singer-io's ``tap-hubspot`` against another base URL (runs inside bench/.peer-venv).

tap-hubspot hard-codes ``BASE_URL = "https://api.hubapi.com"`` as a module global that every
request reads through ``get_url``; this wrapper imports the tap, points that global at the
sandbox and then hands over to the tap's own ``main`` (same argv: ``--config``, ``--catalog``).

    python peer_tap.py BASE_URL --config c.json --catalog cat.json          # sync (stdout: singer)
    python peer_tap.py BASE_URL --catalog-for contacts PROP,PROP > cat.json  # a catalog

The catalog mode selects one stream and the given HubSpot properties (the tap's own discovery
code builds the schema, through the sandbox's properties endpoint); it stands for the catalog a
user writes once with ``--discover`` and a selection tool.
"""

from __future__ import annotations

import json
import sys

import tap_hubspot  # type: ignore[import-not-found]  # only in the peer's virtualenv


def catalog(stream_id: str, properties: list[str]) -> dict[str, object]:
    stream = next(s for s in tap_hubspot.STREAMS if s.tap_stream_id == stream_id)
    schema, mdata = tap_hubspot.load_discovered_schema(stream)
    wanted = {f"property_{p}" for p in properties}
    for entry in mdata:
        crumb = entry["breadcrumb"]
        if not crumb:
            entry["metadata"]["selected"] = True
        elif entry["metadata"].get("inclusion") != "automatic":
            # the chosen properties as top-level columns (``property_email`` …), nothing else
            entry["metadata"]["selected"] = crumb[1] in wanted
    return {"streams": [{"stream": stream_id, "tap_stream_id": stream_id, "schema": schema, "metadata": mdata}]}


def main() -> None:
    tap_hubspot.BASE_URL = sys.argv[1].rstrip("/")
    args = sys.argv[2:]
    if args and args[0] == "--catalog-for":
        tap_hubspot.CONFIG.update({"api_key": args[3] if len(args) > 3 else "bench"})
        json.dump(catalog(args[1], args[2].split(",")), sys.stdout)
        return
    sys.argv = [sys.argv[0], *args]
    tap_hubspot.main()


if __name__ == "__main__":
    main()
