"""Pictures for the browser tests, made here (no third-party images): PNGs of soft vertical
gradients, in the sizes feeds really send (a 2,400 px camera original, a 150 px thumbnail)."""

from __future__ import annotations

import struct
import zlib

Colour = tuple[int, int, int]

# name -> (width, height, top colour, bottom colour)
DEMO_PICTURES: dict[str, tuple[int, int, Colour, Colour]] = {
    "window-light-1200x675.png": (1200, 675, (253, 230, 138), (94, 134, 160)),
    "morning-walk-1200x675.png": (1200, 675, (254, 215, 170), (45, 106, 79)),
    "morning-walk-150x150.png": (150, 150, (254, 215, 170), (45, 106, 79)),
    "taper-calendar.png": (1040, 520, (224, 231, 255), (67, 56, 202)),
}
LAYOUT_PICTURES: dict[str, tuple[int, int, Colour, Colour]] = {
    "harbour-2400.png": (2400, 1600, (186, 230, 253), (12, 74, 110)),
    "terminal-2400.png": (2400, 900, (64, 64, 64), (10, 10, 10)),
    "chart-2400.png": (2400, 1200, (236, 252, 203), (63, 98, 18)),
    "portrait-800.png": (800, 1000, (254, 226, 226), (153, 27, 27)),
}


def gradient_png(width: int, height: int, top: Colour, bottom: Colour) -> bytes:
    """A width x height RGB PNG fading from ``top`` to ``bottom``."""
    rows = []
    for y in range(height):
        share = y / max(height - 1, 1)
        pixel = bytes(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + pixel * width)
    data = zlib.compress(b"".join(rows), 6)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))
