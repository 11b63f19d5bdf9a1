"""``accord run``: the long-running service (scheduler, webhooks, REST API, dashboard, metrics).

Imports run one way: app (assembly) → routes/ (routers) → web (shared route helpers) →
manage, core → managed, metrics. No module imports one above it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from accord.config import Config


def serve(cfg: Config, *, host: str = "127.0.0.1", port: int = 8080, reconcile: float | None = None,
          say: Any = print, key_file: str | Path | None = None, temporal: str | None = None,
          namespace: str = "default", task_queue: str = "accord") -> None:
    """Run the service in the foreground until SIGINT/SIGTERM (then finish the current batch)."""
    import uvicorn

    from accord.service.app import create_app
    from accord.service.core import DAY
    from accord.service.web import new_token
    from accord.vault import Vault, load_key

    token = os.environ.get("ACCORD_API_TOKEN") or ""
    if not token:
        token = new_token()
        say(f"API token (shown once; set ACCORD_API_TOKEN to choose your own): {token}")
    # credentials of apps added through the API are sealed with this key (accord.vault)
    vault = Vault(load_key(key_file or Path(cfg.source).resolve().parent / "accord.key"))
    service = None
    if temporal:  # distributed: the workflows run the passes (accord.distributed.service_bridge)
        from accord.distributed.service_bridge import TemporalService

        service = TemporalService(cfg, temporal, namespace=namespace, task_queue=task_queue,
                                  reconcile=reconcile or DAY, vault=vault)
    app = create_app(cfg, service, token=token, reconcile=reconcile or DAY, vault=vault)
    say(f"Accord on http://{host}:{port}  (dashboard /, API docs /docs, webhooks /webhooks/APP, metrics /metrics)")
    sys.stdout.flush()  # the token must reach a log or pipe now, not when the service stops
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=60)


__all__ = ["serve"]
