"""The tour: the panel walks the whole token story by itself.

With no one at the screen, the app touches its own widgets (`driver`), from
the home screen through administrator login, the SMTP tab, Save, Get Token,
the code on screen, a phone approving it on the lab's page, Retrieved on the
SMTP tab, a test e-mail sent to the account, the POP tab checking the mailbox
at once, the Received E-mail list and the message itself, and Delete back to
Not Retrieved, saving a numbered screenshot at each stage. The steps are
reusable: the UI tests walk them too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Generator

from .kivy_env import prepare

TOUR_ACCOUNT = "printer@lab.test"
# The token alone; `pop_values(lab)` adds the lab's POP3 server.
TOUR_POP = {"pop.auth": "OAuth 2.0"}
TOUR_SMTP = {
    "smtp.server": "localhost",
    "smtp.port": "587",
    "smtp.sender_name": "Lab printer",
    "smtp.sender_address": TOUR_ACCOUNT,
    "smtp.auth": "OAuth 2.0",
    "oauth.provider": "Lab (local)",
    "oauth.account": TOUR_ACCOUNT,
}




def smtp_values(lab) -> dict[str, Any]:
    """The SMTP tab for sending through the lab's SMTP server (STARTTLS)."""
    return {**TOUR_SMTP, "smtp.server": lab.host, "smtp.port": str(lab.smtp_port), "smtp.ssl": "STARTTLS"}


def pop_values(lab) -> dict[str, Any]:
    """The Advanced tab for the lab's POP3 server (SSL/TLS), checked only on request,
    so a check on the schedule never takes the tour's e-mail first."""
    return {"pop.server": lab.host, "pop.port": str(lab.pop3s_port), "pop.ssl": "SSL/TLS",
            "pop.check_interval": "0", **TOUR_POP}


# -- steps (generators run by driver.Script) -----------------------------------

def _until(predicate: Callable[[], Any], what: str, timeout: float = 20):
    from .driver import Until

    return Until(predicate, what, timeout)


def dialogs(kind: type) -> list:
    from kivy.core.window import Window

    return [w for w in Window.children if isinstance(w, kind)]


def start(app) -> Generator:
    yield _until(lambda: app.connected, "the core's first snapshot arrived", 30)
    yield 0.3


def login(drv, password: str, before: Callable[[], Generator] | None = None) -> Generator:
    """From the home screen to System Settings; `before()` runs before [Login]."""
    app = drv.app
    yield from drv.tap(drv.screen("home").ids.settings)
    yield _until(lambda: app.screen_name == "login", "the login screen showed")
    login_screen = drv.screen("login")
    yield from drv.type_into(login_screen.ids.password, password)
    if before is not None:
        yield from before()
    yield from drv.tap(login_screen.ids.login)
    yield _until(lambda: app.screen_name == "menu" or login_screen.error,
                 "the password was checked", 10)
    if app.screen_name != "menu":
        raise AssertionError(f"login refused: {login_screen.error}")


def open_screen(drv, target: str) -> Generator:
    """From any System Settings screen to `target` ("smtp" or "pop"), by touch."""
    app = drv.app
    while app.nav.place().trail[:1] != ("System Settings",) or len(app.nav.stack) > 1:
        yield from drv.tap(drv.screen().ids.bar.ids.back)
    for title in app.nav.path_to(target):
        keys = [k for k in drv.screen("menu").ids.entries.children if getattr(k, "entry_title", "") == title]
        if not keys:
            raise AssertionError(f"no {title!r} key on {app.nav.place().title!r}")
        yield from drv.tap(keys[0])
    yield _until(lambda: app.screen_name == target, f"the {target} screen showed", 5)
    yield 0.2


def fill(drv, screen: str, values: dict[str, Any]) -> Generator:
    """Type, choose and toggle as a user would; choices are given by their label."""
    from .widgets import BoolRow, ChoiceRow

    form = drv.screen(screen).ids.form
    for key, value in values.items():
        row = form.row(key)
        editor = row.ids.editor
        if isinstance(row, ChoiceRow):
            yield from drv.choose(editor, value)
        elif isinstance(row, BoolRow):
            yield from drv.set_toggle(editor, bool(value))
        else:
            yield from drv.type_into(editor, str(value))
    yield 0.1


def token_key(drv, screen: str, key: str) -> Generator:
    """Press [Get Token], [Delete] or [Save] (ids get_token, delete, save)."""
    yield from drv.tap(drv.screen(screen).ids.token.ids[key])


def save(drv, screen: str, expect_saved: bool = True) -> Generator:
    bar = drv.screen(screen).ids.bar
    yield from token_key(drv, screen, "save")
    yield _until(lambda: bar.notice == "Saved." or bar.notice.startswith("Not saved"), "the form was saved", 10)
    if expect_saved and bar.notice != "Saved.":
        raise AssertionError(f"the {screen} form was not saved: {bar.notice}")


