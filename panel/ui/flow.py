"""The panel's decisions, with no Kivy: where each key leads, what each
settings screen holds, which token keys are live, what dialogs say, how the
mail keys and the Received E-mail list read, what the administrator password
form refuses before asking the core.

The Kivy layer renders these answers and nothing else decides them, so the
navigation and the token screens' rules are tested without a window (as
Electrum keeps its wizard's decisions in a UI-agnostic class).
"""

from __future__ import annotations

import email.utils
import math
import time
from dataclasses import dataclass, field
from typing import Any

from panel.settings import PROVIDERS, email_address
from panel.token_state import TokenStatus

# -- navigation: the manual's paths -----------------------------------------


@dataclass(frozen=True)
class MenuEntry:
    title: str
    help: str = ""
    children: tuple["MenuEntry", ...] = ()
    screen: str | None = None  # a settings screen; None for a menu
    tab: str | None = None  # the tab that screen shows, as the manual names it


SMTP_SCREEN = "smtp"
POP_SCREEN = "pop"
TOKEN_SCREENS = (SMTP_SCREEN, POP_SCREEN)
RECEIVED_SCREEN = "received"
MESSAGE_SCREEN = "message"
ADMIN_SCREEN = "admin_password"

RECEIVED = MenuEntry("Received E-mail", "The e-mail the POP3 checks fetched", screen=RECEIVED_SCREEN)

SYSTEM_SETTINGS = MenuEntry("System Settings", children=(
    MenuEntry("Network Settings", "Services the machine uses on the network", children=(
        MenuEntry("Services Settings", "SMTP server, sender, OAuth 2.0 token",
                  screen=SMTP_SCREEN, tab="SMTP"),
    )),
    MenuEntry("System Control", "Alerts and status reports by e-mail", children=(
        MenuEntry("E-mail Alert and Status", "Mail the machine sends and receives", children=(
            MenuEntry("E-mail Status", "POP3 server, check interval, OAuth 2.0 token",
                      screen=POP_SCREEN, tab="Advanced", children=(RECEIVED,)),
        )),
    )),
    MenuEntry("Change Administrator Password", "The password that guards these settings",
              screen=ADMIN_SCREEN),
))


@dataclass
class Place:
    """Where the panel is: the screen to show and the trail that led there."""

    screen: str  # "home", "login", "menu" or a settings screen
    trail: tuple[str, ...] = ()
    entry: MenuEntry | None = None

    @property
    def title(self) -> str:
        return self.trail[-1] if self.trail else ""

    @property
    def crumbs(self) -> str:
        return "  ›  ".join(self.trail[:-1])


@dataclass
class Navigator:
    """Home → [Settings] → administrator login → the System Settings menus.

    Leaving System Settings logs the administrator out, as a machine does.
    """

    root: MenuEntry = SYSTEM_SETTINGS
    admin: bool = False
    stack: list[MenuEntry] = field(default_factory=list)

    def place(self) -> Place:
        if not self.stack:
            return Place("home")
        entry = self.stack[-1]
        # A tab is a level of its own: "E-mail Status › Advanced tab › Received E-mail".
        trail: tuple[str, ...] = ()
        for e in self.stack:
            trail += (e.title, f"{e.tab} tab") if e.tab else (e.title,)
        return Place(entry.screen or "menu", trail, entry)

    def settings_key(self) -> Place:
        if not self.admin:
            return Place("login", ("Administrator Login",))
        self.stack = [self.root]
        return self.place()

    def logged_in(self) -> Place:
        self.admin = True
        return self.settings_key()

    def open(self, title: str) -> Place:
        here = self.stack[-1]
        for child in here.children:
            if child.title == title:
                self.stack.append(child)
                return self.place()
        raise KeyError(f"{title!r} is not under {here.title!r}")

    def open_message(self, subject: str) -> Place:
        """From the Received E-mail list to one message's text."""
        if self.place().screen != RECEIVED_SCREEN:
            raise KeyError("a message opens from the Received E-mail list")
        self.stack.append(MenuEntry(subject.strip() or NO_SUBJECT, screen=MESSAGE_SCREEN))
        return self.place()

    def back(self) -> Place:
        if self.stack:
            self.stack.pop()
        if not self.stack:
            self.admin = False
        return self.place()

    def home(self) -> Place:
        self.stack = []
        self.admin = False
        return self.place()

    def path_to(self, screen: str) -> list[str]:
        """Titles to touch from System Settings to reach `screen`."""
        def walk(entry: MenuEntry, trail: list[str]) -> list[str] | None:
            if entry.screen == screen:
                return trail
            for child in entry.children:
                found = walk(child, trail + [child.title])
                if found is not None:
                    return found
            return None

        found = walk(self.root, [])
        if found is None:
            raise KeyError(screen)
        return found


# -- the two settings screens that hold the token ---------------------------

FORM_KEYS = {
    SMTP_SCREEN: ("smtp.server", "smtp.port", "smtp.timeout", "smtp.sender_name",
                  "smtp.sender_address", "smtp.ssl", "smtp.auth"),
    POP_SCREEN: ("pop.server", "pop.port", "pop.check_interval", "pop.ssl", "pop.auth"),
}
# Common to both screens: one provider, one account, one token.
OAUTH_KEYS = ("oauth.provider", "oauth.account")
PROVIDER_KEYS = {
    "microsoft365": ("oauth.tenant", "oauth.client_id"),
    "oidc": ("oauth.authority", "oauth.client_id", "oauth.scopes", "tls.ca_bundle"),
    "lab": (),
}
ALL_FORM_KEYS = {
    screen: keys + OAUTH_KEYS + tuple(dict.fromkeys(k for ks in PROVIDER_KEYS.values() for k in ks))
    for screen, keys in FORM_KEYS.items()
}


