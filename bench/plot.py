"""A small line plot written as a PNG with ``zlib`` alone.

No plotting library is among the project's dependencies, and one figure of a few lines does not
justify matplotlib (and numpy, pillow, fonttools) in the dev extras: axes, ticks, lines, markers
and a legend in a built-in 5x7 pixel font are under 200 lines, and the file is the same bytes
for the same figures (no timestamp, no font rendering that differs between machines).
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GRID: RGB = (225, 225, 225)
SCALE = 2  # font pixels per glyph pixel

#: 5x7 glyphs, one 5-bit row per digit, top row first (lower case, digits, a few signs).
_FONT_ROWS = {
    "0": "0e 11 13 15 19 11 0e",
    "1": "04 0c 04 04 04 04 0e",
    "2": "0e 11 01 02 04 08 1f",
    "3": "1f 02 04 02 01 11 0e",
    "4": "02 06 0a 12 1f 02 02",
    "5": "1f 10 1e 01 01 11 0e",
    "6": "06 08 10 1e 11 11 0e",
    "7": "1f 01 02 04 08 08 08",
    "8": "0e 11 11 0e 11 11 0e",
    "9": "0e 11 11 0f 01 02 0c",
    "a": "00 00 0e 01 0f 11 0f",
    "b": "10 10 16 19 11 11 1e",
    "c": "00 00 0e 10 10 11 0e",
    "d": "01 01 0d 13 11 11 0f",
    "e": "00 00 0e 11 1f 10 0e",
    "f": "06 09 08 1c 08 08 08",
    "g": "00 0f 11 11 0f 01 0e",
    "h": "10 10 16 19 11 11 11",
    "i": "04 00 0c 04 04 04 0e",
    "j": "02 00 06 02 02 12 0c",
    "k": "10 10 12 14 18 14 12",
    "l": "0c 04 04 04 04 04 0e",
    "m": "00 00 1a 15 15 11 11",
    "n": "00 00 16 19 11 11 11",
    "o": "00 00 0e 11 11 11 0e",
    "p": "00 00 1e 11 1e 10 10",
    "q": "00 00 0d 13 0f 01 01",
    "r": "00 00 16 19 10 10 10",
    "s": "00 00 0e 10 0e 01 1e",
    "t": "08 08 1c 08 08 09 06",
    "u": "00 00 11 11 11 13 0d",
    "v": "00 00 11 11 11 0a 04",
    "w": "00 00 11 11 15 15 0a",
    "x": "00 00 11 0a 04 0a 11",
    "y": "00 00 11 11 0f 01 0e",
    "z": "00 00 1f 02 04 08 1f",
    ".": "00 00 00 00 00 0c 0c",
    ",": "00 00 00 00 0c 04 08",
    "-": "00 00 00 1f 00 00 00",
    "(": "02 04 08 08 08 04 02",
    ")": "08 04 02 02 02 04 08",
    "/": "00 01 02 04 08 10 00",
    ":": "00 0c 0c 00 0c 0c 00",
    "=": "00 00 1f 00 1f 00 00",
    " ": "00 00 00 00 00 00 00",
}
FONT = {ch: [int(row, 16) for row in rows.split()] for ch, rows in _FONT_ROWS.items()}


@dataclass(frozen=True)
class Series:
    label: str
    colour: RGB
    points: Sequence[tuple[float, float]]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, colour: RGB, size: int = 1) -> None:
        for dy in range(size):
            for dx in range(size):
                px, py = x + dx, y + dy
                if 0 <= px < self.width and 0 <= py < self.height:
                    at = 3 * (py * self.width + px)
                    self.pixels[at : at + 3] = bytes(colour)

    def line(self, a: tuple[int, int], b: tuple[int, int], colour: RGB, pen: int = 1) -> None:
        """Bresenham's line, ``pen`` pixels wide."""
        (x0, y0), (x1, y1) = a, b
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0 - pen // 2, y0 - pen // 2, colour, pen)
            if (x0, y0) == (x1, y1):
                return
            doubled = 2 * err
            if doubled >= dy:
                err, x0 = err + dy, x0 + sx
            if doubled <= dx:
                err, y0 = err + dx, y0 + sy

    def text(self, x: int, y: int, text: str, colour: RGB = BLACK) -> None:
        for index, char in enumerate(text.lower()):
            rows = FONT.get(char, FONT[" "])
            for row, bits in enumerate(rows):
                for column in range(5):
                    if bits & (0x10 >> column):
                        self.dot(x + (index * 6 + column) * SCALE, y + row * SCALE, colour, SCALE)

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[3 * self.width * y : 3 * self.width * (y + 1)])
            for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + b"".join(
            _chunk(kind, data)
            for kind, data in ((b"IHDR", header), (b"IDAT", zlib.compress(raw, 9)), (b"IEND", b""))
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_width(text: str) -> int:
    return len(text) * 6 * SCALE


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = span / max(1, ticks)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def line_plot(path: Path, title: str, x_label: str, y_label: str, series: Sequence[Series]) -> Path:
    """Plot ``series`` from 0 to their largest x and y, with a legend, into a PNG at ``path``."""
    canvas = Canvas(760, 460)
    left, right, top, bottom = 90, 700, 60, 390
    x_max = max((x for s in series for x, _ in s.points), default=1.0) or 1.0
    y_max = max((y for s in series for _, y in s.points), default=1.0) or 1.0
    x_step, y_step = nice_step(x_max), nice_step(y_max)
    x_max, y_max = math.ceil(x_max / x_step) * x_step, math.ceil(y_max / y_step) * y_step

    def at(x: float, y: float) -> tuple[int, int]:
        return (
            round(left + (right - left) * x / x_max),
            round(bottom - (bottom - top) * y / y_max),
        )

    for i in range(round(x_max / x_step) + 1):
        x, _ = at(i * x_step, 0)
        canvas.line((x, top), (x, bottom), GRID)
        tick = _label(i * x_step)
        canvas.text(x - text_width(tick) // 2, bottom + 10, tick)
    for i in range(round(y_max / y_step) + 1):
        _, y = at(0, i * y_step)
        canvas.line((left, y), (right, y), GRID)
        tick = _label(i * y_step)
        canvas.text(left - 8 - text_width(tick), y - 7, tick)
    canvas.line((left, top), (left, bottom), BLACK, 2)
    canvas.line((left, bottom), (right, bottom), BLACK, 2)
    canvas.text(8, 10, title)
    canvas.text((left + right - text_width(x_label)) // 2, bottom + 40, x_label)
    canvas.text(max(4, left - text_width(y_label) // 2), top - 26, y_label)
    for number, line in enumerate(series):
        points = [at(x, y) for x, y in sorted(line.points)]
        for a, b in itertools.pairwise(points):
            canvas.line(a, b, line.colour, 3)
        for x, y in points:
            canvas.dot(x - 4, y - 4, line.colour, 9)
        legend_y = top + 10 + number * 22
        canvas.line((left + 20, legend_y + 7), (left + 50, legend_y + 7), line.colour, 3)
        canvas.text(left + 60, legend_y, line.label, line.colour)
    path.write_bytes(canvas.png())
    return path
