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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import paths
from .store import Store, TokenView
from .token_service import TokenService
from .token_state import TokenStatus

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25  # seconds between looks at the store's change counter


@dataclass(frozen=True)
class Snapshot:
    settings: dict[str, Any]
    token: TokenView
    version: int


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

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "Core":
        self.tokens.recover()
        self._watcher = threading.Thread(target=self._watch, name="store-watcher", daemon=True)
        self._watcher.start()
        return self

    def close(self) -> None:
        self.tokens.close()
        self._stopping.set()
        self._wakeup.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self.store.close()

    def __enter__(self) -> "Core":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        version = self.store.changes()
        return Snapshot(self.store.settings(), self.store.token(), version)

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
                    self.tokens.recover()
                version = self.store.changes()
                if version != seen:
                    seen = version
                    snapshot = self.snapshot()
                    waiting = snapshot.token.status is TokenStatus.WAITING
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
