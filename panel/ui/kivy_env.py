"""Kivy's environment, set before Kivy is first imported.

Kivy reads its environment variables and its config file once, when `kivy`
is imported, and creates the window from `Config` when the first module
that needs it is imported. So `prepare()` must run first: it keeps Kivy out
of ~/.kivy (its home lives in the data directory), stops it from parsing the
command line (that belongs to panel's own CLI), leaves Python's logging and
stderr alone, and fixes the window size.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

_prepared: tuple[Path, tuple[int, int]] | None = None


# Said by Kivy on every start on a machine without a touch screen or with a
# new Kivy home: true, harmless, and not the administrator's business.
_EXPECTED = ("Input: MTDev is not supported", "Input: ProbeSysfs", "Input: HIDInput",
             "Config: Older configuration version", "Config: Upgrading configuration",
             # X11 selection helpers (xclip, xsel): a panel has no middle-click paste.
             "Cutbuffer: Unable to find any valuable Cutbuffer provider")


def _quiet(record: logging.LogRecord) -> bool:
    if record.levelno < logging.WARNING:
        return False
    message = str(record.msg)
    return not message.startswith(_EXPECTED)


def prepare(data_dir: Path, size: tuple[int, int] = (800, 480), *, verbose: bool = False) -> None:
    global _prepared
    if _prepared is not None:
        return  # once per process, like Kivy's own reading of it
    if "kivy" in sys.modules:
        # Too late for the environment; say so instead of silently writing ~/.kivy.
        raise RuntimeError("panel.ui.kivy_env.prepare() must run before Kivy is imported")
    kivy_home = Path(data_dir) / "kivy"
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ["KIVY_HOME"] = str(kivy_home)
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # Kivy's default mode takes over the root logger and swallows stderr,
    # which is panel's CLI's: keep Kivy's handlers on Kivy's own logger.
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    if not verbose:
        logging.getLogger("kivy").addFilter(_quiet)
    from kivy.config import Config

    width, height = size
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    Config.set("kivy", "exit_on_escape", "0")
    # A touch panel has no mouse: no right-click red dots, no multitouch emulation.
    Config.set("input", "mouse", "mouse,disable_multitouch")
    _prepared = (Path(data_dir), (width, height))


def prepared() -> bool:
    return _prepared is not None


def prepare_default() -> None:
    """For code that imports the app directly (a REPL, a test): the default data directory."""
    if _prepared is None and "kivy" not in sys.modules:
        from panel.paths import data_dir

        prepare(data_dir())
