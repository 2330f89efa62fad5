"""Where the kv files and assets are, and loading each kv file on first use.

Each widget class whose rules live in `kv/<snake_case_name>.kv` inherits
`KvLoaded`; its kv file is loaded the first time one is built, so the panel
starts fast and a screen nobody opens costs nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from panel.paths import resource_path

_loaded: set[str] = set()


def resource_dir(name: str) -> Path:
    """kv/ or assets/: the one place that knows where they are."""
    return resource_path(name)


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def load_kv(name: str) -> None:
    """Load kv/<name>.kv once."""
    if name in _loaded:
        return
    from kivy.lang import Builder

    _loaded.add(name)
    Builder.load_file(str(resource_dir("kv") / f"{name}.kv"))


class KvLoaded:
    """Mixin: load the kv files of this class and of its panel bases before building.

    A class may set `kv_name` when its rules share a file with its siblings.
    Put it first among the bases so it runs before the Kivy widget's __init__.
    """

    kv_name: str | None = None

    def __init__(self, **kwargs):
        for klass in reversed(type(self).__mro__):
            if issubclass(klass, KvLoaded) and klass is not KvLoaded:
                name = klass.__dict__.get("kv_name") or snake_case(klass.__name__)
                if (resource_dir("kv") / f"{name}.kv").is_file():
                    load_kv(name)
        super().__init__(**kwargs)
