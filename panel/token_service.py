"""The token service: Get Token, Cancel and Delete for the common token.

Get Token runs msal's device authorization grant (RFC 8628) on a worker
thread. The flow's progress is written to the store (status, the code to
show, the outcome message), so every front end, in any process, sees it the
same way. `on_change` is called after every change, from whichever thread
made it (the caller's or the flow's worker thread).

A flow is owned by one process; cancelling from any front end sets a flag in
the store that the owner's polling loop checks each second.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import msal
import requests

from . import providers
from .answers import (REFUSALS, TOKEN_UPDATE_FAILED, TRY_AGAIN, explain_error, explain_exception,
                      explain_refusal)
from .errors import PanelError, ProviderError, TokenError
from .store import DeviceCode, Store, TokenView
from .token_state import TokenStatus

log = logging.getLogger(__name__)
# msal logs request and answer bodies (the device code among them) at DEBUG:
# whatever the front end's log level, those lines must never be written.
logging.getLogger("msal").setLevel(logging.WARNING)

_OWNER_PREFIX = f"{socket.gethostname()}:"
MSAL_RENEW_MARGIN = 300  # msal renews an access token with less than this many seconds left
TRANSIENT_RETRIES = 3  # polls in a row that may time out or get a 5xx before the flow fails


def _owner_alive(owner: str | None) -> bool:
    if not owner or not owner.startswith(_OWNER_PREFIX):
        return owner is not None  # another host's flow: cannot tell, assume alive
    pid = int(owner[len(_OWNER_PREFIX):].split(":")[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


_NOT_USABLE = {
    TokenStatus.NOT_RETRIEVED: "There is no token: press Get Token first.",
    TokenStatus.WAITING: "The token is not retrieved yet: finish the sign-in first.",
    TokenStatus.INVALID: TOKEN_UPDATE_FAILED,
}


def _usable_access_token(cache: msal.SerializableTokenCache, refused: str | None) -> str | None:
    """An access token in the cache that msal itself would still use (more
    than its 5-minute margin left), other than one a server just refused."""
    now = time.time()
    for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
        if entry.get("secret") != refused and int(entry.get("expires_on", 0)) > now + MSAL_RENEW_MARGIN:
            return entry["secret"]
    return None


@contextmanager
def _file_lock(path: Path):
    """An exclusive lock shared by every process using this data directory."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class TokenService:
    def __init__(self, store: Store, data_dir: Path, on_change: Callable[[], None] = lambda: None):
        self._store = store
        self._data_dir = Path(data_dir)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._renew_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    def view(self) -> TokenView:
        return self._store.token()

    def recover(self, resume: bool = False) -> None:
        """Deal with a Waiting status whose flow died with its process.

        With `resume`, a flow whose code is still valid is taken over and
        polled again from here; otherwise the status ends in Not Retrieved
        with a message, so no display is left waiting for nothing.
        """
        view = self._store.token()
        if view.status is not TokenStatus.WAITING or _owner_alive(view.owner):
            return
        flow = self._store.waiting_flow()
        alive = flow is not None and flow.get("expires_at", 0) > time.time() + 2
        if resume and alive and self._resume(view, flow):
            return
        message = ("The request was interrupted when the panel stopped. " if alive or flow is None else
                   "The code expired while the panel was stopped. ") + "Press Get Token to start again."
        try:
            self._store.set_token(TokenStatus.NOT_RETRIEVED, expect_owner=view.owner, message=message)
        except TokenError:
            return
        self._on_change()

    def _resume(self, view: TokenView, flow: dict) -> bool:
        try:
            provider = providers.from_settings(self._store.settings(), self._data_dir)
        except PanelError:
            return False
        if provider.name != view.provider:
            return False
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return True
            owner = f"{_OWNER_PREFIX}{os.getpid()}:{time.monotonic_ns()}"
            if not self._store.take_over(view.owner, owner, "Still waiting for the approval (resumed)."):
                return True  # another process took it over first
            self._cancel.clear()
            self._thread = threading.Thread(target=self._run_flow, args=(provider, view.account, owner, flow),
                                            name="token-flow", daemon=True)
            self._thread.start()
        log.info("resumed a device flow left by a stopped process")
        self._on_change()
        return True

    # -- Get Token ---------------------------------------------------------

    def get_token(self) -> None:
        """Start the device flow and return at once.

        Raises PanelError with the reason when it cannot start.
        """
        settings = self._store.settings()
        account = settings["oauth.account"]
        if not account:
            raise TokenError("Enter the Account name first.")
        provider = providers.from_settings(settings, self._data_dir)
        self.recover()  # a flow whose process died must not block a new one
        with self._lock:
            status = self._store.token().status
            if status is TokenStatus.WAITING or (self._thread is not None and self._thread.is_alive()):
                raise TokenError("Already waiting for authorisation: approve the code shown, or cancel it "
                                 "first (Cancel on the panel, panel token cancel).")
            if status is not TokenStatus.NOT_RETRIEVED:
                raise TokenError(f"The token is {status.value}. Delete it first to get a new one.")
            owner = f"{_OWNER_PREFIX}{os.getpid()}:{time.monotonic_ns()}"
            try:
                self._store.set_token(TokenStatus.WAITING, provider=provider.name, account=account,
                                      owner=owner, message=f"Contacting {provider.label}…")
            except Exception as exc:  # another front end started one meanwhile
                raise TokenError("Another front end has just started Get Token.") from exc
            self._cancel.clear()
            self._thread = threading.Thread(target=self._run_flow, args=(provider, account, owner),
                                            name="token-flow", daemon=True)
            self._thread.start()
        self._on_change()

    def _run_flow(self, provider: providers.Provider, account: str, owner: str, flow: dict | None = None) -> None:
        host = urlsplit(provider.authority or provider.oidc_authority).netloc or provider.label
        try:
            status, message, cache = self._device_flow(provider, account, owner, host, flow)
        except Exception as exc:  # noqa: BLE001 - every failure must end the Waiting status
            log.warning("device flow failed: %s", type(exc).__name__)
            status, message, cache = TokenStatus.NOT_RETRIEVED, explain_exception(exc, host), None
        try:
            self._store.set_token(status, message=message, cache=cache, expect_owner=owner)
        except TokenError:
            pass  # deleted or cancelled elsewhere meanwhile: that outcome stands
        self._on_change()

    def _device_flow(self, provider: providers.Provider, account: str, owner: str, host: str,
                     flow: dict | None):
        cache = msal.SerializableTokenCache()
        app = provider.application(cache)
        if flow is None:
            flow = app.initiate_device_flow(scopes=list(provider.scopes))
            if "user_code" not in flow:
                return TokenStatus.NOT_RETRIEVED, explain_error(flow), None
            if not flow.get("verification_uri") and not flow.get("verification_uri_complete"):
                return TokenStatus.NOT_RETRIEVED, explain_error({"error": "no_verification_uri"}), None
            code = DeviceCode(
                verification_uri=flow.get("verification_uri") or flow["verification_uri_complete"],
                verification_uri_complete=flow.get("verification_uri_complete"),
                user_code=flow["user_code"],
                expires_at=float(flow["expires_at"]),
                interval=flow["interval"],
            )
            # The flow (device code included) is kept encrypted so that a
            # restarted panel can resume polling while the code is valid.
            self._store.set_device_code(owner, code, f"Open {code.verification_uri} and enter the code.",
                                        flow=json.dumps(flow))
            self._on_change()
        result = self._poll(app, flow, owner)
        if result is None:
            return TokenStatus.NOT_RETRIEVED, "Cancelled. No token was retrieved.", None
        if "access_token" in result:
            return self._accept(app, cache, result, account)
        return TokenStatus.NOT_RETRIEVED, explain_error(result), None

    def _poll(self, app: msal.PublicClientApplication, flow: dict, owner: str) -> dict | None:
        """Poll the token endpoint until an answer other than "pending" (RFC 8628 §3.4-3.5).

        msal polls once per call here; the timing is ours, because msal does
        not add 5 s to the interval on slow_down. Returns None when cancelled;
        a code past its lifetime answers as expired_token. Passing faults
        (timeouts, 5xx) are retried a few times while the code lives.
        """
        interval = max(1, int(flow.get("interval") or 5))
        failures = 0
        while True:
            try:
                result = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: True)
                failures = 0
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError,
                    requests.exceptions.HTTPError, msal.exceptions.MsalServiceError):
                failures += 1
                if failures > TRANSIENT_RETRIES:
                    raise
                result = {"error": "authorization_pending"}
            error = result.get("error")
            if error == "slow_down":
                interval += 5
            elif error != "authorization_pending":
                return result
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                if self._cancel.is_set() or self._store.cancel_requested(owner):
                    return None
                if time.time() >= flow["expires_at"]:
                    return {"error": "expired_token"}
                time.sleep(0.2)

    def _accept(self, app: msal.PublicClientApplication, cache: msal.SerializableTokenCache,
                result: dict, account: str):
        claims = result.get("id_token_claims") or {}
        signed_in = claims.get("preferred_username") or claims.get("upn") or claims.get("email") or ""
        if signed_in.lower() != account.lower():
            for acc in app.get_accounts():
                app.remove_account(acc)
            who = signed_in or "another account"
            return (TokenStatus.NOT_RETRIEVED,
                    f"Signed in as {who}, but the Account name is {account}. Sign in as {account} "
                    "(or change the Account name), then press Get Token again.", None)
        return TokenStatus.RETRIEVED, f"Token retrieved for {account}.", cache.serialize()

    # -- Using the token ---------------------------------------------------

    def access_token(self, refused: str | None = None) -> tuple[str, str]:
        """(account, access token) for the mail clients, renewed when due.

        Renewal is single-flight across threads and processes: callers queue
        on a lock, and each re-reads the cache inside it, so a token renewed
        for SMTP serves the POP check waiting behind it. `refused` is a token
        a mail server has just refused: it is renewed unless another caller
        renewed it meanwhile. The rotated refresh token is written back at
        once (always keep the newest).

        Raises TokenError when no usable token is held; a refusal by the
        provider makes the token Invalid. Raises ProviderError when the
        provider cannot be reached; the status then stays as it was.
        Never log or show the returned token.
        """
        with self._renew_lock, _file_lock(self._data_dir / "token.lock"):
            view = self._store.token()
            if view.status is not TokenStatus.RETRIEVED:
                raise TokenError(_NOT_USABLE[view.status])
            cache = msal.SerializableTokenCache()
            cache.deserialize(self._store.token_cache() or "{}")
            cached = _usable_access_token(cache, refused)
            if cached:
                # No provider traffic while the access token lives: mail keeps
                # working through an outage of the sign-in service.
                return view.account, cached
            settings = self._store.settings()
            provider = providers.from_settings(settings, self._data_dir, then=TRY_AGAIN)
            host = urlsplit(provider.authority or provider.oidc_authority).netloc
            try:
                app = provider.application(cache)
                accounts = app.get_accounts(username=view.account)
                result = None
                if accounts:
                    result = app.acquire_token_silent_with_error(list(provider.scopes), account=accounts[0])
                    if refused and result and result.get("access_token") == refused:
                        result = app.acquire_token_silent_with_error(list(provider.scopes), account=accounts[0],
                                                                     force_refresh=True)
            except Exception as exc:  # noqa: BLE001 - a passing fault is not Invalid
                log.warning("token renewal failed: %s", type(exc).__name__)
                raise ProviderError(explain_exception(exc, host, then=TRY_AGAIN)) from None
            if result and "access_token" in result:
                if cache.has_state_changed:
                    self._store.save_cache(cache.serialize())
                return view.account, result["access_token"]
            if result and result.get("error") not in REFUSALS:
                raise ProviderError(explain_error(result, then=TRY_AGAIN))
            reason = explain_refusal(result or {})
            self._store.set_token(TokenStatus.INVALID, message=f"{TOKEN_UPDATE_FAILED} {reason}".strip())
            self._on_change()
            raise TokenError(TOKEN_UPDATE_FAILED)

    # -- Cancel and Delete ---------------------------------------------------

    def cancel(self) -> None:
        """Stop a waiting flow; the flow's thread writes the outcome."""
        self._cancel.set()
        if not self._store.request_cancel():
            return
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=3)
        else:
            # The owner is another process: it ends within a second. If it
            # is dead, recover() ends the status now.
            self.recover()

    def delete(self) -> None:
        view = self._store.token()
        if view.status is TokenStatus.NOT_RETRIEVED:
            raise TokenError("There is no token to delete.")
        if view.status is TokenStatus.WAITING:
            self.cancel()
            view = self._store.token()
            if view.status is TokenStatus.NOT_RETRIEVED:
                return
        self._store.set_token(TokenStatus.NOT_RETRIEVED, message="Token deleted.")
        self._on_change()

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> TokenView:
        """Block until the status is no longer Waiting (for scripts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            view = self._store.token()
            if view.status is not TokenStatus.WAITING:
                return view
            if deadline is not None and time.monotonic() > deadline:
                return view
            time.sleep(poll)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.cancel()


__all__ = ["TokenService", "PanelError"]
