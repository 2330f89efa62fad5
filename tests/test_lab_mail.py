"""The lab's SMTP and POP3 servers and its controls, driven by the standard
library's smtplib and poplib exactly as a client (the panel) drives them,
with real tokens from the lab identity provider obtained through msal. Every
test talks TLS to a real LabServer on loopback, port 0."""

from __future__ import annotations

import base64
import json
import logging
import os
import poplib
import smtplib
import ssl
import stat
import subprocess
import sys
import threading
import time

import msal
import pytest
import requests

from panel.lab import LAB_CLIENT_ID, LabServer, controls, read_endpoints

SCOPES = ["SMTP.Send", "POP.AccessAsUser.All"]
PRINTER, ALICE, BOB = "printer@lab.test", "alice@lab.test", "bob@lab.test"

# CRLF line ends, a line starting with ".", one with "..", one that is only
# ".": all must come out of POP exactly as they went into SMTP.
MESSAGE = (
    b"From: Printer <printer@lab.test>\r\n"
    b"To: bob@lab.test\r\n"
    b"Subject: Scan from the lab printer\r\n"
    b"Message-ID: <scan-1@lab.test>\r\n"
    b"\r\n"
    b"Hello Bob.\r\n"
    b".A line that starts with a dot\r\n"
    b"..and one with two\r\n"
    b".\r\n"
    b"The end.\r\n"
)


# msal's verify= (and so the lab's CA) must not be overridden by the environment.
pytestmark = pytest.mark.usefixtures("honour_verify")


@pytest.fixture
def lab(tmp_path):
    with LabServer(tmp_path, interval=1) as server:
        yield server


@pytest.fixture
def ms_lab(tmp_path):
    with LabServer(tmp_path, interval=1, style="microsoft") as server:
        yield server


def make_app(lab: LabServer) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(LAB_CLIENT_ID, oidc_authority=lab.issuer, verify=str(lab.ca_file))


def sign_in(lab: LabServer, account: str = PRINTER, app=None):
    """A device flow approved through the lab hook: (app, msal result)."""
    app = app or make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    assert lab.approve(flow["user_code"], account)
    return app, app.acquire_token_by_device_flow(flow)


def token_of(lab: LabServer, account: str = PRINTER) -> str:
    _, result = sign_in(lab, account)
    assert "access_token" in result, result
    return result["access_token"]


def refresh(lab: LabServer, app: msal.PublicClientApplication) -> dict:
    """A forced refresh, through a new msal app on the same token cache: msal
    replays an HTTP 400 answer to the same request for 60 s (its throttling),
    which would hide a control switched back within a test."""
    fresh = msal.PublicClientApplication(
        LAB_CLIENT_ID, oidc_authority=lab.issuer, verify=str(lab.ca_file), token_cache=app.token_cache
    )
    [account] = fresh.get_accounts()
    return fresh.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)


def xoauth2(account: str, token: str) -> str:
    return f"user={account}\x01auth=Bearer {token}\x01\x01"


def tls(lab: LabServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.ca_file))


def smtp_starttls(lab: LabServer) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", lab.smtp_port, timeout=10)
    client.starttls(context=tls(lab))
    client.ehlo()
    return client


def smtp_login(lab: LabServer, account: str, token: str, *, implicit: bool = False):
    if implicit:
        client = smtplib.SMTP_SSL("127.0.0.1", lab.smtps_port, context=tls(lab), timeout=10)
        client.ehlo()
    else:
        client = smtp_starttls(lab)
    try:
        code, text = client.auth("XOAUTH2", lambda challenge=None: xoauth2(account, token))
    except BaseException:
        client.close()
        raise
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    return client


def pop_auth(client: poplib.POP3, account: str, token: str) -> bytes:
    """AUTH XOAUTH2 as Exchange documents it: the command, the "+" prompt,
    then the base64 line."""
    assert client._shortcmd("AUTH XOAUTH2").startswith(b"+")
    return client._shortcmd(base64.b64encode(xoauth2(account, token).encode()).decode())


def pop_login(lab: LabServer, account: str, token: str, *, implicit: bool = True) -> poplib.POP3:
    if implicit:
        client = poplib.POP3_SSL("127.0.0.1", lab.pop3s_port, context=tls(lab), timeout=10)
    else:
        client = poplib.POP3("127.0.0.1", lab.pop3_port, timeout=10)
        client.stls(context=tls(lab))
    assert pop_auth(client, account, token) == b"+OK User successfully authenticated."
    return client


