"""The panel's decisions, with no Kivy: where each key leads, what each
settings screen holds, which token keys are live, what dialogs say.

The Kivy layer renders these answers and nothing else decides them, so the
navigation and the token screens' rules are tested without a window (as
Electrum keeps its wizard's decisions in a UI-agnostic class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from panel.settings import PROVIDERS
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

SYSTEM_SETTINGS = MenuEntry("System Settings", children=(
    MenuEntry("Network Settings", "Services the machine uses on the network", children=(
        MenuEntry("Services Settings", "SMTP server, sender, OAuth 2.0 token",
                  screen=SMTP_SCREEN, tab="SMTP"),
    )),
    MenuEntry("System Control", "Alerts and status reports by e-mail", children=(
        MenuEntry("E-mail Alert and Status", "Mail the machine sends and receives", children=(
            MenuEntry("E-mail Status", "POP3 server, check interval, OAuth 2.0 token",
                      screen=POP_SCREEN, tab="Advanced"),
        )),
    )),
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
        trail = tuple(e.title for e in self.stack)
        if entry.screen:
            return Place(entry.screen, trail + (f"{entry.tab} tab",), entry)
        return Place("menu", trail, entry)

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
