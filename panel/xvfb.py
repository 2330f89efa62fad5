"""A virtual display for running the Kivy panel where there is no screen.

Used by `panel tour` and the UI tests. Xvfb picks a free display number
itself (-displayfd) and reports it when it is ready to accept clients.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def virtual_display(size: tuple[int, int] = (1280, 800), force: bool = False) -> Iterator[str | None]:
    """Yield the DISPLAY in use: a new Xvfb one when none is set (or `force`)."""
    if os.environ.get("DISPLAY") and not force:
        yield None
        return
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed: run scripts/bootstrap.sh (or apt-get install xvfb).")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{max(size[0], 1280)}x{max(size[1], 800)}x24",
         "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start.")
    display = f":{number}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
