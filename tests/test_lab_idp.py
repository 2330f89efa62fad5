"""The lab identity provider, driven by msal exactly as the panel drives a
real provider, and by ``requests`` as a phone's browser drives the approval
page. Every test talks HTTPS to a real LabServer on loopback, port 0."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import time

import msal
import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from panel.lab import LAB_ACCOUNTS, LAB_CLIENT_ID, LabServer, read_endpoints

SCOPES = ["SMTP.Send"]


# msal's verify= (and so the lab's CA) must not be overridden by the environment.
pytestmark = pytest.mark.usefixtures("honour_verify")


@pytest.fixture
def lab(tmp_path):
    with LabServer(tmp_path, interval=1) as server:
        yield server


def make_app(lab: LabServer, cache: msal.TokenCache | None = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        LAB_CLIENT_ID,
        oidc_authority=lab.issuer,
        verify=str(lab.ca_file),
        token_cache=cache,
    )


def use_page(lab: LabServer, flow: dict, action: str, account: str = "printer@lab.test") -> requests.Response:
    """What a person does on a phone: open the QR code's address, press a button."""
    with requests.Session() as browser:
        browser.verify = str(lab.ca_file)
        page = browser.get(flow["verification_uri_complete"], timeout=10)
        assert page.status_code == 200
        assert f'value="{flow["user_code"]}"' in page.text
        form_action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        return browser.post(
            requests.compat.urljoin(page.url, form_action),
            data={"user_code": flow["user_code"], "account": account, "action": action},
            timeout=10,
        )


def in_background(fn, *args, delay=0.3):
    """Run ``fn`` while msal polls; return (list receiving its result, thread)."""
    out: list = []

    def run():
        time.sleep(delay)
        out.append(fn(*args))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return out, thread


def signed_in(lab: LabServer, app=None, account: str = "printer@lab.test"):
    """A device flow approved through the lab hook; returns (app, result)."""
    app = app or make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    assert lab.approve(flow["user_code"], account)
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    return app, result


def token_endpoint(lab: LabServer) -> str:
    return lab.issuer + "/token"


# -- device authorization ---------------------------------------------------------


def test_device_authorization_answer(lab):
    flow = make_app(lab).initiate_device_flow(SCOPES)

    code = flow["user_code"]
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", code)
    assert not set(code) & set("AEIOUY01")  # no words, no look-alikes
    assert flow["verification_uri"] == lab.issuer + "/device"
    assert flow["verification_uri_complete"] == f"{lab.issuer}/device?user_code={code}"
    assert flow["expires_in"] == 900
    assert flow["interval"] == 1
    assert code in flow["message"] and flow["verification_uri"] in flow["message"]
    assert flow["device_code"]


