"""The touch panel: a Kivy front end over `panel.core.Core`.

Kivy is imported only inside this package, and only after
`kivy_env.prepare()` has set Kivy's environment (its home under the data
directory, no argument parsing, the window size), because Kivy reads them
once, at import. `app.run_panel` and `tour.run_tour` do that first; other
modules here import Kivy at their top and must come after.

Thread rules: the Kivy main thread draws and never blocks; core calls run on
`worker.Worker`'s thread; `mainthread.MainThreadQueue` is the one way back.
"""
