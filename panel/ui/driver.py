"""Touching the panel's own widgets, for the tour and the UI tests.

`Script` runs a generator of steps on the Kivy clock, so the frame keeps
drawing between steps and the app behaves as with a user. A step yields:
- a number: wait that many seconds (0: the next frame);
- `Until(predicate, what, timeout)`: wait until predicate() is true;
- `InThread(fn, *args)`: run a blocking call (a phone approving the code)
  on a thread; the step's value is its result.

`Driver` makes real touches: a MotionEvent goes down and up at the widget's
centre through the window, so a disabled key really does not react and a
key hidden by a dialog is really not touched. Touch-like synthetic events as
in Kivy's own `UnitTestTouch`.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.input.motionevent import MotionEvent
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget


@dataclass
class Until:
    predicate: Callable[[], Any]
    what: str
    timeout: float = 20.0


class InThread:
    def __init__(self, fn: Callable[..., Any], *args: Any):
        self.fn, self.args = fn, args
        self.result, self.error = None, None
        self.done = threading.Event()

    def start(self) -> None:
        def run():
            try:
                self.result = self.fn(*self.args)
            except BaseException as e:  # handed back to the script, re-raised there
                self.error = e
            finally:
                self.done.set()

        threading.Thread(target=run, name="script-call", daemon=True).start()


class StepTimeout(AssertionError):
    pass


# Kivy's Clock holds callbacks weakly: a running script is kept alive here.
_running: set["Script"] = set()


class Script:
    """Runs `steps` (a generator) on the Kivy clock; reports the end once."""

    def __init__(self, steps: Generator, on_end: Callable[[BaseException | None], None]):
        self._steps = steps
        self._on_end = on_end
        self._waiting: Any = None
        self._deadline = 0.0
        self._event = None

    def start(self) -> None:
        _running.add(self)
        self._event = Clock.schedule_interval(self._poll, 0)
        self._advance()

    def _advance(self, value: Any = None, error: BaseException | None = None) -> None:
        """Resume the script with a value, or raise `error` where it waits."""
        try:
            step = self._steps.throw(error) if error is not None else self._steps.send(value)
        except StopIteration:
            self._finish(None)
            return
        except BaseException as e:
            self._finish(e)
            return
        now = Clock.get_time()
        if isinstance(step, (int, float)):
            self._waiting, self._deadline = "sleep", now + step
        elif isinstance(step, Until):
            self._waiting, self._deadline = step, now + step.timeout
        elif isinstance(step, InThread):
            step.start()
            self._waiting = step
        else:
            self._advance(error=TypeError(f"a script step cannot be {step!r}"))

    def _finish(self, error: BaseException | None) -> None:
        self._event.cancel()
        _running.discard(self)
        self._waiting = None
        self._on_end(error)

    def _poll(self, _dt) -> None:
        w = self._waiting
        now = Clock.get_time()
        if w == "sleep":
            if now >= self._deadline:
                self._advance()
        elif isinstance(w, Until):
            try:
                ok = w.predicate()
            except Exception as e:
                self._advance(error=e)
                return
            if ok:
                self._advance()
            elif now >= self._deadline:
                self._advance(error=StepTimeout(f"timed out after {w.timeout:.0f}s waiting until {w.what}"))
        elif isinstance(w, InThread) and w.done.is_set():
            if w.error is not None:
                self._advance(error=w.error)
            else:
                self._advance(w.result)


class _Touch(MotionEvent):
    """A finger on the glass at window coordinates (x, y)."""

    def __init__(self, x: float, y: float):
        win = EventLoop.window
        super().__init__("panel-driver", id(self), {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                         is_touch=True, type_id="touch")

    def depack(self, args):
        self.sx = args["x"]
        self.sy = args["y"]
        self.profile = ["pos"]
        super().depack(args)


class Driver:
    """A finger and a camera for the running app."""

    def __init__(self, app):
        self.app = app

    # -- finding ----------------------------------------------------------

    def screen(self, name: str | None = None):
        manager = self.app.root
        return manager.get_screen(name) if name else manager.current_screen

    def on_window(self, widget: Widget) -> bool:
        """True when the widget lies wholly inside the window."""
        x, y = widget.to_window(widget.x, widget.y)
        return x >= 0 and y >= 0 and x + widget.width <= Window.width + 0.5 and y + widget.height <= Window.height + 0.5

    # -- touching ---------------------------------------------------------

    def tap(self, widget: Widget) -> Generator:
        """Touch the widget's centre, as a finger would (bring it into view first)."""
        # A ScreenManager drops touches while it changes screens, even with
        # NoTransition (it ends on the next frame): a finger is never that fast.
        manager = self.app.root
        while getattr(manager, "transition", None) is not None and manager.transition.is_active:
            yield 0
        # Nor is it faster than a dialog fading out: its overlay takes every
        # touch until it is gone (a slow frame rate makes that longer). A
        # dialog that stays is touched through after a while, to no effect,
        # as a finger would be.
        deadline = Clock.get_time() + 3
        while self._dialogs_in_the_way(widget) and Clock.get_time() < deadline:
            yield 0
        parent = widget.parent
        # The window is its own parent: stop there.
        while isinstance(parent, Widget) and not isinstance(parent, ScrollView):
            parent = parent.parent
        # A RecycleView only builds the rows it shows (and cannot scroll_to).
        # Factory's class: kv builds it from kivy.uix.recycleview.__init__, a
        # module object of its own, so kivy.uix.recycleview's class would not match.
        if isinstance(parent, ScrollView) and not isinstance(parent, Factory.RecycleView):
            parent.scroll_to(widget, padding=20, animate=False)
            yield 0.03
        x, y = widget.to_window(*widget.center)
        touch = _Touch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        yield 0.03
        EventLoop.post_dispatch_input("end", touch)
        # A few frames: the release is dispatched, and what it changed is laid out.
        yield 0.06

    @staticmethod
    def _dialogs_in_the_way(widget: Widget) -> list:
        """Dialogs on the window (open or fading out) other than one holding `widget`."""
        mine = set()
        node = widget
        while isinstance(node, Widget) and node not in mine:
            mine.add(node)
            node = node.parent
        return [w for w in Window.children if isinstance(w, ModalView) and w not in mine]

    def type_into(self, text_input: Widget, text: str) -> Generator:
        """Focus a field by touch and type `text` over what it held."""
        yield from self.tap(text_input)
        text_input.select_all()
        text_input.delete_selection()
        text_input.insert_text(text)
        yield 0.03

    def choose(self, spinner: Widget, label: str) -> Generator:
        """Open a drop-down by touch and touch the option `label`."""
        if spinner.text == label:
            return
        yield from self.tap(spinner)
        yield Until(lambda: spinner.is_open, f"the {spinner.text!r} list opened", 5)
        options = [w for w in spinner._dropdown.container.children if getattr(w, "text", None) == label]
        if not options:
            raise AssertionError(f"{label!r} is not among the choices")
        yield from self.tap(options[0])
        yield Until(lambda: spinner.text == label, f"{label!r} chosen", 5)

    def set_toggle(self, toggle: Widget, on: bool) -> Generator:
        if (toggle.state == "down") != on:
            yield from self.tap(toggle)

    # -- looking ----------------------------------------------------------

    def screenshot(self, path: Path) -> Generator:
        """Save what the window shows to `path` (PNG), after the next frames are drawn."""
        yield 0.25
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = Window.screenshot(name=str(path))
        os.replace(saved, path)


def format_error(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
