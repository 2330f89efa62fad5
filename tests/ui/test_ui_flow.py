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
