"""Lab controls: put the lab in the states a real tenant can be in, so that a
demonstration or a test can produce every token status and every answer.

Each control is a module function taking the ``data_dir`` of a lab and
changing only the lab's SQLite state (``<data_dir>/lab/lab.db``), so it works
the same on a lab running in this process (``LabServer`` methods delegate
here) and on one running in another process: there is no admin network
endpoint. The identity provider and the mail servers read this state on every
request, so a change takes effect on the next request.

- ``expire_all`` makes every access token expired now (the next login with
  it fails; the next refresh works);
- ``revoke_refresh_tokens`` and ``expire_refresh_tokens`` kill refresh tokens
  (Microsoft: AADSTS50173, AADSTS700082);
- ``disable_account`` / ``enable_account`` (AADSTS50057; XOAUTH2 logins fail);
- ``set_fault`` / ``clear_fault`` for tenant-wide faults (``FAULTS``);
- ``reset`` clears every fault and enables every account.

It also holds the identity provider's answers to these states, in the lab's
words and in Microsoft's (``token_error``).

Thread rules: every function and ``ControlState`` method may be called from
any thread or process; each call is one SQLite transaction.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .store import LabStore

__all__ = [
    "FAULTS",
    "STYLES",
    "TOKEN_ERRORS",
    "ControlState",
    "clear_fault",
    "disable_account",
    "disabled_accounts",
    "enable_account",
    "expire_all",
    "expire_refresh_tokens",
    "faults",
    "reset",
    "revoke_refresh_tokens",
    "set_fault",
    "token_error",
]

STYLES = ("lab", "microsoft")

# Tenant-wide faults an administrator can have left in place.
FAULTS = (
    # Nobody has consented to the mail scopes: the token request after
    # sign-in is refused (and so is every refresh).
    "consent_required",
    # The app registration does not "Allow public client flows": the token
    # request after sign-in is refused (and so is every refresh).
    "public_client_disabled",
    # SMTP AUTH is disabled for the tenant: SMTP logins are refused whatever
    # the token (POP is not affected).
    "smtp_auth_disabled",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lab_controls (
    kind TEXT NOT NULL,  -- 'fault' | 'disabled'
    name TEXT NOT NULL,  -- a FAULTS entry | an account
    PRIMARY KEY (kind, name)
);
"""


def _lab_db(data_dir: Path | str) -> Path:
    path = Path(data_dir) / "lab" / "lab.db"
    if not path.is_file():
        # A control applied to a mistyped directory must not pass silently.
        raise FileNotFoundError(f"no lab state in {Path(data_dir)} (start a lab there first)")
    return path


def _account(account: str) -> str:
    from .idp import LAB_ACCOUNTS  # here: idp imports this module

    name = str(account).strip().lower()
    if name not in LAB_ACCOUNTS:
        raise ValueError(f"{account!r} is not a lab account ({', '.join(LAB_ACCOUNTS)})")
    return name


def _fault(name: str) -> str:
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; the faults are {', '.join(FAULTS)}")
    return name


class ControlState:
    """Disabled accounts and faults of one lab, in its SQLite file."""

    def __init__(self, db_path: Path | str):
        self.path = Path(db_path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=10)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def _names(self, kind: str) -> set[str]:
        with self._connect() as db:
            rows = db.execute("SELECT name FROM lab_controls WHERE kind = ?", (kind,)).fetchall()
        return {name for (name,) in rows}

    def _set(self, kind: str, name: str, on: bool) -> bool:
        """Set or clear one flag; True if that changed anything."""
        with self._connect() as db:
            if on:
                cur = db.execute(
                    "INSERT OR IGNORE INTO lab_controls (kind, name) VALUES (?, ?)", (kind, name)
                )
            else:
                cur = db.execute(
                    "DELETE FROM lab_controls WHERE kind = ? AND name = ?", (kind, name)
                )
            return cur.rowcount == 1

    def faults(self) -> set[str]:
        return self._names("fault")

    def has_fault(self, name: str) -> bool:
        return _fault(name) in self._names("fault")

    def set_fault(self, name: str, on: bool = True) -> bool:
        return self._set("fault", _fault(name), on)

    def disabled_accounts(self) -> set[str]:
        return self._names("disabled")

    def is_disabled(self, account: str) -> bool:
        return str(account).strip().lower() in self._names("disabled")

    def set_disabled(self, account: str, disabled: bool = True) -> bool:
        return self._set("disabled", _account(account), disabled)

    def reset(self) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM lab_controls")


# -- the controls ----------------------------------------------------------------


def _state(data_dir) -> ControlState:
    return ControlState(_lab_db(data_dir))


def _store(data_dir) -> LabStore:
    return LabStore(_lab_db(data_dir))


def expire_all(data_dir: Path | str, account: str | None = None) -> int:
    """Make every live access token (of ``account``, or of everyone) expired
    now; return how many were. Refresh tokens are untouched."""
    return _store(data_dir).expire_access(_account(account) if account else None)


def revoke_refresh_tokens(data_dir: Path | str, account: str | None = None) -> int:
    """Revoke every live refresh token (of ``account``, or of everyone), as
    an administrator's "revoke sessions" or a password reset does; return how
    many were live. Their next refresh is refused (AADSTS50173)."""
    return _store(data_dir).revoke_refresh_tokens(_account(account) if account else None)


def expire_refresh_tokens(data_dir: Path | str, account: str | None = None) -> int:
    """Age every live refresh token (of ``account``, or of everyone) past its
    lifetime, as 90 days unused would; return how many were live. Their next
    refresh is refused (AADSTS700082)."""
    return _store(data_dir).expire_refresh_tokens(_account(account) if account else None)


