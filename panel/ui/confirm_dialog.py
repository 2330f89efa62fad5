"""A question with [OK] and [Cancel]: the manual's confirmation message.

Takes its text and the callback to run on [OK]; knows nothing else.
"""

from __future__ import annotations

from typing import Callable

from kivy.properties import StringProperty
from kivy.uix.modalview import ModalView

from .resources import KvLoaded


class ConfirmDialog(KvLoaded, ModalView):
    title = StringProperty("")
    text = StringProperty("")
    ok_text = StringProperty("OK")

    def __init__(self, title: str, text: str, on_ok: Callable[[], None], ok_text: str = "OK", **kwargs):
        self._on_ok = on_ok
        super().__init__(title=title, text=text, ok_text=ok_text, auto_dismiss=False, **kwargs)

    def ok(self) -> None:
        self.dismiss()
        self._on_ok()

    def cancel(self) -> None:
        self.dismiss()
