"""Benchmarks that print figures (never pass/fail): run with .venv/bin/python benchmarks/bench.py

1. Approval to Retrieved: how long after the user presses Approve the token
   status reads Retrieved, at the lab's default 5 s polling interval.
2. Provider calls for mail use: how many token renewals a stretch of POP
   checks and SMTP sends costs, measured on a lab with shortened token
   lifetimes, then scaled to a day at the default Check Interval.
3. Time per POP check and per test e-mail, and the process's peak memory.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from panel.core import Core  # noqa: E402
from panel.lab import LabServer  # noqa: E402
from panel.token_state import TokenStatus  # noqa: E402

MSAL_MARGIN = 300  # msal renews an access token with less than 5 minutes left


def configure(core: Core, lab: LabServer) -> None:
    core.update_settings({
        "smtp.server": "127.0.0.1", "smtp.port": lab.smtp_port, "smtp.ssl": "starttls", "smtp.auth": "oauth2",
        "smtp.sender_address": "printer@lab.test",
        "pop.server": "127.0.0.1", "pop.port": lab.pop3s_port, "pop.ssl": "tls", "pop.auth": "oauth2",
        "pop.check_interval": "0", "oauth.provider": "lab", "oauth.account": "printer@lab.test"})


def retrieve(core: Core, lab: LabServer) -> float:
    core.get_token()
    while core.tokens.view().device_code is None:
        time.sleep(0.02)
    time.sleep(1.3)  # approve part-way through an interval, as a person would
    approved = time.monotonic()
    lab.approve(core.tokens.view().device_code.user_code, "printer@lab.test")
    assert core.tokens.wait(timeout=30).status is TokenStatus.RETRIEVED
    return time.monotonic() - approved


def approval_latency(runs: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp, LabServer(Path(tmp), interval=5) as lab:
        core = Core(Path(tmp))
        configure(core, lab)
        times = []
        for _ in range(runs):
            times.append(retrieve(core, lab))
            core.delete_token()
        core.close()
    print(f"approval to Retrieved at a 5 s interval: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s over {runs} runs")


def provider_calls(seconds: float = 40, lifetime: int = MSAL_MARGIN + 10) -> None:
    with tempfile.TemporaryDirectory() as tmp, LabServer(Path(tmp), interval=1, token_lifetime=lifetime) as lab:
        core = Core(Path(tmp))
        configure(core, lab)
        retrieve(core, lab)
        before = lab.refresh_count
        checks = sends = 0
        check_times, send_times = [], []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            core.check_mail()
            check_times.append(time.perf_counter() - t)
            checks += 1
            if checks % 4 == 0:
                t = time.perf_counter()
                core.send_test_email("printer@lab.test")
                send_times.append(time.perf_counter() - t)
                sends += 1
            time.sleep(0.5)
        refreshes = lab.refresh_count - before
        core.close()
    usable = lifetime - MSAL_MARGIN
    print(f"{checks} POP checks and {sends} test e-mails in {seconds:.0f} s with tokens usable for {usable} s: "
          f"{refreshes} renewals (at most one each {usable} s of use, shared by SMTP and POP)")
    per_day = 86400 / (3600 - MSAL_MARGIN)
    print(f"a day at the default Check Interval (5 min) with Microsoft's 1 h access tokens: 288 POP logins, "
          f"about {per_day:.0f} token renewals, 0 device-flow calls; SMTP sends add no renewals")
    print(f"POP check: median {statistics.median(check_times) * 1000:.0f} ms; "
          f"test e-mail: median {statistics.median(send_times) * 1000:.0f} ms")


if __name__ == "__main__":
    approval_latency()
    provider_calls()
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
