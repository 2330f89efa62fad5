"""The settings: typed, documented keys, validated in one place.

Every front end (touch panel, command line, later the web page) reads the
definitions here for labels, defaults and choices, and every value goes
through `Setting.parse` before it is stored. A refused value raises
`ValueError` with the message for its field; `Store.update` collects those
into one `ValidationError`, so nothing is saved when anything is refused.
Keys are the names the command line uses (`smtp.port`, `oauth.account`...).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

OAUTH2 = "oauth2"

# RFC 1123 host name labels; the whole name at most 253 characters.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# A pragmatic e-mail address: one @, a local part without spaces or control
# characters, a domain that is a host name with a dot.
_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Control characters, and the bidirectional overrides that make text read
# differently from what is stored (U+202A-U+202E, U+2066-U+2069).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# msal adds these to every request itself and refuses them when passed.
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("Enter text.")
    if _CONTROL.search(raw):
        raise ValueError("Remove the control characters (tabs, line breaks, direction marks).")
    return raw


def host_name(raw: Any) -> str:
    value = _text(raw)
    if value == "":
        return value
    if value != value.strip() or " " in value:
        raise ValueError("A server name cannot contain spaces.")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError("Enter a host name (mail.example.com) or an IP address.")
    if name.replace(".", "").isdigit():
        raise ValueError("Enter a host name (mail.example.com) or an IP address.")
    return value


def email_address(raw: Any) -> str:
    value = _text(raw)
    if value == "":
        return value
    if value != value.strip() or " " in value:
        raise ValueError("An e-mail address cannot contain spaces.")
    if len(value) > 254 or value.count("@") != 1:
        raise ValueError("Enter an e-mail address such as name@example.com.")
    local, domain = value.split("@")
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("Enter an e-mail address such as name@example.com.")
    try:
        host_name(domain)
    except ValueError:
        raise ValueError("Enter an e-mail address such as name@example.com.") from None
    if "." not in domain.strip("."):
        raise ValueError("Enter an e-mail address such as name@example.com.")
    return value


def tenant(raw: Any) -> str:
    value = _text(raw).strip()
    if value in ("organizations", "common", "consumers") or _GUID.match(value):
        return value
    try:
        host_name(value)
    except ValueError:
        value = ""
    if "." in value:
        return value
    raise ValueError("Enter the tenant ID, a domain of the tenant (contoso.onmicrosoft.com) or 'organizations'.")


def client_id(raw: Any) -> str:
    value = _text(raw)
    if value and not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", value):
        raise ValueError("Enter the application (client) ID from the app registration.")
    return value


def https_url(raw: Any) -> str:
    value = _text(raw)
    if value == "":
        return value
    m = re.fullmatch(r"https://([^/\s?#]+)(/[^\s?#]*)?", value)
    if not m:
        raise ValueError("Enter an https:// address, such as https://login.example.com/realm.")
    host = m.group(1).rsplit(":", 1)
    try:
        host_name(host[0].strip("[]"))
        if len(host) == 2 and not 1 <= int(host[1]) <= 65535:
            raise ValueError
    except ValueError:
        raise ValueError("Enter an https:// address, such as https://login.example.com/realm.") from None
    return value.rstrip("/")


def scopes(raw: Any) -> str:
    value = _text(raw)
    words = value.split()
    if len(value) > 1024:
        raise ValueError("The scopes are too long (at most 1024 characters).")
    reserved = sorted(RESERVED_SCOPES.intersection(words))
    if reserved:
        raise ValueError(f"Leave out {', '.join(reserved)}: they are always requested.")
    return " ".join(words)


def ca_bundle(raw: Any) -> str:
    value = _text(raw).strip()
    if value == "":
        return value
    try:
        path = Path(value).expanduser()  # "~nosuchuser" raises RuntimeError
        text = path.read_text(encoding="ascii", errors="replace")
    except (OSError, RuntimeError, ValueError):
        raise ValueError(f"Cannot read the file {value}.") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError("The file holds no PEM certificate (-----BEGIN CERTIFICATE-----).")
    return str(path.resolve())


@dataclass(frozen=True)
class Setting:
    """One setting: its key, its label on the screen, its type and its rule."""

    key: str
    label: str
    kind: str  # "text", "int" or "choice"
    default: Any
    help: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 255
    choices: dict[str, str] = field(default_factory=dict)  # value -> label
    check: Callable[[Any], Any] | None = None

    def parse(self, raw: Any) -> Any:
        """Turn what a user typed (or a typed value) into the stored value.

        Raises ValueError with the message for the field.
        """
        if self.kind == "int":
            return self._parse_int(raw)
        if self.kind == "choice":
            return self._parse_choice(raw)
        value = _text(raw)
        if len(value) > self.max_length:
            raise ValueError(f"Too long: at most {self.max_length} characters.")
        return self.check(value) if self.check else value

    def _parse_int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError("Enter a whole number.")
        if isinstance(raw, int):
            number = raw
        else:
            text = _text(raw)
            if not re.fullmatch(r"-?[0-9]{1,12}", text):
                raise ValueError(f"Enter a whole number from {self.minimum} to {self.maximum}.")
            number = int(text)
        if not self.minimum <= number <= self.maximum:
            raise ValueError(f"Enter a number from {self.minimum} to {self.maximum}.")
        return number

    def _parse_choice(self, raw: Any) -> str:
        text = _text(raw)
        for value, label in self.choices.items():
            if text.lower() in (value.lower(), label.lower()):
                return value
        allowed = ", ".join(self.choices)
        raise ValueError(f"Choose one of: {allowed}.")

    def display(self, value: Any) -> str:
        """How the value reads on the screen and in `config show`."""
        return self.choices.get(value, str(value)) if self.kind == "choice" else str(value)


AUTH_METHODS = {"none": "None", OAUTH2: "OAuth 2.0"}
TLS_MODES = {"off": "None", "starttls": "STARTTLS", "tls": "SSL/TLS"}
PROVIDERS = {
    "microsoft365": "Microsoft 365 / Exchange Online",
    "oidc": "OpenID provider (device flow)",
    "lab": "Lab (local)",
}

_DEFS = [
    Setting("smtp.server", "Primary Server", "text", "", check=host_name, max_length=253,
            help="Host name or IP address of the SMTP server."),
    Setting("smtp.port", "Port Number", "int", 587, minimum=1, maximum=65535,
            help="587 for STARTTLS, 465 for implicit TLS."),
    Setting("smtp.timeout", "Timeout", "int", 20, minimum=1, maximum=60,
            help="Seconds to wait for the SMTP server."),
    Setting("smtp.sender_name", "Sender Name", "text", "", max_length=64),
    Setting("smtp.sender_address", "Sender Address", "text", "", check=email_address, max_length=254),
    Setting("smtp.ssl", "Enable SSL/TLS", "choice", "starttls", choices=TLS_MODES,
            help="STARTTLS on 587, SSL/TLS (implicit) on 465."),
    Setting("smtp.auth", "Authentication Method", "choice", "none", choices=AUTH_METHODS),
    Setting("pop.server", "POP3 Server", "text", "", check=host_name, max_length=253),
    Setting("pop.port", "Port Number", "int", 995, minimum=1, maximum=65535,
            help="995 for POP3 over TLS, 110 for plain POP3."),
    Setting("pop.check_interval", "Check Interval", "int", 5, minimum=0, maximum=240,
            help="Minutes between mailbox checks; 0 checks only on request."),
    Setting("pop.ssl", "Enable SSL/TLS", "choice", "tls", choices=TLS_MODES,
            help="SSL/TLS (implicit) on 995, STARTTLS (STLS) on 110."),
    Setting("pop.auth", "Authentication Method", "choice", "none", choices=AUTH_METHODS),
    Setting("oauth.provider", "Provider", "choice", "microsoft365", choices=PROVIDERS),
    Setting("oauth.account", "Account name", "text", "", check=email_address, max_length=254,
            help="The account that signs in and sends mail, e.g. printer@contoso.com."),
    Setting("oauth.tenant", "Tenant", "text", "organizations", check=tenant, max_length=253,
            help="Microsoft 365: the directory (tenant) ID or domain."),
    Setting("oauth.client_id", "Client ID", "text", "", check=client_id, max_length=128,
            help="The application (client) ID of the app registration."),
    Setting("oauth.authority", "Authority", "text", "", check=https_url, max_length=512,
            help="OpenID provider: the issuer address (its discovery document lives below it)."),
    Setting("oauth.scopes", "Scopes", "text", "", check=scopes, max_length=1024,
            help="Space-separated; empty means the provider's mail scopes."),
    Setting("tls.ca_bundle", "Extra CA certificates", "text", "", check=ca_bundle, max_length=4096,
            help="A PEM file of certificates to trust besides the system's."),
]

SETTINGS: dict[str, Setting] = {s.key: s for s in _DEFS}

# Settings that define whose token is held: they cannot change while one is.
TOKEN_BOUND = ("oauth.provider", "oauth.account", "oauth.tenant", "oauth.client_id",
               "oauth.authority", "oauth.scopes")


def defaults() -> dict[str, Any]:
    return {key: s.default for key, s in SETTINGS.items()}
