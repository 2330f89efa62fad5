"""The token service against the real lab provider, through msal over HTTPS."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from panel.errors import ProviderError, TokenError
from panel.token_state import TokenStatus

from panel.lab.phone import sign_in


def wait_for(predicate, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def point_provider_at(data_dir, other_lab):
    """Make the lab provider of `data_dir` use `other_lab` (one with other lifetimes)."""
    (data_dir / "lab" / "endpoints.json").write_text(
        json.dumps({"issuer": other_lab.issuer, "ca_file": str(other_lab.ca_file), "pid": os.getpid()}))


def code_of(core):
    return wait_for(lambda: core.tokens.view().device_code)


def test_approve_retrieves_a_token_shared_by_both_screens(lab_core, lab):
    seen = []
    lab_core.start()
    lab_core.subscribe(lambda snap: seen.append(snap.token.status))
    lab_core.get_token()
    assert lab_core.tokens.view().status is TokenStatus.WAITING
    code = code_of(lab_core)
    assert code.verification_uri.startswith(lab.issuer)
    assert code.qr_text == code.verification_uri_complete
    assert code.user_code in code.verification_uri_complete
    assert code.expires_at > time.time() + 60
    page = sign_in(code.qr_text, "printer@lab.test", verify=lab.ca_file).text
    assert "Approved" in page
    approved = time.monotonic()
    view = lab_core.tokens.wait(timeout=10)
    elapsed = time.monotonic() - approved
    print(f"approval to Retrieved: {elapsed:.2f} s (interval {code.interval} s)")
    assert view.status is TokenStatus.RETRIEVED
    assert view.account == "printer@lab.test" and view.provider == "lab"
    assert elapsed <= code.interval + 1.5
    wait_for(lambda: TokenStatus.RETRIEVED in seen)
    assert seen[0] is TokenStatus.NOT_RETRIEVED and TokenStatus.WAITING in seen
    cache = json.loads(lab_core.store.token_cache())
    assert cache["RefreshToken"], "the refresh token is kept for renewal"
    with pytest.raises(TokenError, match="Delete it first"):
        lab_core.get_token()
    lab_core.delete_token()
    assert lab_core.tokens.view().status is TokenStatus.NOT_RETRIEVED
    assert lab_core.store.token_cache() is None


def test_token_values_never_reach_messages_or_the_event_log(lab_core, lab):
    lab_core.get_token()
    sign_in(code_of(lab_core).qr_text, press="Approve", verify=lab.ca_file, account="printer@lab.test")
    assert lab_core.tokens.wait(timeout=10).status is TokenStatus.RETRIEVED
    cache = json.loads(lab_core.store.token_cache())
    secrets = [e["secret"] for kind in ("AccessToken", "RefreshToken") for e in cache[kind].values()]
    text = json.dumps(lab_core.store.events(1000)) + json.dumps(lab_core.tokens.view().as_dict())
    assert secrets and not any(s in text for s in secrets)


def test_deny_ends_in_not_retrieved_with_a_message(lab_core, lab):
    lab_core.get_token()
    sign_in(code_of(lab_core).qr_text, press="Deny", verify=lab.ca_file)
    view = lab_core.tokens.wait(timeout=10)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "declined" in view.message and "Get Token" in view.message


def test_code_expiry_ends_in_not_retrieved(data_dir, lab_core):
    from panel.lab import LabServer

    with LabServer(data_dir / "short", port=0, interval=1, device_code_lifetime=3) as short:
        point_provider_at(data_dir, short)
        lab_core.get_token()
        view = lab_core.tokens.wait(timeout=15)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "expired" in view.message


def test_cancel_ends_in_not_retrieved_promptly(lab_core, lab):
    lab_core.get_token()
    code_of(lab_core)
    started = time.monotonic()
    lab_core.cancel_token()
    view = lab_core.tokens.wait(timeout=5)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "Cancelled" in view.message
    assert time.monotonic() - started < 3
    # The cancelled code can no longer be used to obtain a token.
    assert lab_core.tokens.view().device_code is None


def test_signing_in_as_another_account_keeps_no_token(lab_core, lab):
    lab_core.get_token()
    sign_in(code_of(lab_core).qr_text, press="Approve", verify=lab.ca_file, account="alice@lab.test")
    view = lab_core.tokens.wait(timeout=10)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "Signed in as alice@lab.test" in view.message and "printer@lab.test" in view.message
    assert lab_core.store.token_cache() is None


def test_provider_down_while_waiting(lab_core, lab):
    lab_core.get_token()
    code_of(lab_core)
    lab.stop()
    view = lab_core.tokens.wait(timeout=20)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "Could not reach" in view.message


def test_lab_not_running_is_refused_before_waiting(lab_core, lab):
    lab.stop()
    with pytest.raises(ProviderError, match="lab is not running"):
        lab_core.get_token()
    assert lab_core.tokens.view().status is TokenStatus.NOT_RETRIEVED


def test_untrusted_certificate_is_explained(lab_core, lab, tmp_path):
    # The lab's CA file replaced by an unrelated CA: the provider is not trusted.
    other = tmp_path / "other"
    other.mkdir()
    from panel.lab import LabServer

    with LabServer(other, port=0) as stranger:
        endpoints = json.loads((lab.data_dir / "lab" / "endpoints.json").read_text())
        endpoints["ca_file"] = str(stranger.ca_file)
        (lab.data_dir / "lab" / "endpoints.json").write_text(json.dumps(endpoints))
        lab_core.get_token()
        view = lab_core.tokens.wait(timeout=20)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "not trusted" in view.message


def test_microsoft365_needs_a_client_id(core):
    core.update_settings({"oauth.provider": "microsoft365", "oauth.account": "printer@contoso.com"})
    with pytest.raises(ProviderError, match="Client ID"):
        core.get_token()
    assert core.tokens.view().status is TokenStatus.NOT_RETRIEVED


def test_a_waiting_status_left_by_a_dead_process_is_ended(lab_core):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket

    lab_core.store.set_token(TokenStatus.WAITING, provider="lab", account="printer@lab.test",
                             message="", owner=f"{socket.gethostname()}:{dead}:1")
    lab_core.start()
    view = wait_for(lambda: (v := lab_core.tokens.view()).status is not TokenStatus.WAITING and v)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "interrupted" in view.message


def test_only_one_flow_at_a_time(lab_core, lab):
    lab_core.get_token()
    with pytest.raises(TokenError):
        lab_core.get_token()
    lab_core.cancel_token()


def test_changes_from_another_process_reach_subscribers(lab_core):
    import subprocess
    import sys

    got = threading.Event()
    lab_core.start()
    lab_core.subscribe(lambda snap: snap.settings["smtp.server"] == "smtp.office365.com" and got.set())
    subprocess.run([sys.executable, "-m", "panel", "--data-dir", str(lab_core.data_dir),
                    "config", "set", "smtp.server", "smtp.office365.com"], check=True)
    assert got.wait(2), "the change made by the command line was not seen within a second or two"


def test_a_flow_survives_a_killed_process_and_resumes(lab_core, lab):
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json",
                             "--data-dir", str(lab_core.data_dir)], stdout=subprocess.PIPE, text=True)
    code = json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lab_core.tokens.view().status is TokenStatus.WAITING
    lab_core.start()  # the panel starts again: it takes the flow over while the code is valid
    view = lab_core.tokens.view()
    assert view.status is TokenStatus.WAITING and "resumed" in view.message
    assert view.device_code.user_code == code["user_code"]
    assert lab.approve(code["user_code"], "printer@lab.test")
    assert lab_core.tokens.wait(timeout=10).status is TokenStatus.RETRIEVED


def test_a_dead_flow_whose_code_expired_ends_with_a_message(data_dir, lab_core):
    import signal
    import subprocess
    import sys

    from panel.lab import LabServer

    with LabServer(data_dir / "short", port=0, interval=1, device_code_lifetime=3) as short:
        point_provider_at(data_dir, short)
        proc = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json",
                                 "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(3.5)
        lab_core.start()
        view = wait_for(lambda: (v := lab_core.tokens.view()).status is not TokenStatus.WAITING and v)
    assert view.status is TokenStatus.NOT_RETRIEVED
    assert "expired while the panel was stopped" in view.message
