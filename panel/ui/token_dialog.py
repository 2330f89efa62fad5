"""The device code on screen while the provider waits for the user.

Shows where to sign in, the user code in large characters, a QR code that
holds `qr_text` (the complete address when the provider gives one), and the
time left before the code expires, counting down. [Cancel] calls back; the
dialog does not close itself on [Cancel]: its owner closes it when the token
leaves Waiting for authorisation, so it never shows a state that is gone.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.modalview import ModalView

from . import flow
from .qr_widget import QRWidget  # noqa: F401  (used by token_dialog.kv)
from .resources import KvLoaded


class TokenDialog(KvLoaded, ModalView):
    title = StringProperty("")
    account = StringProperty("")
    verification_uri = StringProperty("")
    user_code = StringProperty("")
    qr_text = StringProperty("")
    time_left = StringProperty("")
    cancelling = BooleanProperty(False)

    def __init__(self, title: str, account: str, on_cancel: Callable[[], None], **kwargs):
        self._on_cancel = on_cancel
        self._expires_at: float | None = None
        super().__init__(title=title, account=account, auto_dismiss=False, **kwargs)
        self._ticker = Clock.schedule_interval(self._tick, 0.5)
        self.bind(on_dismiss=lambda *_: self._ticker.cancel())

    def show_code(self, device_code: Any | None) -> None:
        """Show a `DeviceCode` (None while the provider has not answered yet)."""
        if device_code is None:
            return
        self.verification_uri = device_code.verification_uri
        self.user_code = device_code.user_code
        self.qr_text = device_code.qr_text
        self._expires_at = device_code.expires_at
        self._tick()

    def _tick(self, *_):
        if self._expires_at is not None:
            self.time_left = flow.time_left(self._expires_at, time.time())

    def cancel(self) -> None:
        self.cancelling = True
        self._on_cancel()
