"""Crash safety and concurrent writers: a killed writer leaves the store as before or as after, never torn."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time

from panel.store import Store
from panel.token_state import TokenStatus

# Writes related values in single transactions, forever: settings in pairs,
# and the token through its whole cycle with a cache that names its account.
WRITER = r"""
import itertools, sys
from panel.store import Store
from panel.token_state import TokenStatus
store = Store(sys.argv[1])
if store.token().status is not TokenStatus.NOT_RETRIEVED:  # the previous writer was killed mid-cycle
    store.set_token(TokenStatus.NOT_RETRIEVED, message="reset")
print("ready", flush=True)
for n in itertools.count(1):
    port = 1 + n % 65535
    store.update({"smtp.port": port, "pop.port": port, "smtp.sender_name": f"writer {n}"})
    owner = f"w{n}"
    store.set_token(TokenStatus.WAITING, provider="lab", account=f"user{n}@lab.test", message="", owner=owner)
    store.set_token(TokenStatus.RETRIEVED, message=f"n={n}", cache=f"cache-for-user{n}@lab.test",
                    expect_owner=owner)
    store.set_token(TokenStatus.NOT_RETRIEVED, message="deleted")
"""


def check_consistent(data_dir) -> tuple[int, str]:
    with sqlite3.connect(data_dir / "panel.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(data_dir)
    try:
        settings = store.settings()
        assert settings["smtp.port"] == settings["pop.port"], "settings half-applied"
        view = store.token()
        if view.status is TokenStatus.RETRIEVED:
            assert store.token_cache() == f"cache-for-{view.account}", "token and account torn apart"
        elif view.status is TokenStatus.NOT_RETRIEVED:
            assert store.token_cache() is None
        return store.changes(), view.status.value
    finally:
        store.close()


def test_random_kills_never_corrupt_the_store(data_dir):
    rng = random.Random(8628)
    kills, statuses, last_changes = 30, set(), -1
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.25))
        assert proc.poll() is None, "the writer died by itself"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        changes, status = check_consistent(data_dir)
        assert changes >= last_changes
        last_changes = changes
        statuses.add(status)
    print(f"{kills} SIGKILLs survived; {last_changes} commits; killed in states {sorted(statuses)}")
    assert len(statuses) >= 2, "the kills landed at different points of the cycle"


def test_two_writers_lose_no_update(data_dir):
    script = r"""
import sys
from panel.store import Store
store = Store(sys.argv[1])
prefix = sys.argv[2]
for n in range(1, 101):
    store.update({f"{prefix}.port": n})
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(data_dir), prefix]) for prefix in ("smtp", "pop")]
    for p in procs:
        assert p.wait(60) == 0
    store = Store(data_dir)
    assert store.settings()["smtp.port"] == 100 and store.settings()["pop.port"] == 100
    assert store.changes() == 200
    store.close()


def test_processes_starting_together_share_one_key(tmp_path):
    script = "import sys; from panel.store import Store; Store(sys.argv[1]).token()"
    for attempt in range(20):
        data_dir = tmp_path / str(attempt)
        data_dir.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", script, str(data_dir)]) for _ in range(4)]
        assert all(p.wait(60) == 0 for p in procs)
        assert len((data_dir / "token.key").read_bytes().strip()) == 44
