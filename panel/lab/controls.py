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
- ``inject`` / ``clear_faults`` / ``injected`` for faults of the identity
  provider itself (``INJECTABLE``, below);
- ``reset`` clears every fault and enables every account.

It also holds the identity provider's answers to these states, in the lab's
words and in Microsoft's (``token_error``).

Injected faults
---------------
Besides the tenant's state, the identity provider can be made to misbehave
the way a provider, or something between it and the printer, sometimes does:

- ``inject(data_dir, fault, endpoint=None, count=None, seconds=None)`` arms
  one of ``INJECTABLE`` (again for the same ``fault`` and ``endpoint``
  replaces it); ``endpoint`` limits it to one of ``ENDPOINTS``
  (``device_authorization``, ``token``, ``discovery``; default every one the
  fault applies to), ``count`` to the next N requests it takes effect on
  (default: until cleared), ``seconds`` is the delay of ``hang`` and the
  ``Retry-After`` of ``http_503``;
- ``clear_faults(data_dir, fault=None)`` disarms one fault or all;
- ``injected(data_dir)`` lists what is armed, with the counts left.

Several faults may be armed at once. On one request: ``hang`` first delays
it; then the first armed *answer* fault, in the order below, replaces the
answer; failing that a device-code poll meets the first armed *poll* fault;
a device authorization answer that got through is then reshaped by every
armed *shape* fault. Only faults that took effect are counted; a count is
taken in one SQLite ``BEGIN IMMEDIATE`` transaction, so two requests (in
any threads or processes) never both take the last one. Injected faults
survive a restart of the lab (like tenant faults); ``reset`` clears them.
There is no network endpoint to arm them: only a process that can write the
lab's data directory can (``panel lab`` in another shell, a test).

delay (device_authorization, token, discovery):

