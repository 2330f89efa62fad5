"""The command line: the same backend as the touch panel, for scripts and tests.

Kivy is imported only by `panel run` and `panel tour`, so every other command
starts fast and runs headless. Exit status: 0 on success, 1 when the
operation failed, 2 when the input was refused; the reason is one line on
stderr. No output ever holds a token value.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .errors import PanelError, ValidationError
from .settings import SETTINGS
from .token_state import TokenStatus

DEFAULT_SIZE = (800, 480)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("use WIDTHxHEIGHT, for example 1024x600") from None
    if not (320 <= width <= 3840 and 240 <= height <= 2160):
        raise argparse.ArgumentTypeError("the size must be between 320x240 and 3840x2160")
    return width, height


def _fail(message: str, code: int = 1) -> int:
    print(f"panel: {message}", file=sys.stderr)
    return code


def _core(args):
    from .core import Core

    return Core(args.data_dir)


def _print_admin_hint(core) -> None:
    from .store import DEFAULT_ADMIN_PASSWORD

    if core.store.admin_password_is_default():
        print(f"Administrator password: {DEFAULT_ADMIN_PASSWORD} (the default)")


def _start_lab(args, data_dir: Path):
    from .lab import LabBusy, LabServer

    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow_remote:
        raise PanelError(f"the lab listens on this machine only; to listen on {args.host}, add --allow-remote "
                         "(anyone who can reach it can then approve codes for the lab accounts).")
    if args.allow_remote:
        print(f"WARNING: the lab listens on {args.host}: anyone who can reach it can approve codes for the "
              "lab accounts.", file=sys.stderr)
    lab = LabServer(data_dir, host=args.host, port=args.port, interval=args.interval,
                    token_lifetime=args.token_lifetime, allow_remote=args.allow_remote, style=args.style)
    try:
        lab.start()
    except LabBusy:
        raise PanelError("another lab is already running with this data directory: use it, stop it first, "
                         "or choose another --data-dir.") from None
    except OSError as e:
        raise PanelError(f"could not start the lab on {args.host}: {e.strerror or e}. "
                         "Is another program using that port?") from None
    return lab


def _print_lab(lab) -> None:
    print(f"Lab identity provider: {lab.issuer}")
    print(f"  approval page: {lab.issuer}/device")
    print(f"  CA certificate: {lab.ca_file}")
    print(f"  SMTP: {lab.host}:{lab.smtp_port} (STARTTLS), {lab.host}:{lab.smtps_port} (SSL/TLS)")
    print(f"  POP3: {lab.host}:{lab.pop3s_port} (SSL/TLS), {lab.host}:{lab.pop3_port} (STARTTLS)")
    print(f"  accounts: {', '.join(lab.accounts)}", flush=True)


def _use_lab_mail_servers(core, lab) -> None:
    """Point empty SMTP and POP settings at the lab's servers, for a ready demo."""
    settings = core.store.settings()
    changes = {}
    if not settings["smtp.server"]:
        changes.update({"smtp.server": lab.host, "smtp.port": lab.smtp_port, "smtp.ssl": "starttls"})
    if not settings["pop.server"]:
        changes.update({"pop.server": lab.host, "pop.port": lab.pop3s_port, "pop.ssl": "tls"})
    if changes:
        core.update_settings(changes)
        print("  (the empty SMTP and POP server settings now point at the lab)")


