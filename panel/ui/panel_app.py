"""The Kivy application: observable state, navigation, and the hop from core.

Import it through `panel.ui.app`, which sets Kivy's environment first.

The core's `subscribe` callback is the one source of what the panel shows:
every snapshot (from this panel, the command line, the web page, another
process) is posted to the main thread and copied into the app's Kivy
properties; screens bind to those. Core calls run on one `Worker` thread;
mail calls (Send Test E-mail, Connection Test, Check Now) run on a second
one, so a mail server that takes its Timeout to answer never holds up Save,
Delete or Cancel.

Thread rules: everything here runs on the Kivy main thread except
`_on_snapshot`, which the core calls from its own threads and which only
posts to the `MainThreadQueue`.
"""

from __future__ import annotations

from typing import Any, Callable

from kivy.app import App
from kivy.core.window import Window
from kivy.properties import (BooleanProperty, DictProperty, NumericProperty,
                             ObjectProperty, StringProperty)
from kivy.uix.screenmanager import NoTransition, ScreenManager

from panel.errors import PanelError
from panel.token_state import TokenStatus

from . import flow, theme
from .mainthread import MainThreadQueue
from .message_dialog import MessageDialog
from .resources import load_kv
from .screens import SCREENS
from .token_dialog import TokenDialog
from .worker import Worker


