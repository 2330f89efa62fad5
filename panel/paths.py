"""Where panel keeps its data and finds its resources.

The data directory holds the settings store, the token key and the lab's
files. It is, in order: the directory given on the command line, the
PANEL_DATA_DIR environment variable, or the platform's user data directory.
Resources (kv/, assets/) ship inside the wheel as panel/kv and panel/assets;
in a source checkout they sit beside the package.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

from .errors import PanelError

ENV_DATA_DIR = "PANEL_DATA_DIR"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data directory, created (0700) if missing. Raises PanelError when it cannot be used."""
    chosen = explicit or os.environ.get(ENV_DATA_DIR) or platformdirs.user_data_dir("panel", appauthor=False)
    path = Path(chosen).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise PanelError(f"the data directory {path} is a file: choose another with --data-dir.")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise PanelError(f"cannot create the data directory {path} ({e.strerror}): "
                         "choose another with --data-dir.") from None
    return path


def resource_path(name: str) -> Path:
    """The kv/ or assets/ directory, from the installed wheel or the source tree."""
    packaged = resources.files("panel") / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name
