"""The mail keys, the Invalid token, bad input and the administrator password,
on the real panel (Xvfb), against a real Core and the lab's real servers."""

from __future__ import annotations

import re

import pytest

from panel.settings import SETTINGS

from .bad_input import ALONE, TABS

pytestmark = pytest.mark.ui

TOKEN_UPDATE_FAILED = "Token update failed. Please delete the token and obtain it again."


@pytest.mark.scenario("mail")
def test_send_test_email_then_check_now_lists_it_and_opens_it(run_scenario):
    obs = run_scenario("mail")["observed"]
    assert obs["recipient_error"] == "Enter an e-mail address such as name@example.com."
    assert obs["recipient_dialog_open"] is True
    assert obs["send_result"] == "Test e-mail sent to printer@lab.test."
    assert obs["smtp_test"].startswith("Connection Test succeeded: logged in to 127.0.0.1:")
    assert obs["pop_test"].startswith("Connection Test succeeded: logged in to 127.0.0.1:")
    # Beside Check Interval: nothing, then the check's time and result.
    assert obs["last_check_before"] == "Not checked yet."
    assert re.fullmatch(r"Last check \d\d:\d\d: 1 new message\.", obs["last_check_after"]), obs["last_check_after"]
    assert obs["check_notice"] == "1 new message."
    # The list, read off its labels: from, subject, time, size.
    [line] = obs["list"]
    assert line["sender"] == "Lab printer"
    assert line["subject"] == "Test e-mail from the printer"
    assert re.fullmatch(r"\d\d:\d\d", line["when"])
    assert re.fullmatch(r"\d+ B", line["size"])
    assert obs["received_notice"] == "1 e-mail"
    # A send and a check by the command line show on the open list and the POP tab's line.
    assert obs["cli_send"][0] == 0 and obs["cli_check"][0] == 0
    assert obs["list_after_cli"] == 2
    assert re.fullmatch(r"Last check \d\d:\d\d: 1 new message\.", obs["last_check_after_cli"])
    # The message itself.
    assert obs["message_title"] == "Test e-mail from the printer"
    assert "Lab printer <printer@lab.test>" in obs["message_head"]
    assert obs["message_body"].startswith("This is a test e-mail sent with OAuth 2.0")
    assert all(problems == [] for problems in obs["layout"].values()), obs["layout"]


@pytest.mark.parametrize("scenario, size", [
    pytest.param(name, size, id=f"{name.split('_')[1]}-{size[0]}x{size[1]}",
                 marks=pytest.mark.scenario(name, size=size))
    for name, size in [("invalid_revoked", (1024, 600)), ("invalid_disabled", (800, 480))]])
def test_refused_renewal_reads_invalid_on_both_tabs_until_deleted_and_retrieved_again(run_scenario, scenario, size):
    obs = run_scenario(scenario, size)["observed"]
    assert obs["test_message"] == TOKEN_UPDATE_FAILED
    for screen in ("smtp", "pop"):
        line = obs[screen]
        assert line["status"] == "Invalid"
        assert line["message"].startswith(TOKEN_UPDATE_FAILED)
        assert line["message_on_window"] is True
        assert line["get_token_disabled"] is True and line["delete_disabled"] is False
    assert obs["smtp"]["status_color"] == obs["pop"]["status_color"]
    assert obs["after_delete"] == "Not Retrieved" and obs["get_token_live_after_delete"] is True
    assert len(obs["qr"]) == 1 and len(obs["qr"][0]) == 1
    assert obs["after_get_token"] == {"smtp": "Retrieved", "pop": "Retrieved"}
    assert obs["test_after_new_token"].startswith("Connection Test succeeded")
    assert all(problems == [] for problems in obs["layout"].values()), obs["layout"]


def _domain_message(key: str, value: str) -> str:
    try:
        SETTINGS[key].parse(value)
    except ValueError as e:
        return str(e)
    raise AssertionError(f"{key} = {value!r} is not bad")


@pytest.mark.scenario("bad_input")
def test_bad_input_gets_its_message_on_the_field_and_nothing_is_saved(run_scenario):
    obs = run_scenario("bad_input")["observed"]
    for tab, spec in TABS.items():
        seen = obs[tab]
        expected = list(spec["bad"]) + list(ALONE)
        assert sorted((r["key"], r["value"]) for r in seen) == sorted((k, v) for k, v, _ in expected)
        by_value = {(r["key"], r["value"]): r for r in seen}
        for key, value, fragment in expected:
            row = by_value[(key, value)]
            assert row["typed"] == value, (tab, key, value, row)  # the field held exactly what was typed
            if (key, value, fragment) in ALONE:
                assert row["message"] == "Enter the account name: OAuth 2.0 needs it.", row
            else:
                assert row["message"] == _domain_message(key, value), (tab, key, value, row)
            assert fragment in row["message"], (tab, key, value, row)
            assert row["unchanged"] is True, (tab, key, value)
    assert "stray_messages" not in obs, obs.get("stray_messages")
    assert obs["saved_again"] == {"smtp": "Saved.", "pop": "Saved."}
    assert obs["layout"] == {"smtp with messages on the fields": [], "pop with messages on the fields": []}


@pytest.mark.scenario("admin_password")
def test_change_the_admin_password_then_five_wrong_ones_lock_the_login(run_scenario):
    obs = run_scenario("admin_password")["observed"]
    assert "Change Administrator Password" in obs["menu"]
    r = obs["refusals"]
    assert r["empty"] == {"current": "Enter the current password.", "new": "Enter a new password.",
                          "again": "Enter the new password again."}
    assert r["wrong current"] == {"current": "The current password is wrong.", "new": "", "again": ""}
    assert r["too short"] == {"current": "", "new": "Enter 8 to 128 characters.", "again": ""}
    assert r["not the same"] == {"current": "", "new": "", "again": "The two new passwords are not the same."}
    assert obs["old_still_good"] is True  # nothing changed on a refusal
    assert obs["changed"] == {"current": "", "new": "", "again": ""}
    assert obs["changed_notice"] == "Administrator password changed."
    assert obs["fields_cleared"] is True
    assert obs["login_old"] == "Wrong password. Try again."
    assert obs["login_new"] == ""
    locked = "Too many wrong passwords: login is locked. Try again in 5 minutes."
    assert obs["wrong_tries"] == ["Wrong password. Try again."] * 4 + [locked]
    assert obs["with_right_password_while_locked"] == locked
    assert all(problems == [] for problems in obs["layout"].values()), obs["layout"]
