"""Dashboard sessions: which login cookies are valid, until when, under which API token.

Only a hash of each session id is stored (a copy of the index opens no session), next to a
fingerprint of the API token the login used: a session opened under another token is void,
so changing the token logs every browser out. Expired and void rows are purged at each login.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, insert, or_, select

from accord.index.db import IndexDB
from accord.index.schema import sessions


class Sessions(IndexDB):
    def open_session(self, key: str, token: str, ttl: float) -> None:
        """Store session ``key`` (a hash of the cookie's id) for ``ttl`` seconds under ``token``
        (a fingerprint of the API token); drop the expired sessions and those of other tokens."""
        now = time.time()
        with self.engine.begin() as c:
            c.execute(delete(sessions).where(or_(sessions.c.expires_at <= now, sessions.c.token != token)))
            c.execute(insert(sessions).values(id=key, token=token, created_at=now, expires_at=now + ttl))

    def session_valid(self, key: str, token: str) -> bool:
        with self.engine.connect() as c:
            row = c.execute(select(sessions.c.token, sessions.c.expires_at).where(sessions.c.id == key)).first()
        return row is not None and row.token == token and row.expires_at > time.time()

    def close_session(self, key: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(sessions).where(sessions.c.id == key))
