"""The panel's decisions (panel.ui.flow), with no Kivy and no window."""

from __future__ import annotations

import subprocess
import sys

import pytest

from panel.settings import SETTINGS
from panel.ui import flow


def test_flow_imports_no_kivy():
    code = "import sys, panel.ui.flow, panel.lab.phone; print('kivy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_manual_paths():
    nav = flow.Navigator()
    assert nav.place().screen == "home"
    assert nav.settings_key().screen == "login"  # not logged in yet
    assert nav.logged_in().trail == ("System Settings",)
    assert nav.path_to("smtp") == ["Network Settings", "Services Settings"]
    assert nav.path_to("pop") == ["System Control", "E-mail Alert and Status", "E-mail Status"]
    nav.open("Network Settings")
    place = nav.open("Services Settings")
    assert place.screen == "smtp"
    assert place.trail == ("System Settings", "Network Settings", "Services Settings", "SMTP tab")
    assert place.title == "SMTP tab"
    assert place.crumbs == "System Settings  ›  Network Settings  ›  Services Settings"
    for title in ("Network Settings", "System Settings"):
        assert nav.back().title == title
    assert nav.back().screen == "home"
    assert nav.admin is False  # leaving System Settings logs out
    assert nav.settings_key().screen == "login"


def test_pop_path_ends_on_the_advanced_tab():
    nav = flow.Navigator()
    nav.logged_in()
    for title in flow.Navigator().path_to("pop"):
        place = nav.open(title)
    assert place.screen == "pop" and place.title == "Advanced tab"
    with pytest.raises(KeyError):
        nav.open("Nowhere")


@pytest.mark.parametrize("status, get, delete", [
    ("Not Retrieved", True, False),
    ("Waiting for authorisation", False, True),
    ("Retrieved", False, True),
    ("Invalid", False, True),
])
def test_token_keys(status, get, delete):
    assert flow.token_keys(status) == flow.TokenKeys(get_token=get, delete=delete)
    assert flow.token_keys(status, busy=True) == flow.TokenKeys(False, False)


def test_form_rows_follow_the_manual_and_the_provider():
    smtp = flow.visible_keys("smtp", "lab")
    assert [SETTINGS[k].label for k in smtp] == [
        "Primary Server", "Port Number", "Timeout", "Sender Name", "Sender Address", "Enable SSL/TLS",
        "Authentication Method", "Provider", "Account name"]
    pop = flow.visible_keys("pop", "lab")
    assert [SETTINGS[k].label for k in pop] == [
        "POP3 Server", "Port Number", "Check Interval", "Enable SSL/TLS", "Authentication Method",
        "Provider", "Account name"]
    assert flow.visible_keys("smtp", "microsoft365")[-2:] == ("oauth.tenant", "oauth.client_id")
    assert "oauth.authority" in flow.visible_keys("pop", "oidc")
    for screen in ("smtp", "pop"):
        for provider in flow.PROVIDER_KEYS:
            assert set(flow.visible_keys(screen, provider)) <= set(flow.ALL_FORM_KEYS[screen])
    assert set(flow.PROVIDER_KEYS) == set(SETTINGS["oauth.provider"].choices)


def test_texts():
    assert flow.confirm_get_token("lab", "printer@lab.test") == "Get a token from Lab (local) for printer@lab.test?"
    assert "printer@lab.test" in flow.confirm_delete("printer@lab.test")
    assert flow.time_left(1000.0, 100.2) == "The code expires in 15:00"
    assert flow.time_left(1000.0, 999.5) == "The code expires in 0:01"
    assert flow.time_left(1000.0, 1000.0) == "The code has expired."


def test_received_email_and_its_messages_are_reached_from_the_advanced_tab():
    nav = flow.Navigator()
    nav.logged_in()
    for title in nav.path_to("pop"):
        nav.open(title)
    with pytest.raises(KeyError):
        nav.open_message("not from here")
    place = nav.open("Received E-mail")
    assert place.screen == "received"
    assert place.trail[-3:] == ("E-mail Status", "Advanced tab", "Received E-mail")
    place = nav.open_message("  ")
    assert place.screen == "message" and place.title == "(no subject)"
    assert nav.back().screen == "received"
    assert nav.back().screen == "pop"
    assert flow.Navigator().path_to("received") == ["System Control", "E-mail Alert and Status", "E-mail Status",
                                                    "Received E-mail"]
    assert flow.Navigator().path_to("admin_password") == ["Change Administrator Password"]


