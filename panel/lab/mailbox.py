"""The lab's mailboxes: one per lab account, kept in the lab's SQLite file
(``<data_dir>/lab/lab.db``, mode 0600) so that mail survives a restart of the
lab and another process can look into it.

The SMTP server delivers into them (``deliver``); the POP3 server lists,
retrieves and deletes (``list``, ``retrieve``, ``delete``). Every message has
a UID that never changes and is never reused (RFC 1939 UIDL), and its content
is kept byte for byte as it was received.

Thread rules: every method may be called from any thread (the SMTP server's
event loop thread, the POP3 server's connection threads, a test). Each call
opens its own connection and runs under one lock as one transaction.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .store import LabDatabase

__all__ = ["Mailboxes", "MessageInfo"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    uid         TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    content     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_account ON messages (account, id);
"""


@dataclass(frozen=True)
class MessageInfo:
    """One message as a POP3 listing shows it."""

    uid: str
    size: int  # octets, as RETR sends them (before byte-stuffing)


class Mailboxes(LabDatabase):
    """The mailboxes of ``accounts`` in the SQLite file ``db_path``."""

    SCHEMA = _SCHEMA

    def __init__(self, db_path: Path | str, accounts: Iterable[str]):
        self.accounts = tuple(a.lower() for a in accounts)
        super().__init__(db_path)

    def has_mailbox(self, address: str) -> bool:
        return str(address).strip().lower() in self.accounts

    def _mailbox(self, address: str) -> str:
        name = str(address).strip().lower()
        if name not in self.accounts:
            raise KeyError(f"no mailbox for {address!r}")
        return name

    def deliver(self, content: bytes, recipients: Iterable[str]) -> list[str]:
        """Put a copy of ``content`` in each recipient's mailbox (once per
        mailbox); return the new UIDs. Raises KeyError, delivering nothing,
        if a recipient has no mailbox."""
        content = bytes(content)
        boxes = list(dict.fromkeys(self._mailbox(r) for r in recipients))
        now = time.time()
        uids = [uuid.uuid4().hex for _ in boxes]
        with self._connect() as db:
            db.executemany(
                "INSERT INTO messages (account, uid, received_at, content) VALUES (?, ?, ?, ?)",
                [(box, uid, now, content) for box, uid in zip(boxes, uids)],
            )
        return uids

    def list(self, account: str) -> list[MessageInfo]:
        """The messages of ``account``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT uid, length(content) FROM messages WHERE account = ? ORDER BY id",
                (self._mailbox(account),),
            ).fetchall()
        return [MessageInfo(uid, size) for uid, size in rows]

    def retrieve(self, account: str, uid: str) -> bytes | None:
        """The content of one message, or None if it is not (or no longer)
        in the mailbox."""
        with self._connect() as db:
            row = db.execute(
                "SELECT content FROM messages WHERE account = ? AND uid = ?",
                (self._mailbox(account), uid),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, account: str, uids: Iterable[str]) -> int:
        """Remove messages from ``account``'s mailbox; return how many were
        there."""
        box = self._mailbox(account)
        with self._connect() as db:
            cur = db.executemany(
                "DELETE FROM messages WHERE account = ? AND uid = ?",
                [(box, uid) for uid in uids],
            )
            return cur.rowcount

    def count(self, account: str) -> int:
        with self._connect() as db:
            (n,) = db.execute(
                "SELECT count(*) FROM messages WHERE account = ?", (self._mailbox(account),)
            ).fetchone()
        return n
