"""CSV records read from lines as they come, each bad line reported and skipped. Pure: no I/O.

The lines are read lazily, and at most ``MAX_RECORD_LINES`` of them are held at a time, so a file
of any length is read in bounded memory. A record normally is one line; it goes on to the next
line only while the csv module says it ended inside a quoted field (a name with a line break in
quotes). A stray quote or a huge field costs that line only: reading goes on at the next line.

A line with no quote character and no NUL is split at the separator directly: that is exactly
what the csv module does with such a line (RFC 4180 gives meaning only to quotes; its line end is
``\\n``, ``\\r\\n`` or ``\\r``, which is where the lines were split), and several times faster.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TextIO

# A record (one row, possibly over several lines inside quotes) longer than this is refused
# before the csv module sees it; it stays below csv.field_size_limit()'s default of 128 KB,
# which is process-wide and so left alone.
MAX_RECORD_CHARS = 64 * 1024
MAX_RECORD_LINES = 20  # a quoted name spanning more lines is a stray quote, not a name
_INSIDE_QUOTES = "unexpected end of data"  # csv's strict mode: the text ended inside quotes
_STRAY_QUOTE = 'a quoted field is never closed: a stray " perhaps'


def records(lines: Iterable[str], source: str, errors: list[str],
            delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records (cells split at ``delimiter``) with the line each starts on, 1-based.

    ``lines`` are split as ``open(..., newline="")`` splits them (at ``\\n``, ``\\r\\n`` or
    ``\\r``, the line end kept). Each bad line is reported in ``errors`` as "source:line: this
    line is not valid CSV (why); ..." and skipped."""
    ahead = _Lookahead(iter(lines))
    number = 1
    while ahead.has(0):
        span, cells, problem = _record_at(ahead, delimiter)
        if problem:
            errors.append(f"{source}:{number}: this line is not valid CSV ({problem}); "
                          "skipped, the lines after it are read")
            span = 1
        elif any(cell.strip() for cell in cells):
            yield number, cells
        ahead.drop(span)
        number += span


def lines_of(file: TextIO, limit: int = MAX_RECORD_CHARS + 1) -> Iterator[str]:
    """The lines of a text file opened with ``newline=""``, one per line of the file, none
    longer than ``limit`` characters: of a longer line only its first ``limit`` characters are
    kept (so it is still refused as too long) and the rest is read and dropped, so that a file
    with no line ends is never held whole."""
    ahead = ""
    while line := ahead or file.readline(limit):
        ahead = _drop_rest(file, line, limit) if len(line) == limit else ""
        yield line


def _drop_rest(file: TextIO, piece: str, limit: int) -> str:
    """Read past the rest of the line ``piece`` began; returns what was read of the next line."""
    while len(piece) == limit and not piece.endswith("\n"):
        if piece.endswith("\r"):  # the line ended, unless its "\r\n" was cut in two
            piece = file.readline(limit)
            return "" if piece == "\n" else piece
        piece = file.readline(limit)
    return ""


class _Lookahead:
    """The next few lines of an iterator, pulled only when asked for."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._held: deque[str] = deque()

    def has(self, index: int) -> bool:
        """Whether there is a line ``index`` lines ahead (0: the current one)."""
        while len(self._held) <= index:
            line = next(self._lines, None)
            if line is None:
                return False
            self._held.append(line)
        return True

    def __getitem__(self, index: int) -> str:
        self.has(index)
        return self._held[index]

    def drop(self, count: int) -> None:
        for _ in range(count):
            self._held.popleft()


def _record_at(ahead: _Lookahead, delimiter: str) -> tuple[int, list[str], str]:
    """(lines used, cells, "") for the record starting at the current line, or (0, [], why)."""
    first = ahead[0]
    if len(first) <= MAX_RECORD_CHARS and '"' not in first and "\0" not in first:
        return 1, first.rstrip("\r\n").split(delimiter), ""
    chunk = ""
    for span in range(1, MAX_RECORD_LINES + 1):
        chunk += ahead[span - 1]
        if len(chunk) > MAX_RECORD_CHARS:
            return 0, [], f"longer than {MAX_RECORD_CHARS // 1024} KB"
        try:
            found = list(csv.reader(io.StringIO(chunk, newline=""), strict=True,
                                    delimiter=delimiter))
        except csv.Error as exc:
            if str(exc) == _INSIDE_QUOTES and ahead.has(span):
                continue
            return 0, [], _STRAY_QUOTE if span > 1 or str(exc) == _INSIDE_QUOTES else str(exc)
        return span, found[0] if found else [], ""
    return 0, [], f"{_STRAY_QUOTE}; it would run over more than {MAX_RECORD_LINES} lines"
