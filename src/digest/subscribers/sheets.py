"""Subscriber lists as spreadsheets save them: the export's CSV, cells neutralised against
formulas, and the encodings and separators of CSV files from Excel. Pure: no I/O, no SQL.

A spreadsheet runs a cell starting with ``= + - @``, a tab or a carriage return as a formula
(OWASP, "CSV Injection"): such a cell is written with a leading ``'``, which spreadsheets show
as text, and ``restore`` takes it off again when the file is imported back.

Excel saves "CSV" in the separator of the computer's locale: ``;`` where the decimal mark is a
comma (German, French), with CRLF line ends, and in Windows-1252 unless "CSV UTF-8" (with a
byte order mark) was chosen. ``encoding_of`` and ``separator`` read either.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from itertools import chain

from digest.errors import SubscriberError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ("email", "name", "status", "subscribed_at", "changed_at", "reason")
SEPARATORS = ",;\t"
_NAMES = {",": "',' (comma)", ";": "';' (semicolon)", "\t": "a tab"}


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text: a leading ``'`` before a formula start."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def restore(cell: str) -> str:
    """A neutralised cell as it was (``'=x`` -> ``=x``); any other cell unchanged."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


def export_csv(rows: Iterable[Sequence[str]]) -> Iterable[str]:
    """The export, a header row then one row per subscriber (cells in EXPORT_COLUMNS order),
    as RFC 4180 lines (CRLF), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(cell) for cell in row])
        yield buffer.getvalue()


def encoding_of(chunks: Iterable[bytes], source: str) -> tuple[str, str]:
    """(Python codec, name for messages) that reads a file given as consecutive byte chunks:
    UTF-8 (``utf-8-sig``: a byte order mark is dropped), else Windows-1252, Excel's "CSV" on
    Western European Windows; UTF-16 when the file starts with its byte order mark (Excel's
    "Unicode Text"). Reads each chunk once, holding none. ``SubscriberError`` naming
    the file and the first byte that is not UTF-8 when it is neither."""
    chunks = iter(chunks)
    first = next(chunks, b"")
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _utf16(first, chunks, source)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1252_ok = True
    offset = 0  # bytes given to the UTF-8 decoder before this chunk
    for chunk in chain([first], chunks):
        if cp1252_ok:
            cp1252_ok = _is_cp1252(chunk)
        try:
            pending = len(utf8.getstate()[0])
            utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            return _not_utf8(exc, offset - pending, chunks, cp1252_ok, source)
        offset += len(chunk)
    try:
        pending = len(utf8.getstate()[0])
        utf8.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # the file ends inside a character
        return _not_utf8(exc, offset - pending, (), cp1252_ok, source)
    return "utf-8-sig", "UTF-8"


def _utf16(first: bytes, rest: Iterable[bytes], source: str) -> tuple[str, str]:
    """Excel's "Unicode Text" (UTF-16 with a byte order mark, tab-separated)."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    offset = 0
    try:
        for chunk in chain([first], rest):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            f"{source}: the file starts as UTF-16 but is not (near offset {offset}); save it "
            'as "CSV UTF-8"; nothing was imported') from exc
    return "utf-16", "UTF-16"


def _not_utf8(exc: UnicodeDecodeError, start: int, rest: Iterable[bytes], cp1252_ok: bool,
              source: str) -> tuple[str, str]:
    if cp1252_ok and all(_is_cp1252(chunk) for chunk in rest):
        return "cp1252", "Windows-1252"
    raise SubscriberError(
        f"{source}: the file is neither UTF-8 nor Windows-1252 (byte "
        f"0x{exc.object[exc.start]:02x} at offset {start + exc.start}); save it as "
        '"CSV UTF-8"; nothing was imported') from exc


def _is_cp1252(chunk: bytes) -> bool:
    try:
        chunk.decode("cp1252")  # one byte a character: chunks can be checked apart
    except UnicodeDecodeError:
        return False
    return True


def separator(text: str) -> str:
    """The file's separator: ``,``, ``;`` or a tab, whichever splits most of the first lines
    into an address (or an email header) and more cells; where none does (a single column, or
    no address at all), csv.Sniffer's guess, else ``,``. A hostile name (a tab inside quotes, a
    semicolon in a formula) does not sway it: the address has to come out whole."""
    lines = [line for line in io.StringIO(text, newline="").readlines()[:20] if line.strip()]
    scores = {sep: sum(_splits_off_address(line, sep) for line in lines) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: scores[sep])  # a tie keeps the comma
    if scores[best]:
        return best
    try:
        return csv.Sniffer().sniff("".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


_ADDRESS = re.compile(r"[^\s,;\"']+@[^\s,;\"']+")
_EMAIL_HEADERS = frozenset({"email", "e-mail", "email address", "address", "mail", "courriel"})


def _splits_off_address(line: str, sep: str) -> bool:
    try:
        cells = next(csv.reader([line], delimiter=sep))
    except (csv.Error, StopIteration):
        return False
    first = cells[0].strip() if cells else ""
    return len(cells) > 1 and (first.lower() in _EMAIL_HEADERS or bool(_ADDRESS.fullmatch(first)))


def describe(sep: str, encoding: str) -> str:
    """"';' (semicolon) as the separator, Windows-1252": for messages about a file."""
    return f"{_NAMES.get(sep, repr(sep))} as the separator, {encoding}"