def retr(client: poplib.POP3, number: int) -> bytes:
    _, lines, _ = client.retr(number)
    return b"\r\n".join(lines) + b"\r\n"


def uidl(client: poplib.POP3) -> list[str]:
    return [line.split()[1].decode() for line in client.uidl()[1]]


# -- the round trip -------------------------------------------------------------------


def test_message_goes_through_smtp_and_comes_back_intact_through_pop(lab):
    printer, bob = token_of(lab, PRINTER), token_of(lab, BOB)
    second = MESSAGE.replace(b"scan-1", b"scan-2")

    with smtp_login(lab, PRINTER, printer) as client:  # STARTTLS, like 587
        assert client.sendmail(PRINTER, [BOB], MESSAGE) == {}
    with smtp_login(lab, PRINTER, printer, implicit=True) as client:  # like 465
        assert client.sendmail(PRINTER, [BOB], second) == {}

    pop = pop_login(lab, BOB, bob)  # implicit TLS, like 995
    assert pop.stat() == (2, 2 * len(MESSAGE))
    assert [line.split()[1] for line in pop.list()[1]] == [str(len(MESSAGE)).encode()] * 2
    uids = uidl(pop)
    assert len(set(uids)) == 2
    assert pop.uidl(2).split()[-1].decode() == uids[1]
    assert retr(pop, 1) == MESSAGE
    assert retr(pop, 2) == second
    top = pop.top(1, 1)[1]
    assert top[-2:] == [b"", b"Hello Bob."] and top[0].startswith(b"From:")
    pop.quit()  # nothing deleted

    pop = pop_login(lab, BOB, bob, implicit=False)  # STLS, like 110
    assert uidl(pop) == uids  # stable across sessions
    pop.dele(1)
    with pytest.raises(poplib.error_proto):
        pop.retr(1)  # marked deleted
    pop.rset()
    assert pop.stat()[0] == 2
    pop.dele(1)
    assert pop.stat() == (1, len(second))
    pop.quit()  # the UPDATE state: now it is gone

    pop = pop_login(lab, BOB, bob)
    assert uidl(pop) == uids[1:]
    assert retr(pop, 1) == second
    pop.quit()
    assert lab.mailboxes.count(BOB) == 1 and lab.mailboxes.count(PRINTER) == 0


def test_mail_survives_a_restart_and_ports_are_remembered(tmp_path):
    with LabServer(tmp_path, interval=1) as lab:
        with smtp_login(lab, PRINTER, token_of(lab)) as client:
            client.sendmail(PRINTER, [ALICE], MESSAGE)
        ports = (lab.smtp_port, lab.smtps_port, lab.pop3_port, lab.pop3s_port)
        assert len(set(ports)) == 4 and lab.port not in ports
        endpoints = read_endpoints(tmp_path)
        assert endpoints["host"] == "127.0.0.1"
        assert tuple(endpoints[f"{n}_port"] for n in ("smtp", "smtps", "pop3", "pop3s")) == ports
        assert stat.S_IMODE(os.stat(lab.lab_dir / "lab.db").st_mode) == 0o600
        assert MESSAGE not in (lab.lab_dir / "endpoints.json").read_bytes()
    with LabServer(tmp_path, interval=1) as lab:
        assert (lab.smtp_port, lab.smtps_port, lab.pop3_port, lab.pop3s_port) == ports
        pop = pop_login(lab, ALICE, token_of(lab, ALICE))
        assert retr(pop, 1) == MESSAGE
        pop.quit()


# -- what SMTP refuses ----------------------------------------------------------------


def test_smtp_refuses_bad_tokens_and_another_accounts_token(lab):
    token = token_of(lab)
    for user, secret in ((PRINTER, "not-a-token"), (ALICE, token), (PRINTER, token + "x")):
        with smtp_starttls(lab) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.auth("XOAUTH2", lambda challenge=None: xoauth2(user, secret))
            assert refused.value.smtp_code == 535
            assert refused.value.smtp_error == b"5.7.3 Authentication unsuccessful"
    # Not XOAUTH2 at all, and no password mechanisms on offer.
    with smtp_starttls(lab) as client:
        assert client.esmtp_features["auth"].split() == ["XOAUTH2"]
        code, _ = client.docmd("AUTH", "XOAUTH2 " + base64.b64encode(b"user=x\x01\x01").decode())
        assert code == 535
        assert client.docmd("AUTH", "PLAIN AHByaW50ZXIAc2VjcmV0")[0] == 504