def test_discovery_document(lab):
    meta = requests.get(
        lab.issuer + "/.well-known/openid-configuration", verify=str(lab.ca_file), timeout=10
    ).json()
    assert meta["issuer"] == lab.issuer
    for key in ("device_authorization_endpoint", "token_endpoint", "authorization_endpoint", "jwks_uri"):
        assert meta[key].startswith(lab.issuer + "/")
    assert "urn:ietf:params:oauth:grant-type:device_code" in meta["grant_types_supported"]
    assert "refresh_token" in meta["grant_types_supported"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    for key in ("scopes_supported", "response_types_supported", "subject_types_supported"):
        assert meta[key]


def test_unknown_client_is_refused(lab):
    answer = requests.post(
        lab.issuer + "/device_authorization",
        data={"client_id": "someone-else", "scope": "openid"},
        verify=str(lab.ca_file),
        timeout=10,
    )
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == "invalid_client"


# -- the approval page and the polling answers ---------------------------------------


def test_approve_on_page_while_msal_polls(lab, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    page_answer, thread = in_background(use_page, lab, flow, "approve")

    result = app.acquire_token_by_device_flow(flow)
    thread.join(10)

    assert "Approved. You can return to the printer." in page_answer[0].text
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert "refresh_token" in result
    [account] = app.get_accounts()
    assert account["username"] == "printer@lab.test"
    assert lab.validate_access_token(result["access_token"]) == "printer@lab.test"

    # The ID token is really signed by the key the lab publishes.
    jwks = requests.get(lab.issuer + "/jwks", verify=str(lab.ca_file), timeout=10).json()
    claims = jwt.decode(result["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    assert claims["iss"] == lab.issuer
    assert claims["aud"] == LAB_CLIENT_ID
    assert claims["preferred_username"] == "printer@lab.test"
    assert claims["exp"] > claims["iat"]
    assert claims["sub"] and claims["name"]

    # No secret reaches the server side's logs or the database in the clear.
    # (msal's own debug log prints the device code: that is the client's.)
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("msal", "urllib3"))
    )
    assert "Authenticate panel-lab" in server_log  # Authlib's debug lines were captured
    db = (lab.lab_dir / "lab.db").read_bytes()
    for secret in (result["access_token"], result["refresh_token"], flow["device_code"]):
        assert secret not in server_log
        assert secret.encode() not in db

    # A device code yields tokens once.
    again = requests.post(
        token_endpoint(lab),
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
              "device_code": flow["device_code"], "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), timeout=10,
    )
    assert again.status_code == 400 and "access_token" not in again.json()


def test_other_account_chosen_on_page(lab):
    app = make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    page_answer, thread = in_background(use_page, lab, flow, "approve", "alice@lab.test")
    result = app.acquire_token_by_device_flow(flow)
    thread.join(10)
    assert "access_token" in result, result
    assert [a["username"] for a in app.get_accounts()] == ["alice@lab.test"]
    assert lab.validate_access_token(result["access_token"]) == "alice@lab.test"


def test_deny_on_page(lab):
    app = make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    page_answer, thread = in_background(use_page, lab, flow, "deny")
    result = app.acquire_token_by_device_flow(flow)
    thread.join(10)
    assert "Denied." in page_answer[0].text
    assert result.get("error") == "access_denied"
    assert "access_token" not in result
    assert app.get_accounts() == []


def test_deny_hook(lab):
    app = make_app(lab)
    flow = app.initiate_device_flow(SCOPES)
    assert lab.deny(flow["user_code"])
    assert not lab.approve(flow["user_code"], "printer@lab.test")  # decided already
    assert app.acquire_token_by_device_flow(flow).get("error") == "access_denied"


def test_code_expires(tmp_path):
    with LabServer(tmp_path, interval=1, device_code_lifetime=2) as lab:
        app = make_app(lab)
        flow = app.initiate_device_flow(SCOPES)
        assert flow["expires_in"] == 2
        # msal stops polling at its own idea of expiry and then returns the
        # last "authorization_pending"; let it poll on to hear the lab's word.
        flow["expires_at"] += 5
        result = app.acquire_token_by_device_flow(flow)
        assert result.get("error") == "expired_token"

        page = use_page(lab, flow, "approve")
        assert page.status_code == 400
        assert "That code is not valid or has expired." in page.text
        assert not lab.approve(flow["user_code"], "printer@lab.test")


def test_polling_too_fast_is_told_to_slow_down(tmp_path):
    with LabServer(tmp_path, interval=3) as lab:
        flow = make_app(lab).initiate_device_flow(SCOPES)
        poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": flow["device_code"], "client_id": LAB_CLIENT_ID}
        answers = [
            requests.post(token_endpoint(lab), data=poll, verify=str(lab.ca_file), timeout=10).json()["error"]
            for _ in range(2)
        ]
        assert answers == ["authorization_pending", "slow_down"]


def test_approval_page_html(lab):
    page = requests.get(lab.issuer + "/device?user_code=abcd efgh", verify=str(lab.ca_file), timeout=10)
    assert page.status_code == 200
    html = page.text
    assert '<meta name="viewport"' in html
    assert re.search(r'<input type="text" id="user_code" name="user_code" value="ABCD-EFGH"', html)
    for account in LAB_ACCOUNTS:
        assert f'type="radio" name="account" value="{account}"' in html
    assert 'value="approve"' in html and 'value="deny"' in html
    assert "<script" not in html

    wrong = requests.post(
        lab.issuer + "/device",
        data={"user_code": "BCDF-GHJK", "account": "printer@lab.test", "action": "approve"},
        verify=str(lab.ca_file), timeout=10,
    )
    assert wrong.status_code == 400
    assert "That code is not valid or has expired." in wrong.text

    # The short address a person can type leads to the same page.
    short = requests.get(f"https://127.0.0.1:{lab.port}/device?user_code=BCDF-GHJK",
                         verify=str(lab.ca_file), timeout=10)
    assert short.url == lab.issuer + "/device?user_code=BCDF-GHJK"


# -- tokens ------------------------------------------------------------------------


def test_refresh_rotates_and_old_refresh_token_dies(tmp_path):
    with LabServer(tmp_path, interval=1, token_lifetime=2) as lab:
        app, first = signed_in(lab)
        assert first["expires_in"] == 2
        assert lab.validate_access_token(first["access_token"]) == "printer@lab.test"

        time.sleep(2.2)
        assert lab.validate_access_token(first["access_token"]) is None  # expired
        [account] = app.get_accounts()
        second = app.acquire_token_silent(SCOPES, account=account)
        assert second and "access_token" in second, second
        assert second["access_token"] != first["access_token"]
        assert lab.refresh_count == 1
        assert lab.validate_access_token(second["access_token"]) == "printer@lab.test"

        old = requests.post(
            token_endpoint(lab),
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                  "client_id": LAB_CLIENT_ID},
            verify=str(lab.ca_file), timeout=10,
        )
        assert old.status_code == 400
        assert old.json()["error"] == "invalid_grant"
        assert lab.refresh_count == 1

        # The rotated refresh token msal kept goes on working.
        third = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
        assert third and "access_token" in third, third
        assert lab.refresh_count == 2


def test_validate_access_token_refuses_unknown_and_revoked(lab):
    _, result = signed_in(lab)
    assert lab.validate_access_token(result["access_token"]) == "printer@lab.test"
    assert lab.validate_access_token("not-a-token") is None
    assert lab.validate_access_token("") is None
    assert lab.validate_access_token(result["refresh_token"]) is None

    assert lab.revoke_account("printer@lab.test") == 1
    assert lab.validate_access_token(result["access_token"]) is None
    refused = requests.post(
        token_endpoint(lab),
        data={"grant_type": "refresh_token", "refresh_token": result["refresh_token"],
              "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), timeout=10,
    )
    assert refused.json()["error"] == "invalid_grant"


def test_restart_keeps_port_issuer_and_refresh_tokens(tmp_path):
    cache = msal.TokenCache()
    with LabServer(tmp_path, interval=1) as first_lab:
        issuer, port = first_lab.issuer, first_lab.port
        ca_pem = first_lab.ca_file.read_bytes()
        signed_in(first_lab, make_app(first_lab, cache))
        assert read_endpoints(tmp_path).items() >= {
            "issuer": issuer, "ca_file": str(first_lab.ca_file), "pid": os.getpid()
        }.items()
    assert read_endpoints(tmp_path) is None

    with LabServer(tmp_path, interval=1) as lab:
        assert (lab.port, lab.issuer) == (port, issuer)
        assert lab.ca_file.read_bytes() == ca_pem  # clients keep trusting it
        app = make_app(lab, cache)
        [account] = app.get_accounts()
        result = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
        assert result and "access_token" in result, result
        assert lab.refresh_count == 1
        assert lab.validate_access_token(result["access_token"]) == "printer@lab.test"


# -- the server ------------------------------------------------------------------


def test_https_only_and_certificate_files(lab):
    url = lab.issuer + "/.well-known/openid-configuration"
    assert requests.get(url, verify=str(lab.ca_file), timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=True, timeout=10)  # the public CAs do not vouch for it
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{lab.port}/lab/.well-known/openid-configuration", timeout=10)
    # ... and the lab is still serving.
    assert requests.get(url, verify=str(lab.ca_file), timeout=10).status_code == 200
    # localhost is in the certificate too.
    assert requests.get(f"https://localhost:{lab.port}/lab/jwks", verify=str(lab.ca_file),
                        timeout=10).status_code == 200

    for name in ("ca.key", "server.key", "idtoken.key", "lab.db"):
        mode = stat.S_IMODE(os.stat(lab.lab_dir / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    endpoints = json.loads((lab.lab_dir / "endpoints.json").read_text())
    assert endpoints["issuer"] == lab.issuer


def test_start_errors_are_raised(lab, tmp_path):
    with pytest.raises(OSError):
        LabServer(tmp_path / "other", port=lab.port).start()
    with pytest.raises(ValueError):
        LabServer(tmp_path / "remote", host="192.0.2.10")
