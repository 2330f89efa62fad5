"""The panel's screens. Each shows app state and turns touches into one call.

Screens read the app's observable state (`PanelApp` properties) and ask the
app to navigate or to run a core call; they never call the core themselves,
so no screen can block the frame. The two token screens (SMTP and POP) share
`TokenSettingsScreen`: the same token panel, the same dialogs, the same rules
from `flow`, and a row of mail keys under the form. The POP tab leads to the
Received E-mail list and from there to one message; System Settings also
leads to the administrator password form.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import DictProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from panel.errors import PanelError, ValidationError
from panel.settings import SETTINGS

from . import flow, theme, widgets  # noqa: F401  (widgets: classes the kv files use)
from .confirm_dialog import ConfirmDialog
from .resources import KvLoaded
from .send_test_dialog import SendTestDialog


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
        self.ids.password.text = ""  # clears the message too (on_text): set it after
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
        self.ids.mail.build(flow.MAIL_KEYS[self.kind])
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

    # -- the mail keys ------------------------------------------------------

    def mail_key(self, name: str) -> None:
        if name == "received":
            self.app.open_entry(flow.RECEIVED.title)
        elif name == "send_test":
            # The test uses what the form shows: unsaved edits are saved first.
            self.save_if_edited(then=self._ask_recipient)
        elif name == "smtp_test":
            self.save_if_edited(then=lambda: self._mail(name, self.app.core.connection_test, "smtp"))
        elif name == "pop_test":
            self.save_if_edited(then=lambda: self._mail(name, self.app.core.connection_test, "pop"))
        elif name == "check_now":
            self.save_if_edited(then=lambda: self._mail(name, self.app.core.check_mail))

    def _ask_recipient(self) -> None:
        # The form, not app.settings: a save just made may not have come back as a snapshot yet.
        account = self.ids.form.row("oauth.account").raw()
        SendTestDialog(recipient=account, on_send=lambda to: self._mail("send_test", self.app.core.send_test_email,
                                                                         to)).open()

    def _mail(self, name: str, fn: Callable[..., str], *args: Any) -> None:
        title = flow.MAIL_KEY_TEXT[name]
        running = flow.MAIL_RUNNING[name]
        self.ids.bar.tell(running)

        def done(text: str) -> None:
            if name == "check_now":
                # The line beside Check Interval keeps the result; no dialog to dismiss.
                self.ids.bar.tell(text, "ok")
            else:
                self._quiet(running)
                self.app.show_message(title, text, "ok")

        def failed(err: PanelError) -> None:
            self._quiet(running)
            self.app.show_message(f"{title}: failed", err.message, "error")

        self.app.mail_call(fn, *args, on_result=done, on_error=failed)

    def _quiet(self, notice: str) -> None:
        if self.ids.bar.notice == notice:
            self.ids.bar.tell("")

    # -- [Save] ---------------------------------------------------------

    def save_if_edited(self, then: Callable[[], None]) -> None:
        if any(row.dirty for row in self.ids.form.visible()):
            self.save(then=then)
        else:
            then()

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
    """The E-mail Status Advanced tab: the last check beside Check Interval, live."""

    kind = flow.POP_SCREEN

    def on_kv_post(self, base_widget):
        super().on_kv_post(base_widget)
        self.app.bind(mail_last_check=self._last_check, mail_last_result=self._last_check,
                      mail_last_ok=self._last_check)
        self._last_check()

    def _last_check(self, *_):
        app = self.app
        row = self.ids.form.row("pop.check_interval")
        row.note = flow.last_check(app.mail_last_check, app.mail_last_result, app.mail_last_ok)
        row.note_color = theme.MUTED if app.mail_last_ok or not app.mail_last_check else theme.ERROR


class ReceivedScreen(PanelScreen):
    """The Received E-mail list, as a printer lists incoming e-mail jobs.

    Read again whenever the count of kept e-mails changes (a check from this
    panel, the schedule, another process). Touch a line to open it.
    """

    rows = ListProperty([])
    empty = StringProperty("")

    def on_kv_post(self, base_widget):
        self._messages: dict[int, dict] = {}
        self.app.bind(mail_received=lambda *_: self._reload(shown_only=True))

    def on_pre_enter(self, *_):
        self._reload()

    def _reload(self, shown_only: bool = False) -> None:
        if shown_only and self.app.screen_name != self.name:
            return  # read again when it is next shown
        if not self.rows:
            self.empty = "Reading…"
        self.app.call(self.app.core.messages, on_result=self._show,
                      on_error=lambda err: setattr(self, "empty", err.message))

    def _show(self, messages: list[dict]) -> None:
        self._messages = {m["id"]: m for m in messages}
        rows = [flow.message_row(m) for m in messages]
        for row in rows:
            row["opener"] = self.open_message
        self.rows = rows
        self.empty = "" if rows else "No e-mail received yet. Press Check Now on the Advanced tab."
        self.ids.bar.tell(flow.received_count(len(rows)))

    def open_message(self, message_id: int) -> None:
        message = self._messages.get(message_id)
        if message is not None:
            self.app.open_message(message)


class MessageScreen(PanelScreen):
    """One received e-mail: who sent it, when, and its text, scrollable."""

    message = DictProperty({})
    head = StringProperty("")
    body = StringProperty("")

    def on_message(self, _screen, message: dict) -> None:
        if not message:
            return
        self.head = (f"[b]From:[/b] {_markup(message['sender'])}\n"
                     f"[b]Subject:[/b] {_markup(message['subject'] or flow.NO_SUBJECT)}\n"
                     f"[b]Date:[/b] {_markup(message['date'])}\n"
                     f"[b]Size:[/b] {flow.size_text(message['size'])}")
        self.body = "Reading…"
        wanted = message["id"]
        self.app.call(self.app.core.message_text, wanted, on_result=lambda text: self._text(wanted, text))

    def _text(self, wanted: int, text: str) -> None:
        if self.message.get("id") == wanted:
            self.body = text.rstrip() or "(This message is empty.)"
            self.ids.scroll.scroll_y = 1


def _markup(text: str) -> str:
    """Text shown inside a markup label, with its own [ ] and & kept as written."""
    return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")


class AdminPasswordScreen(PanelScreen):
    """Change the administrator password: current, new, new again.

    Each refusal is said on its field and nothing changes: the form's own
    checks first (flow.password_change_errors), then the core checks the
    current password (a wrong one counts towards the lockout, as at login)
    and the new one's rules.
    """

    errors = DictProperty({})
    # One message per field, for kv (it does not follow errors.get(...)).
    current_error = StringProperty("")
    new_error = StringProperty("")
    again_error = StringProperty("")

    def on_errors(self, _screen, errors: dict) -> None:
        for field in flow.ADMIN_FIELDS:
            setattr(self, f"{field}_error", errors.get(field, ""))

    def on_pre_enter(self, *_):
        self.clear()

    def clear(self) -> None:
        for field in flow.ADMIN_FIELDS:
            self.ids[field].text = ""
        self.errors = {}

    def change(self) -> None:
        current, new, again = (self.ids[f].text for f in flow.ADMIN_FIELDS)
        errors = flow.password_change_errors(current, new, again)
        if errors:
            self.errors = errors
            return
        self.ids.bar.tell("Changing the password…")
        self.app.call(self.app.core.change_admin_password, current, new,
                      on_result=self._changed, on_error=self._refused)

    def _changed(self, _result) -> None:
        self.clear()
        self.ids.bar.tell("Administrator password changed.", "ok")

    def _refused(self, err: PanelError) -> None:
        self.ids.bar.tell("Not changed.", "error")
        if isinstance(err, ValidationError) and "admin.current" in err.errors:
            self.ids.current.text = ""  # clears its message too (on_text): set it after
            self.errors = {"current": err.errors["admin.current"]}
        elif isinstance(err, ValidationError):
            self.errors = {"new": " ".join(err.errors.values())}
        else:  # AccessError: locked after too many wrong passwords
            self.errors = {"current": err.message}

    def edited(self, field: str) -> None:
        if field in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != field}


SCREENS = {
    "home": HomeScreen,
    "login": LoginScreen,
    "menu": MenuScreen,
    flow.SMTP_SCREEN: SmtpScreen,
    flow.POP_SCREEN: PopScreen,
    flow.RECEIVED_SCREEN: ReceivedScreen,
    flow.MESSAGE_SCREEN: MessageScreen,
    flow.ADMIN_SCREEN: AdminPasswordScreen,
}