def test_smtp_login_with_the_challenge_form(lab):
    token = token_of(lab)
    with smtp_starttls(lab) as client:
        code, _ = client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token),
                              initial_response_ok=False)
        assert code == 235


def test_expired_token_is_refused_by_smtp_and_pop(lab):
    token = token_of(lab)
    assert controls.expire_all(lab.data_dir) == 1
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token))
        assert refused.value.smtp_code == 535 and b"5.7.3" in refused.value.smtp_error
    pop = poplib.POP3_SSL("127.0.0.1", lab.pop3s_port, context=tls(lab), timeout=10)
    with pytest.raises(poplib.error_proto, match="Authentication failure: unknown user name or bad password"):
        pop_auth(pop, PRINTER, token)
    pop.quit()


def test_sending_needs_tls_and_a_login(lab):
    with smtplib.SMTP("127.0.0.1", lab.smtp_port, timeout=10) as client:
        client.ehlo()
        assert "starttls" in client.esmtp_features and "auth" not in client.esmtp_features
        code, text = client.docmd("AUTH", "XOAUTH2")
        assert code == 530 and b"STARTTLS" in text
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(PRINTER, [BOB], MESSAGE)
        assert refused.value.smtp_code == 530
        assert refused.value.smtp_error.startswith(b"5.7.57 Client not authenticated to send mail")
    assert lab.mailboxes.count(BOB) == 0


def test_sending_as_someone_else_is_denied_after_data(lab):
    token = token_of(lab)
    with smtp_login(lab, PRINTER, token) as client:
        # The From header names another account.
        with pytest.raises(smtplib.SMTPDataError) as denied:
            client.sendmail(PRINTER, [BOB], MESSAGE.replace(b"printer@lab.test>", b"alice@lab.test>"))
        assert denied.value.smtp_code == 554
        assert denied.value.smtp_error.startswith(
            b"5.2.252 SendAsDenied; printer@lab.test not allowed to send as alice@lab.test")
        # MAIL FROM names another account.
        with pytest.raises(smtplib.SMTPDataError) as denied:
            client.sendmail(ALICE, [BOB], MESSAGE)
        assert b"not allowed to send as alice@lab.test" in denied.value.smtp_error
    assert lab.mailboxes.count(BOB) == 0


def test_unknown_recipients_are_refused(lab):
    with smtp_login(lab, PRINTER, token_of(lab)) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(PRINTER, ["someone@example.com", "nobody@lab.test"], MESSAGE)
        for code, text in refused.value.recipients.values():
            assert code == 550 and text.startswith(b"5.1.10 ") and b"Recipient not found" in text
        # Mixed: the known one gets it.
        assert list(client.sendmail(PRINTER, ["someone@example.com", BOB], MESSAGE)) == ["someone@example.com"]
    assert lab.mailboxes.count(BOB) == 1


# -- what POP refuses -----------------------------------------------------------------


def test_pop_refuses_the_one_line_auth_form(lab):
    token = token_of(lab)
    pop = poplib.POP3_SSL("127.0.0.1", lab.pop3s_port, context=tls(lab), timeout=10)
    one_line = "AUTH XOAUTH2 " + base64.b64encode(xoauth2(PRINTER, token).encode()).decode()
    with pytest.raises(poplib.error_proto, match="-ERR"):
        pop._shortcmd(one_line)
    with pytest.raises(poplib.error_proto):
        pop.stat()  # not logged in
    with pytest.raises(poplib.error_proto):
        pop.user(PRINTER)  # no basic authentication
    assert pop_auth(pop, PRINTER, token) == b"+OK User successfully authenticated."
    assert pop.stat() == (0, 0)
    pop.quit()


def test_pop_refuses_auth_before_stls(lab):
    token = token_of(lab)
    pop = poplib.POP3("127.0.0.1", lab.pop3_port, timeout=10)
    caps = pop.capa()
    assert caps["SASL"] == ["XOAUTH2"]
    assert {"STLS", "UIDL", "TOP"} <= caps.keys() and "USER" not in caps
    with pytest.raises(poplib.error_proto, match="STLS"):
        pop._shortcmd("AUTH XOAUTH2")
    pop.stls(context=tls(lab))
    assert "STLS" not in pop.capa()
    assert pop_auth(pop, PRINTER, token) == b"+OK User successfully authenticated."
    pop.quit()
    # A bad token, after STLS, is refused with Exchange's words.
    pop = poplib.POP3("127.0.0.1", lab.pop3_port, timeout=10)
    pop.stls(context=tls(lab))
    with pytest.raises(poplib.error_proto) as refused:
        pop_auth(pop, PRINTER, "not-a-token")
    assert refused.value.args[0] == b"-ERR Authentication failure: unknown user name or bad password."
    pop.quit()


