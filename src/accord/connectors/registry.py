"""The connector registry: every vendor Accord can sync, as data its own module declares.

Each vendor module exports ``VENDOR``, a :class:`Vendor`: the ``type`` users write in
accord.yaml, its settings model, its constructor, its rate limits, its sandbox and its
optional capabilities. Config parsing, the CLI, the service and the distributed mode read
this registry; none of them names a vendor. A vendor module is imported only when an app of
its type is used, so parsing a config with two HubSpot apps never loads the SQL connector.

Adding a vendor: write ``accord/connectors/<name>.py`` with its connector, settings model and
``VENDOR``, and add it to :data:`BUILTIN` — or, from another package, declare an entry point in
the ``accord.vendors`` group whose value is the module (``pkg.module``). See
docs/connectors/README.md.
"""

from __future__ import annotations

import builtins
import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from accord.connectors.base import Connector
from accord.connectors.limits import RateLimit
from accord.connectors.settings import AppSettings

#: optional capabilities a vendor may have (beyond reading and writing records)
WEBHOOKS = "webhooks"  # the app pushes its changes to POST /webhooks/APP (Connector.webhooks)
ASSOCIATIONS = "associations"  # records link to records of other objects (Connector.associations)
LISTS = "lists"  # inclusion lists, segments or groups (Connector.list_members)
PIPELINES = "pipelines"  # deal stages (Connector.pipelines)


@dataclass(frozen=True)
class Sandbox:
    """The vendor's API sandbox for ``accord sandbox TYPE``: ``module.serve(host=, port=, records=,
    seed=, token=)`` runs it in the foreground; ``banner`` (``str.format``-ed with host, port and
    records) is printed first, when the sandbox does not print its own."""

    module: str
    banner: str = ""
    expiring: bool = False  # its access tokens expire: ``serve`` takes ``token_ttl`` (seconds)

    def serve(self, *, host: str, port: int, records: int, seed: int, token: str | None,
              token_ttl: float | None = None) -> None:
        serve: Callable[..., None] = importlib.import_module(self.module).serve
        more = {"token_ttl": token_ttl} if token_ttl is not None else {}
        serve(host=host, port=port, records=records, seed=seed, token=token, **more)


def _no_limits(settings: Any) -> list[RateLimit]:
    return []


@dataclass(frozen=True)
class Entry:
    """One field of the dashboard's "add with a token" form of a vendor (a setting of its model)."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""
    multiline: bool = False  # a PEM key
    hint: str = ""


@dataclass(frozen=True)
class Client:
    """The OAuth app an account was connected with (what :attr:`OAuthApp.settings` builds on)."""

    client_id: str
    client_secret: str | None
    base_url: str  # the API or login URL the account was connected through
    verify: bool | str = True


@dataclass(frozen=True)
class OAuthApp:
    """How the dashboard connects an account of a vendor: OAuth 2.0's authorization-code flow,
    with PKCE where the vendor takes it. ``settings(client, token answer)`` is the app's
    ``apps:`` entry (the refresh token and what the answer says of the account)."""

    base_url: str  # the vendor's API (HubSpot) or login (Salesforce) URL
    authorize_url: str  # its consent page, with the default base_url
    authorize_path: str  # the consent page on another base_url (a sandbox, a My Domain)
    token_path: str
    scope: str
    settings: Callable[[Client, dict[str, Any]], dict[str, Any]]
    pkce: bool = True
    # asked for, not required: an account without them (a tier without tickets, say) can still connect
    optional_scope: str = ""
    base_label: str = "API URL"
    client_label: str = "Client ID"
    secret_label: str = "Client secret"

    def authorize(self, base_url: str | None) -> str:
        base = (base_url or self.base_url).rstrip("/")
        return self.authorize_url if base == self.base_url.rstrip("/") else base + self.authorize_path

    def token(self, base_url: str | None) -> str:
        return (base_url or self.base_url).rstrip("/") + self.token_path


@dataclass(frozen=True)
class Vendor:
    type: str  # ``apps.X.type`` in accord.yaml
    label: str  # as users name it: "HubSpot", "Snov.io"
    settings: builtins.type[AppSettings]  # the pydantic model of one ``apps:`` entry
    build: Callable[[str, Any], Connector]  # (app name, settings) -> connector
    limits: Callable[[Any], list[RateLimit]] = _no_limits  # (settings) -> the app's rate limits
    sandbox: Sandbox | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    connect: OAuthApp | None = None  # the dashboard's "Connect VENDOR" (authorization-code flow)
    paste: tuple[Entry, ...] = ()  # the dashboard's "add with a token" form
    signs_in: Callable[[Any], str] = lambda settings: "credentials"  # (settings) -> how, as the Apps page says


#: the vendors that ship with Accord: type -> the module exporting its ``VENDOR``
BUILTIN: dict[str, str] = {
    "memory": "accord.connectors.memory",
    "hubspot": "accord.connectors.hubspot",
    "salesforce": "accord.connectors.salesforce",
    "snovio": "accord.connectors.snovio",
    "xentral": "accord.connectors.xentral",
    "sql": "accord.connectors.sql",
}


@functools.cache
def _modules() -> dict[str, str]:
    """Every known vendor type and its module: the built-in ones, then those of installed plugins."""
    found = dict(BUILTIN)
    for ep in entry_points(group="accord.vendors"):
        found.setdefault(ep.name, ep.value.partition(":")[0])
    return found


def names() -> list[str]:
    """The vendor types accord.yaml accepts, in the order they are documented."""
    return list(_modules())


@functools.cache
def vendor(type: str) -> Vendor:
    """The vendor of ``type``; KeyError when there is none."""
    module = _modules()[type]
    found: Vendor = importlib.import_module(module).VENDOR
    if found.type != type:
        raise KeyError(f"{module}.VENDOR is {found.type!r}, not {type!r}")
    return found


def find(type: Any) -> Vendor | None:
    """The vendor of ``type``, or None when accord.yaml names an unknown type."""
    return vendor(type) if isinstance(type, str) and type in _modules() else None


def vendors(types: Sequence[str] | None = None) -> list[Vendor]:
    """The vendors of ``types`` (default: all of them; this imports every vendor module)."""
    return [vendor(t) for t in (names() if types is None else types)]


def with_sandbox() -> list[str]:
    """The vendor types ``accord sandbox`` can serve."""
    return [v.type for v in vendors() if v.sandbox is not None]


def build(name: str, settings: AppSettings) -> Connector:
    """The connector for one ``apps:`` entry of accord.yaml."""
    return vendor(settings.type).build(name, settings)


def limits(settings: AppSettings) -> list[RateLimit]:
    """The rate limits of one ``apps:`` entry."""
    return vendor(settings.type).limits(settings)


__all__ = ["ASSOCIATIONS", "BUILTIN", "LISTS", "PIPELINES", "WEBHOOKS", "Client", "Entry", "OAuthApp", "Sandbox",
           "Vendor", "build", "find", "limits", "names", "vendor", "vendors", "with_sandbox"]
