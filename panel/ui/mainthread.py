"""The one way from any thread onto the Kivy main thread.

Worker threads (the core's watcher, the token flow, `worker.Worker`) never
touch widgets or Kivy properties. They `post()` a call here; the calls run on
the main thread at the next frame, in the order they were posted. A queue
plus one `Clock` trigger (rather than a `schedule_once` per call) keeps that
order and folds a burst of posts into one wake-up of the frame.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from typing import Any, Callable

from kivy.clock import Clock
from kivy.logger import Logger


class MainThreadQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        # Kivy's clock events may be triggered from any thread.
        self._trigger = Clock.create_trigger(self._drain, 0)
        self._closed = False

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the main thread, after everything posted before it. Any thread."""
        with self._lock:
            if self._closed:
                return
            self._calls.append((fn, args))
        self._trigger()

    def close(self) -> None:
        """Drop what is queued and refuse further posts (the app is stopping)."""
        with self._lock:
            self._closed = True
            self._calls.clear()
        self._trigger.cancel()

    def _drain(self, _dt: float) -> None:
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn, args = self._calls.popleft()
            try:
                fn(*args)
            except Exception as e:  # one bad message must not stop those behind it
                Logger.error("panel: %s failed on the main thread: %s\n%s", getattr(fn, "__qualname__", fn),
                             type(e).__name__, "".join(traceback.format_tb(e.__traceback__)))