# -- controls --------------------------------------------------------------------------


def test_disabled_account_cannot_log_in_or_refresh(lab):
    app, result = sign_in(lab)
    token = result["access_token"]
    assert lab.disable_account(PRINTER)
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token))
    pop = poplib.POP3_SSL("127.0.0.1", lab.pop3s_port, context=tls(lab), timeout=10)
    with pytest.raises(poplib.error_proto):
        pop_auth(pop, PRINTER, token)
    pop.quit()
    refused = refresh(lab, app)
    assert refused["error"] == "invalid_grant" and "AADSTS" not in refused.get("error_description", "")

    assert lab.enable_account(PRINTER)
    smtp_login(lab, PRINTER, token).quit()  # the access token was never revoked
    assert "access_token" in refresh(lab, app)


def test_controls_from_another_process_reach_the_running_lab(lab):
    app, result = sign_in(lab)
    token = result["access_token"]
    smtp_login(lab, PRINTER, token).quit()

    # Another process, with nothing but the data directory.
    script = (
        "import sys; from panel.lab import controls as c;"
        " print(c.expire_all(sys.argv[1]), c.set_fault(sys.argv[1], 'smtp_auth_disabled'))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(lab.data_dir)],
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.split() == ["1", "True"]
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token))
        assert refused.value.smtp_code == 535
        assert refused.value.smtp_error.startswith(
            b"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant")

    # The same, in this process but with no LabServer object.
    assert controls.clear_fault(lab.data_dir, "smtp_auth_disabled")
    fresh = refresh(lab, app)
    assert "access_token" in fresh, fresh
    smtp_login(lab, PRINTER, fresh["access_token"]).quit()
    assert controls.revoke_refresh_tokens(lab.data_dir, PRINTER) == 1
    assert refresh(lab, app)["error"] == "invalid_grant"
    assert controls.disable_account(lab.data_dir, ALICE) and controls.disabled_accounts(lab.data_dir) == {ALICE}
    controls.reset(lab.data_dir)
    assert controls.disabled_accounts(lab.data_dir) == set() and controls.faults(lab.data_dir) == set()

    with pytest.raises(ValueError):
        controls.set_fault(lab.data_dir, "no_such_fault")
    with pytest.raises(ValueError):
        controls.disable_account(lab.data_dir, "eve@example.com")
    with pytest.raises(FileNotFoundError):
        controls.expire_all(lab.data_dir / "not-a-lab")


def _raw_refresh(lab: LabServer, refresh_token: str) -> requests.Response:
    return requests.post(
        lab.issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), timeout=10,
    )


def _aadsts(answer: dict, error: str, code: int) -> None:
    assert answer["error"] == error, answer
    assert answer["error_description"].startswith(f"AADSTS{code}: "), answer
    assert answer["error_codes"] == [code]
    assert answer["trace_id"] and answer["correlation_id"] and answer["timestamp"]


def test_microsoft_style_refresh_answers(ms_lab):
    lab = ms_lab
    # Revoked (an administrator revoked the sessions, or a password reset).
    app, result = sign_in(lab)
    lab.revoke_refresh_tokens()
    _aadsts(refresh(lab, app), "invalid_grant", 50173)
    # Expired after 90 days unused.
    _, result = sign_in(lab)
    assert lab.expire_refresh_tokens(PRINTER) == 1
    answer = _raw_refresh(lab, result["refresh_token"])
    assert answer.status_code == 400
    _aadsts(answer.json(), "invalid_grant", 700082)
    assert "expired due to inactivity" in answer.json()["error_description"]
    # Disabled account.
    app, result = sign_in(lab)
    lab.disable_account(PRINTER)
    _aadsts(refresh(lab, app), "invalid_grant", 50057)
    lab.enable_account(PRINTER)
    # Already used up by rotation.
    fresh = refresh(lab, app)
    assert "access_token" in fresh, fresh
    _aadsts(_raw_refresh(lab, result["refresh_token"]).json(), "invalid_grant", 70000)


