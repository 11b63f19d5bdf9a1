"""Apps and syncs made through the API or the dashboard, layered over ``accord.yaml``.

accord.yaml stays the source of truth for what it defines: those apps and syncs are
read-only through the API (edit the file and restart). Everything created through the
API lives in the index database — sync configs as JSON, app configs sealed by the vault —
and the effective configuration is the file's plus the stored ones, validated together
by the same rules as the file (:func:`accord.config.semantic_issues`).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import ValidationError

from accord import redact
from accord.config import (
    AppConfig,
    Config,
    ConfigError,
    ConfigIssue,
    SyncConfig,
    SyncOverlap,
    _pydantic_issues,
    app_settings,
    object_pair,
    overlap_message,
    semantic_issues,
)
from accord.connectors import registry
from accord.index import Store
from accord.vault import Vault, VaultError

log = logging.getLogger("accord.service")

Source = Literal["file", "api"]
REDACTED = "••••••"
_SECRET_WORDS = ("token", "secret", "password", "key")


def _secret_key(k: str) -> bool:
    return any(w in k for w in _SECRET_WORDS)


def redact_app(app: AppConfig) -> dict[str, Any]:
    """An app's settings with every credential replaced, for API responses and pages: secret-named
    settings, and in URLs a password and secret-named query parameters (``?password=``)."""
    out: dict[str, Any] = app.model_dump(mode="json")
    for k, v in list(out.items()):
        if v and _secret_key(k):
            out[k] = REDACTED
        elif isinstance(v, str) and "://" in v:
            out[k] = redact.scrub_forms(v, REDACTED)
    return out


def secrets_of(app: AppConfig) -> list[str]:
    """The credential values of an app (for log redaction)."""
    out = []
    for k, v in app.model_dump(mode="json").items():
        if isinstance(v, str) and v and _secret_key(k):
            out.append(v)
        elif isinstance(v, str) and "://" in v:
            out += redact.url_secrets(v)
    return out


class Registry:
    def __init__(self, file_cfg: Config, store: Store, vault: Vault | None) -> None:
        self.file_cfg = file_cfg
        self.store = store
        self.vault = vault

    def in_file(self, name: str) -> bool:
        return any(s.name == name for s in self.file_cfg.syncs)

    def source_of_sync(self, name: str) -> Source | None:
        if self.in_file(name):
            return "file"
        return "api" if any(c.get("name") == name for c in self.store.managed_syncs()) else None

    def source_of_app(self, name: str) -> Source | None:
        if name in self.file_cfg.apps:
            return "file"
        return "api" if name in self.store.managed_apps() else None

    # -- building the effective config ------------------------------------------------------
    def _stored_apps(self) -> dict[str, AppConfig]:
        out: dict[str, AppConfig] = {}
        rows = self.store.managed_apps()
        if rows and self.vault is None:
            log.error("%d stored app(s) ignored: the service has no secret key", len(rows))
            return out
        for name, (kind, sealed) in rows.items():
            try:
                assert self.vault is not None
                out[name] = registry.vendor(kind).settings.model_validate(self.vault.open(sealed))
            except (VaultError, ValidationError, KeyError) as e:
                log.error("stored app %r ignored: %s", name, e)
        return out

    def _build(self, apps: dict[str, AppConfig], syncs: list[SyncConfig]) -> tuple[Config, list[ConfigIssue]]:
        cfg = Config.model_validate({"state": self.file_cfg.state, "apps": apps, "syncs": syncs,
                                     "source": self.file_cfg.source, "notifications": self.file_cfg.notifications})
        return cfg, semantic_issues(cfg)

    def current(self) -> Config:
        """The file's apps and syncs plus the stored ones; a stored sync that no longer fits is skipped."""
        apps = {**self._stored_apps(), **self.file_cfg.apps}
        syncs = list(self.file_cfg.syncs)
        for raw in self.store.managed_syncs():
            try:
                s = SyncConfig.model_validate(raw)
            except ValidationError as e:
                log.error("stored sync %r ignored: %s", raw.get("name"), e)
                continue
            if s.name in {x.name for x in syncs}:
                log.error("stored sync %r ignored: accord.yaml defines a sync of that name", s.name)
                continue
            _, issues = self._build(apps, [*syncs, s])
            if issues:
                log.error("stored sync %r ignored: %s", s.name, "; ".join(f"{i.path}: {i.message}" for i in issues))
                continue
            syncs.append(s)
        cfg, _ = self._build(apps, syncs)
        return cfg

    # -- changes --------------------------------------------------------------------------
    def check_sync(self, body: Any, replacing: str | None = None) -> tuple[Config, SyncConfig]:
        """Validate a sync body against the current config; ConfigError names the key paths,
        SyncOverlap the sync that already pairs the same two objects."""
        try:
            s = SyncConfig.model_validate(body)
        except ValidationError as e:
            raise ConfigError("sync", _pydantic_issues(e, "")) from e
        cur = self.current()
        if replacing is not None and s.name != replacing:
            raise ConfigError("sync", [ConfigIssue("name", "saving settings keeps the name: rename the sync with "
                                                           "Rename on its page (POST /api/syncs/NAME/rename), "
                                                           "which keeps its index")])
        if replacing is None and any(x.name == s.name for x in cur.syncs):
            raise ConfigError("sync", [ConfigIssue("name", f"a sync named {s.name!r} exists")])
        pair = object_pair(s)
        other = next((x for x in cur.syncs if x.name != s.name and object_pair(x) == pair), None)
        if other is not None:
            raise SyncOverlap(overlap_message(s, other))
        syncs = [x for x in cur.syncs if x.name != s.name] + [s]
        cfg, issues = self._build(dict(cur.apps), syncs)
        mine = f"syncs[{len(syncs) - 1}]"
        issues = [ConfigIssue(i.path.removeprefix(mine).lstrip("."), i.message) for i in issues if i.path.startswith(mine)]
        if issues:
            raise ConfigError("sync", issues)
        return cfg, s

    def save_sync(self, s: SyncConfig) -> None:
        self.store.put_managed_sync(s.name, s.model_dump(mode="json", exclude_none=True))

    def delete_sync(self, name: str) -> None:
        self.store.delete_managed_sync(name)

    def check_app(self, name: str, body: Any) -> AppConfig:
        if not isinstance(body, dict):
            raise ConfigError("app", [ConfigIssue("", "must be a JSON object")])
        if body.get("type") == "memory" and body.get("path") is not None:
            # a file path written by the service: only the config file may name one
            raise ConfigError("app", [ConfigIssue("path", "a memory app's path can only be set in accord.yaml")])
        return app_settings(body)

    def save_app(self, name: str, app: AppConfig) -> None:
        if self.vault is None:
            raise ConfigError("app", [ConfigIssue("", "the service has no secret key to store credentials with")])
        self.store.put_managed_app(name, app.type, self.vault.seal(app.model_dump(mode="json")))

    def delete_app(self, name: str) -> None:
        self.store.delete_managed_app(name)
