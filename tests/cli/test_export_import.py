"""`digest subscribers export` and `import` through the real CLI and real SQLite files: a round
trip, cells neutralised against spreadsheet formulas, and CSV files as Excel saves them in a
German or French locale (';', CRLF, a byte order mark, Windows-1252)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store import Store
from support.e2e import write_config
from support.rss import run_cli

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAMES = {
    "ann@example.org": "Ann Lee",
    "bob@example.org": "Bob Ørsted, Jr. \"the first\"",
    "cy@example.org": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "dee@example.org": "+1 555 0100",
    "-eve@example.org": "-2",
    "=fay@example.org": "@SUM(A1)",
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "one", ["feed.xml"], subscribers=None)


def store_of(config: Path) -> Store:
    return Store.open(config.parent / "digest.sqlite3")


def listed(config: Path) -> dict[str, tuple[str, str]]:
    with store_of(config) as store:
        return {s.email: (s.name, s.status) for s in store.subscribers()}


def fill(config: Path) -> None:
    for email, name in NAMES.items():
        added = run_cli(config, "subscribers", "add", "--name", name, "--", email, now=NOW)
        assert added.code == 0, added.err
    assert run_cli(config, "subscribers", "remove", "dee@example.org", now=NOW).code == 0


def test_export_writes_the_columns_and_neutralises_formulas(config: Path) -> None:
    fill(config)
    out = config.parent / "people.csv"
    result = run_cli(config, "subscribers", "export", "--out", str(out), now=NOW)
    assert result.code == 0 and result.out == f"6 subscribers written to {out}\n"
    raw = out.read_bytes()
    assert raw.startswith(b"email,name,status,subscribed_at,changed_at,reason\r\n")
    assert raw.count(b"\r\n") == 7 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    by_email = {row["email"]: row for row in rows}
    assert by_email["cy@example.org"]["name"].startswith("'=HYPERLINK(")
    assert by_email["dee@example.org"]["name"] == "'+1 555 0100"
    assert by_email["dee@example.org"]["status"] == "unsubscribed"
    assert by_email["'-eve@example.org"]["name"] == "'-2"
    assert by_email["'=fay@example.org"]["name"] == "'@SUM(A1)"
    assert by_email["bob@example.org"]["name"] == NAMES["bob@example.org"]
    for row in rows:  # no cell a spreadsheet would run
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
        assert row["subscribed_at"] and row["changed_at"]


def test_export_of_one_status_to_standard_output(config: Path) -> None:
    fill(config)
    result = run_cli(config, "subscribers", "export", "--status", "unsubscribed", now=NOW)
    lines = result.out.splitlines()
    assert result.code == 0 and len(lines) == 2 and lines[1].startswith("dee@example.org,")


def test_what_export_writes_import_reads_back(config: Path, tmp_path: Path) -> None:
    fill(config)
    out = tmp_path / "people.csv"
    run_cli(config, "subscribers", "export", "--out", str(out), now=NOW)
    other = write_config(tmp_path / "two", ["feed.xml"], subscribers=None)
    result = run_cli(other, "subscribers", "import", str(out), now=NOW)
    assert result.code == 0, result.err
    assert "5 added" in result.out and "1 row left out: its status column says not active" \
        in result.out
    expected = {email: (name, "active") for email, name in NAMES.items()
                if email != "dee@example.org"}
    assert listed(other) == expected
    # And the same file into the store it came from changes nothing.
    before = listed(config)
    again = run_cli(config, "subscribers", "import", str(out), now=NOW)
    assert again.code == 0 and "5 unchanged" in again.out and listed(config) == before


EXCEL = [
    # (what Excel was, the bytes it saved)
    ("German, Windows-1252", "E-Mail;Name\r\nann@example.org;Jürgen Groß\r\n"
     "bob@example.org;Zoë Lefèvre\r\n".encode("cp1252")),
    ("French, CSV UTF-8 with a BOM", "\ufeffEmail;Nom;Ville\r\nann@example.org;Jürgen Groß;"
     "Lyon\r\nbob@example.org;Zoë Lefèvre;Paris\r\n".encode()),
    ("no header, semicolons, Windows-1252", "ann@example.org;Jürgen Groß\r\n"
     "bob@example.org;Zoë Lefèvre\r\n".encode("cp1252")),
    ("tab-separated text", b"email\tname\r\nann@example.org\tJ\xc3\xbcrgen Gro\xc3\x9f\r\n"
     b"bob@example.org\tZo\xc3\xab Lef\xc3\xa8vre\r\n"),
    ("Unicode Text (UTF-16 little-endian, tabs)", "\ufeffE-Mail\tName\r\nann@example.org\t"
     "Jürgen Groß\r\nbob@example.org\tZoë Lefèvre\r\n".encode("utf-16-le")),
    ("UTF-16 big-endian, commas", "\ufeffemail,name\r\nann@example.org,Jürgen Groß\r\n"
     "bob@example.org,Zoë Lefèvre\r\n".encode("utf-16-be")),
]


@pytest.mark.parametrize(("kind", "data"), EXCEL, ids=[kind for kind, _ in EXCEL])
def test_excel_files_in_european_locales_import(config: Path, kind: str, data: bytes) -> None:
    path = config.parent / "from-excel.csv"
    path.write_bytes(data)
    result = run_cli(config, "subscribers", "import", str(path), now=NOW)
    assert (result.code, result.err) == (0, ""), kind
    assert "2 added" in result.out
    names = {email: name for email, (name, _) in listed(config).items()}
    if kind.startswith("French"):  # "Nom" is no name header: the column is not read as one
        assert set(names) == {"ann@example.org", "bob@example.org"}
    else:
        assert names == {"ann@example.org": "Jürgen Groß", "bob@example.org": "Zoë Lefèvre"}


@pytest.mark.parametrize(("data", "said"), [
    (b"ann@example.org|Ann\r\nbob@example.org|Bob\r\n",
     "no row has a valid address, reading it with ',' (comma) as the separator, UTF-8"),
    ("mail;name\r\nann(at)example.org;Jürgen\r\n".encode("cp1252"),
     "no row has a valid address, reading it with ';' (semicolon) as the separator, "
     "Windows-1252"),
    (b"ann@example.org,\x81\x8d\xff\r\n",
     "the file is neither UTF-8 nor Windows-1252 (byte 0x81 at offset 16)"),
    (b"\xff\xfea\x00@\x00" + b"\x00\xdc" + b"b\x00",  # a lone low surrogate
     "the file starts as UTF-16 but is not"),
])
def test_a_file_read_wrongly_gets_one_message_and_changes_nothing(
        config: Path, data: bytes, said: str) -> None:
    run_cli(config, "subscribers", "add", "zed@example.org", now=NOW)
    before = listed(config)
    path = config.parent / "odd.csv"
    path.write_bytes(data)
    result = run_cli(config, "subscribers", "import", str(path), now=NOW)
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert said in result.err and "nothing was imported" in result.err
    assert listed(config) == before
