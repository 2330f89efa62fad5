"""Entry point of the touch panel: `run_panel(core, size)` and `PanelApp`.

Kivy reads its environment once, at import, and sizes the window from
`Config` when the window is created, so this module imports no Kivy itself:
`run_panel` first sets Kivy's home under the core's data directory and the
window size (`kivy_env.prepare`), then imports the application
(`panel_app`). `PanelApp` is looked up the same way on first use.
"""

from __future__ import annotations

from typing import Any

from .kivy_env import prepare


def run_panel(core: Any, size: tuple[int, int] = (800, 480)) -> None:
    """Run the panel until its window closes. The caller starts and closes `core`."""
    prepare(core.data_dir, size)
    from .panel_app import PanelApp

    PanelApp(core, size).run()


def __getattr__(name: str) -> Any:
    if name == "PanelApp":
        from .kivy_env import prepare_default

        prepare_default()
        from .panel_app import PanelApp

        return PanelApp
    raise AttributeError(name)