- ``hang``: the answer comes ``seconds`` (default 60) late, longer than any
  client's timeout; it is then the normal answer (or another fault's). A
  stopping lab cuts a hanging request at once. Imitates an overloaded or
  unreachable provider (no answer at all is what a client's timeout is for).

answer (device_authorization, token, discovery unless said otherwise):

- ``http_500``: HTTP 500, ``{"error": "server_error", ...}`` (RFC 9110
  §15.6.1; the ``server_error`` code of RFC 6749 §4.1.2.1).
- ``http_503``: HTTP 503 with ``Retry-After: <seconds>`` (default 5),
  ``{"error": "temporarily_unavailable", ...}`` (RFC 9110 §15.6.4 and §10.2.3;
  RFC 6749 §4.1.2.1; Microsoft identity platform, "authorization code flow",
  token endpoint errors: ``temporarily_unavailable``, retry after a delay).
- ``not_json``: HTTP 200 labelled ``application/json`` whose body is an
  answer cut off half-way, so not JSON (RFC 8628 §3.2 and RFC 6749 §5.1
  require a JSON object; this is what a broken proxy or a dropped
  connection leaves).
- ``json_not_object``: HTTP 200, valid JSON that is an array, not the object
  RFC 8628 §3.2 / RFC 6749 §5.1 / OpenID Connect Discovery §4.2 require.
- ``unknown_error`` (device_authorization, token): HTTP 400
  ``{"error": "teapot_error", ...}``, a code in no specification. RFC 6749
  §5.2 lists the codes a client must know; a client must still end in a
  defined state on any other.

poll (token, device-code polls of a known, unexpired code only):

- ``access_denied``: the poll answers ``access_denied`` and the code is
  denied for good, as if the user had pressed Deny (RFC 8628 §3.5; Microsoft
  says ``authorization_declined``).
- ``slow_down``: the poll answers ``slow_down`` and the code's interval grows
  by 5 s for this and every later poll, as RFC 8628 §3.5 says; a client that
  does not add 5 s is then told ``slow_down`` again by the lab's own check.
- ``authorization_pending``: the poll answers ``authorization_pending``
  (Microsoft: AADSTS70016) even if the user has approved; armed without a
  count the code just expires and polls get ``expired_token`` (AADSTS70020)
  once its lifetime has passed (RFC 8628 §3.5; device-code doc).

shape (device_authorization, answers that succeed):

- ``no_verification_uri``: the answer lacks ``verification_uri``, which RFC
  8628 §3.2 requires (``verification_uri_complete`` and ``message`` stay);
- ``interval_as_string`` / ``expires_in_as_string``: ``"5"`` instead of
  ``5``, as some providers send (msal casts ``interval`` for that reason);
- ``no_interval`` / ``no_expires_in``: the member is missing. RFC 8628 §3.2
  makes ``interval`` optional (the client then waits 5 s) and ``expires_in``
  required. Only the answer changes: the code keeps its real lifetime and
  interval.

Certificate faults are chosen when a lab starts, not here:
``LabServer(..., tls_fault="expired" | "untrusted")`` (see ``server``).

Thread rules: every function and ``ControlState`` method may be called from
any thread or process; each call is one SQLite transaction.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from pathlib import Path

from .store import LabDatabase, LabStore

__all__ = [
    "ENDPOINTS",
    "FAULTS",
    "INJECTABLE",
    "STYLES",
    "TOKEN_ERRORS",
    "ControlState",
    "InjectedFault",
    "clear_fault",
    "clear_faults",
    "disable_account",
    "disabled_accounts",
    "enable_account",
    "expire_all",
    "expire_refresh_tokens",
    "faults",
    "inject",
    "injectable",
    "injected",
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
CREATE TABLE IF NOT EXISTS lab_injected (
    fault     TEXT NOT NULL,               -- an INJECTABLE entry
    endpoint  TEXT NOT NULL DEFAULT '',    -- an ENDPOINTS entry, '' for all
    remaining INTEGER,                     -- NULL: until cleared
    seconds   REAL,
    PRIMARY KEY (fault, endpoint)
);
"""

# The identity provider's endpoints an injected fault can be limited to.
ENDPOINTS = ("device_authorization", "token", "discovery")


@dataclass(frozen=True)
class _Injectable:
    stage: str  # 'delay' | 'answer' | 'poll' | 'shape' (see the docstring)
    endpoints: tuple[str, ...]
    default_seconds: float | None = None  # None: takes no seconds


_ALL = ENDPOINTS
# In the order of precedence within a stage (see the module docstring).
_INJECTABLE: dict[str, _Injectable] = {
    "hang": _Injectable("delay", _ALL, 60.0),
    "http_500": _Injectable("answer", _ALL),
    "http_503": _Injectable("answer", _ALL, 5.0),
    "not_json": _Injectable("answer", _ALL),
    "json_not_object": _Injectable("answer", _ALL),
    "unknown_error": _Injectable("answer", ("device_authorization", "token")),
    "access_denied": _Injectable("poll", ("token",)),
    "slow_down": _Injectable("poll", ("token",)),
    "authorization_pending": _Injectable("poll", ("token",)),
    "no_verification_uri": _Injectable("shape", ("device_authorization",)),
    "interval_as_string": _Injectable("shape", ("device_authorization",)),
    "expires_in_as_string": _Injectable("shape", ("device_authorization",)),
    "no_interval": _Injectable("shape", ("device_authorization",)),
    "no_expires_in": _Injectable("shape", ("device_authorization",)),
}
INJECTABLE = tuple(_INJECTABLE)
_MAX_SECONDS = 3600.0


def injectable(stage: str, endpoint: str) -> tuple[str, ...]:
    """The injectable faults of ``stage`` that apply to ``endpoint``, in
    order of precedence."""
    return tuple(
        name for name, spec in _INJECTABLE.items()
        if spec.stage == stage and endpoint in spec.endpoints
    )


@dataclass(frozen=True)
class InjectedFault:
    """An armed fault: ``endpoint`` None for every endpoint it applies to,
    ``remaining`` None for until cleared (after a take: what is left)."""

    fault: str
    endpoint: str | None
    remaining: int | None
    seconds: float | None


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


def _injection(fault, endpoint, count, seconds) -> tuple[str, str, int | None, float | None]:
    """Check an ``inject`` call; return its row (endpoint '' for all)."""
    spec = _INJECTABLE.get(fault)
    if spec is None:
        raise ValueError(
            f"unknown injectable fault {fault!r}; the faults are {', '.join(INJECTABLE)}"
        )
    if endpoint is not None and endpoint not in spec.endpoints:
        raise ValueError(
            f"{fault} applies to {', '.join(spec.endpoints)} only, not {endpoint!r}"
        )
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"count must be a whole number from 1, or None, not {count!r}")
    if spec.default_seconds is None:
        if seconds is not None:
            raise ValueError(f"{fault} takes no seconds")
    elif seconds is None:
        seconds = spec.default_seconds
    else:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ValueError(f"seconds must be a number, not {seconds!r}")
        if not 0 <= seconds <= _MAX_SECONDS:
            raise ValueError(f"seconds must be 0..{_MAX_SECONDS:g}, not {seconds!r}")
        seconds = float(seconds)
    return fault, endpoint or "", count, seconds


def _injected_fault(row) -> InjectedFault:
    fault, endpoint, remaining, seconds = row
    return InjectedFault(fault, endpoint or None, remaining, seconds)


class ControlState(LabDatabase):
    """Disabled accounts and faults of one lab, in its SQLite file."""

    SCHEMA = _SCHEMA

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
            db.execute("DELETE FROM lab_injected")

    # -- injected faults (see the module docstring) -----------------------------

    def inject(self, fault: str, endpoint: str | None = None, count: int | None = None,
               seconds: float | None = None) -> InjectedFault:
        row = _injection(fault, endpoint, count, seconds)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO lab_injected (fault, endpoint, remaining, seconds)"
                " VALUES (?, ?, ?, ?)", row,
            )
        return _injected_fault(row)

    def clear_injected(self, fault: str | None = None) -> int:
        if fault is not None and fault not in _INJECTABLE:
            raise ValueError(
                f"unknown injectable fault {fault!r}; the faults are {', '.join(INJECTABLE)}"
            )
        with self._connect() as db:
            cur = db.execute(
                "DELETE FROM lab_injected WHERE ? IS NULL OR fault = ?", (fault, fault)
            )
            return cur.rowcount

    def injected(self) -> list[InjectedFault]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT fault, endpoint, remaining, seconds FROM lab_injected"
            ).fetchall()
        order = {name: i for i, name in enumerate(INJECTABLE)}
        faults = [_injected_fault(row) for row in rows]
        return sorted(faults, key=lambda f: (order.get(f.fault, len(order)), f.endpoint or ""))

    def take_injected(self, endpoint: str, *, all_of=(), one_of=()) -> dict[str, InjectedFault]:
        """Take the armed faults that act on one request to ``endpoint``:
        each of ``all_of`` that is armed, and the first armed of ``one_of``.
        A fault armed both for ``endpoint`` and for all endpoints is taken
        from the ``endpoint`` one. Counts go down by one (a fault whose count
        ends is disarmed) in one transaction that holds SQLite's write lock,
        so concurrent requests never both take the last one."""
        wanted = [n for n in (*all_of, *one_of) if endpoint in _INJECTABLE[n].endpoints]
        if not wanted:
            return {}
        with self._connect() as db:
            # The usual case, nothing armed, without taking the write lock.
            if db.execute("SELECT 1 FROM lab_injected LIMIT 1").fetchone() is None:
                return {}
        with self._connect(immediate=True) as db:
            rows = db.execute(
                "SELECT fault, endpoint, remaining, seconds FROM lab_injected"
                " WHERE endpoint IN ('', ?) AND (remaining IS NULL OR remaining > 0)"
                " ORDER BY endpoint = ''",  # the endpoint's own first
                (endpoint,),
            ).fetchall()
            armed: dict[str, tuple] = {}
            for row in rows:
                armed.setdefault(row[0], row)
            chosen = [n for n in all_of if n in armed and n in wanted]
            chosen += [n for n in one_of if n in armed and n in wanted][:1]
            taken = {}
            for name in chosen:
                fault, where, remaining, seconds = armed[name]
                if remaining is not None:
                    if remaining <= 1:
                        db.execute(
                            "DELETE FROM lab_injected WHERE fault = ? AND endpoint = ?",
                            (fault, where),
                        )
                    else:
                        db.execute(
                            "UPDATE lab_injected SET remaining = remaining - 1"
                            " WHERE fault = ? AND endpoint = ?", (fault, where),
                        )
                    remaining -= 1
                taken[name] = _injected_fault((fault, where, remaining, seconds))
        return taken


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
    """Clear every fault (tenant and injected) and enable every account
    (tokens are untouched)."""
    _state(data_dir).reset()


def inject(
    data_dir: Path | str,
    fault: str,
    endpoint: str | None = None,
    count: int | None = None,
    seconds: float | None = None,
) -> InjectedFault:
    """Arm the injectable fault ``fault`` (one of ``INJECTABLE``), for
    ``endpoint`` (one of ``ENDPOINTS``; None: every one it applies to), for
    the next ``count`` requests it acts on (None: until cleared); ``seconds``
    is the delay of ``hang`` and the ``Retry-After`` of ``http_503``. Arming
    a fault again for the same endpoint replaces it. Raises ValueError on a
    fault, endpoint, count or seconds that does not fit."""
    return _state(data_dir).inject(fault, endpoint, count, seconds)


def clear_faults(data_dir: Path | str, fault: str | None = None) -> int:
    """Disarm the injected fault ``fault`` (every endpoint), or every
    injected fault; return how many were armed. Tenant faults stay."""
    return _state(data_dir).clear_injected(fault)


def injected(data_dir: Path | str) -> list[InjectedFault]:
    """The armed injected faults, with the counts they have left."""
    return _state(data_dir).injected()


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
