"""The hop to the main thread and the worker, on Kivy's Clock with no window."""

from __future__ import annotations

import threading
import time

import pytest

from panel.errors import PanelError, ValidationError


def tick_until(clock, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        clock.tick()
        time.sleep(0.005)


def test_posts_from_threads_run_on_the_main_thread_in_order(kivy_clock):
    from panel.ui.mainthread import MainThreadQueue

    hop = MainThreadQueue()
    seen = []
    main = threading.get_ident()

    def producer():
        for i in range(200):
            hop.post(lambda i=i: seen.append((i, threading.get_ident())))

    t = threading.Thread(target=producer)
    t.start()
    t.join()
    assert seen == []  # nothing runs until the main thread's next frame
    tick_until(kivy_clock, lambda: len(seen) == 200)
    assert [i for i, _ in seen] == list(range(200))
    assert {ident for _, ident in seen} == {main}
    hop.close()


def test_one_failing_message_does_not_stop_the_rest(kivy_clock):
    from panel.ui.mainthread import MainThreadQueue

    hop = MainThreadQueue()
    seen = []
    hop.post(lambda: seen.append(1))
    hop.post(lambda: 1 / 0)
    hop.post(lambda: seen.append(3))
    tick_until(kivy_clock, lambda: seen == [1, 3])
    hop.close()
    hop.post(lambda: seen.append(4))
    kivy_clock.tick()
    assert seen == [1, 3]


def test_worker_runs_off_the_main_thread_and_reports_back(kivy_clock):
    from panel.ui.mainthread import MainThreadQueue
    from panel.ui.worker import UNEXPECTED, Worker

    hop = MainThreadQueue()
    worker = Worker(hop)
    main = threading.get_ident()
    got = []

    def where():
        return threading.get_ident()

    def refused():
        raise ValidationError({"smtp.port": "Enter a number from 1 to 65535."})

    def bug():
        raise RuntimeError("secret-token-value")

    worker.submit(where, on_result=lambda r: got.append(("result", r != main, threading.get_ident() == main)))
    worker.submit(refused, on_error=lambda e: got.append(("refused", e.errors)))
    worker.submit(bug, on_error=lambda e: got.append(("bug", type(e), e.message)), on_done=lambda: got.append("done"))
    tick_until(kivy_clock, lambda: len(got) == 4)
    assert got[0] == ("result", True, True)
    assert got[1] == ("refused", {"smtp.port": "Enter a number from 1 to 65535."})
    # A foreign exception's text never reaches the screen.
    assert got[2] == ("bug", PanelError, UNEXPECTED)
    assert got[3] == "done"
    assert worker.pending == 0
    worker.stop()
    hop.close()


@pytest.mark.parametrize("text", ["https://127.0.0.1:8443/lab/device?user_code=ABCD-EFGH",
                                  "https://microsoft.com/devicelogin"])
def test_qr_matrix_decodes_with_its_quiet_zone(kivy_clock, text):
    from PIL import Image
    from pyzbar.pyzbar import decode

    from panel.ui.qr_widget import QUIET_ZONE, qr_matrix

    matrix = qr_matrix(text)
    n = len(matrix)
    assert all(not any(row) for row in matrix[:QUIET_ZONE] + matrix[-QUIET_ZONE:])
    scale = 3  # the smallest module size the panel draws
    img = Image.new("L", (n * scale, n * scale), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                img.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    assert [d.data.decode() for d in decode(img)] == [text]
