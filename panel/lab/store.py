"""Durable state of the lab identity provider: device codes and tokens.

One SQLite file, ``<data_dir>/lab/lab.db`` (mode 0600), so that a restarted
lab still honours the refresh tokens it issued before. Only SHA-256 digests
of device codes, access tokens and refresh tokens are stored: the file is
enough to check a token presented to the lab, never to recover one.

Thread rules: every method may be called from any thread (werkzeug serves
each request on its own thread). Each call opens its own connection and runs
under one lock, so a check-then-update (poll a code, rotate a refresh token)
is never interleaved with another.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["LabStore", "digest", "ROTATED", "REVOKED"]

# Why a refresh token is dead (``tokens.refresh_revoked``): the lab answers a
# token that was used up by rotation differently from one an administrator
# revoked (Microsoft: AADSTS50173).
ROTATED = 1
REVOKED = 2

# Device codes are kept this long after they expire, so that a late poll is
# answered ``expired_token`` rather than "unknown code".
_EXPIRED_CODE_GRACE = 24 * 3600
# An expired refresh token is remembered this long, so that it is refused as
# expired (Microsoft: AADSTS700082) rather than as unknown.
_DEAD_REFRESH_GRACE = 30 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_codes (
    device_hash TEXT PRIMARY KEY,
    user_code   TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    expires_at  REAL NOT NULL,
    interval    INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | denied
    account     TEXT,
    last_poll   REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    access_hash        TEXT PRIMARY KEY,
    refresh_hash       TEXT UNIQUE,
    client_id          TEXT NOT NULL,
    account            TEXT NOT NULL,
    scope              TEXT NOT NULL DEFAULT '',  -- of the access token
    grant_scope        TEXT NOT NULL DEFAULT '',  -- what the user approved
    issued_at          REAL NOT NULL,
    access_expires_at  REAL NOT NULL,
    refresh_expires_at REAL,
    access_revoked     INTEGER NOT NULL DEFAULT 0,
    refresh_revoked    INTEGER NOT NULL DEFAULT 0  -- 0 live, 1 used (rotated), 2 revoked
);
CREATE INDEX IF NOT EXISTS tokens_account ON tokens (account);
"""


def digest(secret: str) -> str:
    """The stored form of a device code or token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class LabDatabase:
    """One SQLite file of the lab's state: private (0600) from its first byte,
    one transaction per `_connect()`. Subclasses give their SCHEMA."""

    SCHEMA = ""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file ourselves so it is 0600 from its first byte; SQLite
        # gives its journal the same mode.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        with self._connect() as db:
            db.executescript(self.SCHEMA)

    @contextmanager
    def _connect(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; `immediate` takes SQLite's write lock at once, so a
        read-then-write is not interleaved with another process's."""
        with self._lock:
            db = sqlite3.connect(self.path, timeout=10)
            db.row_factory = sqlite3.Row
            try:
                with db:
                    if immediate:
                        db.execute("BEGIN IMMEDIATE")
                    yield db
            finally:
                db.close()