def confirm(drv, ok: bool = True) -> Generator:
    from .confirm_dialog import ConfirmDialog

    yield _until(lambda: dialogs(ConfirmDialog), "a confirmation appeared", 10)
    dialog = dialogs(ConfirmDialog)[0]
    yield from drv.tap(dialog.ids.ok if ok else dialog.ids.cancel)
    yield _until(lambda: not dialogs(ConfirmDialog), "the confirmation closed", 5)


def code_dialog(drv) -> Generator:
    """Wait for the code on screen; the step's value is the TokenDialog."""
    yield _until(lambda: drv.app.token_dialog is not None and drv.app.token_dialog.user_code
                 and drv.app.token_dialog.ids.qr.module_px > 0, "the code and QR code showed", 20)
    yield 0.3
    return drv.app.token_dialog


def status_is(drv, word: str, timeout: float = 20) -> Generator:
    app = drv.app
    yield _until(lambda: app.token_status == word and app.token_dialog is None,
                 f"the token read {word!r} (it reads {app.token_status!r})", timeout)
    yield 0.2


def status_text(drv, screen: str) -> str:
    """What the "Token:" line of a screen says, read off its label."""
    return drv.screen(screen).ids.token.ids.status.text


def mail_key(drv, screen: str, name: str) -> Generator:
    """Press a mail key under the form (flow.MAIL_KEYS: send_test, smtp_test, check_now, pop_test, received)."""
    yield from drv.tap(drv.screen(screen).ids.mail.keys[name])


def message_dialog(drv, timeout: float = 30) -> Generator:
    """Wait for a message dialog (a result, a failure); the step's value is the dialog."""
    from .message_dialog import MessageDialog

    yield _until(lambda: dialogs(MessageDialog), "a message appeared", timeout)
    yield 0.1
    return dialogs(MessageDialog)[-1]


def dismiss(drv, dialog) -> Generator:
    yield from drv.tap(dialog.ids.ok)
    yield _until(lambda: dialog.parent is None, "the message closed", 5)


def send_test(drv, to: str | None = None, before_send: Callable[[], Generator] | None = None) -> Generator:
    """[Send Test E-mail] on the SMTP tab → the recipient (the Account name unless `to`) → [Send].

    The step's value is the result dialog (left open)."""
    from .send_test_dialog import SendTestDialog

    yield from mail_key(drv, "smtp", "send_test")
    yield _until(lambda: dialogs(SendTestDialog), "the Send Test E-mail dialog appeared", 10)
    ask = dialogs(SendTestDialog)[0]
    if to is not None:
        yield from drv.type_into(ask.ids.recipient, to)
    yield 0.1
    if before_send is not None:
        yield from before_send()
    yield from drv.tap(ask.ids.send)
    if ask.error:
        return ask  # refused on the field: the dialog stays
    dialog = yield from message_dialog(drv)
    return dialog


def check_now(drv) -> Generator:
    """[Check Now] on the Advanced tab; waits for the outcome (the line beside Check Interval)."""
    app = drv.app
    before = app.mail_last_check
    yield from mail_key(drv, "pop", "check_now")
    yield _until(lambda: app.mail_last_check != before and not app.mail_busy, "the check ended", 30)
    yield 0.2


def last_check_text(drv) -> str:
    """The line beside Check Interval, read off its label."""
    return drv.screen("pop").ids.form.row("pop.check_interval").ids.note.text


def received_rows(drv) -> list:
    """The lines of the Received E-mail list on screen (MessageRow widgets), top first."""
    container = drv.screen("received").ids.list.children[0]
    return sorted(container.children, key=lambda w: -w.y)


def open_received(drv, count: int | None = None) -> Generator:
    """[Received E-mail] on the Advanced tab; waits until the list shows (`count` lines if given)."""
    app = drv.app
    screen = drv.screen("pop") if app.screen_name == "pop" else None
    if screen is None:
        raise AssertionError(f"Received E-mail opens from the Advanced tab, not {app.screen_name!r}")
    yield from mail_key(drv, "pop", "received")
    yield _until(lambda: app.screen_name == "received", "the Received E-mail list showed", 5)
    received = drv.screen("received")
    yield _until(lambda: received.empty != "Reading…"
                 and (count is None or len(received_rows(drv)) == count),
                 f"the list showed {count if count is not None else 'its'} lines", 10)
    yield 0.2


def open_message(drv, row) -> Generator:
    """Touch a line of the list; waits until the message's text shows."""
    app = drv.app
    yield from drv.tap(row)
    yield _until(lambda: app.screen_name == "message", "the message opened", 5)
    message = drv.screen("message")
    yield _until(lambda: message.body and message.body != "Reading…", "the message's text showed", 10)
    yield 0.2


def back(drv) -> Generator:
    yield from drv.tap(drv.screen().ids.bar.ids.back)


# -- the tour ----------------------------------------------------------------