def test_mail_keys_and_their_texts():
    assert [flow.MAIL_KEY_TEXT[k] for k in flow.MAIL_KEYS["smtp"]] == ["Send Test E-mail", "Connection Test"]
    assert [flow.MAIL_KEY_TEXT[k] for k in flow.MAIL_KEYS["pop"]] == ["Check Now", "Connection Test",
                                                                      "Received E-mail"]
    assert set(flow.MAIL_RUNNING) == {k for ks in flow.MAIL_KEYS.values() for k in ks} - {"received"}


@pytest.mark.parametrize("to, message", [
    ("printer@lab.test", ""),
    ("", "Enter the recipient's e-mail address."),
    ("a@b@lab.test", "Enter an e-mail address such as name@example.com."),
    ("a b@lab.test", "An e-mail address cannot contain spaces."),
    ("a\t@lab.test", "Remove the control characters"),
])
def test_recipient_of_the_test_email(to, message):
    # The domain's own message for the address (its wording is the domain's).
    assert flow.recipient_error(to).startswith(message) and bool(message) == bool(flow.recipient_error(to))


def test_last_check_line_and_list_lines():
    import time

    now = time.mktime((2026, 12, 3, 16, 50, 0, 0, 0, -1))
    at = time.mktime((2026, 12, 3, 16, 42, 0, 0, 0, -1))
    assert flow.last_check(0, "", False, now) == "Not checked yet."
    assert flow.last_check(at, "1 new message.", True, now) == "Last check 16:42: 1 new message."
    assert (flow.last_check(at, "Could not reach pop.example.com.", False, now)
            == "Last check 16:42 failed: Could not reach pop.example.com.")
    assert flow.clock(at - 86400 * 2, now) == "Dec 1 16:42"
    assert flow.clock(time.mktime((2025, 6, 1, 9, 5, 0, 0, 0, -1)), now) == "2025-06-01 09:05"
    row = flow.message_row({"id": 7, "sender": "Printer 3F <printer@lab.test>", "subject": "", "date": "",
                            "size": 2048, "received_at": at}, now)
    assert row == {"message_id": 7, "sender": "Printer 3F", "subject": "(no subject)", "when": "16:42",
                   "size_text": "2.0 KB"}
    assert flow.sender_text("bob@lab.test") == "bob@lab.test"
    assert [flow.size_text(n) for n in (375, 1536, 3 * 1024 * 1024)] == ["375 B", "1.5 KB", "3.0 MB"]
    assert [flow.received_count(n) for n in (0, 1, 2)] == ["No e-mail", "1 e-mail", "2 e-mails"]


def test_an_invalid_token_always_says_to_delete_it():
    assert flow.token_message("Invalid", "") == flow.INVALID_HINT
    stored = "Token update failed. Please delete the token and obtain it again. The account is disabled."
    assert flow.token_message("Invalid", stored) == stored
    assert flow.token_message("Invalid", "The account is disabled.") == (
        flow.INVALID_HINT + " The account is disabled.")
    assert flow.token_message("Retrieved", "Token retrieved for x@lab.test.") == "Token retrieved for x@lab.test."


@pytest.mark.parametrize("current, new, again, errors", [
    ("", "", "", {"current": "Enter the current password.", "new": "Enter a new password.",
                  "again": "Enter the new password again."}),
    ("admin", "new-password", "new-passwort", {"again": "The two new passwords are not the same."}),
    ("admin", "admin", "admin", {"new": "The new password is the same as the current one."}),
    ("admin", "new-password", "new-password", {}),
])
def test_password_change_form(current, new, again, errors):
    assert flow.password_change_errors(current, new, again) == errors