def visible_keys(screen: str, provider: str) -> tuple[str, ...]:
    """The rows the screen shows while `provider` is chosen on it."""
    return FORM_KEYS[screen] + OAUTH_KEYS + PROVIDER_KEYS.get(provider, ())


@dataclass(frozen=True)
class TokenKeys:
    get_token: bool
    delete: bool


def token_keys(status: str, busy: bool = False) -> TokenKeys:
    """[Get Token] only when no token is held; [Delete] whenever one is (or is awaited)."""
    none_held = status == TokenStatus.NOT_RETRIEVED.value
    return TokenKeys(get_token=none_held and not busy, delete=not none_held and not busy)


# The store's message for Invalid says this already; it is the fallback when
# the status was set with another message (or none).
INVALID_HINT = "Token update failed. Please delete the token and obtain it again."


def token_message(status: str, message: str) -> str:
    """The line under the token status: an Invalid token always says what to do."""
    if status == TokenStatus.INVALID.value and "delete the token" not in message.lower():
        return f"{INVALID_HINT} {message}".strip()
    return message


def provider_label(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


def confirm_get_token(provider: str, account: str) -> str:
    return f"Get a token from {provider_label(provider)} for {account}?"


def confirm_delete(account: str) -> str:
    who = f" for {account}" if account else ""
    return (f"Delete the token{who}?\nThe machine can no longer send or receive e-mail "
            "with OAuth 2.0 until a new token is retrieved.")


def seconds_left(expires_at: float, now: float) -> int:
    return max(0, math.ceil(expires_at - now))


def time_left(expires_at: float, now: float) -> str:
    left = seconds_left(expires_at, now)
    if left == 0:
        return "The code has expired."
    return f"The code expires in {left // 60}:{left % 60:02d}"


# -- the mail keys ---------------------------------------------------------------

MAIL_KEYS = {
    SMTP_SCREEN: ("send_test", "smtp_test"),
    POP_SCREEN: ("check_now", "pop_test", "received"),
}
MAIL_KEY_TEXT = {
    "send_test": "Send Test E-mail",
    "smtp_test": "Connection Test",
    "pop_test": "Connection Test",
    "check_now": "Check Now",
    "received": "Received E-mail",
}
# What the top bar says while a mail call runs.
MAIL_RUNNING = {
    "send_test": "Sending the test e-mail…",
    "smtp_test": "Logging in to the SMTP server…",
    "pop_test": "Logging in to the POP3 server…",
    "check_now": "Checking for new e-mail…",
}


def recipient_error(to: str) -> str:
    """The message for the Send Test E-mail recipient, or "" when it will do."""
    try:
        value = email_address(to)
    except ValueError as exc:
        return str(exc)
    return "" if value else "Enter the recipient's e-mail address."


def clock(at: float, now: float | None = None) -> str:
    """16:42 today, "Jun 3 16:42" on another day: how a printer dates a job."""
    now = time.time() if now is None else now
    when, today = time.localtime(at), time.localtime(now)
    if when[:3] == today[:3]:
        return time.strftime("%H:%M", when)
    day = time.strftime("%b %d", when).replace(" 0", " ")
    return f"{day} {time.strftime('%H:%M', when)}" if when[0] == today[0] else time.strftime("%Y-%m-%d %H:%M", when)


def last_check(at: float, result: str, ok: bool, now: float | None = None) -> str:
    """The line beside Check Interval: "Last check 16:42: 1 new message." """
    if not at:
        return "Not checked yet."
    when = clock(at, now)
    if ok:
        return f"Last check {when}: {result}"
    return f"Last check {when} failed: {result}"


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


NO_SUBJECT = "(no subject)"


def sender_text(sender: str) -> str:
    """"Printer 3F <printer@lab.test>" lists as "Printer 3F"; a bare address as itself."""
    name, address = email.utils.parseaddr(sender)
    return name or address or sender or "(unknown sender)"


def message_row(message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """One line of the Received E-mail list, as the list's rows show it."""
    return {
        "message_id": message["id"],
        "sender": sender_text(message["sender"]),
        "subject": message["subject"] or NO_SUBJECT,
        "when": clock(message["received_at"], now),
        "size_text": size_text(message["size"]),
    }


def received_count(count: int) -> str:
    return "No e-mail" if not count else f"{count} e-mail{'s' if count != 1 else ''}"


# -- changing the administrator password ------------------------------------------

ADMIN_FIELDS = ("current", "new", "again")


def password_change_errors(current: str, new: str, again: str) -> dict[str, str]:
    """What the form refuses before asking the core (the core judges the rest)."""
    errors = {}
    if not current:
        errors["current"] = "Enter the current password."
    if not new:
        errors["new"] = "Enter a new password."
    if not again:
        errors["again"] = "Enter the new password again."
    elif new and new != again:
        errors["again"] = "The two new passwords are not the same."
    if new and current and new == current and "again" not in errors:
        errors["new"] = "The new password is the same as the current one."
    return errors
