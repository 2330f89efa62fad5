"""The machine's mail clients (smtplib, poplib) against the lab's real servers, with the common token."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from panel.core import Core
from panel.errors import MailError, PanelError, ProviderError, TokenError
from panel.lab import LabServer, controls
from panel.token_state import TokenStatus

from .test_token_service import code_of


def retrieve(core: Core, lab: LabServer, account: str = "printer@lab.test") -> None:
    """Get Token, approved on the lab as the user would."""
    core.get_token()
    assert lab.approve(code_of(core).user_code, account)
    assert core.tokens.wait(timeout=10).status is TokenStatus.RETRIEVED


def configure(core: Core, lab: LabServer, smtp_tls: str = "starttls", pop_tls: str = "tls") -> None:
    core.update_settings({
        "smtp.server": "127.0.0.1", "smtp.ssl": smtp_tls,
        "smtp.port": lab.smtps_port if smtp_tls == "tls" else lab.smtp_port,
        "smtp.sender_name": "Printer 3F", "smtp.sender_address": "printer@lab.test", "smtp.auth": "oauth2",
        "pop.server": "127.0.0.1", "pop.ssl": pop_tls,
        "pop.port": lab.pop3s_port if pop_tls == "tls" else lab.pop3_port,
        "pop.auth": "oauth2", "pop.check_interval": "0",
        "oauth.provider": "lab", "oauth.account": "printer@lab.test",
    })


@pytest.fixture
def mail_core(core, lab):
    configure(core, lab)
    retrieve(core, lab)
    return core


def test_send_then_receive_the_same_message(mail_core):
    assert mail_core.send_test_email("printer@lab.test") == "Test e-mail sent to printer@lab.test."
    assert mail_core.check_mail() == "1 new message."
    [message] = mail_core.messages()
    assert message["sender"] == "Printer 3F <printer@lab.test>"
    assert message["subject"] == "Test e-mail from the printer"
    assert "test e-mail sent with OAuth 2.0" in mail_core.message_text(message["id"])
    # Deleted from the server after retrieval: a second check finds nothing new, fetches nothing twice.
    assert mail_core.check_mail() == "0 new messages."
    assert len(mail_core.messages()) == 1
    last_check, result, ok = mail_core.store.last_check()
    assert ok and result == "0 new messages." and time.time() - last_check < 10


def test_implicit_tls_smtp_and_stls_pop(core, lab):
    configure(core, lab, smtp_tls="tls", pop_tls="starttls")
    retrieve(core, lab)
    core.send_test_email("printer@lab.test")
    assert core.check_mail() == "1 new message."
    assert "logged in to 127.0.0.1" in core.connection_test("smtp")
    assert "logged in to 127.0.0.1" in core.connection_test("pop")


def test_received_mail_survives_a_restart(mail_core, data_dir):
    mail_core.send_test_email("printer@lab.test")
    mail_core.check_mail()
    with Core(data_dir) as again:
        assert [m["subject"] for m in again.messages()] == ["Test e-mail from the printer"]


def test_expired_access_token_is_renewed_once_for_concurrent_users(data_dir, core):
    # msal treats an access token with under 5 minutes left as expired: a
    # lifetime of 302 s is "expired" 2 s after it was issued.
    with LabServer(data_dir, port=0, interval=1, token_lifetime=302) as lab:
        configure(core, lab)
        retrieve(core, lab)
        time.sleep(2.5)
        before = lab.refresh_count
        results, errors = [], []

        def run(action):
            try:
                results.append(action())
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(lambda: core.send_test_email("printer@lab.test"),)),
                   threading.Thread(target=run, args=(lambda: core.connection_test("pop"),))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, [getattr(e, "message", e) for e in errors]
        assert len(results) == 2
        assert lab.refresh_count - before == 1
        assert core.tokens.view().status is TokenStatus.RETRIEVED


def test_a_token_the_server_refuses_is_renewed_once_and_the_login_retried(mail_core, lab):
    controls.expire_all(lab.data_dir)  # the server side forgets every access token
    before = lab.refresh_count
    assert mail_core.send_test_email("printer@lab.test")
    assert lab.refresh_count - before == 1
    assert mail_core.tokens.view().status is TokenStatus.RETRIEVED


@pytest.mark.parametrize("break_it", ["revoke", "disable"])
def test_refused_renewal_makes_the_token_invalid(mail_core, lab, break_it):
    if break_it == "revoke":
        controls.revoke_refresh_tokens(lab.data_dir)
    else:
        controls.disable_account(lab.data_dir, "printer@lab.test")
    controls.expire_all(lab.data_dir)
    with pytest.raises(TokenError) as info:
        mail_core.connection_test("smtp")
    assert info.value.message == "Token update failed. Please delete the token and obtain it again."
    view = mail_core.tokens.view()
    assert view.status is TokenStatus.INVALID
    assert view.message.startswith("Token update failed.")
    status = subprocess.run([sys.executable, "-m", "panel", "token", "status", "--json",
                             "--data-dir", str(mail_core.data_dir)], capture_output=True, text=True)
    assert json.loads(status.stdout)["status"] == "Invalid"
    with pytest.raises(TokenError, match="Token update failed"):
        mail_core.check_mail()
    # The manual's remedy: delete, then Get Token again.
    controls.reset(lab.data_dir)
    mail_core.delete_token()
    retrieve(mail_core, lab)
    assert "succeeded" in mail_core.connection_test("pop")


def test_mail_needs_no_provider_while_the_access_token_lives(mail_core, lab):
    lab.inject("http_503", seconds=0)  # the sign-in service is down, on every endpoint
    before = lab.refresh_count
    assert mail_core.send_test_email("printer@lab.test")
    assert mail_core.check_mail() == "1 new message."
    assert lab.refresh_count == before


def test_provider_down_during_renewal_is_not_invalid(data_dir, core):
    with LabServer(data_dir, port=0, interval=1, token_lifetime=302) as lab:
        configure(core, lab)
        retrieve(core, lab)
        time.sleep(2.5)  # the access token is now due for renewal
        lab.inject("http_503", endpoint="token", seconds=0)
        with pytest.raises(PanelError) as info:
            core.send_test_email("printer@lab.test")
        assert "try again" in info.value.message and "Get Token" not in info.value.message
        assert core.tokens.view().status is TokenStatus.RETRIEVED
        lab.clear_faults()
        assert core.send_test_email("printer@lab.test")  # the next try renews and sends


def test_lab_stopped_with_a_due_token_says_to_start_it(data_dir, core):
    with LabServer(data_dir, port=0, interval=1, token_lifetime=302) as lab:
        configure(core, lab)
        retrieve(core, lab)
    time.sleep(2.5)
    with pytest.raises(ProviderError) as info:
        core.connection_test("smtp")
    assert info.value.message == ("The lab is not running. Start it with 'panel lab' or 'panel run --lab', "
                                  "then try again.")
    assert core.tokens.view().status is TokenStatus.RETRIEVED


def test_a_new_token_clears_the_last_checks_failure(mail_core, lab):
    controls.revoke_refresh_tokens(lab.data_dir)
    controls.expire_all(lab.data_dir)
    with pytest.raises(TokenError):
        mail_core.check_mail()
    assert mail_core.store.last_check()[2] is False
    controls.reset(lab.data_dir)
    mail_core.delete_token()
    retrieve(mail_core, lab)
    assert mail_core.store.last_check() == (0.0, "", True)


def test_mail_server_unreachable_keeps_the_status(mail_core):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    mail_core.update_settings({"smtp.port": closed_port})
    with pytest.raises(MailError, match="refused the connection: check Primary Server and Port Number"):
        mail_core.send_test_email("printer@lab.test")
    mail_core.update_settings({"pop.server": "no-such-host.invalid"})
    with pytest.raises(MailError, match="was not found: check POP3 Server"):
        mail_core.check_mail()
    assert mail_core.tokens.view().status is TokenStatus.RETRIEVED
    assert mail_core.store.last_check()[2] is False


def test_untrusted_certificate(mail_core, tmp_path):
    with LabServer(tmp_path / "stranger", port=0) as stranger:
        mail_core.update_settings({"smtp.port": stranger.smtps_port, "smtp.ssl": "tls"})
        with pytest.raises(MailError, match="not trusted.*tls.ca_bundle"):
            mail_core.connection_test("smtp")
    assert mail_core.tokens.view().status is TokenStatus.RETRIEVED


def test_timeout(mail_core):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        mail_core.update_settings({"smtp.port": silent.getsockname()[1], "smtp.timeout": "1"})
        started = time.monotonic()
        with pytest.raises(MailError, match="did not answer within 1 s"):
            mail_core.connection_test("smtp")
        assert time.monotonic() - started < 10
    finally:
        silent.close()


def test_tls_mode_not_matching_the_port(mail_core, lab):
    mail_core.update_settings({"smtp.port": lab.smtp_port, "smtp.ssl": "tls"})
    with pytest.raises(MailError, match="Enable SSL/TLS"):
        mail_core.connection_test("smtp")


def test_smtp_auth_disabled_names_the_setting(mail_core, lab):
    controls.set_fault(lab.data_dir, "smtp_auth_disabled")
    with pytest.raises(MailError, match="SMTP AUTH is disabled"):
        mail_core.send_test_email("printer@lab.test")
    assert mail_core.tokens.view().status is TokenStatus.RETRIEVED


def test_send_as_denied_names_the_sender(mail_core):
    mail_core.update_settings({"smtp.sender_address": "alice@lab.test"})
    with pytest.raises(MailError, match="printer@lab.test may not send as alice@lab.test"):
        mail_core.send_test_email("bob@lab.test")
    assert mail_core.tokens.view().status is TokenStatus.RETRIEVED


def test_no_bearer_token_over_plain_text(mail_core, lab):
    for prefix, port in (("smtp", lab.smtp_port), ("pop", lab.pop3_port)):
        mail_core.update_settings({f"{prefix}.ssl": "off", f"{prefix}.port": port})
    with pytest.raises(MailError, match="set Enable SSL/TLS to STARTTLS or SSL/TLS"):
        mail_core.send_test_email("printer@lab.test")
    with pytest.raises(MailError, match="set Enable SSL/TLS to STARTTLS or SSL/TLS"):
        mail_core.check_mail()


def test_bad_recipient(mail_core):
    with pytest.raises(MailError, match="e-mail address"):
        mail_core.send_test_email("not an address")
    with pytest.raises(MailError, match="refused"):
        mail_core.send_test_email("nobody@elsewhere.example")


def test_concurrent_checks_and_delete_lose_nothing_and_fetch_nothing_twice(mail_core):
    for _ in range(5):
        mail_core.send_test_email("printer@lab.test")
    outcomes = []

    def check():
        try:
            outcomes.append(mail_core.check_mail())
        except (MailError, TokenError) as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=check) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(mail_core.messages()) == 5
    other = Core(mail_core.data_dir)  # a second process's view: no duplicates either
    assert len(other.messages()) == 5
    other.close()
    # A check racing a Delete ends cleanly either way.
    mail_core.send_test_email("printer@lab.test")
    racer = threading.Thread(target=check)
    racer.start()
    mail_core.delete_token()
    racer.join(30)
    assert mail_core.tokens.view().status is TokenStatus.NOT_RETRIEVED
    assert len(mail_core.messages()) in (5, 6)


def test_no_token_value_in_any_message(mail_core, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    mail_core.send_test_email("printer@lab.test")
    mail_core.check_mail()
    cache = json.loads(mail_core.store.token_cache())
    secrets = [e["secret"] for kind in ("AccessToken", "RefreshToken") for e in cache[kind].values()]
    logged = caplog.text + json.dumps(mail_core.store.events(1000))
    assert not any(s in logged for s in secrets)


def test_the_schedule_checks_in_the_background(mail_core):
    from .test_token_service import wait_for

    mail_core.send_test_email("printer@lab.test")
    mail_core.update_settings({"pop.check_interval": "1"})  # never checked yet: due at once
    mail_core.start()
    first = wait_for(lambda: mail_core.store.last_check()[0], timeout=15)
    assert len(mail_core.messages()) == 1
    time.sleep(1.5)
    assert mail_core.store.last_check()[0] == first, "the next check waits a whole interval"
