"""Injected faults of the lab identity provider (``controls.inject``) and its
certificate faults (``LabServer(tls_fault=...)``), seen on the wire with
plain ``requests`` and ``ssl`` against a real LabServer on loopback, port 0.

``verify=`` is passed per request: REQUESTS_CA_BUNDLE, when set, overrides a
Session's ``verify`` but not a request's."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cryptography import x509

from panel.lab import LAB_CLIENT_ID, LabServer, controls
from panel.lab.controls import ControlState
from panel.lab.store import LabStore, digest

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def lab(tmp_path):
    with LabServer(tmp_path, interval=1) as server:
        yield server


# -- the wire ------------------------------------------------------------------


def discovery(lab, **kw) -> requests.Response:
    return requests.get(
        f"{lab.issuer}/.well-known/openid-configuration", verify=str(lab.ca_file), timeout=10, **kw
    )


def device_authorization(lab) -> requests.Response:
    return requests.post(
        f"{lab.issuer}/device_authorization",
        data={"client_id": LAB_CLIENT_ID, "scope": "SMTP.Send openid offline_access"},
        verify=str(lab.ca_file), timeout=10,
    )


def new_code(lab) -> dict:
    answer = device_authorization(lab)
    assert answer.status_code == 200, answer.text
    return answer.json()


def poll(lab, device_code: str, **kw) -> requests.Response:
    return requests.post(
        f"{lab.issuer}/token",
        data={"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), **{"timeout": 10, **kw},
    )


CALLS = {
    "discovery": lambda lab: discovery(lab),
    "device_authorization": device_authorization,
    "token": lambda lab: poll(lab, "no-such-code"),
}


def error(response: requests.Response) -> str:
    return response.json()["error"]


def lab_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lab")]


# -- the controls ----------------------------------------------------------------


def test_inject_checks_its_arguments(lab):
    d = lab.data_dir
    with pytest.raises(ValueError, match="unknown injectable fault"):
        controls.inject(d, "consent_required")  # a tenant fault, not an injected one
    with pytest.raises(ValueError, match="token only"):
        controls.inject(d, "slow_down", endpoint="discovery")
    with pytest.raises(ValueError, match="device_authorization, token only"):
        controls.inject(d, "unknown_error", endpoint="discovery")
    with pytest.raises(ValueError, match="not 'jwks'"):
        controls.inject(d, "http_500", endpoint="jwks")
    for count in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="count"):
            controls.inject(d, "http_500", count=count)
    with pytest.raises(ValueError, match="takes no seconds"):
        controls.inject(d, "http_500", seconds=3)
    with pytest.raises(ValueError, match="seconds"):
        controls.inject(d, "hang", seconds=-1)
    with pytest.raises(FileNotFoundError):
        controls.inject(d / "elsewhere", "http_500")
    assert controls.injected(d) == []

    controls.inject(d, "hang")
    controls.inject(d, "http_503", "token", count=2)
    controls.inject(d, "http_503", "token", count=3)  # replaces
    controls.inject(d, "http_503")  # all endpoints: another entry
    assert controls.injected(d) == [
        controls.InjectedFault("hang", None, None, 60.0),
        controls.InjectedFault("http_503", None, None, 5.0),
        controls.InjectedFault("http_503", "token", 3, 5.0),
    ]
    assert controls.clear_faults(d, "http_503") == 2
    assert [f.fault for f in controls.injected(d)] == ["hang"]
    assert controls.clear_faults(d) == 1
    assert controls.injected(d) == []


def test_clear_and_reset_leave_tenant_faults_alone_or_clear_all(lab):
    lab.set_fault("consent_required")
    lab.inject("http_500", "discovery")
    assert discovery(lab).status_code == 500
    assert lab.clear_faults() == 1
    assert discovery(lab).status_code == 200
    assert controls.faults(lab.data_dir) == {"consent_required"}

    lab.inject("http_500", "discovery")
    controls.reset(lab.data_dir)
    assert controls.injected(lab.data_dir) == [] and controls.faults(lab.data_dir) == set()
    assert discovery(lab).status_code == 200


# -- answer faults ------------------------------------------------------------------


def test_http_500_on_one_endpoint_for_a_count(lab):
    code = new_code(lab)
    lab.inject("http_500", "token", count=2)
    assert device_authorization(lab).status_code == 200  # another endpoint
    assert discovery(lab).status_code == 200
    for left in (1, None):
        answer = poll(lab, code["device_code"])
        assert answer.status_code == 500
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["X-Lab-Fault"] == "http_500"
        assert error(answer) == "server_error"
        assert [f.remaining for f in lab.injected()] == ([left] if left else [])
    answer = poll(lab, code["device_code"])
    assert (answer.status_code, error(answer)) == (400, "authorization_pending")
    assert "X-Lab-Fault" not in answer.headers


@pytest.mark.parametrize("endpoint", ["discovery", "device_authorization", "token"])
def test_http_503_carries_retry_after(lab, endpoint):
    lab.inject("http_503", endpoint, seconds=7)
    answer = CALLS[endpoint](lab)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "7"
    assert error(answer) == "temporarily_unavailable"
    others = [e for e in CALLS if e != endpoint]
    assert all(CALLS[e](lab).status_code != 503 for e in others)
    assert CALLS[endpoint](lab).status_code == 503  # no count: until cleared
    lab.clear_faults("http_503")
    assert CALLS[endpoint](lab).status_code != 503


@pytest.mark.parametrize("endpoint", ["discovery", "device_authorization", "token"])
def test_malformed_json(lab, endpoint):
    lab.inject("not_json", endpoint, count=1)
    answer = CALLS[endpoint](lab)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(answer.text)

    lab.inject("json_not_object", endpoint, count=1)
    answer = CALLS[endpoint](lab)
    assert answer.status_code == 200
    assert isinstance(answer.json(), list)

    assert isinstance(CALLS[endpoint](lab).json(), dict)  # both used up


def test_unknown_error_code(lab):
    lab.inject("unknown_error", count=2)  # device_authorization and token
    assert discovery(lab).status_code == 200
    answer = device_authorization(lab)
    assert (answer.status_code, error(answer)) == (400, "teapot_error")
    answer = poll(lab, "no-such-code")
    assert (answer.status_code, error(answer)) == (400, "teapot_error")
    assert error(poll(lab, "no-such-code")) == "invalid_request"


def test_one_answer_fault_per_request_and_only_it_is_counted(lab):
    lab.inject("json_not_object", "discovery", count=1)
    lab.inject("http_500", "discovery", count=1)
    lab.inject("http_503", count=1)  # armed for all endpoints
    assert discovery(lab).status_code == 500  # http_500 comes first
    assert discovery(lab).status_code == 503
    assert isinstance(discovery(lab).json(), list)
    assert discovery(lab).status_code == 200


def test_an_endpoints_own_fault_is_taken_before_the_general_one(lab):
    lab.inject("http_500", count=1)
    lab.inject("http_500", "discovery", count=1)
    assert discovery(lab).status_code == 500
    assert lab.injected() == [controls.InjectedFault("http_500", None, 1, None)]
    assert device_authorization(lab).status_code == 500
    assert device_authorization(lab).status_code == 200


# -- poll faults ---------------------------------------------------------------------


def test_slow_down_adds_five_seconds_for_every_later_poll(lab):
    code = new_code(lab)
    lab.inject("slow_down", count=1)
    assert device_authorization(lab).status_code == 200  # polls only
    answer = poll(lab, code["device_code"])
    assert (answer.status_code, error(answer)) == (400, "slow_down")
    assert answer.headers["X-Lab-Fault"] == "slow_down"
    assert lab.injected() == []
    record = LabStore(lab.lab_dir / "lab.db").poll_device_code(code["device_code"])
    assert record["interval"] == 1 + 5
    # A client that did not add 5 s meets the lab's own interval check.
    answer = poll(lab, code["device_code"])
    assert error(answer) == "slow_down" and "X-Lab-Fault" not in answer.headers
    # Another code is not affected: the count is spent.
    assert error(poll(lab, new_code(lab)["device_code"])) == "authorization_pending"


def test_slow_down_for_n_polls_then_tokens(lab):
    code = new_code(lab)
    lab.approve(code["user_code"], "printer@lab.test")
    lab.inject("slow_down", "token", count=2)
    assert error(poll(lab, code["device_code"])) == "slow_down"
    other = new_code(lab)
    assert error(poll(lab, other["device_code"])) == "slow_down"
    # The first code's interval is 6 s now; do as a good client would.
    store = LabStore(lab.lab_dir / "lab.db")
    with store._connect() as db:
        db.execute("UPDATE device_codes SET last_poll = last_poll - 6 WHERE device_hash = ?",
                   (digest(code["device_code"]),))
    answer = poll(lab, code["device_code"])
    assert answer.status_code == 200 and "access_token" in answer.json()


def test_access_denied_is_final_even_after_approval(lab):
    code = new_code(lab)
    assert lab.approve(code["user_code"], "printer@lab.test")
    lab.inject("access_denied", count=1)
    answer = poll(lab, code["device_code"])
    assert (answer.status_code, error(answer)) == (400, "access_denied")
    assert answer.headers["X-Lab-Fault"] == "access_denied"
    assert lab.injected() == []
    assert error(poll(lab, code["device_code"])) == "access_denied"  # for good
    other = new_code(lab)
    lab.approve(other["user_code"], "printer@lab.test")
    assert poll(lab, other["device_code"]).status_code == 200


def test_poll_faults_spare_unknown_codes_and_refreshes(lab):
    lab.inject("access_denied", count=1)
    assert error(poll(lab, "no-such-code")) == "invalid_request"
    assert len(lab.injected()) == 1  # not taken
    answer = requests.post(
        f"{lab.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": LAB_CLIENT_ID},
        verify=str(lab.ca_file), timeout=10,
    )
    assert error(answer) == "invalid_grant"
    assert len(lab.injected()) == 1


def test_authorization_pending_for_a_count_then_tokens(lab):
    code = new_code(lab)
    lab.approve(code["user_code"], "printer@lab.test")
    lab.inject("authorization_pending", count=2)
    for _ in range(2):
        answer = poll(lab, code["device_code"])
        assert (error(answer), answer.headers["X-Lab-Fault"]) == (
            "authorization_pending", "authorization_pending")
    assert poll(lab, code["device_code"]).status_code == 200


@pytest.mark.parametrize("style,pending,expired", [
    ("lab", None, None), ("microsoft", 70016, 70020),
])
def test_authorization_pending_forever_then_expired_token(tmp_path, style, pending, expired):
    with LabServer(tmp_path, interval=1, device_code_lifetime=1, style=style) as lab:
        code = new_code(lab)
        lab.approve(code["user_code"], "printer@lab.test")
        lab.inject("authorization_pending")
        answer = poll(lab, code["device_code"])
        assert error(answer) == "authorization_pending"
        assert answer.json().get("error_codes", [None])[0] == pending
        time.sleep(1.2)
        answer = poll(lab, code["device_code"])
        assert error(answer) == "expired_token"
        assert answer.json().get("error_codes", [None])[0] == expired
        assert [f.fault for f in lab.injected()] == ["authorization_pending"]


# -- shape faults -------------------------------------------------------------------


def test_device_answer_without_verification_uri(lab):
    lab.inject("no_verification_uri", count=1)
    answer = device_authorization(lab)
    assert answer.headers["X-Lab-Fault"] == "no_verification_uri"
    body = answer.json()
    assert "verification_uri" not in body
    assert body["verification_uri_complete"].startswith(lab.issuer)
    assert error(poll(lab, body["device_code"])) == "authorization_pending"  # a real code
    assert "verification_uri" in new_code(lab)


def test_device_answer_with_strings_or_missing_members(lab):
    lab.inject("interval_as_string", count=1)
    lab.inject("expires_in_as_string", count=1)
    answer = device_authorization(lab)
    assert set(answer.headers["X-Lab-Fault"].split(", ")) == {
        "interval_as_string", "expires_in_as_string"}
    body = answer.json()
    assert (body["interval"], body["expires_in"]) == ("1", "900")

    lab.inject("no_interval", count=1)
    body = new_code(lab)
    assert "interval" not in body and body["expires_in"] == 900
    lab.inject("no_expires_in", count=1)
    body = new_code(lab)
    assert "expires_in" not in body and body["interval"] == 1

    body = new_code(lab)
    assert (body["interval"], body["expires_in"]) == (1, 900)


def test_shape_faults_wait_for_an_answer_that_succeeds(lab):
    lab.inject("http_500", "device_authorization", count=1)
    lab.inject("no_interval", count=1)
    assert device_authorization(lab).status_code == 500
    assert [f.fault for f in lab.injected()] == ["no_interval"]
    assert "interval" not in new_code(lab)


# -- counts, processes, threads ------------------------------------------------------


def test_counts_are_taken_once_across_threads(lab):
    lab.inject("http_500", "discovery", count=5)
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda _: discovery(lab).status_code, range(24)))
    assert sorted(codes) == [200] * 19 + [500] * 5


def test_counts_are_taken_once_across_connections(lab):
    # One ControlState per "process": only SQLite's write lock keeps two
    # of them from both taking the last count.
    lab.inject("http_503", "token", count=20)
    barrier = threading.Barrier(8)

    def take(_):
        state = ControlState(lab.lab_dir / "lab.db")
        barrier.wait()
        return sum(
            bool(state.take_injected("token", one_of=("http_503",))) for _ in range(10)
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(take, range(8))) == 20
    assert lab.injected() == []


def test_a_control_from_another_process_takes_effect(lab):
    code = new_code(lab)
    script = (
        "import sys; from panel.lab import controls;"
        " controls.inject(sys.argv[1], sys.argv[2], 'token', count=1, seconds=eval(sys.argv[3]))"
    )
    subprocess.run([sys.executable, "-c", script, str(lab.data_dir), "http_503", "2"], check=True)
    answer = poll(lab, code["device_code"])
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "2")
    assert error(poll(lab, code["device_code"])) == "authorization_pending"

    subprocess.run([sys.executable, "-c", script, str(lab.data_dir), "access_denied", "None"],
                   check=True)
    subprocess.run(
        [sys.executable, "-c", "import sys; from panel.lab import controls;"
         " print(controls.clear_faults(sys.argv[1]))", str(lab.data_dir)],
        check=True, capture_output=True,
    )
    assert error(poll(lab, code["device_code"])) == "authorization_pending"


# -- hang --------------------------------------------------------------------------


def test_hang_outlasts_the_client_timeout(lab):
    lab.inject("hang", "token", seconds=30, count=1)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        poll(lab, "no-such-code", timeout=0.5)
    assert time.monotonic() - started < 5
    assert discovery(lab).status_code == 200  # other endpoints answer meanwhile


def test_hang_delays_then_answers(lab):
    lab.inject("hang", "discovery", seconds=0.5)
    lab.inject("http_503", "discovery", count=1)
    started = time.monotonic()
    answer = discovery(lab)
    assert answer.status_code == 503
    assert set(answer.headers["X-Lab-Fault"].split(", ")) == {"hang", "http_503"}
    answer = discovery(lab)
    assert answer.status_code == 200 and answer.headers["X-Lab-Fault"] == "hang"
    assert time.monotonic() - started >= 1.0


def test_stop_cuts_a_hanging_request_and_leaves_no_thread(tmp_path):
    before = set(threading.enumerate())
    lab = LabServer(tmp_path, interval=1).start()
    lab.inject("hang", seconds=60)
    outcome = []

    def client(call):
        try:
            outcome.append(call(lab))
        except requests.RequestException as exc:
            outcome.append(exc)

    clients = [threading.Thread(target=client, args=(c,)) for c in CALLS.values()]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 5
    while len([n for n in lab_threads() if n.startswith("lab-http")]) < 3:
        assert time.monotonic() < deadline, "the requests never reached the lab"
        time.sleep(0.02)
    time.sleep(0.2)  # into the hang

    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 1.5
    for thread in clients:
        thread.join(5)
    assert all(isinstance(o, requests.RequestException) for o in outcome), outcome
    assert lab_threads() == []
    assert set(threading.enumerate()) <= before


def test_armed_faults_survive_a_restart_and_do_not_stop_it(tmp_path):
    with LabServer(tmp_path, interval=1) as lab:
        lab.inject("hang", "discovery", seconds=60)
        lab.inject("http_500", "discovery")
    started = time.monotonic()
    with LabServer(tmp_path, interval=1) as lab:
        assert time.monotonic() - started < 5  # its readiness probe is not held
        assert {f.fault for f in lab.injected()} == {"hang", "http_500"}
        lab.clear_faults("hang")
        assert discovery(lab).status_code == 500


# -- certificate faults --------------------------------------------------------------


def handshake(lab, cafile, port=None):
    """TLS handshake with the lab as a client that trusts ``cafile``."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port or lab.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


