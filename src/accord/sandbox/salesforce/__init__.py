"""Salesforce REST API sandbox: an in-memory org served over HTTPS for tests and the demo.

>>> sb = SalesforceSandbox(records=100)       # or SalesforceSandbox(SandboxSettings(...))
>>> srv = sb.start()                            # TLS on loopback; trust sb.tls.cafile
>>> sb.url, sb.tls.cafile
"""

from accord.sandbox.salesforce.app import Faults, SalesforceSandbox, SandboxSettings, serve
from accord.sandbox.salesforce.store import ValidationRule
from accord.sandbox.salesforce.tls import TlsFiles, make_certificates

__all__ = [
    "Faults",
    "SalesforceSandbox",
    "SandboxSettings",
    "TlsFiles",
    "ValidationRule",
    "make_certificates",
    "serve",
]
