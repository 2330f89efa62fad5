"""Provider faults, injected by the lab, through msal and the token service: each ends in a defined
status and a message that says what to do; no flow thread is left behind."""

from __future__ import annotations

import threading
import time

import pytest

import panel.tls
from panel.lab import LabServer
from panel.token_state import TokenStatus

from .test_token_service import code_of, point_provider_at, wait_for


def flow_threads():
    return [t for t in threading.enumerate() if t.name == "token-flow" and t.is_alive()]


@pytest.fixture
def outcome(lab_core, lab, monkeypatch):
    """outcome(approve=False) -> the TokenView after Get Token ran to its end."""
    monkeypatch.setattr(panel.tls, "HTTP_TIMEOUT", 2)  # a hang ends in seconds, not 15

    def run(approve: bool = False, timeout: float = 40):
        lab_core.get_token()
        if approve:
            code = wait_for(lambda: lab_core.tokens.view().device_code
                            or (lab_core.tokens.view().status is not TokenStatus.WAITING and "ended"))
            if code != "ended":
                lab.approve(code.user_code, "printer@lab.test")
        view = lab_core.tokens.wait(timeout=timeout)
        wait_for(lambda: not flow_threads(), timeout=5)
        return view

    return run


DEVICE_FAULTS = [
    ("http_500", "server error"),
    ("http_503", "temporarily unavailable"),
    ("not_json", "did not give a usable answer"),
    ("json_not_object", "did not give a usable answer"),
    ("unknown_error", "refused the request (teapot_error)"),
    ("hang", "did not answer in time"),
]


@pytest.mark.parametrize("fault,message", DEVICE_FAULTS, ids=[f for f, _ in DEVICE_FAULTS])
def test_device_authorization_faults(lab, outcome, fault, message):
    lab.inject(fault, endpoint="device_authorization", seconds=5 if fault == "hang" else None)
    view = outcome()
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert message in view.message and "Get Token" in view.message


@pytest.mark.parametrize("fault", ["interval_as_string", "expires_in_as_string", "no_interval", "no_expires_in",
                                   "no_verification_uri"])
def test_odd_but_usable_device_answers_still_work(lab, outcome, fault):
    lab.inject(fault, endpoint="device_authorization")
    assert outcome(approve=True).status is TokenStatus.RETRIEVED


POLL_FAULTS = [
    ("access_denied", {}, "declined"),
    ("unknown_error", {}, "refused the request (teapot_error)"),
    ("http_500", {}, "server error"),
    ("not_json", {}, "did not give a usable answer"),
]


@pytest.mark.parametrize("fault,kwargs,message", POLL_FAULTS, ids=[f for f, _, _ in POLL_FAULTS])
def test_token_endpoint_faults(lab, outcome, fault, kwargs, message):
    lab.inject(fault, endpoint="token", **kwargs)
    view = outcome()
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert message in view.message


def test_passing_faults_while_polling_are_ridden_out(lab, outcome):
    lab.inject("http_503", endpoint="token", count=2, seconds=0)
    lab.inject("hang", endpoint="token", count=1, seconds=3)
    assert outcome(approve=True).status is TokenStatus.RETRIEVED


def test_slow_down_adds_five_seconds_to_the_interval(lab_core, lab):
    lab.inject("slow_down", endpoint="token", count=1)
    lab_core.get_token()
    code = code_of(lab_core)
    wait_for(lambda: not lab.injected())  # the slow_down was answered
    answered = time.monotonic()
    lab.approve(code.user_code, "printer@lab.test")
    view = lab_core.tokens.wait(timeout=20)
    waited = time.monotonic() - answered
    print(f"after slow_down the next poll came {waited:.1f} s later (interval 1 s)")
    assert view.status is TokenStatus.RETRIEVED
    assert 5 <= waited <= 8


def test_pending_longer_than_the_code_lives(data_dir, lab_core):
    with LabServer(data_dir / "short", port=0, interval=1, device_code_lifetime=3) as short:
        point_provider_at(data_dir, short)
        short.inject("authorization_pending", endpoint="token")
        lab_core.get_token()
        view = lab_core.tokens.wait(timeout=15)
    assert view.status is TokenStatus.NOT_RETRIEVED and "expired" in view.message


@pytest.mark.parametrize("tls_fault", ["expired", "untrusted"])
def test_broken_provider_certificates(data_dir, core, tls_fault):
    core.update_settings({"oauth.provider": "lab", "oauth.account": "printer@lab.test"})
    with LabServer(data_dir, port=0, interval=1, tls_fault=tls_fault):
        core.get_token()
        view = core.tokens.wait(timeout=20)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "certificate of 127.0.0.1" in view.message and "not trusted" in view.message


def test_provider_host_not_found(core):
    core.update_settings({"oauth.provider": "oidc", "oauth.account": "printer@example.com",
                          "oauth.authority": "https://idp.no-such-host.invalid/realm",
                          "oauth.client_id": "panel", "oauth.scopes": "mail"})
    core.get_token()
    view = core.tokens.wait(timeout=30)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "Could not reach idp.no-such-host.invalid" in view.message
    wait_for(lambda: not flow_threads(), timeout=5)