def test_microsoft_style_tenant_faults(ms_lab):
    lab = ms_lab
    app, _ = sign_in(lab)

    lab.set_fault("consent_required")
    _, result = sign_in(lab)  # the sign-in itself ends in the error
    _aadsts(result, "invalid_grant", 65001)
    _aadsts(refresh(lab, app), "invalid_grant", 65001)
    lab.clear_fault("consent_required")

    lab.set_fault("public_client_disabled")
    _, result = sign_in(lab)
    _aadsts(result, "invalid_client", 7000218)
    [held] = app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)
    answer = _raw_refresh(lab, held["secret"])
    assert answer.status_code == 401
    _aadsts(answer.json(), "invalid_client", 7000218)
    lab.clear_fault("public_client_disabled")

    # Still pending: the Microsoft code for it too.
    flow = app.initiate_device_flow(SCOPES)
    pending = requests.post(
        lab.issuer + "/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
              "device_code": flow["device_code"], "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), timeout=10,
    ).json()
    _aadsts(pending, "authorization_pending", 70016)

    token = refresh(lab, app)["access_token"]
    lab.set_fault("smtp_auth_disabled")
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token))
        assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.139 ")
    # POP is not SMTP AUTH.
    pop_login(lab, PRINTER, token).quit()


def test_lab_style_answers_carry_no_aadsts_code(lab):
    app, _ = sign_in(lab)
    lab.set_fault("consent_required")
    _, result = sign_in(lab)
    assert result["error"] == "invalid_grant" and "AADSTS" not in result.get("error_description", "")
    lab.reset_controls()
    lab.expire_refresh_tokens()
    answer = refresh(lab, app)
    assert answer["error"] == "invalid_grant" and "error_codes" not in answer


# -- secrets ----------------------------------------------------------------------------


def test_no_token_in_any_log(lab, caplog):
    caplog.set_level(logging.DEBUG)
    token = token_of(lab)
    blob = base64.b64encode(xoauth2(PRINTER, token).encode()).decode()

    with smtp_login(lab, PRINTER, token) as client:
        client.sendmail(PRINTER, [PRINTER], MESSAGE)
    with smtp_starttls(lab) as client:
        client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token), initial_response_ok=False)
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(ALICE, token))
    pop = pop_login(lab, PRINTER, token)
    pop.retr(1)
    pop.quit()
    pop = poplib.POP3_SSL("127.0.0.1", lab.pop3s_port, context=tls(lab), timeout=10)
    with pytest.raises(poplib.error_proto):
        pop._shortcmd("AUTH XOAUTH2 " + blob)
    pop.quit()
    lab.expire_all()
    with smtp_starttls(lab) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(PRINTER, token))

    server_records = [r for r in caplog.records if not r.name.startswith(("msal", "urllib3"))]
    assert any(r.name == "mail.log" for r in server_records)  # aiosmtpd's log was captured
    assert any(r.name == "panel.lab.pop3" for r in server_records)
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in server_records)
    for secret in (token, blob, blob[:40]):
        assert secret not in text
    assert MESSAGE not in (lab.lab_dir / "endpoints.json").read_bytes()
    assert token.encode() not in (lab.lab_dir / "lab.db").read_bytes()


def test_stop_cuts_open_connections_and_joins_every_thread(tmp_path):
    before = set(threading.enumerate())
    lab = LabServer(tmp_path, interval=1).start()
    token = token_of(lab)
    idle = [
        pop_login(lab, PRINTER, token),  # logged in, TLS
        poplib.POP3("127.0.0.1", lab.pop3_port, timeout=10),  # plain, before STLS
        smtp_login(lab, PRINTER, token),
        smtplib.SMTP("127.0.0.1", lab.smtp_port, timeout=10),
    ]
    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 5
    assert set(threading.enumerate()) <= before
    for client in idle:
        client.close()
    with pytest.raises(OSError):
        poplib.POP3("127.0.0.1", lab.pop3_port, timeout=2)


def test_a_busy_mail_port_is_raised_from_start_and_nothing_is_left_running(lab, tmp_path):
    before = set(threading.enumerate())
    other = LabServer(tmp_path / "other", pop3s_port=lab.pop3s_port)
    with pytest.raises(OSError):
        other.start()
    assert set(threading.enumerate()) <= before
    assert read_endpoints(tmp_path / "other") is None
    with pytest.raises(ValueError):
        LabServer(tmp_path / "bad", smtp_port=70000)


def test_endpoints_file_names_the_mail_ports(lab):
    data = json.loads((lab.lab_dir / "endpoints.json").read_text())
    for name in ("smtp", "smtps", "pop3", "pop3s"):
        assert data[f"{name}_port"] == getattr(lab, f"{name}_port") > 0
