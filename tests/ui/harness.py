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
