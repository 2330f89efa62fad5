"""The command line, end to end, against the lab: what a script sees."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from panel.lab.phone import sign_in


def panel(data_dir, *args, **kwargs):
    result = subprocess.run([sys.executable, "-m", "panel", *args, "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=60, **kwargs)
    print(result.stdout, result.stderr)  # captured, so the secrets canary searches it too
    return result


def test_config_set_and_show(data_dir):
    ok = panel(data_dir, "config", "set", "smtp.server", "smtp.office365.com", "smtp.port", "587")
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(panel(data_dir, "config", "show", "--json").stdout)
    assert shown["smtp.server"] == "smtp.office365.com" and shown["smtp.port"] == 587
    assert re.search(r"^smtp.server +smtp.office365.com$", panel(data_dir, "config", "show").stdout, re.M)


def test_config_set_refuses_bad_values_and_saves_nothing(data_dir):
    bad = panel(data_dir, "config", "set", "smtp.timeout", "30", "smtp.port", "70000")
    assert bad.returncode == 2
    assert "smtp.port: Enter a number from 1 to 65535." in bad.stderr
    assert "Nothing was saved." in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    shown = json.loads(panel(data_dir, "config", "show", "--json").stdout)
    assert shown["smtp.timeout"] == 20 and shown["smtp.port"] == 587
    odd = panel(data_dir, "config", "set", "smtp.port")
    assert odd.returncode == 2 and "KEY VALUE" in odd.stderr
    twice = panel(data_dir, "config", "set", "smtp.port", "25", "smtp.port", "26")
    assert twice.returncode == 2 and "smtp.port given twice" in twice.stderr
    assert re.search(r"^smtp.ssl +starttls \(STARTTLS\)$", panel(data_dir, "config", "show").stdout, re.M)


def test_token_get_approve_status_delete(data_dir, lab):
    assert panel(data_dir, "config", "set", "oauth.provider", "lab", "oauth.account", "printer@lab.test",
                 "smtp.auth", "oauth2").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())
    assert set(first) == {"verification_uri", "verification_uri_complete", "user_code", "expires_in"}
    assert 0 < first["expires_in"] <= 900
    waiting = json.loads(panel(data_dir, "token", "status", "--json").stdout)
    assert waiting["status"] == "Waiting for authorisation"
    sign_in(first["verification_uri_complete"], press="Approve", verify=lab.ca_file, account="printer@lab.test")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    final = json.loads(out)
    assert final["status"] == "Retrieved" and final["account"] == "printer@lab.test"
    status = panel(data_dir, "token", "status", "--json")
    assert json.loads(status.stdout) == {"status": "Retrieved", "provider": "lab", "account": "printer@lab.test",
                                         "message": "Token retrieved for printer@lab.test."}
    assert "access_token" not in status.stdout and "refresh" not in status.stdout.lower()

    refused = panel(data_dir, "token", "delete")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    deleted = panel(data_dir, "token", "delete", "--yes")
    assert deleted.returncode == 0 and "Not Retrieved" in deleted.stdout
    assert json.loads(panel(data_dir, "token", "status", "--json").stdout)["status"] == "Not Retrieved"


def test_token_get_prints_the_code_and_a_qr_code(data_dir, lab):
    panel(data_dir, "config", "set", "oauth.provider", "lab", "oauth.account", "printer@lab.test")
    proc = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not any("enter the code" in line for line in lines):
        lines.append(proc.stdout.readline())
    text = "".join(lines)
    assert "█" in text or "▀" in text, "a QR code drawn in the terminal"
    code = text.split("enter the code:")[1].split()[0]
    sign_in(f"{lab.issuer}/device", press="Deny", verify=lab.ca_file, user_code=code)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Token: Not Retrieved" in out
    assert err.strip().startswith("panel: The sign-in was declined")
    assert len(err.strip().splitlines()) == 1


def test_token_get_without_the_lab_fails_with_one_line(data_dir):
    panel(data_dir, "config", "set", "oauth.provider", "lab", "oauth.account", "printer@lab.test")
    result = panel(data_dir, "token", "get")
    assert result.returncode == 1
    assert result.stderr.strip() == ("panel: The lab is not running. Start it with 'panel lab' or "
                                     "'panel run --lab', then press Get Token again.")


def test_panel_lab_serves_until_stopped(data_dir):
    proc = subprocess.Popen([sys.executable, "-m", "panel", "lab", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Lab identity provider: https://127.0.0.1:")
        status = panel(data_dir, "token", "status", "--json")
        assert json.loads(status.stdout)["status"] == "Not Retrieved"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_cli_starts_without_kivy(data_dir):
    code = ("import sys, runpy; sys.argv=['panel','token','status','--data-dir',%r];"
            "import panel.cli as c; c.main(sys.argv[1:]);"
            "assert not [m for m in sys.modules if m.startswith('kivy')]") % str(data_dir)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    print(f"panel token status: {time.monotonic() - started:.2f} s")


def test_mail_commands_and_lab_controls_end_to_end(data_dir):
    """The whole loop from a shell: lab, Get Token, send, receive, then a revoked sign-in is Invalid."""
    lab = subprocess.Popen([sys.executable, "-m", "panel", "lab", "--interval", "1", "--data-dir", str(data_dir)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = [lab.stdout.readline() for _ in range(8)]
        assert any("now point at the lab" in line for line in printed), printed
        ca_file = next(line.split(": ", 1)[1].strip() for line in printed if "CA certificate" in line)
        assert panel(data_dir, "config", "set", "oauth.provider", "lab", "oauth.account", "printer@lab.test",
                     "smtp.auth", "oauth2", "pop.auth", "oauth2").returncode == 0
        get = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json", "--data-dir", str(data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        code = json.loads(get.stdout.readline())
        sign_in(code["verification_uri_complete"], press="Approve", verify=ca_file, account="printer@lab.test")
        assert get.wait(30) == 0

        sent = panel(data_dir, "mail", "send-test", "--json")
        assert json.loads(sent.stdout) == {"ok": True, "message": "Test e-mail sent to printer@lab.test.",
                                           "token": "Retrieved"}
        checked = json.loads(panel(data_dir, "mail", "check", "--json").stdout)
        assert checked["message"] == "1 new message."
        [listed] = json.loads(panel(data_dir, "mail", "list", "--json").stdout)
        assert listed["subject"] == "Test e-mail from the printer"
        assert "test e-mail sent with OAuth 2.0" in panel(data_dir, "mail", "show", str(listed["id"])).stdout

        assert panel(data_dir, "lab", "revoke").returncode == 0
        assert panel(data_dir, "lab", "expire-tokens").returncode == 0
        # msal still holds an access token it believes valid: the server refuses it,
        # the renewal is refused by the provider, and the token becomes Invalid.
        failed = panel(data_dir, "mail", "test", "smtp")
        assert failed.returncode == 1
        assert failed.stderr.strip() == "panel: Token update failed. Please delete the token and obtain it again."
        assert json.loads(panel(data_dir, "token", "status", "--json").stdout)["status"] == "Invalid"
        assert panel(data_dir, "lab", "disable", "nobody@lab.test").returncode == 2
    finally:
        lab.terminate()
        lab.wait(timeout=10)


def test_admin_password_change_and_lockout(data_dir):
    changed = panel(data_dir, "admin", "password", "--stdin", input="admin\nNew-passw0rd\n")
    assert changed.returncode == 0 and "changed" in changed.stdout
    short = panel(data_dir, "admin", "password", "--stdin", input="New-passw0rd\nabc\n")
    assert short.returncode == 2 and "8 to 128 characters" in short.stderr
    for _ in range(4):
        wrong = panel(data_dir, "admin", "password", "--stdin", input="admin\nwhatever-123\n")
        assert wrong.returncode == 2 and "The current password is wrong. Nothing was changed." in wrong.stderr
    locked = panel(data_dir, "admin", "password", "--stdin", input="admin\nwhatever-123\n")
    assert locked.returncode == 1 and "locked" in locked.stderr
    still = panel(data_dir, "admin", "password", "--stdin", input="New-passw0rd\nwhatever-123\n")
    assert "locked" in still.stderr


def test_lab_stays_on_loopback_unless_asked(data_dir):
    refused = panel(data_dir, "lab", "--host", "0.0.0.0")
    assert refused.returncode == 1
    assert "listens on this machine only" in refused.stderr and "--allow-remote" in refused.stderr


def test_second_lab_fails_with_one_line_and_leaves_the_first_alone(data_dir, lab, tmp_path):
    busy = panel(data_dir, "lab")
    assert busy.returncode == 1
    assert busy.stderr.strip() == ("panel: another lab is already running with this data directory: use it, "
                                   "stop it first, or choose another --data-dir.")
    assert json.loads((data_dir / "lab" / "endpoints.json").read_text())["issuer"] == lab.issuer
    port_taken = panel(tmp_path / "other", "lab", "--port", str(lab.port))
    assert port_taken.returncode == 1
    assert port_taken.stderr.startswith("panel: could not start the lab")
    assert len(port_taken.stderr.strip().splitlines()) == 1


def _bad_rows():
    from .test_settings import BAD

    return [(k, str(v), m) for k, v, m in BAD if k != "nosuch.key"]


@pytest.mark.parametrize("key,value,expected", _bad_rows(), ids=[f"{k}={v!r}"[:40] for k, v, _ in _bad_rows()])
def test_config_set_refuses_every_bad_value(data_dir, capsys, key, value, expected):
    """The same table as the screen's, through the command line (in-process, for speed)."""
    from panel.cli import main

    assert main(["config", "show", "--json", "--data-dir", str(data_dir)]) == 0
    before = capsys.readouterr().out
    # "--" lets a value start with "-", as for any command line.
    good = "smtp.timeout" if key != "smtp.timeout" else "pop.check_interval"
    assert main(["config", "set", "--data-dir", str(data_dir), "--", good, "33", key, value]) == 2
    err = capsys.readouterr().err
    assert f"panel: {key}: " in err and expected in err and "Nothing was saved." in err
    main(["config", "show", "--json", "--data-dir", str(data_dir)])
    assert capsys.readouterr().out == before