class PanelApp(App):
    title = "panel"

    # What the core says, as of the last snapshot.
    token_status = StringProperty(TokenStatus.NOT_RETRIEVED.value)
    token_message = StringProperty("")
    token_provider = StringProperty("")
    token_account = StringProperty("")
    device_code = ObjectProperty(None, allownone=True)
    settings = DictProperty({})
    version = NumericProperty(-1)
    connected = BooleanProperty(False)  # a first snapshot has arrived
    # The POP side (Snapshot.mail): the last check and how many e-mails are kept.
    mail_last_check = NumericProperty(0)
    mail_last_result = StringProperty("")
    mail_last_ok = BooleanProperty(False)
    mail_received = NumericProperty(0)
    # What the panel is doing.
    busy = BooleanProperty(False)  # a core call is running
    mail_busy = BooleanProperty(False)  # a mail call is running
    screen_name = StringProperty("home")

    def __init__(self, core: Any, size: tuple[int, int] = (800, 480), **kwargs):
        super().__init__(**kwargs)
        self.core = core
        self.panel_size = tuple(size)
        self.nav = flow.Navigator()
        self.hop: MainThreadQueue | None = None
        self.worker: Worker | None = None
        self.mail_worker: Worker | None = None
        self._calls = 0
        self._mail_calls = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._token_dialog: TokenDialog | None = None
        self._stopping = False

    # -- life cycle -------------------------------------------------------

    def build(self):
        if tuple(Window.size) != self.panel_size:
            Window.size = self.panel_size  # prepare() was not told this size
        Window.clearcolor = theme.BACKGROUND
        load_kv("panel")
        self.hop = MainThreadQueue()
        self.worker = Worker(self.hop)
        self.mail_worker = Worker(self.hop, name="panel-ui-mail")
        self.manager = ScreenManager(transition=NoTransition())
        self._go(self.nav.home())
        return self.manager

    def on_start(self):
        self.call(self.core.subscribe, self._on_snapshot, on_result=self._subscribed,
                  on_error=lambda err: self.show_message("The settings cannot be read", err.message))

    def on_stop(self):
        self._stopping = True
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            self.worker.submit(unsubscribe)
        self.worker.stop()
        # A mail call may be waiting for its server: do not wait for it here.
        self.mail_worker.stop(timeout=0.5)
        self.hop.close()

    def _subscribed(self, unsubscribe: Callable[[], None]) -> None:
        if self._stopping:
            self.worker.submit(unsubscribe)
        else:
            self._unsubscribe = unsubscribe

    # -- core calls -------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any,
             on_result: Callable[[Any], None] | None = None,
             on_error: Callable[[PanelError], None] | None = None) -> None:
        """Run a core call on the worker; callbacks come back on the main thread."""
        self._calls += 1
        self.busy = True

        def done():
            self._calls -= 1
            self.busy = self._calls > 0

        if on_error is None:
            on_error = lambda err: self.show_message("The panel could not do that", err.message)  # noqa: E731
        self.worker.submit(fn, *args, on_result=on_result, on_error=on_error, on_done=done)

    def mail_call(self, fn: Callable[..., Any], *args: Any,
                  on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[PanelError], None] | None = None) -> None:
        """Run a mail call (it may wait for a server) on the mail worker."""
        self._mail_calls += 1
        self.mail_busy = True

        def done():
            self._mail_calls -= 1
            self.mail_busy = self._mail_calls > 0

        if on_error is None:
            on_error = lambda err: self.show_message("The panel could not do that", err.message, "error")  # noqa: E731
        self.mail_worker.submit(fn, *args, on_result=on_result, on_error=on_error, on_done=done)

    # -- the core's snapshots ---------------------------------------------

    def _on_snapshot(self, snapshot: Any) -> None:
        """Any thread: the core's callback. Only hops."""
        self.hop.post(self._apply, snapshot)

    def _apply(self, snapshot: Any) -> None:
        # Snapshots come from more than one core thread; an older one arriving
        # late must not undo a newer one.
        if snapshot.version < self.version:
            return
        self.version = snapshot.version
        token = snapshot.token
        self.settings = dict(snapshot.settings)
        self.token_provider = token.provider
        self.token_account = token.account
        self.token_message = token.message
        self.device_code = token.device_code
        self.token_status = token.status.value
        mail = snapshot.mail
        self.mail_last_check = mail.last_check
        self.mail_last_result = mail.last_result
        self.mail_last_ok = mail.last_ok
        self.mail_received = mail.received
        self.connected = True
        self._sync_token_dialog()

    # -- navigation -------------------------------------------------------

    def _screen(self, name: str):
        if not self.manager.has_screen(name):
            self.manager.add_widget(SCREENS[name](name=name))
        return self.manager.get_screen(name)

    def _go(self, place: flow.Place) -> None:
        screen = self._screen(place.screen)
        screen.place = place
        self.manager.current = place.screen
        self.screen_name = place.screen
        self._sync_token_dialog()

    def press_settings(self) -> None:
        self._go(self.nav.settings_key())

    def logged_in(self) -> None:
        self._go(self.nav.logged_in())

    def open_entry(self, title: str) -> None:
        self._go(self.nav.open(title))

    def open_message(self, message: dict) -> None:
        """From the Received E-mail list to one message (a `core.messages()` entry)."""
        place = self.nav.open_message(message["subject"])
        self._screen(place.screen).message = dict(message)
        self._go(place)

    def back(self) -> None:
        self._go(self.nav.back())

    def home(self) -> None:
        self._go(self.nav.home())

    # -- dialogs the app owns ---------------------------------------------

    def show_message(self, title: str, text: str, tone: str = "") -> MessageDialog:
        """A message with [OK]; `tone` "ok" or "error" colours its title."""
        dialog = MessageDialog(title=title, text=text, tone=tone)
        dialog.open()
        return dialog

    def _sync_token_dialog(self) -> None:
        """The code dialog is open exactly while a token screen shows Waiting."""
        waiting = (self.token_status == TokenStatus.WAITING.value
                   and self.screen_name in flow.TOKEN_SCREENS)
        if waiting and self._token_dialog is None:
            provider = self.token_provider or self.settings.get("oauth.provider", "")
            account = self.token_account or self.settings.get("oauth.account", "")
            self._token_dialog = TokenDialog(title=f"Sign in to {flow.provider_label(provider)}",
                                             account=account, on_cancel=self._cancel_token)
            self._token_dialog.open()
        if self._token_dialog is not None:
            if waiting:
                self._token_dialog.show_code(self.device_code)
            else:
                dialog, self._token_dialog = self._token_dialog, None
                dialog.dismiss()

    def _cancel_token(self) -> None:
        def failed(err: PanelError) -> None:
            if self._token_dialog is not None:
                self._token_dialog.cancelling = False
            self.show_message("Cannot cancel", err.message)

        self.call(self.core.cancel_token, on_error=failed)

    @property
    def token_dialog(self) -> TokenDialog | None:
        return self._token_dialog

