"""The panel's building blocks: the top bar, the settings form and its rows,
the token panel that both token screens share, the row of mail keys under
their forms, and a line of the Received E-mail list.

They show what they are given and report what is touched (Kivy events); the
screens decide what happens. The form is built from the typed settings in
`panel.settings` (label, kind, choices), so a setting is described once.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import (BooleanProperty, ColorProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.recycleview.views import RecycleDataViewBehavior

from panel.settings import SETTINGS, Setting
from panel.token_state import TokenStatus

from . import theme
from .flow import MAIL_KEY_TEXT, token_keys, token_message
from .resources import KvLoaded


class Key(Button):
    """A key of the panel (look in panel.kv); its colours, set per kind of key."""

    key_color = ColorProperty(theme.KEY)
    key_down_color = ColorProperty(theme.KEY_DOWN)


class TopBar(KvLoaded, BoxLayout):
    """Back key, the trail of menus and the title; a notice at the right."""

    title = StringProperty("")
    crumbs = StringProperty("")
    notice = StringProperty("")
    notice_color = ListProperty(list(theme.BAR_MUTED))
    show_back = BooleanProperty(True)
    __events__ = ("on_back",)

    def __init__(self, **kwargs):
        self._clear = None
        super().__init__(**kwargs)

    def on_back(self):
        pass

    def tell(self, text: str, kind: str = "info", seconds: float | None = None) -> None:
        """Show a notice; an "ok" one fades after a few seconds, an error stays."""
        self.notice = text
        self.notice_color = list({"ok": (0.55, 0.9, 0.6, 1), "error": (1, 0.6, 0.55, 1)}.get(kind, theme.BAR_MUTED))
        if self._clear is not None:
            self._clear.cancel()
            self._clear = None
        if seconds is None and kind == "ok":
            seconds = 6
        if seconds:
            self._clear = Clock.schedule_once(lambda _dt: self._expire(text), seconds)

    def _expire(self, text: str) -> None:
        if self.notice == text:
            self.notice = ""


class SettingRow(KvLoaded, BoxLayout):
    """One setting: its label, its editor and, when refused, the message in red."""

    kv_name = "setting_form"
    key = StringProperty("")
    label = StringProperty("")
    error = StringProperty("")
    note = StringProperty("")  # a line about the field that is not an error
    note_color = ColorProperty(theme.MUTED)
    dirty = BooleanProperty(False)  # edited here and not saved yet
    __events__ = ("on_value",)

    def __init__(self, setting: Setting, **kwargs):
        self.setting = setting
        self._loaded: Any = None
        super().__init__(key=setting.key, label=setting.label, **kwargs)

    # The editor's representation of a stored value, and back.
    def shown(self, value: Any) -> Any:
        return self.setting.display(value)

    def raw(self) -> Any:
        raise NotImplementedError

    def _put(self, shown: Any) -> None:
        raise NotImplementedError

    def load(self, value: Any) -> None:
        """Show a stored value, as saved (not dirty)."""
        self._loaded = self.shown(value)
        self._put(self._loaded)
        self.dirty = False

    def shows(self, value: Any) -> bool:
        return self.raw() == self.shown(value)

    def mark_clean(self) -> None:
        self._loaded = self.raw()
        self.dirty = False

    def edited(self, *_):
        """Called by the editor on every change."""
        self.dirty = self.raw() != self._loaded
        self.error = ""
        self.dispatch("on_value", self.raw())

    def on_value(self, value):
        pass


class TextRow(SettingRow):
    numeric = BooleanProperty(False)  # digits only, number pad

    def raw(self) -> str:
        return self.ids.editor.text

    def _put(self, shown: str) -> None:
        editor = self.ids.editor
        editor.text = shown
        if not editor.focus:
            editor.do_cursor_movement("cursor_home")


class IntRow(TextRow):
    numeric = BooleanProperty(True)


class BoolRow(SettingRow):
    def shown(self, value: Any) -> bool:
        return bool(value)

    def raw(self) -> bool:
        return self.ids.editor.state == "down"

    def _put(self, shown: bool) -> None:
        self.ids.editor.state = "down" if shown else "normal"


class ChoiceRow(SettingRow):
    def shown(self, value: Any) -> str:
        return value

    def raw(self) -> str:
        text = self.ids.editor.text
        for value, label in self.setting.choices.items():
            if label == text:
                return value
        return text

    def _put(self, shown: str) -> None:
        self.ids.editor.text = self.setting.choices.get(shown, shown)


_ROW_KINDS = {"text": TextRow, "int": IntRow, "bool": BoolRow, "choice": ChoiceRow}


class SettingForm(KvLoaded, BoxLayout):
    """The rows of one settings screen; shows some of them at a time."""

    kv_name = "setting_form"

    def __init__(self, **kwargs):
        self._rows: dict[str, SettingRow] = {}
        super().__init__(**kwargs)

    def build(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            setting = SETTINGS[key]
            self._rows[key] = _ROW_KINDS[setting.kind](setting)

    def row(self, key: str) -> SettingRow:
        return self._rows[key]

    def show(self, keys: tuple[str, ...]) -> None:
        wanted = [self._rows[k] for k in keys]
        if list(reversed(self.children)) == wanted:
            return
        self.clear_widgets()
        for row in wanted:
            self.add_widget(row)

    def visible(self) -> list[SettingRow]:
        return list(reversed(self.children))

    def raw_values(self) -> dict[str, Any]:
        return {row.key: row.raw() for row in self.visible()}

    def load(self, settings: dict[str, Any]) -> None:
        """Show saved values, keeping what the user is editing unless it now matches."""
        for key, row in self._rows.items():
            if key in settings and (not row.dirty or row.shows(settings[key])):
                row.load(settings[key])

    def mark_clean(self) -> None:
        for row in self._rows.values():
            row.mark_clean()

    def show_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """Put each message on its field; returns those for fields not on screen."""
        shown = {row.key for row in self.visible()}
        for row in self._rows.values():
            row.error = errors.get(row.key, "") if row.key in shown else ""
        return {k: v for k, v in errors.items() if k not in shown}


class TokenPanel(KvLoaded, BoxLayout):
    """The "Token:" line, the last outcome and the [Get Token] [Delete] [Save] keys.

    An Invalid token stands out on its own tinted band, with the line that
    says to delete it and get a new one (flow.token_message).
    """

    status = StringProperty("")
    message = StringProperty("")
    shown_message = StringProperty("")
    invalid = BooleanProperty(False)
    busy = BooleanProperty(False)
    # Which keys are live, as flow.token_keys decides from status and busy.
    get_token_live = BooleanProperty(False)
    delete_live = BooleanProperty(False)
    __events__ = ("on_get_token", "on_delete", "on_save")

    def on_status(self, *_):
        self.invalid = self.status == TokenStatus.INVALID.value
        self._message()
        self._keys()

    def on_message(self, *_):
        self._message()

    def _message(self):
        self.shown_message = token_message(self.status, self.message)

    def on_busy(self, *_):
        self._keys()

    def _keys(self):
        keys = token_keys(self.status, self.busy)
        self.get_token_live, self.delete_live = keys.get_token, keys.delete

    def on_get_token(self):
        pass

    def on_delete(self):
        pass

    def on_save(self):
        pass



class MailBar(KvLoaded, BoxLayout):
    """The mail keys of a tab, in a row under its form: [Send Test E-mail]
    [Connection Test] on SMTP, [Check Now] [Connection Test] [Received E-mail]
    on POP. Keys that talk to a server rest while a mail call runs."""

    busy = BooleanProperty(False)
    __events__ = ("on_key",)

    def __init__(self, **kwargs):
        self.keys: dict[str, Key] = {}
        super().__init__(**kwargs)

    def build(self, names: tuple[str, ...]) -> None:
        for name in names:
            key = Key(text=MAIL_KEY_TEXT[name])
            key.name = name
            key.bind(on_release=lambda k: self.dispatch("on_key", k.name))
            self.keys[name] = key
            self.add_widget(key)
        self.on_busy()

    def on_busy(self, *_):
        for name, key in self.keys.items():
            key.disabled = self.busy and name != "received"

    def on_key(self, name):
        pass


class MessageRow(KvLoaded, RecycleDataViewBehavior, ButtonBehavior, BoxLayout):
    """One received e-mail in the list: from, subject, time, size. Touch: open it."""

    kv_name = "received_screen"
    message_id = NumericProperty(0)
    sender = StringProperty("")
    subject = StringProperty("")
    when = StringProperty("")
    size_text = StringProperty("")
    opener = ObjectProperty(None, allownone=True)

    def on_release(self):
        if self.opener is not None:
            self.opener(self.message_id)
