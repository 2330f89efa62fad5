"""Bad input through the screen, as a table: for each field of both tabs, the
values typed and a fragment of the message the field must then show.

The `bad_input` scenario (harness.py) types each row into its field, presses
Save, and reads the field's message and the store back; the test
(test_ui_mail.py) compares the message with the domain's own for that value.
Rows are (setting key, value typed, fragment of the message).
"""

from __future__ import annotations

CONTROL = ("\t", "\x1b", "\x7f", "\x01")  # a tab, escape, delete, start of heading

# The SMTP tab with the OpenID provider shows Authority, Client ID, Scopes and
# Extra CA certificates; the POP tab with Microsoft 365 shows Tenant and Client ID.
TABS = {
    "smtp": {
        "provider": "OpenID provider (device flow)",
        "good": {
            "smtp.server": "mail.example.com", "smtp.port": "587", "smtp.timeout": "20",
            "smtp.sender_name": "Printer 3F", "smtp.sender_address": "printer@example.com",
            "smtp.auth": "OAuth 2.0", "oauth.provider": "OpenID provider (device flow)",
            "oauth.account": "printer@example.com", "oauth.authority": "https://login.example.com/realm",
            "oauth.client_id": "panel-client", "oauth.scopes": "mail.send", "tls.ca_bundle": "",
        },
        "bad": [
            ("smtp.server", "mail example.com", "spaces"),
            ("smtp.server", "m" * 254, "Too long"),
            ("smtp.server", "mail\t.example.com", "control characters"),
            ("smtp.server", "-mail.example.com", "host name"),
            ("smtp.server", "mail.example.com ", "spaces"),
            ("smtp.port", "", "whole number"),
            ("smtp.port", "0", "1 to 65535"),
            ("smtp.port", "65536", "1 to 65535"),
            ("smtp.port", "-1", "1 to 65535"),
            ("smtp.port", "587 ", "whole number"),
            ("smtp.timeout", "", "whole number"),
            ("smtp.timeout", "0", "1 to 60"),
            ("smtp.timeout", "61", "1 to 60"),
            ("smtp.timeout", "20s", "whole number"),
            ("smtp.sender_name", "N" * 65, "Too long"),
            ("smtp.sender_name", "Printer\x1b3F", "control characters"),
            ("smtp.sender_address", "printer@lab@example.com", "e-mail address"),
            ("smtp.sender_address", "printer@@example.com", "e-mail address"),
            ("smtp.sender_address", "printer example.com", "spaces"),
            ("smtp.sender_address", "p" * 243 + "@example.com", "Too long"),
            ("smtp.sender_address", "printer\x7f@example.com", "control characters"),
            ("oauth.account", "printer@lab@example.com", "e-mail address"),
            ("oauth.account", "printer @example.com", "spaces"),
            ("oauth.account", "printer@localhost", "e-mail address"),
            ("oauth.account", "printer\x01@example.com", "control characters"),
            ("oauth.authority", "http://login.example.com", "https://"),
            ("oauth.authority", "https://login example.com/realm", "https://"),
            ("oauth.authority", "https://login.example.com/\x01", "control characters"),
            ("oauth.client_id", "panel client", "client) ID"),
            ("oauth.client_id", "c" * 129, "Too long"),
            ("oauth.client_id", "panel\tclient", "control characters"),
            ("oauth.scopes", "openid mail.send", "Leave out openid"),
            ("oauth.scopes", "s" * 1025, "Too long"),
            ("oauth.scopes", "mail.send\x1b", "control characters"),
            ("tls.ca_bundle", "/nonexistent/ca.pem", "Cannot read"),
            ("tls.ca_bundle", "/etc/passwd", "no PEM certificate"),
            ("tls.ca_bundle", "/tmp/\x7fca.pem", "control characters"),
        ],
    },
    "pop": {
        "provider": "Microsoft 365 / Exchange Online",
        "good": {
            "pop.server": "pop.example.com", "pop.port": "995", "pop.check_interval": "0",
            "pop.auth": "OAuth 2.0", "oauth.provider": "Microsoft 365 / Exchange Online",
            "oauth.account": "printer@example.com", "oauth.tenant": "contoso.onmicrosoft.com",
            "oauth.client_id": "11111111-2222-3333-4444-555555555555",
        },
        "bad": [
            ("pop.server", "pop example.com", "spaces"),
            ("pop.server", "p" * 254, "Too long"),
            ("pop.server", "pop.example.com\x1b", "control characters"),
            ("pop.server", " pop.example.com", "spaces"),
            ("pop.port", "", "whole number"),
            ("pop.port", "0", "1 to 65535"),
            ("pop.port", "65536", "1 to 65535"),
            ("pop.port", "-1", "1 to 65535"),
            ("pop.port", "995 ", "whole number"),
            ("pop.check_interval", "", "whole number"),
            ("pop.check_interval", "-1", "0 to 240"),
            ("pop.check_interval", "241", "0 to 240"),
            ("pop.check_interval", "5 ", "whole number"),
            ("oauth.tenant", "", "tenant"),
            ("oauth.tenant", "contoso", "tenant"),
            ("oauth.tenant", "contoso\t.com", "control characters"),
            ("oauth.client_id", "bad id", "client) ID"),
            ("oauth.client_id", "c" * 129, "Too long"),
            ("oauth.client_id", "\x01", "control characters"),
            ("oauth.account", "printer@lab@example.com", "e-mail address"),
            ("oauth.account", "printer@", "e-mail address"),
            ("oauth.account", "printer\t@example.com", "control characters"),
        ],
    },
}

# Refused only when everything else is right: OAuth 2.0 needs an account name.
ALONE = [("oauth.account", "", "account name")]


def rounds(bad: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Group the rows so each round puts at most one bad value in each field."""
    out: list[dict[str, str]] = []
    for key, value, _ in bad:
        for round_ in out:
            if key not in round_:
                round_[key] = value
                break
        else:
            out.append({key: value})
    return out
