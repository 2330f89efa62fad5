"""The touch panel, end to end, on a virtual display: real Core, real lab
provider, real touches on the app's own widgets, screenshots read back."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


@pytest.mark.scenario("main")
def test_get_token_by_qr_code_then_delete(run_scenario):
    obs = run_scenario("main")["observed"]
    # The code dialog: the token line says Waiting, the QR code holds the
    # complete address and decodes from a screenshot of the panel.
    assert obs["waiting_line"] == "Waiting for authorisation"
    assert obs["module_px"] >= 3
    assert len(obs["qr"]) == 1 and "user_code=" + obs["user_code_on_screen"] in obs["qr"][0]
    assert obs["time_left"].startswith("The code expires in ")
    assert obs["approve_http"] == 200
    # Approved on the "phone": both screens show the common token.
    assert obs["smtp_after_approve"] == "Retrieved"
    assert obs["pop_after_approve"] == "Retrieved"
    assert obs["get_token_disabled"] is True
    assert "printer@lab.test" in obs["message_after_approve"]
    # [Delete] → [OK] on the POP tab: both read Not Retrieved.
    assert obs["pop_after_delete"] == "Not Retrieved"
    assert obs["smtp_after_delete"] == "Not Retrieved"
    assert obs["delete_disabled"] is True
    assert all(problems == [] for problems in obs["layout"].values())


@pytest.mark.scenario("deny")
def test_denied_on_the_phone_reads_not_retrieved_with_the_reason(run_scenario):
    obs = run_scenario("deny")["observed"]
    assert obs["pop_after_deny"] == "Not Retrieved"
    assert "declined" in obs["message_after_deny"] or "denied" in obs["message_after_deny"]
    assert obs["get_token_enabled"] is True


@pytest.mark.scenario("cancel")
def test_cancel_in_the_code_dialog(run_scenario):
    obs = run_scenario("cancel")["observed"]
    assert obs["smtp_after_cancel"] == "Not Retrieved"
    assert obs["message_after_cancel"]
    assert obs["dialog_open"] is False


@pytest.mark.scenario("bad_port")
def test_refused_fields_show_their_message_and_nothing_is_saved(run_scenario):
    obs = run_scenario("bad_port")["observed"]
    assert obs["login_error"] == "Wrong password. Try again."
    assert obs["port_error"] == "Enter a number from 1 to 65535."
    assert obs["server_error"]
    assert obs["name_error"] == ""
    assert obs["notice"].startswith("Not saved")
    assert obs["unchanged"] is True and obs["saved_port"] == 587 and obs["saved_name"] == ""
    assert obs["port_row_on_window"] is True
    assert obs["port_error_after_edit"] == ""
    assert obs["saved_port_after_fix"] == 2525


@pytest.mark.scenario("other_process")
def test_changes_from_another_process_show_on_the_open_screen(run_scenario):
    obs = run_scenario("other_process")["observed"]
    assert obs["cli_set"] == 0
    assert obs["port_shown"] == "2526"
    assert obs["name_shown"] == "Typed on the panel"  # an edit in progress is kept
    assert obs["cli_cancel"] == 0
    assert obs["smtp_after_cli_cancel"] == "Not Retrieved"
    assert obs["dialog_open"] is False


@pytest.mark.parametrize("size", [pytest.param(size, id=f"{size[0]}x{size[1]}",
                                               marks=pytest.mark.scenario("layout", size=size))
                                  for size in [(800, 480), (1024, 600)]])
def test_every_screen_fits_the_panel(run_scenario, size):
    result = run_scenario("layout", size)
    obs = result["observed"]
    assert set(obs["layout"]) == {"home", "menu", "smtp", "confirmation", "token dialog", "pop", "mail result",
                                  "received", "message", "send test dialog", "admin password"}
    assert all(problems == [] for problems in obs["layout"].values()), obs["layout"]
    assert len(obs["qr"]) == 1 and obs["module_px"] >= 3
    # OpenID provider rows appear only for that provider.
    assert obs["oidc_rows"][-4:] == ["oauth.authority", "oauth.client_id", "oauth.scopes", "tls.ca_bundle"]
    assert obs["pop_test_without_token"] == "Enter the POP3 Server first."
    assert len(result["shots"]) == 10
