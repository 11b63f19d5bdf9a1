"""Secrets at rest: app credentials the service stores are Fernet tokens, never clear text.

The key comes from ``ACCORD_SECRET_KEY`` (a Fernet key, or any passphrase, which is
stretched into one) or from a key file that is created on first use with mode 0600.
Losing the key loses the stored credentials (not the sync index): the apps must be
added again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger("accord.vault")

ENV = "ACCORD_SECRET_KEY"


class VaultError(Exception):
    """The stored secrets cannot be read with this key."""


def _as_fernet_key(text: str) -> bytes:
    raw = text.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (ValueError, TypeError):
        pass
    # a passphrase: derive a key (PBKDF2, fixed salt: the passphrase is the only secret here)
    return base64.urlsafe_b64encode(hashlib.pbkdf2_hmac("sha256", raw, b"accord-vault-v1", 200_000))


def load_key(key_file: str | Path, env: dict[str, str] | None = None) -> bytes:
    """The vault key: from the environment, else the key file (created 0600 when missing)."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV):
        return _as_fernet_key(env[ENV])
    path = Path(key_file)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("secret key file %s is readable by others (mode %o); chmod 600 it", path, mode)
        return _as_fernet_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting together never overwrite each other's key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    log.info("created secret key file %s (mode 600); back it up with the index", path)
    return key


class Vault:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            out: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as e:
            raise VaultError("stored app credentials cannot be decrypted with this key "
                             f"(wrong {ENV} or key file?)") from e
        return out