class LabStore(LabDatabase):
    """Device codes and tokens of one lab, in one SQLite file."""

    SCHEMA = _SCHEMA

    # -- device codes ---------------------------------------------------------

    def add_device_code(
        self,
        device_code: str,
        user_code: str,
        client_id: str,
        scope: str,
        expires_at: float,
        interval: int,
    ) -> None:
        with self._connect() as db:
            db.execute(
                "DELETE FROM device_codes WHERE expires_at < ?",
                (time.time() - _EXPIRED_CODE_GRACE,),
            )
            db.execute(
                "INSERT INTO device_codes (device_hash, user_code, client_id, scope,"
                " expires_at, interval) VALUES (?, ?, ?, ?, ?, ?)",
                (digest(device_code), user_code, client_id, scope or "", expires_at, interval),
            )

    def user_code_exists(self, user_code: str) -> bool:
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM device_codes WHERE user_code = ?", (user_code,)
            ).fetchone()
        return row is not None

    def poll_device_code(self, device_code: str) -> dict | None:
        """Return the code's record as it was before this poll (``last_poll``
        is the previous poll's time, or None) and note this poll's time."""
        now = time.time()
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM device_codes WHERE device_hash = ?", (digest(device_code),)
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE device_codes SET last_poll = ? WHERE device_hash = ?",
                (now, row["device_hash"]),
            )
        return dict(row)

    def device_decision(self, user_code: str) -> tuple[str, str | None] | None:
        """``(status, account)`` of a code, or None if there is no such code."""
        with self._connect() as db:
            row = db.execute(
                "SELECT status, account FROM device_codes WHERE user_code = ?", (user_code,)
            ).fetchone()
        return None if row is None else (row["status"], row["account"])

    def pending_code(self, user_code: str) -> dict | None:
        """The record of a code that still awaits the user's decision."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM device_codes WHERE user_code = ? AND status = 'pending'"
                " AND expires_at >= ?",
                (user_code, time.time()),
            ).fetchone()
        return None if row is None else dict(row)

    def decide(self, user_code: str, approved: bool, account: str | None) -> bool:
        """Record the user's answer; False if the code is unknown, expired or
        already decided."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE device_codes SET status = ?, account = ?"
                " WHERE user_code = ? AND status = 'pending' AND expires_at >= ?",
                ("approved" if approved else "denied", account, user_code, time.time()),
            )
            return cur.rowcount == 1

    def deny_device_code(self, device_hash: str) -> None:
        """Deny a code whatever its state (an injected ``access_denied``)."""
        with self._connect() as db:
            db.execute(
                "UPDATE device_codes SET status = 'denied', account = NULL WHERE device_hash = ?",
                (device_hash,),
            )

    def slow_down_device_code(self, device_hash: str, by: int = 5) -> None:
        """Make a code's polling interval ``by`` seconds longer, as a
        ``slow_down`` answer does for every later poll (RFC 8628 §3.5)."""
        with self._connect() as db:
            db.execute(
                "UPDATE device_codes SET interval = interval + ? WHERE device_hash = ?",
                (int(by), device_hash),
            )

    def consume_device_code(self, device_code: str) -> None:
        """A device code yields tokens once; afterwards it is unknown."""
        with self._connect() as db:
            db.execute("DELETE FROM device_codes WHERE device_hash = ?", (digest(device_code),))

    # -- tokens ---------------------------------------------------------------

    def save_token(
        self,
        *,
        access_token: str,
        refresh_token: str | None,
        client_id: str,
        account: str,
        scope: str,
        grant_scope: str,
        access_expires_at: float,
        refresh_expires_at: float | None,
    ) -> None:
        now = time.time()
        with self._connect() as db:
            # Rows whose access and refresh tokens are both dead serve nobody,
            # except to say why a refresh token is refused: a revoked one is
            # kept, an expired one for a while (see ``refresh_record``).
            db.execute(
                "DELETE FROM tokens WHERE access_expires_at < ? AND (refresh_hash IS NULL"
                " OR refresh_revoked = ? OR refresh_expires_at < ?)",
                (now - 3600, ROTATED, now - _DEAD_REFRESH_GRACE),
            )
            db.execute(
                "INSERT INTO tokens (access_hash, refresh_hash, client_id, account, scope,"
                " grant_scope, issued_at, access_expires_at, refresh_expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest(access_token),
                    digest(refresh_token) if refresh_token else None,
                    client_id,
                    account,
                    scope or "",
                    grant_scope or "",
                    now,
                    access_expires_at,
                    refresh_expires_at,
                ),
            )

    def live_refresh(self, refresh_token: str) -> dict | None:
        """The record of a refresh token that may still be used."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM tokens WHERE refresh_hash = ? AND refresh_revoked = 0"
                " AND (refresh_expires_at IS NULL OR refresh_expires_at >= ?)",
                (digest(refresh_token), time.time()),
            ).fetchone()
        return None if row is None else dict(row)

    def revoke_refresh(self, refresh_hash: str) -> bool:
        with self._connect() as db:
            cur = db.execute(
                "UPDATE tokens SET refresh_revoked = ? WHERE refresh_hash = ? AND refresh_revoked = 0",
                (ROTATED, refresh_hash),
            )
            return cur.rowcount == 1

    def live_access(self, access_token: str) -> dict | None:
        """The record of an access token that is unexpired and unrevoked."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM tokens WHERE access_hash = ? AND access_revoked = 0"
                " AND access_expires_at > ?",
                (digest(access_token), time.time()),
            ).fetchone()
        return None if row is None else dict(row)

    def revoke_account(self, account: str) -> int:
        """Revoke every access and refresh token of an account; return how
        many grants were live."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE tokens SET access_revoked = 1,"
                " refresh_revoked = CASE refresh_revoked WHEN 0 THEN ? ELSE refresh_revoked END"
                " WHERE account = ? AND (access_revoked = 0 OR refresh_revoked = 0)",
                (REVOKED, account),
            )
            return cur.rowcount

    # -- lab controls (see ``controls``) ----------------------------------------

    def refresh_record(self, refresh_token: str) -> dict | None:
        """The record of a refresh token the lab issued, live or not, so that
        a refused refresh can say why."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM tokens WHERE refresh_hash = ?", (digest(refresh_token),)
            ).fetchone()
        return None if row is None else dict(row)

    def expire_access(self, account: str | None = None) -> int:
        """Make every live access token (of ``account``, or all) expired now."""
        now = time.time()
        with self._connect() as db:
            cur = db.execute(
                "UPDATE tokens SET access_expires_at = ? WHERE access_expires_at > ?"
                " AND access_revoked = 0 AND (? IS NULL OR account = ?)",
                (now - 1, now, account, account),
            )
            return cur.rowcount

    def revoke_refresh_tokens(self, account: str | None = None) -> int:
        """Revoke every live refresh token (of ``account``, or all); access
        tokens already issued live on until they expire, as at Microsoft."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE tokens SET refresh_revoked = ? WHERE refresh_hash IS NOT NULL"
                " AND refresh_revoked = 0 AND (? IS NULL OR account = ?)",
                (REVOKED, account, account),
            )
            return cur.rowcount

    def expire_refresh_tokens(self, account: str | None = None) -> int:
        """Make every live refresh token (of ``account``, or all) expired, as
        if unused for longer than its lifetime."""
        now = time.time()
        with self._connect() as db:
            cur = db.execute(
                "UPDATE tokens SET refresh_expires_at = ? WHERE refresh_hash IS NOT NULL"
                " AND refresh_revoked = 0 AND (refresh_expires_at IS NULL OR refresh_expires_at >= ?)"
                " AND (? IS NULL OR account = ?)",
                (now - 1, now, account, account),
            )
            return cur.rowcount
