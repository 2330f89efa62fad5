"""A message with one [OK] key: what went wrong and what to do, or what a test found.

`tone` ("ok", "error" or "") colours the title, so a result reads as a
success or a failure at a glance.
"""

from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.modalview import ModalView

from .resources import KvLoaded


class MessageDialog(KvLoaded, ModalView):
    title = StringProperty("")
    text = StringProperty("")
    tone = StringProperty("")

    def __init__(self, title: str, text: str, tone: str = "", **kwargs):
        super().__init__(title=title, text=text, tone=tone, auto_dismiss=False, **kwargs)