def test_unusable_data_directories_get_one_line(tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    result = panel(a_file, "token", "status")
    assert result.returncode == 1
    assert result.stderr.strip() == f"panel: the data directory {a_file} is a file: choose another with --data-dir."


def test_a_dead_token_get_does_not_block_the_next(data_dir, lab):
    import signal

    panel(data_dir, "config", "set", "oauth.provider", "lab", "oauth.account", "printer@lab.test")
    first = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json", "--data-dir", str(data_dir)],
                             stdout=subprocess.PIPE, text=True)
    first.stdout.readline()
    second = panel(data_dir, "token", "get", "--json", input="")  # while the first really waits
    assert second.returncode == 1 and "Already waiting for authorisation" in second.stderr
    assert "cancel" in second.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    third = subprocess.Popen([sys.executable, "-m", "panel", "token", "get", "--json", "--data-dir", str(data_dir)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code = json.loads(third.stdout.readline())
    assert lab.approve(code["user_code"], "printer@lab.test")
    assert third.wait(30) == 0
    bad = panel(data_dir, "mail", "send-test", "--to", "x@@y")
    assert bad.returncode == 2 and bad.stderr.startswith("panel: --to: ")
    nothing = panel(data_dir, "token", "cancel")
    assert nothing.returncode == 0 and "Nothing is waiting" in nothing.stdout
