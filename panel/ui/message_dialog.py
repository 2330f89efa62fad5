"""A message with one [OK] key: what went wrong and what to do."""

from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.modalview import ModalView

from .resources import KvLoaded


class MessageDialog(KvLoaded, ModalView):
    title = StringProperty("")
    text = StringProperty("")

    def __init__(self, title: str, text: str, **kwargs):
        super().__init__(title=title, text=text, auto_dismiss=False, **kwargs)
