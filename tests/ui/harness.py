"""Runs one UI scenario under the real panel app, in its own process.

A Kivy app runs once per process, so each test runs a scenario here:
    python tests/ui/harness.py SCENARIO WORK_DIR WIDTH HEIGHT
It opens a real Core on WORK_DIR/data, starts a real lab identity provider
(interval 1 s) on loopback, runs the panel with the scenario's steps touching
it, and writes WORK_DIR/result.json: {"ok", "error", "observed", "shots"}.
DISPLAY must name a running X server (the tests start Xvfb).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


# -- checks on what is on screen -------------------------------------------

def layout_problems(root, min_target: float) -> list[str]:
    """Widgets outside the window, and keys smaller than a finger."""
    from kivy.core.window import Window
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.textinput import TextInput

    problems = []

    def walk(widget, clipped: bool):
        if widget.opacity == 0 or widget.width <= 0 or widget.height <= 0:
            return
        x, y = widget.to_window(widget.x, widget.y)
        if not clipped and (x < -0.5 or y < -0.5 or x + widget.width > Window.width + 0.5
                            or y + widget.height > Window.height + 0.5):
            problems.append(f"{type(widget).__name__} {getattr(widget, 'text', '')!r} at "
                            f"({x:.0f},{y:.0f},{widget.width:.0f}x{widget.height:.0f}) leaves the window")
        if isinstance(widget, (ButtonBehavior, TextInput)) and not widget.disabled:
            if widget.height < min_target - 0.5 or widget.width < min_target - 0.5:
                problems.append(f"{type(widget).__name__} {getattr(widget, 'text', '')!r} is "
                                f"{widget.width:.0f}x{widget.height:.0f}, smaller than a finger")
        for child in widget.children:
            walk(child, clipped or isinstance(widget, ScrollView))

    walk(root, False)
    return problems


def check_layout(observed: dict, name: str) -> None:
    from kivy.core.window import Window
    from kivy.metrics import dp

    problems = []
    for widget in Window.children:
        problems += layout_problems(widget, dp(48))
    observed.setdefault("layout", {})[name] = problems
    assert not problems, f"layout of {name}: {problems}"


def decode_qr(path: Path) -> list[str]:
    from PIL import Image
    from pyzbar.pyzbar import decode

    return [d.data.decode() for d in decode(Image.open(path))]


# -- scenarios ----------------------------------------------------------------

def _to_code(drv, ctx, screen="smtp"):
    """Home → login → `screen` → fill → Save → Get Token → OK → the code on screen."""
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour

    yield from tour.start(drv.app)
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    yield from tour.open_screen(drv, screen)
    fill = dict(tour.TOUR_SMTP) if screen == "smtp" else {**tour.TOUR_POP, "oauth.provider": "Lab (local)",
                                                           "oauth.account": tour.TOUR_ACCOUNT}
    yield from tour.fill(drv, screen, fill)
    yield from tour.save(drv, screen)
    yield from tour.token_key(drv, screen, "get_token")
    yield from tour.confirm(drv, ok=True)
    dialog = yield from tour.code_dialog(drv)
    return dialog


@scenario
def main(drv, ctx):
    """The whole story, approving through the QR code read off a screenshot."""
    from panel.lab import phone
    from panel.ui import tour

    obs = ctx["observed"]
    dialog = yield from _to_code(drv, ctx)
    obs["waiting_line"] = tour.status_text(drv, "smtp")
    assert obs["waiting_line"] == "Waiting for authorisation", obs
    obs["module_px"] = dialog.ids.qr.module_px
    assert dialog.ids.qr.module_px >= 3
    check_layout(obs, "token dialog 800x480")
    shot = ctx["dir"] / "code.png"
    yield from drv.screenshot(shot)
    ctx["shots"].append(str(shot))
    decoded = decode_qr(shot)
    obs["qr"] = decoded
    assert len(decoded) == 1, decoded
    assert decoded[0] == drv.app.device_code.qr_text
    obs["user_code_on_screen"] = dialog.ids.user_code.text
    obs["time_left"] = dialog.ids.time_left.text
    from panel.ui.driver import InThread

    answer = yield InThread(phone.sign_in, decoded[0], tour.TOUR_ACCOUNT, "Approve", str(ctx["lab"].ca_file))
    obs["approve_http"] = answer.status_code
    yield from tour.status_is(drv, "Retrieved")
    obs["smtp_after_approve"] = tour.status_text(drv, "smtp")
    obs["message_after_approve"] = drv.screen("smtp").ids.token.ids.message.text
    obs["get_token_disabled"] = drv.screen("smtp").ids.token.ids.get_token.disabled
    check_layout(obs, "smtp 800x480")
    yield from tour.open_screen(drv, "pop")
    obs["pop_after_approve"] = tour.status_text(drv, "pop")
    check_layout(obs, "pop 800x480")
    yield from tour.token_key(drv, "pop", "delete")
    yield from tour.confirm(drv, ok=True)
    yield from tour.status_is(drv, "Not Retrieved")
    obs["pop_after_delete"] = tour.status_text(drv, "pop")
    obs["delete_disabled"] = drv.screen("pop").ids.token.ids.delete.disabled
    yield from tour.open_screen(drv, "smtp")
    obs["smtp_after_delete"] = tour.status_text(drv, "smtp")


@scenario
def deny(drv, ctx):
    """The user presses Deny on the phone: Not Retrieved, with the reason."""
    from panel.lab import phone
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    yield from _to_code(drv, ctx, screen="pop")
    url = drv.app.device_code.qr_text
    answer = yield InThread(phone.sign_in, url, tour.TOUR_ACCOUNT, "Deny", str(ctx["lab"].ca_file))
    obs["deny_http"] = answer.status_code
    yield from tour.status_is(drv, "Not Retrieved")
    obs["pop_after_deny"] = tour.status_text(drv, "pop")
    obs["message_after_deny"] = drv.screen("pop").ids.token.ids.message.text
    obs["get_token_enabled"] = not drv.screen("pop").ids.token.ids.get_token.disabled
    shot = ctx["dir"] / "denied.png"
    yield from drv.screenshot(shot)
    ctx["shots"].append(str(shot))


@scenario
def cancel(drv, ctx):
    """[Cancel] in the code dialog: the flow stops, Not Retrieved."""
    from panel.ui import tour

    obs = ctx["observed"]
    dialog = yield from _to_code(drv, ctx)
    yield from drv.tap(dialog.ids.cancel)
    yield from tour.status_is(drv, "Not Retrieved")
    obs["smtp_after_cancel"] = tour.status_text(drv, "smtp")
    obs["message_after_cancel"] = drv.screen("smtp").ids.token.ids.message.text
    obs["dialog_open"] = drv.app.token_dialog is not None


@scenario
def bad_port(drv, ctx):
    """A refused field: its message in red on the field, nothing saved."""
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    core = ctx["core"]
    yield from tour.start(drv.app)
    # A wrong password first: the message shows on the field.
    yield from drv.tap(drv.screen("home").ids.settings)
    login = drv.screen("login")
    yield from drv.type_into(login.ids.password, "not-the-password")
    yield from drv.tap(login.ids.login)
    yield tour._until(lambda: login.error, "the password was refused", 10)
    obs["login_error"] = login.ids.error.text
    drv.app.home()
    yield 0.1
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    yield from tour.open_screen(drv, "smtp")
    before = yield InThread(core.snapshot)
    yield from tour.fill(drv, "smtp", {"smtp.sender_name": "Changed name", "smtp.port": "70000",
                                       "smtp.server": "bad host name"})
    yield from tour.save(drv, "smtp", expect_saved=False)
    form = drv.screen("smtp").ids.form
    obs["port_error"] = form.row("smtp.port").ids.err.text
    obs["server_error"] = form.row("smtp.server").ids.err.text
    obs["name_error"] = form.row("smtp.sender_name").ids.err.text
    obs["notice"] = drv.screen("smtp").ids.bar.notice
    after = yield InThread(core.snapshot)
    obs["saved_port"] = after.settings["smtp.port"]
    obs["saved_name"] = after.settings["smtp.sender_name"]
    obs["unchanged"] = before.settings == after.settings
    obs["port_row_on_window"] = drv.on_window(form.row("smtp.port").ids.err)
    shot = ctx["dir"] / "bad-port.png"
    yield from drv.screenshot(shot)
    ctx["shots"].append(str(shot))
    # Correcting the field clears its message and saves.
    yield from tour.fill(drv, "smtp", {"smtp.port": "2525", "smtp.server": "mail.example.com"})
    obs["port_error_after_edit"] = form.row("smtp.port").ids.err.text
    yield from tour.save(drv, "smtp")
    saved = yield InThread(core.snapshot)
    obs["saved_port_after_fix"] = saved.settings["smtp.port"]


def _cli(ctx, *args):
    """The command line, in another process, on the same data directory."""
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "panel", *args, "--data-dir", str(ctx["data"])],
                          capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


@scenario
def other_process(drv, ctx):
    """Changes made by the command line in another process show on the open screen."""
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    yield from tour.start(drv.app)
    from panel.store import DEFAULT_ADMIN_PASSWORD

    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    yield from tour.open_screen(drv, "smtp")
    form = drv.screen("smtp").ids.form
    # Being edited here, not saved: another front end's change must not wipe it.
    yield from tour.fill(drv, "smtp", {"smtp.sender_name": "Typed on the panel"})
    rc, out = yield InThread(_cli, ctx, "config", "set", "smtp.port", "2526", "smtp.sender_name", "From the CLI")
    obs["cli_set"] = rc
    yield tour._until(lambda: form.row("smtp.port").raw() == "2526", "the port from the CLI showed", 10)
    obs["port_shown"] = form.row("smtp.port").raw()
    obs["name_shown"] = form.row("smtp.sender_name").raw()
    yield from tour.fill(drv, "smtp", dict(tour.TOUR_SMTP, **{"smtp.sender_name": "Typed on the panel"}))
    yield from tour.save(drv, "smtp")
    yield from tour.token_key(drv, "smtp", "get_token")
    yield from tour.confirm(drv, ok=True)
    yield from tour.code_dialog(drv)
    rc, out = yield InThread(_cli, ctx, "token", "cancel")
    obs["cli_cancel"] = rc
    yield from tour.status_is(drv, "Not Retrieved")
    obs["smtp_after_cli_cancel"] = tour.status_text(drv, "smtp")
    obs["dialog_open"] = drv.app.token_dialog is not None


@scenario
def layout(drv, ctx):
    """Every screen at this size: screenshots, nothing outside the window, keys finger-sized."""
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]

    def shot(name):
        path = ctx["dir"] / f"{len(ctx['shots']) + 1:02d}-{name}.png"
        yield from drv.screenshot(path)
        ctx["shots"].append(str(path))

    yield from tour.start(drv.app)
    check_layout(obs, "home")
    yield from shot("home")
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    check_layout(obs, "menu")
    yield from tour.open_screen(drv, "smtp")
    yield from tour.fill(drv, "smtp", {"oauth.provider": "Microsoft 365 / Exchange Online"})
    check_layout(obs, "smtp")
    yield from shot("smtp-microsoft365")
    yield from tour.fill(drv, "smtp", {"oauth.provider": "OpenID provider (device flow)"})
    obs["oidc_rows"] = [r.key for r in drv.screen("smtp").ids.form.visible()]
    yield from tour.fill(drv, "smtp", dict(tour.TOUR_SMTP))
    yield from tour.save(drv, "smtp")
    yield from tour.token_key(drv, "smtp", "get_token")
    from panel.ui.confirm_dialog import ConfirmDialog

    yield tour._until(lambda: tour.dialogs(ConfirmDialog), "the confirmation appeared")
    check_layout(obs, "confirmation")
    yield from shot("confirmation")
    yield from tour.confirm(drv, ok=True)
    dialog = yield from tour.code_dialog(drv)
    check_layout(obs, "token dialog")
    yield from shot("token-dialog")
    obs["qr"] = decode_qr(Path(ctx["shots"][-1]))
    obs["module_px"] = dialog.ids.qr.module_px
    yield from drv.tap(dialog.ids.cancel)
    yield from tour.status_is(drv, "Not Retrieved")
    yield from tour.open_screen(drv, "pop")
    check_layout(obs, "pop")
    yield from shot("pop")
    # A mail key with no token: the failure, in its dialog.
    yield from tour.mail_key(drv, "pop", "pop_test")
    result = yield from tour.message_dialog(drv)
    obs["pop_test_without_token"] = result.ids.text.text
    check_layout(obs, "mail result")
    yield from shot("mail-result")
    yield from tour.dismiss(drv, result)
    # The Received E-mail list with long and short lines, and one message.
    yield InThread(_seed_messages, ctx["core"])
    yield from tour.open_received(drv, count=3)
    check_layout(obs, "received")
    yield from shot("received")
    longest = next(r for r in tour.received_rows(drv) if r.subject.startswith("A subject line long"))
    yield from tour.open_message(drv, longest)
    check_layout(obs, "message")
    yield from shot("message")
    yield from tour.back(drv)
    yield from tour.back(drv)
    yield from tour.open_screen(drv, "smtp")
    from panel.ui.send_test_dialog import SendTestDialog

    yield from tour.mail_key(drv, "smtp", "send_test")
    yield tour._until(lambda: tour.dialogs(SendTestDialog), "the Send Test E-mail dialog appeared")
    check_layout(obs, "send test dialog")
    yield from shot("send-test-dialog")
    yield from drv.tap(tour.dialogs(SendTestDialog)[0].ids.cancel)
    yield tour._until(lambda: not tour.dialogs(SendTestDialog), "the dialog closed", 5)
    yield from tour.open_screen(drv, "admin_password")
    check_layout(obs, "admin password")
    yield from shot("admin-password")


def _seed_messages(core) -> None:
    """Three received e-mails, straight into the store (as a POP check leaves them): one long in every column."""
    from email.message import EmailMessage

    from panel.mail import summary

    for i, (sender, subject, body) in enumerate([
        ("A sender with a very long display name indeed <someone.with.a.long.address@example.com>",
         "A subject line long enough to run past its column on the smallest panel of all, and then some",
         "A long line of text that has to wrap on the screen rather than run off its right edge. " * 12),
        ("Lab printer <printer@lab.test>", "Test e-mail from the printer", "Short."),
        ("bob@lab.test", "", "No subject at all."),
    ]):
        message = EmailMessage()
        message["From"], message["To"], message["Date"] = sender, "printer@lab.test", "Thu, 03 Dec 2026 16:42:00 +0000"
        if subject:
            message["Subject"] = subject
        message.set_content(body * (40 if i == 0 else 1))
        raw = message.as_bytes()
        core.store.add_message("printer@lab.test", f"seed-{i}", raw, summary(raw))


# -- mail, Invalid, bad input, administrator ------------------------------------

def _shot(drv, ctx, name):
    path = ctx["dir"] / f"{len(ctx['shots']) + 1:02d}-{name}.png"
    yield from drv.screenshot(path)
    ctx["shots"].append(str(path))
    return path


def _with_token(drv, ctx, qr: bool = False):
    """Login → SMTP tab on the lab's SMTP server → Get Token → approved → POP tab on the lab's POP3 server.

    Ends on the POP tab with the token Retrieved; `qr` approves through the
    QR code read off a screenshot, else through the address the app holds."""
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour

    lab = ctx["lab"]
    yield from tour.start(drv.app)
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    yield from tour.open_screen(drv, "smtp")
    yield from tour.fill(drv, "smtp", tour.smtp_values(lab))
    yield from _get_token(drv, ctx, "smtp", qr)
    yield from tour.open_screen(drv, "pop")
    yield from tour.fill(drv, "pop", tour.pop_values(lab))
    yield from tour.save(drv, "pop")


def _get_token(drv, ctx, screen: str, qr: bool):
    """Save → [Get Token] → [OK] → the code → approved on the "phone" → Retrieved."""
    from panel.lab import phone
    from panel.ui import tour
    from panel.ui.driver import InThread

    yield from tour.save(drv, screen)
    yield from tour.token_key(drv, screen, "get_token")
    yield from tour.confirm(drv, ok=True)
    yield from tour.code_dialog(drv)
    if qr:
        path = yield from _shot(drv, ctx, f"code-{screen}")
        decoded = decode_qr(Path(path))
        ctx["observed"].setdefault("qr", []).append(decoded)
        assert len(decoded) == 1, decoded
        url = decoded[0]
    else:
        url = drv.app.device_code.qr_text
    answer = yield InThread(phone.sign_in, url, "printer@lab.test", "Approve", str(ctx["lab"].ca_file))
    assert answer.status_code == 200, answer.status_code
    yield from tour.status_is(drv, "Retrieved")


@scenario
def mail(drv, ctx):
    """Send Test E-mail, Connection Tests, Check Now, the Received E-mail list and one message."""
    from panel.ui import tour
    from panel.ui.driver import InThread
    from panel.ui.send_test_dialog import SendTestDialog

    obs = ctx["observed"]
    size = f"{drv.app.panel_size[0]}x{drv.app.panel_size[1]}"
    yield from _with_token(drv, ctx)
    obs["last_check_before"] = tour.last_check_text(drv)
    yield from tour.open_screen(drv, "smtp")
    # A recipient that is not an address: its message on the field, the dialog stays.
    ask = yield from tour.send_test(drv, to="someone@@lab.test")
    obs["recipient_error"] = ask.ids.error.text
    obs["recipient_dialog_open"] = bool(tour.dialogs(SendTestDialog))
    yield from drv.tap(ask.ids.cancel)
    yield tour._until(lambda: not tour.dialogs(SendTestDialog), "the dialog closed", 5)
    # The recipient is the Account name unless changed.
    result = yield from tour.send_test(drv, before_send=lambda: _shot(drv, ctx, "send-test-dialog"))
    obs["send_title"] = result.ids.title.text
    obs["send_result"] = result.ids.text.text
    check_layout(obs, f"send result {size}")
    yield from _shot(drv, ctx, "send-result")
    yield from tour.dismiss(drv, result)
    yield from tour.mail_key(drv, "smtp", "smtp_test")
    result = yield from tour.message_dialog(drv)
    obs["smtp_test"] = result.ids.text.text
    yield from tour.dismiss(drv, result)
    check_layout(obs, f"smtp with mail keys {size}")
    yield from tour.open_screen(drv, "pop")
    yield from tour.check_now(drv)
    obs["last_check_after"] = tour.last_check_text(drv)
    obs["check_notice"] = drv.screen("pop").ids.bar.notice
    yield from tour.mail_key(drv, "pop", "pop_test")
    result = yield from tour.message_dialog(drv)
    obs["pop_test"] = result.ids.text.text
    yield from tour.dismiss(drv, result)
    check_layout(obs, f"pop with mail keys {size}")
    yield from _shot(drv, ctx, "pop-checked")
    yield from tour.open_received(drv, count=1)
    received = drv.screen("received")
    obs["list"] = [{k: r.ids[k].text for k in ("sender", "subject", "when", "size")}
                   for r in tour.received_rows(drv)]
    obs["received_notice"] = received.ids.bar.notice
    check_layout(obs, f"received {size}")
    yield from _shot(drv, ctx, "received")
    # Another process sends and checks: the open list and the POP tab's line follow.
    rc, out = yield InThread(_cli, ctx, "mail", "send-test", "--to", "printer@lab.test")
    obs["cli_send"] = (rc, out)
    rc, out = yield InThread(_cli, ctx, "mail", "check")
    obs["cli_check"] = (rc, out)
    yield tour._until(lambda: len(tour.received_rows(drv)) == 2, "the second e-mail showed in the open list", 10)
    obs["list_after_cli"] = len(tour.received_rows(drv))
    yield from tour.open_message(drv, tour.received_rows(drv)[0])
    message = drv.screen("message")
    obs["message_title"] = message.ids.bar.ids.title.text
    obs["message_head"] = message.ids.head.text
    obs["message_body"] = message.ids.body.text
    check_layout(obs, f"message {size}")
    yield from _shot(drv, ctx, "message")
    yield from tour.back(drv)
    yield tour._until(lambda: drv.app.screen_name == "received", "back on the list", 5)
    yield from tour.back(drv)
    yield tour._until(lambda: drv.app.screen_name == "pop", "back on the Advanced tab", 5)
    obs["last_check_after_cli"] = tour.last_check_text(drv)


def _invalid(drv, ctx, break_it, test_on: str):
    """Token Retrieved → the lab refuses its renewal → [Connection Test] → Invalid on both tabs
    → [Delete] → [OK] → [Get Token] → approved through the QR code → Retrieved."""
    from panel.lab import controls
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    data = ctx["data"]
    size = f"{drv.app.panel_size[0]}x{drv.app.panel_size[1]}"
    yield from _with_token(drv, ctx)
    yield InThread(break_it, data)
    yield InThread(controls.expire_all, data)
    yield from tour.open_screen(drv, test_on)
    yield from tour.mail_key(drv, test_on, f"{test_on}_test")
    result = yield from tour.message_dialog(drv)
    obs["test_title"] = result.ids.title.text
    obs["test_message"] = result.ids.text.text
    yield from _shot(drv, ctx, "connection-test-refused")
    yield from tour.dismiss(drv, result)
    yield tour._until(lambda: drv.app.token_status == "Invalid", "the token read Invalid", 10)
    for screen in ("smtp", "pop"):
        yield from tour.open_screen(drv, screen)
        panel = drv.screen(screen).ids.token
        obs[screen] = {"status": panel.ids.status.text, "message": panel.ids.message.text,
                       "get_token_disabled": panel.ids.get_token.disabled,
                       "delete_disabled": panel.ids.delete.disabled,
                       "status_color": list(panel.ids.status.color),
                       "message_on_window": drv.on_window(panel.ids.message)}
        check_layout(obs, f"{screen} invalid {size}")
        yield from _shot(drv, ctx, f"{screen}-invalid")
    yield InThread(controls.reset, data)
    yield from tour.token_key(drv, "pop", "delete")
    yield from tour.confirm(drv, ok=True)
    yield from tour.status_is(drv, "Not Retrieved")
    obs["after_delete"] = tour.status_text(drv, "pop")
    obs["get_token_live_after_delete"] = not drv.screen("pop").ids.token.ids.get_token.disabled
    yield from _get_token(drv, ctx, "pop", qr=True)
    obs["after_get_token"] = {s: tour.status_text(drv, s) for s in ("smtp", "pop")}
    yield from tour.mail_key(drv, "pop", "pop_test")
    result = yield from tour.message_dialog(drv)
    obs["test_after_new_token"] = result.ids.text.text
    yield from tour.dismiss(drv, result)


@scenario
def invalid_revoked(drv, ctx):
    from panel.lab import controls

    yield from _invalid(drv, ctx, controls.revoke_refresh_tokens, "smtp")


@scenario
def invalid_disabled(drv, ctx):
    from panel.lab import controls

    yield from _invalid(drv, ctx, lambda data: controls.disable_account(data, "printer@lab.test"), "pop")


@scenario
def bad_input(drv, ctx):
    """Every field of both tabs, a few bad values each: the message on the field, the store unchanged."""
    import bad_input as table
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    core = ctx["core"]
    yield from tour.start(drv.app)
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    for tab, spec in table.TABS.items():
        yield from tour.open_screen(drv, tab)
        form = drv.screen(tab).ids.form
        good = spec["good"]
        yield from tour.fill(drv, tab, good)
        yield from tour.save(drv, tab)
        saved = (yield InThread(core.snapshot)).settings
        seen = obs.setdefault(tab, [])
        held_bad: set[str] = set()
        for number, round_ in enumerate(table.rounds(spec["bad"]) + [dict([(k, v)]) for k, v, _ in table.ALONE]):
            typing = {**{k: good[k] for k in held_bad - set(round_)}, **round_}
            yield from tour.fill(drv, tab, typing)
            held_bad = set(round_)
            yield from tour.save(drv, tab, expect_saved=False)
            after = (yield InThread(core.snapshot)).settings
            for key, value in round_.items():
                seen.append({"key": key, "value": value, "typed": form.row(key).raw(),
                             "message": form.row(key).ids.err.text,
                             "unchanged": after == saved})
            strays = {r.key: r.error for r in form.visible() if r.error and r.key not in round_}
            if strays:
                obs.setdefault("stray_messages", []).append(strays)
            if number == 0:  # the round with a bad value in every field
                check_layout(obs, f"{tab} with messages on the fields")
                yield from _shot(drv, ctx, f"{tab}-refused")
        yield from tour.fill(drv, tab, {k: good[k] for k in held_bad})
        yield from tour.save(drv, tab)
        obs.setdefault("saved_again", {})[tab] = drv.screen(tab).ids.bar.notice


def _try_login(drv, password: str):
    """[Settings] → the password → [Login]; the step's value is the message shown, "" when let in."""
    from panel.ui import tour

    app = drv.app
    if app.screen_name != "login":
        yield from drv.tap(drv.screen("home").ids.settings)
        yield tour._until(lambda: app.screen_name == "login", "the login screen showed")
    login = drv.screen("login")
    yield from drv.type_into(login.ids.password, password)
    yield from drv.tap(login.ids.login)
    yield tour._until(lambda: app.screen_name == "menu" or login.error, "the password was checked", 10)
    return "" if app.screen_name == "menu" else login.ids.error.text


