"""The domain facade every front end uses: settings, token, change events.

The touch panel, the command line and (later) the web page hold one Core
each; they share state only through the store, so two processes see each
other's changes. Every method may block on disk or network: a UI calls them
from a worker thread.

Thread rules: subscribers are called on the Core's watcher thread (started by
`start()`), after any change committed by any process; `subscribe` also calls
the new subscriber once, on the caller's thread, with the current snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import mail, paths
from .errors import PanelError, ValidationError
from .settings import OAUTH2
from .store import Store, TokenView
from .token_service import TokenService
from .token_state import TokenStatus

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25  # seconds between looks at the store's change counter


@dataclass(frozen=True)
class MailView:
    """The POP side at a glance: the last check and how many e-mails are kept."""

    last_check: float  # epoch seconds, 0 when never checked
    last_result: str
    last_ok: bool
    received: int


@dataclass(frozen=True)
class Snapshot:
    settings: dict[str, Any]
    token: TokenView
    version: int
    mail: MailView


class Core:
    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = paths.data_dir(data_dir)
        self.store = Store(self.data_dir)
        self.tokens = TokenService(self.store, self.data_dir, on_change=self._wake)
        self._subscribers: list[Callable[[Snapshot], None]] = []
        self._sub_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._scheduler: threading.Thread | None = None
        self._reschedule = threading.Event()  # settings or token changed: look at the schedule again

    # -- lifecycle -----------------------------------------------------------

    def start(self, schedule: bool = True) -> "Core":
        self.tokens.recover(resume=True)
        self._watcher = threading.Thread(target=self._watch, name="store-watcher", daemon=True)
        self._watcher.start()
        if schedule:
            self._scheduler = threading.Thread(target=self._schedule, name="mail-schedule", daemon=True)
            self._scheduler.start()
        return self

    def close(self) -> None:
        self.tokens.close()
        self._stopping.set()
        self._wakeup.set()
        self._reschedule.set()
        for thread in (self._watcher, self._scheduler):
            if thread is not None:
                thread.join(timeout=5)
        self.store.close()

    def __enter__(self) -> "Core":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        version = self.store.changes()
        mail = MailView(*self.store.last_check(), received=self.store.message_count())
        return Snapshot(self.store.settings(), self.store.token(), version, mail)

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]:
        with self._sub_lock:
            self._subscribers.append(callback)
        callback(self.snapshot())

        def unsubscribe() -> None:
            with self._sub_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- writing -------------------------------------------------------------

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        changed = self.store.update(changes)
        self._wake()
        return changed

    def get_token(self) -> None:
        self.tokens.get_token()

    def cancel_token(self) -> None:
        self.tokens.cancel()

    def delete_token(self) -> None:
        self.tokens.delete()

    def check_admin_password(self, password: str) -> bool:
        return self.store.check_admin_password(password)

    def change_admin_password(self, current: str, new: str) -> None:
        """Raises AccessError (locked), ValidationError (key "admin.current"
        for a wrong current password, "admin.password" for a refused new one)."""
        if not self.store.check_admin_password(current):
            raise ValidationError({"admin.current": "The current password is wrong."})
        self.store.set_admin_password(new)

    # -- mail ------------------------------------------------------------------

    def send_test_email(self, to: str) -> str:
        """Send a test e-mail; returns what to show. Raises PanelError."""
        return mail.send_test(self.store.settings(), self.data_dir, self.tokens, to)

    def connection_test(self, kind: str) -> str:
        """[Connection Test] for "smtp" or "pop": log in only. Raises PanelError."""
        test = mail.test_smtp if kind == "smtp" else mail.test_pop
        return test(self.store.settings(), self.data_dir, self.tokens)

    def check_mail(self) -> str:
        """[Check Now]: fetch new e-mail. Raises PanelError."""
        return mail.check_mailbox(self.store.settings(), self.data_dir, self.tokens, self.store)

    def messages(self) -> list[dict[str, Any]]:
        return self.store.messages()

    def message_text(self, message_id: int) -> str:
        raw = self.store.message_raw(message_id)
        return mail.body_text(raw) if raw is not None else ""

    def _check_due(self, snapshot: Snapshot) -> float | None:
        """Seconds until the next scheduled POP check, or None when none is scheduled."""
        settings = snapshot.settings
        interval = settings["pop.check_interval"] * 60
        if (not interval or settings["pop.auth"] != OAUTH2 or not settings["pop.server"]
                or snapshot.token.status is not TokenStatus.RETRIEVED):
            return None
        return max(0.0, snapshot.mail.last_check + interval - time.time())

    def _schedule(self) -> None:
        """The background POP check, every Check Interval minutes."""
        while not self._stopping.is_set():
            try:
                due = self._check_due(self.snapshot())
                if due == 0:
                    self.check_mail()
                    continue
            except PanelError:
                continue  # the outcome is stored as the last check's result
            except Exception:  # noqa: BLE001 - the schedule must outlive one bad check
                log.exception("scheduled mail check")
                due = 60
            self._reschedule.wait(60 if due is None else min(due, 60))
            self._reschedule.clear()

    # -- watching ------------------------------------------------------------

    def _wake(self) -> None:
        self._wakeup.set()

    def _watch(self) -> None:
        seen, waiting = None, False
        while not self._stopping.is_set():
            try:
                if waiting:
                    # A flow owned by a process that died commits nothing more:
                    # look for that while the status says Waiting.
                    self.tokens.recover(resume=True)
                version = self.store.changes()
                if version != seen:
                    seen = version
                    snapshot = self.snapshot()
                    waiting = snapshot.token.status is TokenStatus.WAITING
                    self._reschedule.set()
                    self._publish(snapshot)
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad read
                log.exception("store watcher")
            self._wakeup.wait(WATCH_INTERVAL)
            self._wakeup.clear()

    def _publish(self, snapshot: Snapshot) -> None:
        with self._sub_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(snapshot)
            except Exception:  # noqa: BLE001 - one front end's bug must not stop the others
                log.exception("subscriber failed")
