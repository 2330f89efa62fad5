"""UI test fixtures: a virtual display, and scenarios run under the real app.

A Kivy app runs once per process, so every scenario runs in its own
process (`harness.py`) against a real Core and a real lab provider, on an
Xvfb display started here (`-displayfd` picks a free one). The Clock tests
import Kivy in this process, with no window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("harness.py")
SCENARIO_TIMEOUT = 90


@pytest.fixture(scope="session")
def xdisplay():
    from panel.xvfb import virtual_display

    # force: never open windows on a developer's own screen.
    with virtual_display((1280, 800), force=True) as display:
        yield display


@pytest.fixture(scope="session")
def run_scenario(xdisplay, tmp_path_factory):
    """run_scenario(name, size) -> the harness's result; fails the test with its error."""

    def run(name: str, size: tuple[int, int] = (800, 480)) -> dict:
        work = tmp_path_factory.mktemp(f"ui-{name}-{size[0]}x{size[1]}")
        env = dict(os.environ, DISPLAY=xdisplay)
        env.pop("PANEL_DATA_DIR", None)
        try:
            proc = subprocess.run([sys.executable, str(HARNESS), name, str(work), str(size[0]), str(size[1])],
                                  env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"scenario {name} did not end in {SCENARIO_TIMEOUT}s\n{(e.stderr or b'')[-4000:]}")
        result_file = work / "result.json"
        if not result_file.exists():
            pytest.fail(f"scenario {name} crashed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        result = json.loads(result_file.read_text())
        result["stderr"] = proc.stderr
        result["dir"] = str(work)
        if not result["ok"]:
            pytest.fail(f"scenario {name} at {size}: {result['error']}\nobserved: "
                        f"{json.dumps(result['observed'], indent=1)}\nstderr:\n{proc.stderr[-3000:]}")
        return result

    return run


@pytest.fixture(scope="session")
def kivy_clock(tmp_path_factory):
    """Kivy's Clock in this process, with no window; `tick_until(pred)` drives it."""
    from panel.ui import kivy_env

    if not kivy_env.prepared():
        kivy_env.prepare(tmp_path_factory.mktemp("kivy-home"))
    from kivy.clock import Clock

    return Clock