def tour_steps(drv, lab, out_dir: Path, password: str, shots: list[Path]) -> Generator:
    from panel.token_state import TokenStatus

    from .confirm_dialog import ConfirmDialog
    from .driver import InThread
    from ..lab.phone import sign_in

    def shot(name: str):
        path = Path(out_dir) / f"{len(shots) + 1:02d}-{name}.png"
        yield from drv.screenshot(path)
        shots.append(path)
        print(path, flush=True)

    app = drv.app
    yield from start(app)
    if app.token_status != TokenStatus.NOT_RETRIEVED.value:
        raise AssertionError(f"the tour starts from Not Retrieved; the token is {app.token_status}. "
                             "Delete it first (panel token delete).")
    yield from shot("home")
    yield from login(drv, password, before=lambda: shot("administrator-login"))
    yield from shot("system-settings")
    yield from open_screen(drv, "smtp")
    yield from fill(drv, "smtp", smtp_values(lab))
    yield from drv.tap(drv.screen("smtp").ids.bar.ids.title)  # drops the text cursor, as a user would
    yield from shot("smtp-tab-filled")
    yield from save(drv, "smtp")
    yield from token_key(drv, "smtp", "get_token")
    yield _until(lambda: dialogs(ConfirmDialog), "the confirmation appeared", 10)
    yield from shot("get-token-confirmation")
    yield from confirm(drv, ok=True)
    yield from code_dialog(drv)
    if status_text(drv, "smtp") != TokenStatus.WAITING.value:
        raise AssertionError(f"the token line reads {status_text(drv, 'smtp')!r} while the code shows")
    yield from shot("token-code")
    url = app.device_code.verification_uri_complete or app.device_code.verification_uri
    answer = yield InThread(sign_in, url, TOUR_ACCOUNT, "Approve", str(lab.ca_file))
    print(f"Approved on the lab's page as a phone would (HTTP {answer.status_code}).", flush=True)
    yield from status_is(drv, TokenStatus.RETRIEVED.value)
    yield from shot("smtp-retrieved")
    result = yield from send_test(drv, before_send=lambda: shot("send-test-e-mail"))
    if not result.text.startswith(f"Test e-mail sent to {TOUR_ACCOUNT}"):
        raise AssertionError(f"the test e-mail was not sent: {result.text}")
    yield from shot("test-e-mail-sent")
    yield from dismiss(drv, result)
    yield from open_screen(drv, "pop")
    if status_text(drv, "pop") != TokenStatus.RETRIEVED.value:
        raise AssertionError(f"the POP tab reads {status_text(drv, 'pop')!r}")
    yield from fill(drv, "pop", pop_values(lab))
    yield from save(drv, "pop")
    yield from shot("pop-retrieved")
    yield from check_now(drv)
    if "1 new message" not in last_check_text(drv):
        raise AssertionError(f"Check Now did not fetch the test e-mail: {last_check_text(drv)}")
    yield from shot("pop-checked")
    yield from open_received(drv)
    rows = received_rows(drv)
    if not rows or "Test e-mail" not in rows[0].subject:
        raise AssertionError(f"the Received E-mail list does not show the test e-mail: {[r.subject for r in rows]}")
    yield from shot("received-e-mail")
    yield from open_message(drv, rows[0])
    yield from shot("received-message")
    yield from back(drv)
    yield from back(drv)
    yield _until(lambda: app.screen_name == "pop", "back on the Advanced tab", 5)
    yield from token_key(drv, "pop", "delete")
    yield _until(lambda: dialogs(ConfirmDialog), "the delete confirmation appeared", 10)
    yield from shot("delete-confirmation")
    yield from confirm(drv, ok=True)
    yield from status_is(drv, TokenStatus.NOT_RETRIEVED.value)
    yield from shot("pop-not-retrieved")
    yield from open_screen(drv, "smtp")
    if status_text(drv, "smtp") != TokenStatus.NOT_RETRIEVED.value:
        raise AssertionError(f"the SMTP tab reads {status_text(drv, 'smtp')!r}")
    yield from shot("smtp-not-retrieved")


def run_steps(core, size: tuple[int, int], steps: Callable[[Any], Generator]) -> BaseException | None:
    """Run the panel with `steps(driver)` touching it; close it when they end.

    Returns the error that ended the steps, or None.
    """
    prepare(core.data_dir, size)
    from .driver import Driver, Script
    from .panel_app import PanelApp

    app = PanelApp(core, size)
    outcome: list[BaseException | None] = []

    def ended(error: BaseException | None) -> None:
        outcome.append(error)
        app.stop()

    app.bind(on_start=lambda *_: Script(steps(Driver(app)), ended).start())
    app.run()
    return outcome[0] if outcome else RuntimeError("the panel closed before the steps ended")


def run_tour(core, lab, out_dir: Path, size: tuple[int, int] = (800, 480), password: str | None = None) -> bool:
    """Walk the story; print and save each screenshot in `out_dir`. True when it all went as told."""
    from panel.store import DEFAULT_ADMIN_PASSWORD

    shots: list[Path] = []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    error = run_steps(core, size, lambda drv: tour_steps(drv, lab, out_dir, password or DEFAULT_ADMIN_PASSWORD,
                                                         shots))
    if error is not None:
        from .driver import format_error

        print(f"The tour stopped: {error}", file=sys.stderr)
        print(format_error(error), file=sys.stderr)
        return False
    return True