@scenario
def admin_password(drv, ctx):
    """Change the administrator password on the panel; then five wrong passwords lock the login."""
    from panel.store import DEFAULT_ADMIN_PASSWORD
    from panel.ui import tour
    from panel.ui.driver import InThread

    obs = ctx["observed"]
    core = ctx["core"]
    new_password = "printer-admin-2"
    yield from tour.start(drv.app)
    yield from tour.login(drv, DEFAULT_ADMIN_PASSWORD)
    obs["menu"] = [k.entry_title for k in reversed(drv.screen("menu").ids.entries.children)]
    yield from tour.open_screen(drv, "admin_password")
    screen = drv.screen("admin_password")
    obs["title"] = screen.ids.bar.ids.title.text

    def attempt(current, new, again):
        for field, text in (("current", current), ("new", new), ("again", again)):
            yield from drv.type_into(screen.ids[field], text)
        yield from drv.tap(screen.ids.change)
        # Refused by the form at once, or judged by the core on the worker.
        yield tour._until(lambda: not drv.app.busy, "the change was judged", 10)
        yield 0.1
        return {f: screen.ids[f"{f}_error"].text for f in ("current", "new", "again")}

    refusals = {}
    refusals["empty"] = yield from attempt("", "", "")
    refusals["wrong current"] = yield from attempt("not-the-password", new_password, new_password)
    refusals["too short"] = yield from attempt(DEFAULT_ADMIN_PASSWORD, "short", "short")
    refusals["not the same"] = yield from attempt(DEFAULT_ADMIN_PASSWORD, new_password, new_password + "x")
    check_layout(obs, "admin password with messages")
    yield from _shot(drv, ctx, "admin-password-refused")
    obs["refusals"] = refusals
    obs["old_still_good"] = yield InThread(core.check_admin_password, DEFAULT_ADMIN_PASSWORD)
    obs["changed"] = yield from attempt(DEFAULT_ADMIN_PASSWORD, new_password, new_password)
    obs["changed_notice"] = screen.ids.bar.notice
    obs["fields_cleared"] = all(not screen.ids[f].text for f in ("current", "new", "again"))
    yield from _shot(drv, ctx, "admin-password-changed")
    # Back to the home screen (leaving System Settings logs out), then in with each password.
    yield from tour.back(drv)
    yield from tour.back(drv)
    yield tour._until(lambda: drv.app.screen_name == "home", "home", 5)
    obs["login_old"] = yield from _try_login(drv, DEFAULT_ADMIN_PASSWORD)
    obs["login_new"] = yield from _try_login(drv, new_password)
    yield from tour.back(drv)
    yield tour._until(lambda: drv.app.screen_name == "home", "home", 5)
    tries = []
    for i in range(5):
        tries.append((yield from _try_login(drv, f"wrong-{i}")))
    obs["wrong_tries"] = tries
    obs["with_right_password_while_locked"] = yield from _try_login(drv, new_password)
    check_layout(obs, "login locked")
    yield from _shot(drv, ctx, "login-locked")


def main_(argv: list[str]) -> int:
    name, work, width, height = argv[1], Path(argv[2]), int(argv[3]), int(argv[4])
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    from panel.core import Core
    from panel.lab import LabServer

    ctx = {"dir": work, "data": data, "observed": {}, "shots": []}
    result = {"scenario": name, "size": [width, height]}
    core = Core(data).start()
    lab = LabServer(data, port=0, interval=1).start()
    ctx.update(core=core, lab=lab)
    try:
        from panel.ui.tour import run_steps

        error = run_steps(core, (width, height), lambda drv: SCENARIOS[name](drv, ctx))
    except BaseException as e:  # the harness reports everything, the test decides
        error = e
    finally:
        lab.stop()
        core.close()
    result.update(ok=error is None, observed=ctx["observed"], shots=ctx["shots"],
                  error="".join(traceback.format_exception(type(error), error, error.__traceback__))
                  if error else "")
    (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv))