def served_certificate(lab, port=None) -> x509.Certificate:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port or lab.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def test_tls_fault_is_checked():
    with pytest.raises(ValueError, match="tls_fault"):
        LabServer("/nonexistent", tls_fault="self_signed")


def test_expired_certificate(tmp_path):
    with LabServer(tmp_path, tls_fault="expired") as lab:
        for port in (lab.port, lab.smtps_port, lab.pop3s_port):
            with pytest.raises(ssl.SSLCertVerificationError) as caught:
                handshake(lab, lab.ca_file, port)
            assert caught.value.verify_code == 10  # X509_V_ERR_CERT_HAS_EXPIRED
            assert caught.value.verify_message == "certificate has expired"
        cert = served_certificate(lab)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert cert.not_valid_after_utc < now
        assert cert.issuer.rfc4514_string() == "CN=panel lab CA,O=panel lab"
        with pytest.raises(requests.exceptions.SSLError):
            discovery(lab)
    # The lab's good certificate is untouched.
    with LabServer(tmp_path) as lab:
        assert handshake(lab, lab.ca_file)
        assert served_certificate(lab).not_valid_after_utc > now


def test_certificate_of_another_ca(tmp_path):
    with LabServer(tmp_path, tls_fault="untrusted") as lab:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            handshake(lab, lab.ca_file)
        assert caught.value.verify_code == 20  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        assert caught.value.verify_message == "unable to get local issuer certificate"
        # A sound certificate otherwise: whoever trusts the other CA accepts it.
        assert handshake(lab, lab.lab_dir / "tls-fault" / "other-ca.pem")
        assert "other CA" in served_certificate(lab).issuer.rfc4514_string()
        assert lab.ca_file == lab.lab_dir / "ca.pem"
        assert json.loads((lab.lab_dir / "endpoints.json").read_text())["tls_fault"] == "untrusted"