def cmd_lab_control(args) -> int:
    """Change the running lab's state, to produce every token status on purpose."""
    from .lab import controls
    from .paths import data_dir

    where = data_dir(args.data_dir)
    try:
        if args.control == "expire-tokens":
            print(f"{controls.expire_all(where, args.account)} access token(s) expired.")
        elif args.control == "revoke":
            print(f"{controls.revoke_refresh_tokens(where, args.account)} refresh token(s) revoked.")
        elif args.control == "disable":
            controls.disable_account(where, args.account)
            print(f"{args.account} disabled.")
        elif args.control == "enable":
            controls.enable_account(where, args.account)
            print(f"{args.account} enabled.")
        elif args.control == "fault":
            (controls.clear_fault if args.off else controls.set_fault)(where, args.name)
            print(f"Fault {args.name} {'cleared' if args.off else 'set'}.")
        elif args.control == "inject":
            controls.inject(where, args.name, args.endpoint, args.count, args.seconds)
            print(f"Injected {args.name}" + (f" on {args.endpoint}" if args.endpoint else "")
                  + (f" for {args.count} request(s)." if args.count else " until cleared."))
        else:
            controls.reset(where)
            print("Every fault cleared (injected ones too) and every account enabled.")
    except FileNotFoundError:
        return _fail(f"there is no lab in {where}: start it once with 'panel lab'.")
    except ValueError as e:
        return _fail(str(e), 2)
    return 0


# -- run / tour / lab ---------------------------------------------------------

def cmd_run(args) -> int:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return _fail("no display found. Run 'panel tour' to walk the panel on a virtual display, "
                     "or set DISPLAY.")
    core = _core(args).start()
    lab = None
    try:
        if args.lab:
            lab = _start_lab(args, core.data_dir)
            _print_lab(lab)
            _use_lab_mail_servers(core, lab)
        _print_admin_hint(core)
        from .ui.app import run_panel

        run_panel(core, size=args.size)
    finally:
        if lab is not None:
            lab.stop()
        core.close()
    return 0


def cmd_tour(args) -> int:
    from .xvfb import virtual_display

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.data_dir is None and not os.environ.get("PANEL_DATA_DIR"):
        # The tour fills in settings and gets a token: never on the user's own.
        args.data_dir = tempfile.mkdtemp(prefix="panel-tour-")
        print(f"The tour uses a data directory of its own: {args.data_dir}")
    with virtual_display(args.size) as display:
        if display:
            print(f"No display found: running the tour on a virtual display ({display}).")
        core = _core(args).start()
        lab = _start_lab(args, core.data_dir)
        try:
            _print_lab(lab)
            _use_lab_mail_servers(core, lab)
            from .ui.tour import run_tour

            ok = run_tour(core, lab, out, size=args.size)
        finally:
            lab.stop()
            core.close()
    print(f"Screenshots: {out}")
    return 0 if ok else 1


def cmd_lab(args) -> int:
    from .paths import data_dir

    lab = _start_lab(args, data_dir(args.data_dir))
    _print_lab(lab)
    core = _core(args)
    try:
        _use_lab_mail_servers(core, lab)
    finally:
        core.close()
    print("Press Ctrl+C to stop.", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
    return 0


# -- config -------------------------------------------------------------------

def cmd_config_show(args) -> int:
    core = _core(args)
    try:
        values = core.store.settings()
    finally:
        core.close()
    if args.json:
        print(json.dumps(values))
        return 0
    width = max(map(len, SETTINGS))
    for key, setting in SETTINGS.items():
        shown = values[key]
        if setting.kind == "choice":
            shown = f"{shown} ({setting.display(shown)})"
        print(f"{key:<{width}}  {shown}")
    return 0


def cmd_config_set(args) -> int:
    pairs = args.pairs
    if len(pairs) % 2:
        return _fail("give KEY VALUE pairs, for example: panel config set smtp.port 587", 2)
    keys = pairs[::2]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        return _fail(f"{', '.join(twice)} given twice; nothing was saved.", 2)
    changes = dict(zip(keys, pairs[1::2]))
    core = _core(args)
    try:
        changed = core.update_settings(changes)
    except ValidationError as e:
        reasons = " ".join(f"{key}: {message}" for key, message in e.errors.items())
        return _fail(f"{reasons} Nothing was saved.", 2)
    finally:
        core.close()
    print("Saved." if changed else "No change.")
    return 0


# -- token ----------------------------------------------------------------------

def _status_line(view) -> str:
    parts = [f"Token: {view.status.value}"]
    if view.account:
        parts.append(f"({view.provider}, {view.account})")
    return " ".join(parts)


def cmd_token_status(args) -> int:
    core = _core(args)
    try:
        core.tokens.recover()
        view = core.tokens.view()
    finally:
        core.close()
    if args.json:
        print(json.dumps(view.as_dict()))
    else:
        print(_status_line(view))
        if view.message:
            print(view.message)
    return 0


def _print_code(code, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "verification_uri": code.verification_uri,
            "verification_uri_complete": code.verification_uri_complete,
            "user_code": code.user_code,
            "expires_in": max(0, int(code.expires_at - time.time())),
        }), flush=True)
        return
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(code.qr_text)
    qr.print_ascii(out=sys.stdout, invert=True)
    print(f"Open {code.verification_uri} and enter the code:  {code.user_code}")
    minutes = max(0, int(code.expires_at - time.time())) // 60
    print(f"(or scan the QR code). The code expires in {minutes} minutes. Waiting… (Ctrl+C cancels)",
          flush=True)


