"""The one settings backend: a SQLite file in the data directory.

It holds the settings, the common token (msal's serialized cache, encrypted
with a key kept in a separate file), the token's status and an event log.
Every front end, in any process, reads and writes through it; a counter in
the `meta` table goes up with every committed change, so a watcher in another
process notices the change by reading one row.

Thread rules: a Store may be used from any thread; one lock serialises use of
its connection. Writes run in `BEGIN IMMEDIATE` transactions, so two
processes never interleave a read-check-write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cryptography.fernet import Fernet, InvalidToken

from .errors import AccessError, PanelError, TokenError, ValidationError
from .settings import OAUTH2, SETTINGS, TOKEN_BOUND, defaults
from .token_state import TokenStatus

SCHEMA_VERSION = 3
DB_NAME = "panel.db"
KEY_NAME = "token.key"
DEFAULT_ADMIN_PASSWORD = "admin"
MAX_ADMIN_TRIES = 5
ADMIN_LOCK_SECONDS = 300

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE token (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    status TEXT NOT NULL,
    provider TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    cache BLOB,
    device_code TEXT,
    owner TEXT,
    cancel INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
"""

# Each migration takes the schema from the version before it to its own.
_MIGRATIONS = {
    2: """
CREATE TABLE received (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    uid TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    date TEXT NOT NULL,
    size INTEGER NOT NULL,
    raw BLOB NOT NULL,
    received_at REAL NOT NULL,
    UNIQUE (account, uid)
);
INSERT INTO meta VALUES ('pop.last_check', '0');
INSERT INTO meta VALUES ('pop.last_result', '');
INSERT INTO meta VALUES ('pop.last_ok', '1');
""",
    # The device flow of a Waiting token, encrypted, so a restart can resume it.
    3: "ALTER TABLE token ADD COLUMN flow BLOB",
}


@dataclass(frozen=True)
class DeviceCode:
    """What the screen shows while Waiting: never the device code itself."""

    verification_uri: str
    verification_uri_complete: str | None
    user_code: str
    expires_at: float
    interval: int

    @property
    def qr_text(self) -> str:
        # A complete URI needs no typing; Microsoft sends none, so its QR
        # code holds the sign-in address and the code is typed from the screen.
        return self.verification_uri_complete or self.verification_uri

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str | None) -> "DeviceCode | None":
        return cls(**json.loads(text)) if text else None


@dataclass(frozen=True)
class TokenView:
    """The token as every front end shows it. Holds no secret."""

    status: TokenStatus
    provider: str
    account: str
    message: str
    device_code: DeviceCode | None
    owner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "provider": self.provider,
            "account": self.account,
            "message": self.message,
        }


def _create_private(path: Path) -> None:
    """Create an empty file readable by its owner only, if it is missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    os.chmod(path, 0o600)


def _load_key(path: Path) -> bytes:
    """The token key, created at first use. Two processes starting at once
    must agree on one key: it is written whole to a private temporary file,
    then linked into place, which fails if the other process won."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes().strip()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


