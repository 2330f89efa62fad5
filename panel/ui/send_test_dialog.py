"""[Send Test E-mail]: ask for the recipient, then hand it to a callback.

Takes the address to start with (the Account name) and the callback to run
with the recipient on [Send]; knows nothing else. A recipient that is not an
e-mail address gets its message on the field and the dialog stays open
(flow.recipient_error decides).
"""

from __future__ import annotations

from typing import Callable

from kivy.clock import Clock
from kivy.properties import StringProperty
from kivy.uix.modalview import ModalView

from . import flow
from .resources import KvLoaded


class SendTestDialog(KvLoaded, ModalView):
    error = StringProperty("")

    def __init__(self, recipient: str, on_send: Callable[[str], None], **kwargs):
        self._on_send = on_send
        super().__init__(auto_dismiss=False, **kwargs)
        self.ids.recipient.text = recipient
        self.error = ""

    def send(self) -> None:
        to = self.ids.recipient.text
        self.error = flow.recipient_error(to)
        if self.error:
            return
        self.ids.recipient.focus = False
        self.dismiss()
        self._on_send(to)

    def cancel(self) -> None:
        self.ids.recipient.focus = False
        self.dismiss()

    def on_open(self) -> None:
        # Focus the field once the dialog is on screen, so typing goes to it.
        Clock.schedule_once(lambda _dt: setattr(self.ids.recipient, "focus", True), 0)
