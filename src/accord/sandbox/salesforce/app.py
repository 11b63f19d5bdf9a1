"""The Salesforce REST API sandbox: the ASGI app, assembled from the gate and one set of routes per
resource, and the :class:`SalesforceSandbox` handle used in-process (it also serves itself over TLS)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.core import Faults, SalesforceCore, SandboxSettings
from accord.sandbox.salesforce.routes import (
    admin,
    bulk,
    composite,
    describe,
    discovery,
    oauth,
    query,
    replication,
    sobjects,
)
from accord.sandbox.salesforce.routes.common import errors_response
from accord.sandbox.salesforce.routes.gate import gate
from accord.sandbox.salesforce.store import RecordError, RequestError, SfError
from accord.sandbox.salesforce.tls import TlsFiles, make_certificates
from accord.sandbox.server import ServerThread

__all__ = ["Faults", "SalesforceSandbox", "SandboxSettings", "build_app", "serve"]

# Starlette matches routes in registration order: this is the order they always had. It matters:
# /sobjects/{t}/describe, /updated and /deleted must come before /sobjects/{t}/{id}.
ROUTES = (discovery.register, describe.register, replication.register, sobjects.register, query.register,
          composite.register, bulk.register, oauth.register, admin.register)


class SalesforceSandbox(SalesforceCore):
    """An in-memory Salesforce org with its REST API as an ASGI app (``.app``)."""

    def __init__(self, settings: SandboxSettings | None = None, **overrides: Any) -> None:
        super().__init__(settings, **overrides)
        self.app = build_app(self)
        self.server: ServerThread | None = None
        self.tls: TlsFiles | None = None

    def start(self, host: str = "127.0.0.1", port: int | None = None, tls: bool = True) -> ServerThread:
        """Serve on loopback in a background thread (TLS with a fresh CA by default)."""
        self.tls = make_certificates() if tls else None
        srv = ServerThread(self.app, host, port, ssl_certfile=self.tls.certfile if self.tls else None,
                           ssl_keyfile=self.tls.keyfile if self.tls else None)
        srv.server.config.date_header = False  # the sandbox sends its own Date, from its own clock
        srv.server.config.timeout_graceful_shutdown = 1  # don't wait out requests hung by fault injection
        self.server = srv.start()
        return srv

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    @property
    def url(self) -> str:
        assert self.server is not None, "call start() first"
        return self.server.url


def build_app(sb: SalesforceCore) -> FastAPI:
    app = FastAPI(title="Salesforce REST API sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json",
                  redirect_slashes=False)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return errors_response(exc.status, exc.error)

    @app.exception_handler(RecordError)
    async def _record_error(_: Request, exc: RecordError) -> JSONResponse:
        return errors_response(400, *exc.errors)

    @app.exception_handler(soql.SoqlError)
    async def _soql_error(_: Request, exc: soql.SoqlError) -> JSONResponse:
        return errors_response(400, SfError(exc.code, exc.message))

    app.middleware("http")(gate(sb))
    for register in ROUTES:
        register(app, sb)
    return app


def serve(host: str = "127.0.0.1", port: int = 8443, records: int = 1000, seed: int = 42,
          token: str | None = None, tls: bool = True, daily_limit: int = 100_000, **settings: Any) -> None:
    """Run the sandbox in the foreground (``accord sandbox salesforce``); ``settings``: more
    :class:`SandboxSettings` (``token_ttl`` …)."""
    import uvicorn

    sb = SalesforceSandbox(SandboxSettings(records=records, seed=seed, token=token, daily_limit=daily_limit,
                                           **settings))
    files = make_certificates() if tls else None
    scheme = "https" if files else "http"
    print(f"Salesforce sandbox on {scheme}://{host}:{port}  ({records} records per object)", flush=True)
    if files:
        print(f"  CA certificate to trust: {files.cafile}", flush=True)
    s = sb.settings
    print(f"  connected app: consumer key {s.client_id}, secret {s.client_secret}; sessions live "
          f"{s.token_ttl:g} s", flush=True)
    uvicorn.run(sb.app, host=host, port=port, log_level="warning", date_header=False,
                ssl_certfile=files.certfile if files else None, ssl_keyfile=files.keyfile if files else None)