def cmd_token_get(args) -> int:
    core = _core(args)
    try:
        try:
            core.get_token()
        except PanelError as e:
            return _fail(e.message)
        shown = False
        try:
            while True:
                view = core.tokens.view()
                if not shown and view.device_code is not None:
                    _print_code(view.device_code, args.json)
                    shown = True
                if view.status is not TokenStatus.WAITING:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            core.cancel_token()
            view = core.tokens.view()
        if args.json:
            print(json.dumps(view.as_dict()), flush=True)
        else:
            print(_status_line(view))
        if view.status is TokenStatus.RETRIEVED:
            return 0
        return _fail(view.message or "no token was retrieved.")
    finally:
        core.close()


def cmd_token_delete(args) -> int:
    if not args.yes:
        return _fail("deleting the token cannot be undone: add --yes to confirm.", 2)
    core = _core(args)
    try:
        core.delete_token()
    except PanelError as e:
        return _fail(e.message)
    finally:
        core.close()
    print("Token: Not Retrieved")
    return 0


def cmd_token_cancel(args) -> int:
    core = _core(args)
    try:
        if core.tokens.view().status is not TokenStatus.WAITING:
            print("Nothing is waiting for authorisation.")
            return 0
        core.cancel_token()
        view = core.tokens.wait(timeout=5)
    finally:
        core.close()
    print(_status_line(view))
    return 0


# -- mail ---------------------------------------------------------------------------

def _mail_command(args, action) -> int:
    """Run one mail action; print its result, or fail with its message."""
    core = _core(args)
    try:
        try:
            message = action(core)
        except PanelError as e:
            if args.json:
                print(json.dumps({"ok": False, "message": e.message, "token": core.tokens.view().status.value}))
            return _fail(e.message)
        if args.json:
            print(json.dumps({"ok": True, "message": message, "token": core.tokens.view().status.value}))
        else:
            print(message)
        return 0
    finally:
        core.close()


def cmd_mail_send_test(args) -> int:
    from .settings import email_address

    if args.to is not None:
        try:
            if not email_address(args.to):
                raise ValueError("Enter the recipient's e-mail address.")
        except ValueError as e:
            return _fail(f"--to: {e}", 2)
    return _mail_command(args, lambda core: core.send_test_email(
        args.to or core.store.settings()["oauth.account"]))


def cmd_mail_check(args) -> int:
    return _mail_command(args, lambda core: core.check_mail())


def cmd_mail_test(args) -> int:
    return _mail_command(args, lambda core: core.connection_test(args.server))


def cmd_mail_list(args) -> int:
    core = _core(args)
    try:
        messages = core.messages()
        if args.json:
            print(json.dumps(messages))
            return 0
        for m in messages:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["received_at"]))
            print(f"{m['id']:>4}  {when}  {m['size']:>7}  {m['sender'][:30]:<30}  {m['subject']}")
        if not messages:
            print("No received e-mail.")
        return 0
    finally:
        core.close()


