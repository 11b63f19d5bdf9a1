"""``accord run``: the long-running service (scheduler, webhooks, REST API, dashboard, metrics).

Imports run one way: app (assembly) → routes/ (routers) → web (shared route helpers) →
manage, core → managed, metrics. No module imports one above it.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path
from typing import Any

from accord.config import Config


class StartupError(Exception):
    """A setting of ``accord run`` that cannot work: ``key`` names it (an option), the message says what to do."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, before anything else starts: a busy port stops
    ``accord run`` before any sync has run a pass."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise StartupError("--host", f"cannot resolve {host}: {e.strerror}") from e
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise StartupError("--host/--port", f"cannot listen on {host}:{port}: {e.strerror}; stop the process "
                           "using it or choose another --port") from e
    sock.set_inheritable(True)
    return sock


def serve(cfg: Config, *, host: str = "127.0.0.1", port: int = 8080, reconcile: float | None = None,
          say: Any = print, key_file: str | Path | None = None, temporal: str | None = None,
          namespace: str = "default", task_queue: str = "accord", token: str = "", api_docs: bool = False) -> None:
    """Run the service in the foreground until SIGINT/SIGTERM (then finish the current batch).

    The port is bound first, then the index opened (:class:`~accord.index.store.IndexUnavailable`
    if it cannot be), then the syncs start: each failure stops start-up before any pass runs.
    """
    import uvicorn

    from accord.service.app import create_app
    from accord.service.core import DAY, Service
    from accord.service.web import new_token
    from accord.vault import Vault, load_key

    sock = bind(host, port)
    try:
        # credentials of apps added through the API are sealed with this key (accord.vault)
        key_path = Path(key_file or Path(cfg.source).resolve().parent / "accord.key")
        try:
            vault = Vault(load_key(key_path))
        except OSError as e:
            raise StartupError("--secret-key-file", f"cannot read or create {key_path}: {e.strerror}; check its "
                               "permissions, or set ACCORD_SECRET_KEY") from e
        service: Service
        if temporal:  # distributed: the workflows run the passes (accord.distributed.service_bridge)
            from accord.distributed.service_bridge import TemporalService

            service = TemporalService(cfg, temporal, namespace=namespace, task_queue=task_queue,
                                      reconcile=reconcile or DAY, vault=vault)
        else:
            service = Service(cfg, reconcile=reconcile or DAY, vault=vault)
        if host not in ("0.0.0.0", "::", ""):  # a wildcard address is no link for people
            service.notifier.use_link(f"http://{host}:{port}")
        if not token:
            token = new_token()
            say(f"API token (shown once; set ACCORD_API_TOKEN to choose your own): {token}")
        watched = Path(cfg.source) if Path(cfg.source).is_file() else None  # reloaded on change or SIGHUP
        app = create_app(cfg, service, token=token, api_docs=api_docs, config_path=watched, say=say)
        docs = ", API docs /docs" if api_docs else ""
        say(f"Accord on http://{host}:{port}  (dashboard /{docs}, webhooks /webhooks/APP, metrics /metrics)")
        sys.stdout.flush()  # the token must reach a log or pipe now, not when the service stops
        server = uvicorn.Server(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=60))
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it handled
            server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:  # the app failed to start (its error is logged)
        raise SystemExit(1)


__all__ = ["StartupError", "bind", "serve"]
