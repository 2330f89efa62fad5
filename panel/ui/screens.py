"""The panel's screens. Each shows app state and turns touches into one call.

Screens read the app's observable state (`PanelApp` properties) and ask the
app to navigate or to run a core call; they never call the core themselves,
so no screen can block the frame. The two token screens (SMTP and POP) share
`TokenSettingsScreen`: the same token panel, the same dialogs, the same rules
from `flow`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from panel.errors import PanelError, ValidationError
from panel.settings import SETTINGS

from . import flow, widgets  # noqa: F401  (widgets: classes the kv files use)
from .confirm_dialog import ConfirmDialog
from .resources import KvLoaded


class PanelScreen(KvLoaded, Screen):
    title = StringProperty("")
    crumbs = StringProperty("")
    place = ObjectProperty(None, allownone=True)

    def on_place(self, _screen, place: flow.Place | None) -> None:
        if place is not None:
            self.title = place.title
            self.crumbs = place.crumbs

    @property
    def app(self):
        return App.get_running_app()


class HomeScreen(PanelScreen):
    """The machine's home: function keys, the time, and the [Settings] key."""

    clock_text = StringProperty("")

    def on_pre_enter(self, *_):
        self._tick()
        self._clock = Clock.schedule_interval(self._tick, 1)

    def on_leave(self, *_):
        self._clock.cancel()

    def _tick(self, *_):
        self.clock_text = time.strftime("%H:%M")


class LoginScreen(PanelScreen):
    """The administrator's password; a wrong one is said on the field."""

    error = StringProperty("")

    def on_pre_enter(self, *_):
        self.error = ""
        self.ids.password.text = ""

    def login(self) -> None:
        password = self.ids.password.text
        if not password:
            self.error = "Enter the administrator password."
            return
        self.app.call(self.app.core.check_admin_password, password,
                      on_result=self._checked, on_error=self._failed)

    def _checked(self, ok: bool) -> None:
        if ok:
            self.ids.password.text = ""
            self.app.logged_in()
        else:
            self.ids.password.text = ""  # clears the message too (on_text): set it after
            self.error = "Wrong password. Try again."

    def _failed(self, err: PanelError) -> None:
        self.error = err.message


class MenuScreen(PanelScreen):
    """One level of the System Settings menus: a key per entry."""

    def on_place(self, screen, place):
        super().on_place(screen, place)
        box = self.ids.entries
        box.clear_widgets()
        if place is None or place.entry is None:
            return
        for child in place.entry.children:
            key = Factory.MenuKey(text=f"[b]{child.title}[/b]\n[size=14sp]{child.help}[/size]")
            key.entry_title = child.title
            key.bind(on_release=lambda k: self.app.open_entry(k.entry_title))
            box.add_widget(key)


class TokenSettingsScreen(PanelScreen):
    """A settings tab that also holds the common OAuth 2.0 token (SMTP or POP)."""

    kind = ""  # flow.SMTP_SCREEN or flow.POP_SCREEN

    def on_kv_post(self, base_widget):
        form = self.ids.form
        form.build(flow.ALL_FORM_KEYS[self.kind])
        form.row("oauth.provider").bind(on_value=lambda _row, provider: self._show_rows(provider))
        self._show_rows(form.row("oauth.provider").raw())
        self.app.bind(settings=self._settings_changed)
        self._settings_changed(self.app, self.app.settings)

    def _show_rows(self, provider: str) -> None:
        self.ids.form.show(flow.visible_keys(self.kind, provider))

    def _settings_changed(self, _app, settings: dict[str, Any]) -> None:
        if settings:
            self.ids.form.load(settings)

    # -- [Save] ---------------------------------------------------------

    def save(self, then: Callable[[], None] | None = None) -> None:
        """Save the whole form, all or nothing; then `then()` if it was saved."""
        self.ids.bar.tell("Saving…")
        changes = self.ids.form.raw_values()

        def saved(_result):
            self.ids.form.show_errors({})
            self.ids.form.mark_clean()
            self.ids.bar.tell("Saved.", "ok")
            if then:
                then()

        self.app.call(self.app.core.update_settings, changes, on_result=saved, on_error=self._not_saved)

    def _not_saved(self, err: PanelError) -> None:
        if isinstance(err, ValidationError):
            elsewhere = self.ids.form.show_errors(err.errors)
            first = next((r for r in self.ids.form.visible() if r.error), None)
            if first is not None:
                self.ids.scroll.scroll_to(first, padding=10, animate=False)
            if elsewhere:
                key, message = next(iter(elsewhere.items()))
                label = SETTINGS[key].label if key in SETTINGS else key
                self.ids.bar.tell(f"Not saved. {label}: {message}", "error")
            else:
                self.ids.bar.tell("Not saved: correct the fields in red.", "error")
        else:
            self.ids.bar.tell("Not saved.", "error")
            self.app.show_message("Not saved", err.message)

    # -- [Get Token] ------------------------------------------------------

    def get_token(self) -> None:
        # The token is for what the form says, so the form is saved first.
        self.save(then=self._confirm_get_token)

    def _confirm_get_token(self) -> None:
        form = self.ids.form
        text = flow.confirm_get_token(form.row("oauth.provider").raw(), form.row("oauth.account").raw())
        ConfirmDialog(title="Get Token", text=text, on_ok=self._start_token).open()

    def _start_token(self) -> None:
        self.app.call(self.app.core.get_token,
                      on_error=lambda err: self.app.show_message("Cannot get a token", err.message))

    # -- [Delete] ---------------------------------------------------------

    def delete(self) -> None:
        text = flow.confirm_delete(self.app.token_account)
        ConfirmDialog(title="Delete Token", text=text, on_ok=self._delete, ok_text="OK").open()

    def _delete(self) -> None:
        self.app.call(self.app.core.delete_token,
                      on_error=lambda err: self.app.show_message("Cannot delete the token", err.message))


class SmtpScreen(TokenSettingsScreen):
    kind = flow.SMTP_SCREEN


class PopScreen(TokenSettingsScreen):
    kind = flow.POP_SCREEN


SCREENS = {
    "home": HomeScreen,
    "login": LoginScreen,
    "menu": MenuScreen,
    flow.SMTP_SCREEN: SmtpScreen,
    flow.POP_SCREEN: PopScreen,
}