def cmd_mail_show(args) -> int:
    core = _core(args)
    try:
        text = core.message_text(args.id)
        head = next((m for m in core.messages() if m["id"] == args.id), None)
    finally:
        core.close()
    if head is None:
        return _fail(f"there is no received e-mail number {args.id}: see panel mail list.")
    print(f"From: {head['sender']}\nSubject: {head['subject']}\nDate: {head['date']}\n")
    print(text)
    return 0


# -- admin ----------------------------------------------------------------------------

def cmd_admin_password(args) -> int:
    if args.stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            return _fail("give the current and the new password on two lines.", 2)
        current, new = lines[0], lines[1]
    else:
        import getpass

        current = getpass.getpass("Current administrator password: ")
        new = getpass.getpass("New administrator password: ")
        if getpass.getpass("New password again: ") != new:
            return _fail("the two new passwords differ; nothing was changed.", 2)
    core = _core(args)
    try:
        core.change_admin_password(current, new)
    except ValidationError as e:
        return _fail(f"{e.message} Nothing was changed.", 2)
    finally:
        core.close()
    print("Administrator password changed.")
    return 0


# -- parser -----------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="where settings and the token are kept (default: $PANEL_DATA_DIR or the user data dir)")
    lab_opts = argparse.ArgumentParser(add_help=False)
    lab_opts.add_argument("--host", default="127.0.0.1", help="address the lab listens on (default 127.0.0.1)")
    lab_opts.add_argument("--port", type=int, default=0, help="lab port (default: the last one used, else any)")
    lab_opts.add_argument("--allow-remote", action="store_true",
                          help="allow a non-loopback --host (phones on the network can reach the lab)")
    lab_opts.add_argument("--interval", type=int, default=5, help="polling interval the lab asks for (s)")
    lab_opts.add_argument("--token-lifetime", type=int, default=3600, help="access token lifetime (s)")
    lab_opts.add_argument("--style", choices=("lab", "microsoft"), default="lab",
                          help="answer errors in the lab's words or Microsoft 365's")

    parser = argparse.ArgumentParser(prog="panel", parents=[common],
                                     description="OAuth 2.0 e-mail operation panel simulator.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common, lab_opts], help="open the touch panel")
    run.add_argument("--lab", action="store_true", help="also run the embedded lab provider")
    run.add_argument("--size", type=_size, default=DEFAULT_SIZE, help="window size, e.g. 800x480 or 1024x600")
    run.set_defaults(func=cmd_run)

    tour = sub.add_parser("tour", parents=[common, lab_opts],
                          help="walk Get Token on the panel by itself and save screenshots")
    tour.add_argument("--out", default="tour-screenshots", help="folder for the screenshots")
    tour.add_argument("--size", type=_size, default=DEFAULT_SIZE)
    tour.set_defaults(func=cmd_tour)

    lab = sub.add_parser("lab", parents=[common, lab_opts],
                         help="run the lab servers alone, or change their state")
    lab.set_defaults(func=cmd_lab)
    controls = lab.add_subparsers(dest="control", required=False, metavar="ACTION")
    for name, text in (("expire-tokens", "expire the issued access tokens now"),
                       ("revoke", "revoke the refresh tokens (renewal is refused: Invalid)")):
        action = controls.add_parser(name, parents=[common], help=text)
        action.add_argument("--account", help="only this account's")
        action.set_defaults(func=cmd_lab_control)
    for name, text in (("disable", "disable an account"), ("enable", "enable an account again")):
        action = controls.add_parser(name, parents=[common], help=text)
        action.add_argument("account")
        action.set_defaults(func=cmd_lab_control)
    fault = controls.add_parser("fault", parents=[common], help="set or clear a tenant fault")
    fault.add_argument("name", help="consent_required, public_client_disabled or smtp_auth_disabled")
    fault.add_argument("--off", action="store_true", help="clear it")
    fault.set_defaults(func=cmd_lab_control)
    inject = controls.add_parser("inject", parents=[common], help="make the lab provider misbehave")
    inject.add_argument("name", help="http_500, http_503, hang, not_json, json_not_object, unknown_error, "
                                     "slow_down, authorization_pending, access_denied, no_verification_uri, ...")
    inject.add_argument("--endpoint", choices=("device_authorization", "token", "discovery"))
    inject.add_argument("--count", type=int, help="only for the next N requests")
    inject.add_argument("--seconds", type=float, help="for hang: the delay; for http_503: Retry-After")
    inject.set_defaults(func=cmd_lab_control)
    reset = controls.add_parser("reset", parents=[common], help="clear every fault, enable every account")
    reset.set_defaults(func=cmd_lab_control)

    config = sub.add_parser("config", help="show or change settings").add_subparsers(dest="action", required=True)
    show = config.add_parser("show", parents=[common], help="list every setting")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_config_show)
    setp = config.add_parser("set", parents=[common], help="change settings: KEY VALUE [KEY VALUE ...]")
    setp.add_argument("pairs", nargs="+", metavar="KEY VALUE")
    setp.set_defaults(func=cmd_config_set)

    token = sub.add_parser("token", help="the common OAuth 2.0 token").add_subparsers(dest="action", required=True)
    status = token.add_parser("status", parents=[common], help="show the token status")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_token_status)
    get = token.add_parser("get", parents=[common], help="get a token through the device sign-in")
    get.add_argument("--json", action="store_true")
    get.set_defaults(func=cmd_token_get)
    delete = token.add_parser("delete", parents=[common], help="delete the token")
    delete.add_argument("--yes", action="store_true", help="confirm the deletion")
    delete.set_defaults(func=cmd_token_delete)
    cancel = token.add_parser("cancel", parents=[common], help="stop a Get Token that is waiting")
    cancel.set_defaults(func=cmd_token_cancel)

    mail = sub.add_parser("mail", help="send and receive e-mail with the token").add_subparsers(
        dest="action", required=True)
    send = mail.add_parser("send-test", parents=[common], help="[Send Test E-mail]")
    send.add_argument("--to", help="recipient (default: the Account name)")
    send.add_argument("--json", action="store_true")
    send.set_defaults(func=cmd_mail_send_test)
    check = mail.add_parser("check", parents=[common], help="[Check Now]: fetch new e-mail over POP3")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_mail_check)
    test = mail.add_parser("test", parents=[common], help="[Connection Test]: log in only")
    test.add_argument("server", choices=("smtp", "pop"))
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=cmd_mail_test)
    listing = mail.add_parser("list", parents=[common], help="the Received E-mail list")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_mail_list)
    show = mail.add_parser("show", parents=[common], help="the text of one received e-mail")
    show.add_argument("id", type=int)
    show.set_defaults(func=cmd_mail_show)

    admin = sub.add_parser("admin", help="the administrator login").add_subparsers(dest="action", required=True)
    password = admin.add_parser("password", parents=[common], help="change the administrator password")
    password.add_argument("--stdin", action="store_true",
                          help="read the current and the new password from two lines of standard input")
    password.set_defaults(func=cmd_admin_password)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The outcome of every command is its one line and its exit status; the
    # domain's warnings (already turned into that line) are not repeated.
    args = build_parser().parse_args(argv)
    if args.func not in (cmd_run, cmd_tour, cmd_lab):
        logging.getLogger("panel").addHandler(logging.NullHandler())
        logging.getLogger("panel").propagate = False
    if not hasattr(args, "data_dir"):
        args.data_dir = None
    try:
        return args.func(args)
    except PanelError as e:
        return _fail(e.message)
    except OSError as e:
        return _fail(f"{e.strerror or 'system error'}: {e.filename or ''}".rstrip(": "))


if __name__ == "__main__":
    sys.exit(main())
