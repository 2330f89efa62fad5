"""Runs core calls off the Kivy main thread, one at a time, in order.

Every core method may block on disk or network, so the panel never calls one
on the main thread: it `submit()`s it here. One thread serialises the calls
(a Save then a Get Token run in the order pressed), and the result or error
comes back through `MainThreadQueue`, so callbacks run on the main thread.

Errors: a `PanelError` is handed to `on_error` as it is, since its message
is written for the screen. Anything else is a bug: it is logged (type and
traceback only: the text of a foreign exception may carry a secret) and
`on_error` gets a generic `PanelError`.
"""

from __future__ import annotations

import queue
import threading
import traceback
from typing import Any, Callable

from kivy.logger import Logger

from panel.errors import PanelError

from .mainthread import MainThreadQueue

UNEXPECTED = "Something went wrong inside the panel. Try again; if it persists, see the log."

_STOP = object()


class Worker:
    def __init__(self, hop: MainThreadQueue, name: str = "panel-ui-worker") -> None:
        self._hop = hop
        self._jobs: queue.Queue = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any,
               on_result: Callable[[Any], None] | None = None,
               on_error: Callable[[PanelError], None] | None = None,
               on_done: Callable[[], None] | None = None) -> None:
        """Run fn(*args) on the worker thread; report back on the main thread."""
        with self._lock:
            self._pending += 1
        self._jobs.put((fn, args, on_result, on_error, on_done))

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, args, on_result, on_error, on_done = job
            try:
                result = fn(*args)
            except PanelError as e:
                self._finish(on_error, e, on_done)
            except Exception as e:
                Logger.error("panel: %s raised %s\n%s", getattr(fn, "__qualname__", fn), type(e).__name__,
                             "".join(traceback.format_tb(e.__traceback__)))
                self._finish(on_error, PanelError(UNEXPECTED), on_done)
            else:
                self._finish(on_result, result, on_done)

    def _finish(self, callback, value, on_done) -> None:
        with self._lock:
            self._pending -= 1
        if callback is not None:
            self._hop.post(callback, value)
        if on_done is not None:
            self._hop.post(on_done)
