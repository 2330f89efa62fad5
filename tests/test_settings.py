"""Settings: every field refuses bad values with a message, and saves nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from panel.core import Core
from panel.errors import ValidationError
from panel.settings import SETTINGS
from panel.store import Store
from panel.token_state import IllegalTransition, TokenStatus

BAD = [
    ("smtp.server", "mail server.example.com", "cannot contain spaces"),
    ("smtp.server", "-bad-.example.com", "host name"),
    ("smtp.server", "mail\texample.com", "control characters"),
    ("smtp.server", "a" * 300, "Too long"),
    ("smtp.port", "0", "1 to 65535"),
    ("smtp.port", "70000", "1 to 65535"),
    ("smtp.port", "-1", "1 to 65535"),
    ("smtp.port", "587 ", "whole number"),
    ("smtp.port", "abc", "whole number"),
    ("smtp.port", "99999999999999999999", "whole number"),
    ("smtp.port", True, "whole number"),
    ("smtp.timeout", "0", "1 to 60"),
    ("smtp.timeout", "61", "1 to 60"),
    ("smtp.sender_name", "x" * 65, "at most 64"),
    ("smtp.sender_name", "Printer\nBcc: x@y.z", "control characters"),
    ("smtp.sender_name", "Printer \u202egnp.exe", "direction marks"),
    ("smtp.sender_address", "not-an-address", "e-mail address"),
    ("smtp.sender_address", "a@@example.com", "e-mail address"),
    ("smtp.sender_address", "a@b@example.com", "e-mail address"),
    ("smtp.sender_address", "user@localhost", "e-mail address"),
    ("smtp.sender_address", "us er@example.com", "spaces"),
    ("smtp.ssl", "maybe", "Choose one of"),
    ("smtp.auth", "kerberos", "Choose one of"),
    ("pop.server", "pop 3", "cannot contain spaces"),
    ("pop.port", "65536", "1 to 65535"),
    ("pop.check_interval", "-5", "0 to 240"),
    ("pop.check_interval", "241", "0 to 240"),
    ("pop.ssl", "2", "Choose one of"),
    ("pop.auth", "apop", "Choose one of"),
    ("oauth.provider", "google", "Choose one of"),
    ("oauth.account", "printer", "e-mail address"),
    ("oauth.tenant", "not a tenant", "tenant"),
    ("oauth.client_id", "has spaces in it", "client) ID"),
    ("oauth.authority", "http://insecure.example.com", "https://"),
    ("oauth.authority", "https://bad host/", "https://"),
    ("oauth.scopes", "mail offline_access", "offline_access"),
    ("tls.ca_bundle", "/nonexistent/ca.pem", "Cannot read"),
    ("nosuch.key", "1", "no setting called"),
]


@pytest.mark.parametrize("key,value,expected", BAD, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD])
def test_bad_value_is_refused_with_message_and_nothing_saved(core, key, value, expected):
    core.update_settings({"smtp.server": "smtp.example.com", "smtp.port": "465"})
    before = core.store.settings()
    changes_before = core.store.changes()
    with pytest.raises(ValidationError) as info:
        # A good value alongside the bad one must not be saved either.
        core.update_settings({"smtp.timeout": "30", key: value})
    assert expected in info.value.errors[key]
    assert core.store.settings() == before
    assert core.store.changes() == changes_before


GOOD = [
    ("smtp.server", "smtp.office365.com", "smtp.office365.com"),
    ("smtp.server", "192.0.2.10", "192.0.2.10"),
    ("smtp.server", "::1", "::1"),
    ("smtp.port", "587", 587),
    ("smtp.port", 465, 465),
    ("smtp.timeout", "60", 60),
    ("smtp.sender_name", "Printer 3F", "Printer 3F"),
    ("smtp.sender_address", "printer+3f@contoso.com", "printer+3f@contoso.com"),
    ("smtp.ssl", "SSL/TLS", "tls"),
    ("smtp.ssl", "OFF", "off"),
    ("pop.ssl", "TLS", "tls"),
    ("pop.ssl", "starttls", "starttls"),
    ("smtp.auth", "None", "none"),
    ("pop.check_interval", "0", 0),
    ("oauth.provider", "Lab (local)", "lab"),
    ("oauth.tenant", "contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
    ("oauth.tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
    ("oauth.client_id", "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"),
    ("oauth.authority", "https://idp.example.com/realms/mail/", "https://idp.example.com/realms/mail"),
    ("oauth.scopes", "  mail.send   mail.read ", "mail.send mail.read"),
]


@pytest.mark.parametrize("key,value,stored", GOOD, ids=[f"{k}={v!r}"[:40] for k, v, _ in GOOD])
def test_good_value_is_stored_typed(core, key, value, stored):
    core.update_settings({key: value})
    assert core.store.settings()[key] == stored


def test_every_setting_has_a_label_and_a_valid_default():
    for key, setting in SETTINGS.items():
        assert setting.label
        assert setting.parse(setting.default) == setting.default, key


def test_ca_bundle_must_hold_a_certificate(core, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ValidationError, match="no PEM certificate"):
        core.update_settings({"tls.ca_bundle": str(junk)})


def test_oauth_needs_an_account(core):
    with pytest.raises(ValidationError) as info:
        core.update_settings({"smtp.auth": "oauth2"})
    assert "account name" in info.value.errors["oauth.account"]
    assert core.store.settings()["smtp.auth"] == "none"
    core.update_settings({"smtp.auth": "oauth2", "oauth.account": "printer@contoso.com"})
    with pytest.raises(ValidationError):
        core.update_settings({"oauth.account": ""})


def test_token_bound_settings_are_locked_while_a_token_is_held(core):
    core.update_settings({"oauth.provider": "lab", "oauth.account": "printer@lab.test"})
    core.store.set_token(TokenStatus.WAITING, provider="lab", account="printer@lab.test", message="", owner="x")
    core.store.set_token(TokenStatus.RETRIEVED, message="", cache="{}", expect_owner="x")
    with pytest.raises(ValidationError) as info:
        core.update_settings({"oauth.account": "alice@lab.test", "smtp.port": "25"})
    assert "Delete the token first" in info.value.errors["oauth.account"]
    assert core.store.settings()["oauth.account"] == "printer@lab.test"
    assert core.store.settings()["smtp.port"] == 587
    core.update_settings({"smtp.port": "25"})  # other settings stay editable
    core.delete_token()
    core.update_settings({"oauth.account": "alice@lab.test"})


def test_restart_keeps_settings_and_token(data_dir):
    with Core(data_dir) as first:
        first.update_settings({"smtp.server": "smtp.office365.com", "oauth.provider": "lab",
                               "oauth.account": "printer@lab.test", "smtp.auth": "oauth2"})
        first.store.set_token(TokenStatus.WAITING, provider="lab", account="printer@lab.test",
                              message="", owner="o")
        first.store.set_token(TokenStatus.RETRIEVED, message="ok", cache='{"secret": "x"}', expect_owner="o")
    with Core(data_dir) as second:
        assert second.store.settings()["smtp.server"] == "smtp.office365.com"
        view = second.tokens.view()
        assert view.status is TokenStatus.RETRIEVED
        assert view.account == "printer@lab.test"
        assert second.store.token_cache() == '{"secret": "x"}'


def test_files_are_private_and_the_cache_is_encrypted(core):
    core.store.set_token(TokenStatus.WAITING, provider="lab", account="a@lab.test", message="", owner="o")
    core.store.set_token(TokenStatus.RETRIEVED, message="", cache="CACHE-SECRET-MARKER", expect_owner="o")
    for name in ("panel.db", "token.key"):
        mode = stat.S_IMODE(os.stat(core.data_dir / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    raw = b"".join(p.read_bytes() for p in core.data_dir.glob("panel.db*"))
    assert b"CACHE-SECRET-MARKER" not in raw
    key = (core.data_dir / "token.key").read_bytes().strip()
    assert key not in raw


def test_state_machine_refuses_illegal_transitions(core):
    with pytest.raises(IllegalTransition):
        core.store.set_token(TokenStatus.RETRIEVED, message="")
    with pytest.raises(IllegalTransition):
        core.store.set_token(TokenStatus.INVALID, message="")
    assert core.tokens.view().status is TokenStatus.NOT_RETRIEVED


def test_statuses_are_the_manuals_words():
    assert [s.value for s in TokenStatus] == [
        "Not Retrieved", "Waiting for authorisation", "Retrieved", "Invalid"]


def test_two_stores_see_each_others_changes(data_dir):
    a, b = Store(data_dir), Store(data_dir)
    before = b.changes()
    a.update({"pop.server": "outlook.office365.com"})
    assert b.changes() > before
    assert b.settings()["pop.server"] == "outlook.office365.com"


def test_admin_password(core):
    assert core.check_admin_password("admin")
    assert not core.check_admin_password("wrong")
    with pytest.raises(ValidationError, match="8 to 128"):
        core.store.set_admin_password("short")
    core.store.set_admin_password("s3cret-pass")
    assert core.check_admin_password("s3cret-pass")
    assert not core.check_admin_password("admin")
    assert not core.store.admin_password_is_default()
    stored = (core.data_dir / "panel.db").read_bytes()
    assert b"s3cret-pass" not in stored


def test_five_wrong_passwords_lock_the_login_across_a_restart(data_dir):
    from panel.errors import AccessError

    with Core(data_dir) as first:
        for _ in range(4):
            assert not first.check_admin_password("guess")
        assert first.check_admin_password("admin")  # a right one resets the count
        for _ in range(4):
            assert not first.check_admin_password("guess")
        with pytest.raises(AccessError, match="locked. Try again in 5 minutes"):
            first.check_admin_password("guess")
    with Core(data_dir) as second:
        with pytest.raises(AccessError, match="locked"):
            second.check_admin_password("admin")  # even the right one, until the lock ends


def test_domain_imports_no_kivy():
    code = ("import sys, panel.core, panel.cli, panel.lab, panel.providers\n"
            "assert not [m for m in sys.modules if m.startswith('kivy')], 'kivy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