def disable_account(data_dir: Path | str, account: str) -> bool:
    """Disable a lab account: its refresh and sign-in are refused
    (AADSTS50057), its XOAUTH2 logins fail. True if it was enabled."""
    return _state(data_dir).set_disabled(account, True)


def enable_account(data_dir: Path | str, account: str) -> bool:
    """Enable a disabled lab account again. True if it was disabled."""
    return _state(data_dir).set_disabled(account, False)


def disabled_accounts(data_dir: Path | str) -> set[str]:
    return _state(data_dir).disabled_accounts()


def set_fault(data_dir: Path | str, name: str, on: bool = True) -> bool:
    """Switch a tenant fault (one of ``FAULTS``) on (or off with
    ``on=False``). True if that changed anything."""
    return _state(data_dir).set_fault(name, on)


def clear_fault(data_dir: Path | str, name: str) -> bool:
    return _state(data_dir).set_fault(name, False)


def faults(data_dir: Path | str) -> set[str]:
    return _state(data_dir).faults()


def reset(data_dir: Path | str) -> None:
    """Clear every fault and enable every account (tokens are untouched)."""
    _state(data_dir).reset()


# -- the identity provider's answers ------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    error: str
    status: int
    aadsts: int | None
    microsoft: str  # Microsoft's text after "AADSTS<n>: "
    lab: str


# Microsoft's texts follow the Microsoft Entra authentication and authorization
# error code reference (learn.microsoft.com/entra/identity-platform/
# reference-error-codes) and the pages named per row; see
# shared/reference/provider-answers.md. Placeholders are filled per answer.
# Authlib forbids '"' and '\' in an error_description.
_ANSWERS: dict[str, _Answer] = {
    # Entra "Refresh tokens in the Microsoft identity platform" (90 days of
    # inactivity) and the error code reference, AADSTS700082
    # ExpiredOrRevokedGrantInactiveToken.
    "refresh_expired": _Answer(
        "invalid_grant", 400, 700082,
        "The refresh token has expired due to inactivity. The token was issued on {issued}"
        " and was inactive for 90.00:00:00.",
        "The refresh token has expired: it was not used for too long.",
    ),
    # Error code reference, AADSTS50173 FreshTokenNeeded (tokens revoked by an
    # administrator or a password change).
    "refresh_revoked": _Answer(
        "invalid_grant", 400, 50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        " The user might have changed or reset their password. The grant was issued on"
        " '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this"
        " user is '{now}'.",
        "The refresh token has been revoked.",
    ),
    # Error code reference, AADSTS70000 InvalidGrant (a refresh token that is
    # not valid: unknown, or already used up by rotation in the lab).
    "refresh_invalid": _Answer(
        "invalid_grant", 400, 70000,
        "Provided grant is invalid or malformed.",
        "The refresh token is not valid.",
    ),
    # Error code reference, AADSTS50057 UserDisabled.
    "account_disabled": _Answer(
        "invalid_grant", 400, 50057,
        "The user account is disabled.",
        "The account is disabled.",
    ),
    # Error code reference, AADSTS65001 DelegationDoesNotExist.
    "consent_required": _Answer(
        "invalid_grant", 400, 65001,
        "The user or administrator has not consented to use the application with ID"
        " '{client_id}' named '{client_id}'. Send an interactive authorization request for this"
        " user and resource.",
        "Nobody has consented to the requested scopes for this application.",
    ),
    # Entra "Desktop app that calls web APIs: app registration" ("Allow public
    # client flows") and the error code reference, AADSTS7000218.
    "public_client_disabled": _Answer(
        "invalid_client", 401, 7000218,
        "The request body must contain the following parameter: 'client_assertion' or"
        " 'client_secret'.",
        "This application may not use public client flows.",
    ),
    # Microsoft identity platform "OAuth 2.0 device authorization grant"
    # (v2-oauth2-device-code), errors of the token poll; RFC 8628 section 3.5.
    "authorization_pending": _Answer(
        "authorization_pending", 400, 70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        "",
    ),
    "expired_token": _Answer(
        "expired_token", 400, 70020,
        "The provided value for the input parameter 'device_code' is not valid."
        " This device code has expired.",
        "",
    ),
}

TOKEN_ERRORS = tuple(_ANSWERS)


def token_error(kind: str, style: str = "lab", **details) -> tuple[int, dict]:
    """``(HTTP status, JSON body)`` of the identity provider's answer
    ``kind`` (one of ``TOKEN_ERRORS``) in ``style`` (``"lab"`` or
    ``"microsoft"``). ``details`` fill the Microsoft text's placeholders
    (``client_id``; ``issued`` as a POSIX time)."""
    answer = _ANSWERS[kind]
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    if style == "lab":
        body = {"error": answer.error}
        if answer.lab:
            body["error_description"] = answer.lab
        return answer.status, body

    now = datetime.datetime.now(datetime.timezone.utc)
    issued = details.get("issued")
    issued_at = (
        datetime.datetime.fromtimestamp(issued, datetime.timezone.utc) if issued else now
    )
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    text = answer.microsoft.format(
        issued=issued_at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        now=now.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        client_id=details.get("client_id", ""),
    )
    # The shape of Microsoft's token endpoint errors: the AADSTS code leads
    # the description and is repeated in error_codes.
    body = {
        "error": answer.error,
        "error_description": (
            f"AADSTS{answer.aadsts}: {text} Trace ID: {trace_id}"
            f" Correlation ID: {correlation_id} Timestamp: {stamp}"
        ),
        "error_codes": [answer.aadsts],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={answer.aadsts}",
    }
    return answer.status, body
