"""A QR code drawn crisp enough to be read off the screen or a screenshot.

The matrix comes from the `qrcode` library (no imaging library needed). It is
blitted one texel per module, quiet zone included, into a texture filtered
`nearest`, and drawn at a whole number of pixels per module: no blur, no
uneven modules, so a phone camera or a decoder reading a screenshot sees
clean black-on-white squares.
"""

from __future__ import annotations

import qrcode
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.widget import Widget

QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of `text`'s QR code, quiet zone included; True is dark."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def matrix_texture(matrix: list[list[bool]]) -> Texture:
    n = len(matrix)
    rows = []
    # Texture rows run bottom to top; the matrix's run top to bottom.
    for row in reversed(matrix):
        rows.append(b"".join(b"\x00\x00\x00\xff" if dark else b"\xff\xff\xff\xff" for dark in row))
    texture = Texture.create(size=(n, n), colorfmt="rgba")
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    texture.blit_buffer(b"".join(rows), colorfmt="rgba", bufferfmt="ubyte")
    return texture


class QRWidget(Widget):
    data = StringProperty("")
    modules = NumericProperty(0)  # side of the matrix, quiet zone included
    module_px = NumericProperty(0)  # screen pixels per module, as drawn

    def __init__(self, **kwargs):
        self._texture = None
        super().__init__(**kwargs)
        self.bind(data=self._rebuild, pos=self._redraw, size=self._redraw)
        self._rebuild()

    def _rebuild(self, *_):
        if self.data:
            matrix = qr_matrix(self.data)
            self.modules = len(matrix)
            self._texture = matrix_texture(matrix)
        else:
            self.modules = 0
            self._texture = None
        self._redraw()

    def _redraw(self, *_):
        self.canvas.clear()
        if not self._texture:
            self.module_px = 0
            return
        side = min(self.width, self.height)
        # Whole pixels per module; a fractional scale would make uneven modules.
        px = max(1, int(side // self.modules))
        drawn = px * self.modules
        x = int(self.center_x - drawn / 2)
        y = int(self.center_y - drawn / 2)
        self.module_px = px
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(texture=self._texture, pos=(x, y), size=(drawn, drawn))