class Store:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self._lock = threading.RLock()
        try:
            _create_private(self.path)
            self._fernet = Fernet(_load_key(self.data_dir / KEY_NAME))
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._use_wal()
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (OSError, sqlite3.Error, ValueError) as e:
            # Permissions, a full disk, a damaged file: say where and what to do.
            raise PanelError(f"cannot use the data directory {self.data_dir}: "
                             f"{getattr(e, 'strerror', None) or e}. Check that it is writable by this user, "
                             "or choose another with --data-dir.") from None

    def _use_wal(self) -> None:
        # Switching a new file to WAL needs it to itself, and SQLite answers
        # "locked" at once instead of waiting: several processes opening a
        # new store together would fail. Wait for the others, a little.
        deadline = time.monotonic() + 10
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; bumps the change counter on commit."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'changes'")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                have = self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
                if have is None:
                    # executescript() would commit first; run each statement in our transaction.
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._db.execute(statement)
                    now = time.time()
                    self._db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("schema_version", "1"),
                        ("changes", "0"),
                        ("admin_password", hash_password(DEFAULT_ADMIN_PASSWORD)),
                        ("admin_password_default", "1"),
                    ])
                    self._db.execute("INSERT INTO token (id, status, updated) VALUES (1, ?, ?)",
                                     (TokenStatus.NOT_RETRIEVED.value, now))
                version = int(self._meta("schema_version"))
                if version > SCHEMA_VERSION:
                    raise RuntimeError(f"{self.path} was written by a newer panel (schema {version}).")
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in filter(str.strip, _MIGRATIONS[target].split(";")):
                        self._db.execute(statement)
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        os.chmod(self.path, 0o600)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- change tracking -------------------------------------------------

    def changes(self) -> int:
        """A number that goes up with every change committed by anyone."""
        with self._lock:
            return int(self._meta("changes"))

    # -- settings ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM settings").fetchall()
        values = defaults()
        values.update({k: json.loads(v) for k, v in rows if k in SETTINGS})
        return values

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Validate and save `changes` all together, or nothing.

        Raises ValidationError with a message per refused key.
        """
        errors: dict[str, str] = {}
        parsed: dict[str, Any] = {}
        for key, raw in changes.items():
            setting = SETTINGS.get(key)
            if setting is None:
                errors[key] = f"There is no setting called {key}."
                continue
            try:
                parsed[key] = setting.parse(raw)
            except ValueError as e:
                errors[key] = str(e)
        if errors:
            raise ValidationError(errors)
        with self._write() as db:
            current = self.settings()
            token_status = TokenStatus(db.execute("SELECT status FROM token").fetchone()[0])
            merged = {**current, **parsed}
            changed = {k: v for k, v in parsed.items() if current[k] != v}
            if token_status is not TokenStatus.NOT_RETRIEVED:
                for key in TOKEN_BOUND:
                    if key in changed:
                        errors[key] = (f"{SETTINGS[key].label} cannot change while a token is held: "
                                       "Delete the token first, then change it.")
            if OAUTH2 in (merged["smtp.auth"], merged["pop.auth"]) and not merged["oauth.account"]:
                errors["oauth.account"] = "Enter the account name: OAuth 2.0 needs it."
            if errors:
                raise ValidationError(errors)
            db.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                           [(k, json.dumps(v)) for k, v in changed.items()])
            if changed:
                self._event(db, "settings", "Changed " + ", ".join(sorted(changed)))
        return changed

    # -- administrator -----------------------------------------------------

    def check_admin_password(self, password: str) -> bool:
        """True for the right password. After MAX_ADMIN_TRIES wrong ones in a
        row, login is locked for ADMIN_LOCK_SECONDS, across restarts: raises
        AccessError while locked, whatever the password."""
        now = time.time()
        with self._write() as db:
            locked_until = float(self._meta("admin_locked_until") or 0)
            if now < locked_until:
                ok, failures = False, None
            else:
                ok = verify_password(password, self._meta("admin_password") or "")
                failures = 0 if ok else int(self._meta("admin_failures") or 0) + 1
                if failures >= MAX_ADMIN_TRIES:
                    locked_until, failures = now + ADMIN_LOCK_SECONDS, 0
                    self._event(db, "admin", "Administrator login locked after repeated wrong passwords")
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               [("admin_failures", str(failures)), ("admin_locked_until", repr(locked_until))])
        if now < locked_until:
            minutes = max(1, round((locked_until - now) / 60))
            raise AccessError(f"Too many wrong passwords: login is locked. Try again in {minutes} minute"
                              f"{'s' if minutes != 1 else ''}.")
        return ok

    def admin_password_is_default(self) -> bool:
        with self._lock:
            return self._meta("admin_password_default") == "1"

    def set_admin_password(self, password: str) -> None:
        if not 8 <= len(password) <= 128:
            raise ValidationError({"admin.password": "Enter 8 to 128 characters."})
        if any(ord(c) < 32 or ord(c) == 127 for c in password):
            raise ValidationError({"admin.password": "Remove the control characters."})
        hashed = hash_password(password)
        with self._write() as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'admin_password'", (hashed,))
            db.execute("UPDATE meta SET value = '0' WHERE key = 'admin_password_default'")
            self._event(db, "admin", "Administrator password changed")

    # -- token -------------------------------------------------------------

    def token(self) -> TokenView:
        with self._lock:
            row = self._db.execute(
                "SELECT status, provider, account, message, device_code, owner FROM token").fetchone()
        return TokenView(TokenStatus(row[0]), row[1], row[2], row[3], DeviceCode.from_json(row[4]), row[5])

    def token_cache(self) -> str | None:
        """The decrypted msal cache, or None. Never log or show it."""
        with self._lock:
            blob = self._db.execute("SELECT cache FROM token").fetchone()[0]
        if not blob:
            return None
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken:
            return None

    def set_token(self, status: TokenStatus, *, message: str, provider: str | None = None,
                  account: str | None = None, cache: str | None = None,
                  device_code: DeviceCode | None = None, owner: str | None = None,
                  expect_owner: str | None = None) -> None:
        """Move the token to `status` in one transaction.

        The state machine is checked against the status in the file, so a
        change made meanwhile by another process is never overwritten by a
        stale one. With `expect_owner`, the change applies only while that
        flow still owns the token (raises TokenError otherwise).
        """
        with self._write() as db:
            current, cur_owner = db.execute("SELECT status, owner FROM token").fetchone()
            current = TokenStatus(current)
            if expect_owner is not None and (current is not TokenStatus.WAITING or cur_owner != expect_owner):
                raise TokenError("The request was ended elsewhere.")
            if status is not current:
                current.check_transition(status)
            keep_cache = status in (TokenStatus.RETRIEVED, TokenStatus.INVALID)
            blob = self._fernet.encrypt(cache.encode()) if (cache and keep_cache) else None
            if keep_cache and blob is None:
                blob = db.execute("SELECT cache FROM token").fetchone()[0]
            db.execute(
                "UPDATE token SET status=?, provider=COALESCE(?, provider), account=COALESCE(?, account),"
                " cache=?, device_code=?, flow=NULL, owner=?, cancel=0, message=?, updated=?",
                (status.value, provider, account, blob,
                 device_code.to_json() if device_code else None,
                 owner if status is TokenStatus.WAITING else None, message, time.time()))
            if status is TokenStatus.NOT_RETRIEVED:
                db.execute("UPDATE token SET provider='', account=''")
            if status is TokenStatus.RETRIEVED and current is TokenStatus.WAITING:
                # A new token: the last check's outcome belonged to the old one.
                db.executemany("UPDATE meta SET value = ? WHERE key = ?", [
                    ("0", "pop.last_check"), ("", "pop.last_result"), ("1", "pop.last_ok")])
            self._event(db, "token", f"{status.value}: {message}" if message else status.value)

    def set_device_code(self, owner: str, device_code: DeviceCode, message: str, flow: str) -> None:
        """Record the code to show and the (encrypted) flow behind it."""
        with self._write() as db:
            db.execute("UPDATE token SET device_code=?, flow=?, message=? WHERE status=? AND owner=?",
                       (device_code.to_json(), self._fernet.encrypt(flow.encode()), message,
                        TokenStatus.WAITING.value, owner))

    def waiting_flow(self) -> dict | None:
        """The device flow of a Waiting token (holds the device code: never show it)."""
        with self._lock:
            row = self._db.execute("SELECT flow FROM token WHERE status=?", (TokenStatus.WAITING.value,)).fetchone()
        if not row or not row[0]:
            return None
        try:
            return json.loads(self._fernet.decrypt(row[0]))
        except (InvalidToken, ValueError):
            return None

    def take_over(self, old_owner: str, new_owner: str, message: str) -> bool:
        """Make this process the owner of a Waiting flow whose owner died."""
        with self._write() as db:
            cur = db.execute("UPDATE token SET owner=?, message=? WHERE status=? AND owner=? AND cancel=0",
                             (new_owner, message, TokenStatus.WAITING.value, old_owner))
            return cur.rowcount == 1

    def request_cancel(self) -> bool:
        """Ask the flow that owns the token (in any process) to stop."""
        with self._write() as db:
            cur = db.execute("UPDATE token SET cancel=1 WHERE status=?", (TokenStatus.WAITING.value,))
            return cur.rowcount > 0

    def cancel_requested(self, owner: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT cancel, owner, status FROM token").fetchone()
        return bool(row[0]) or row[1] != owner or row[2] != TokenStatus.WAITING.value

    def save_cache(self, cache: str) -> None:
        """Write back a renewed cache (refresh tokens rotate: keep the newest)."""
        with self._write() as db:
            db.execute("UPDATE token SET cache=? WHERE status=?",
                       (self._fernet.encrypt(cache.encode()), TokenStatus.RETRIEVED.value))

    # -- received e-mail -----------------------------------------------------

    def has_message(self, account: str, uid: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM received WHERE account = ? AND uid = ?",
                                    (account, uid)).fetchone() is not None

    def add_message(self, account: str, uid: str, raw: bytes, head: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO received (account, uid, sender, subject, date, size, raw, received_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (account, uid, head["sender"], head["subject"], head["date"], head["size"], raw, time.time()))

    def messages(self, limit: int = 200) -> list[dict[str, Any]]:
        """The received e-mail, newest first (without the message bodies)."""
        with self._lock:
            rows = self._db.execute("SELECT id, sender, subject, date, size, received_at FROM received"
                                    " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        keys = ("id", "sender", "subject", "date", "size", "received_at")
        return [dict(zip(keys, row)) for row in rows]

    def message_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM received").fetchone()[0]

    def message_raw(self, message_id: int) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT raw FROM received WHERE id = ?", (message_id,)).fetchone()
        return bytes(row[0]) if row else None

    def set_last_check(self, at: float, result: str, ok: bool) -> None:
        with self._write() as db:
            db.executemany("UPDATE meta SET value = ? WHERE key = ?", [
                (repr(at), "pop.last_check"), (result, "pop.last_result"), ("1" if ok else "0", "pop.last_ok")])

    def last_check(self) -> tuple[float, str, bool]:
        """(time of the last POP check or 0, its result, whether it succeeded)."""
        with self._lock:
            return (float(self._meta("pop.last_check")), self._meta("pop.last_result"),
                    self._meta("pop.last_ok") == "1")

    # -- event log ---------------------------------------------------------

    def _event(self, db: sqlite3.Connection, kind: str, message: str) -> None:
        db.execute("INSERT INTO events (at, kind, message) VALUES (?, ?, ?)", (time.time(), kind, message))
        db.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - 1000")

    def events(self, limit: int = 50) -> list[tuple[float, str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, kind, message FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [tuple(r) for r in rows]
