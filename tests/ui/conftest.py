"""UI test fixtures: virtual displays, and scenarios run under the real app.

A Kivy app runs once per process, so every scenario runs in its own
process (`harness.py`) against a real Core and a real lab provider, on an
Xvfb display started here (`-displayfd` picks a free one). The Clock tests
import Kivy in this process, with no window.

Scenarios mostly wait (for a poll, a server, a frame), so the scenarios of
the selected tests are started ahead, JOBS at a time, each on a display of
its own (windows on one display would overlap, and a screenshot reads the
window's pixels). A test declares the scenario it reads with the mark
`scenario(name, size=(800, 480))`; `run_scenario(name, size)` then waits for
that run, and runs an undeclared one on the spot.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("harness.py")
SCENARIO_TIMEOUT = 90
JOBS = max(1, int(os.environ.get("PANEL_UI_JOBS", "2")))
DEFAULT_SIZE = (800, 480)


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario(name, size=(800, 480)): the harness scenario the test reads; "
                                       "started ahead of the test, in parallel with others")


def _spec(mark) -> tuple[str, tuple[int, int]]:
    return mark.args[0], tuple(mark.kwargs.get("size", mark.args[1] if len(mark.args) > 1 else DEFAULT_SIZE))


def pytest_collection_modifyitems(config, items):
    planned: dict[tuple[str, tuple[int, int]], None] = {}
    for item in items:
        for mark in item.iter_markers("scenario"):
            planned[_spec(mark)] = None
    config.stash[_PLANNED] = list(planned)


_PLANNED = pytest.StashKey[list]()


class _Scenarios:
    """Runs harness scenarios, JOBS at a time, one display each; results by (name, size)."""

    def __init__(self, displays: list[str], factory):
        self._displays: queue.Queue[str] = queue.Queue()
        for display in displays:
            self._displays.put(display)
        self._pool = ThreadPoolExecutor(len(displays), thread_name_prefix="ui-scenario")
        self._factory = factory
        self._runs: dict[tuple[str, tuple[int, int]], Future] = {}
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._closing = False

    def submit(self, name: str, size: tuple[int, int]) -> Future:
        key = (name, tuple(size))
        if key not in self._runs:
            # mktemp here, on the test's thread: the factory is not made for threads.
            work = self._factory.mktemp(f"ui-{name}-{size[0]}x{size[1]}")
            self._runs[key] = self._pool.submit(self._run, name, tuple(size), work)
        return self._runs[key]

    def _run(self, name: str, size: tuple[int, int], work: Path) -> dict:
        display = self._displays.get()
        try:
            env = dict(os.environ, DISPLAY=display)
            env.pop("PANEL_DATA_DIR", None)
            with self._lock:
                if self._closing:
                    return {"ok": False, "crash": "the session ended before it ran"}
                proc = subprocess.Popen([sys.executable, str(HARNESS), name, str(work), str(size[0]), str(size[1])],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                self._procs.add(proc)
            try:
                _out, err = proc.communicate(timeout=SCENARIO_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
                return {"ok": False, "crash": f"did not end in {SCENARIO_TIMEOUT}s\n{err[-4000:]}"}
            finally:
                with self._lock:
                    self._procs.discard(proc)
            result_file = work / "result.json"
            if not result_file.exists():
                return {"ok": False, "crash": f"crashed (exit {proc.returncode}):\n{err[-4000:]}"}
            result = json.loads(result_file.read_text())
            result["stderr"] = err
            result["dir"] = str(work)
            return result
        finally:
            self._displays.put(display)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            for proc in self._procs:
                proc.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def xdisplays():
    from panel.xvfb import virtual_display

    # force: never open windows on a developer's own screen.
    with ExitStack() as stack:
        yield [stack.enter_context(virtual_display((1280, 800), force=True)) for _ in range(JOBS)]


@pytest.fixture(scope="session")
def xdisplay(xdisplays):
    return xdisplays[0]


@pytest.fixture(scope="session")
def scenarios(request, xdisplays, tmp_path_factory):
    runner = _Scenarios(xdisplays, tmp_path_factory)
    for name, size in request.config.stash.get(_PLANNED, []):
        runner.submit(name, size)
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def run_scenario(scenarios):
    """run_scenario(name, size) -> the harness's result; fails the test with its error."""

    def run(name: str, size: tuple[int, int] = DEFAULT_SIZE) -> dict:
        result = scenarios.submit(name, size).result()
        if "crash" in result:
            pytest.fail(f"scenario {name} at {size} {result['crash']}")
        if not result["ok"]:
            pytest.fail(f"scenario {name} at {size}: {result['error']}\nobserved: "
                        f"{json.dumps(result['observed'], indent=1)}\nstderr:\n{result['stderr'][-3000:]}")
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
