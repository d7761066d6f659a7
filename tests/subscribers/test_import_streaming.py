"""A subscribers CSV of any length is imported without being held: read line by line, checked
once, merged in SQL a chunk at a time inside one transaction. Real files, real SQLite stores."""

from __future__ import annotations

import csv
import io
import itertools
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.app.readers import SubscriberImport, import_csv
from digest.errors import SubscriberError
from digest.store import ImportReport, Store
from digest.store.subscribers import IMPORT_CHUNK
from digest.subscribers import SubscriberRow, merge_duplicates, parse_csv
from digest.subscribers.records import lines_of, records
from support.e2e import write_config


def table(path: Path) -> list[tuple[str, str, str, str]]:
    """The subscribers table as SQLite has it: (email, name, status, updated_at) by id."""
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT email, name, status, updated_at FROM subscribers"
                            " ORDER BY id").fetchall()


def write_rows(path: Path, rows: int, name: str = "Reader {i} " + "x" * 60) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\r\n")
        out.writelines(f"reader{i}@example.org,{name.format(i=i)}\r\n" for i in range(rows))
    return path.stat().st_size


# --- memory ---------------------------------------------------------------------------------------


def traced_import(path: Path, store: Store) -> tuple[SubscriberImport, int]:
    """(what ``import_csv`` returned, the peak of Python's allocations during it, in bytes)."""
    tracemalloc.start()
    try:
        result = import_csv(path, store)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_file_imports_in_memory_far_below_its_size(store: Store, tmp_path: Path) -> None:
    """Holding the file (its bytes, its text, its lines or its rows) would each cost more than
    the bound: the import reads it in chunks and never has more than a few of them."""
    path = tmp_path / "big.csv"
    size = write_rows(path, 60_000)
    result, peak = traced_import(path, store)
    assert result.errors == () and result.report is not None
    assert result.report.added == 60_000 and store.subscriber_count() == 60_000
    assert size > 5_000_000
    assert peak < size / 5, f"peak {peak} bytes for a file of {size}"


def test_records_are_read_as_they_are_asked_for() -> None:
    """The reader pulls a line only when the record before it is done (and at most the lines
    of one quoted record ahead), so an endless source can be read from."""
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        for i in itertools.count():
            lines = ([f'r{i}@example.org,"Reader\n', f'{i}"\n'] if i % 3 == 0
                     else [f"r{i}@example.org,R\n"])
            for line in lines:
                pulled += 1
                yield line

    errors: list[str] = []
    got = records(endless(), "s.csv", errors)
    first = [next(got) for _ in range(4)]
    assert [line for line, _ in first] == [1, 3, 4, 5]
    assert first[0][1] == ["r0@example.org", "Reader\n0"]
    assert (pulled, errors) == (6, [])


@pytest.mark.parametrize("limit", [2, 3, 5, 8])
def test_lines_of_a_file_are_its_lines_each_cut_to_the_limit(tmp_path: Path, limit: int) -> None:
    """Whatever the line ends (a "\r\n" falling across the limit included), one line read per
    line of the file, in order, each at most ``limit`` characters."""
    rng = random.Random(limit)
    path = tmp_path / "lines.csv"
    for _ in range(300):
        text = "".join(rng.choice(["a", "b", "\r", "\n", "\r\n", "cccccc"])
                       for _ in range(rng.randint(0, 30)))
        path.write_bytes(text.encode())
        with path.open(encoding="utf-8", newline="") as file:
            got = list(lines_of(file, limit))
        assert got == [line[:limit] for line in io.StringIO(text, newline="").readlines()], \
            repr(text)


def test_a_file_with_an_endless_line_is_never_held(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\r\nann@example.org,Ann\r\nhuge@example.org,")
        for _ in range(64):
            out.write("x" * 100_000)
        out.write("\r\nbob@example.org,Bob\r\n")
    result, peak = traced_import(path, store)
    assert peak < 2_000_000, peak
    assert [s.email for s in store.subscribers()] == ["ann@example.org", "bob@example.org"]
    assert result.errors == (f"{path}:3: this line is not valid CSV (longer than 64 KB); "
                             "skipped, the lines after it are read",)


# --- the fast path: lines without quotes ----------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_lines_without_quotes_split_as_the_csv_module_splits_them(delimiter: str) -> None:
    pieces = ["a@example.org", "Ann", "", " spaced ", "x;y", "tab\there", "'=1+2", "\x0b", "é",
              ",", ";", "\u2028", "\x1c", " "]
    rng = random.Random(7)
    ends = ["\n", "\r\n", "\r", ""]
    for _ in range(3_000):
        line = "".join(rng.choice(pieces + [delimiter] * 4) for _ in range(rng.randint(0, 8)))
        line += rng.choice(ends)
        errors: list[str] = []
        ours = [cells for _, cells in records([line], "s.csv", errors, delimiter)]
        theirs = [cells for cells in csv.reader(io.StringIO(line, newline=""), strict=True,
                                                delimiter=delimiter)
                  if any(cell.strip() for cell in cells)]
        assert (ours, errors) == (theirs, []), repr(line)


# --- duplicates -----------------------------------------------------------------------------------


def spread_duplicates(count: int) -> list[SubscriberRow]:
    """``count`` rows where most addresses come back (other case, other or no name) one to
    three chunks later, so that duplicates meet across the import's chunk boundaries."""
    rng = random.Random(11)
    rows = [SubscriberRow(f"Reader{i}@Example.org", f"First {i}" if i % 4 else "", i + 1)
            for i in range(count)]
    for j in range(count):
        i = rng.randrange(count)
        at = min(len(rows), i + rng.randint(IMPORT_CHUNK - 5, 3 * IMPORT_CHUNK))
        name = rng.choice(["", f"Later {j}", f"First {i}"])
        rows.insert(at, SubscriberRow(f"READER{i}@example.ORG", name, 0))
    return rows


def test_duplicates_across_chunks_merge_by_the_rule(store: Store, tmp_path: Path) -> None:
    """The first spelling stays, the last non-empty name wins: what merge_duplicates does."""
    rows = spread_duplicates(4 * IMPORT_CHUNK)
    expected = merge_duplicates(SubscriberRow(r.email.replace("@Example.org", "@example.org")
                                              .replace("@example.ORG", "@example.org"),
                                              r.name) for r in rows)
    report = store.import_subscribers(rows)
    assert report == ImportReport(added=len(expected), updated=0, unchanged=0, kept_out=0)
    assert [(s.email, s.name) for s in store.subscribers()] == [(r.email, r.name)
                                                              for r in expected]


def test_a_file_with_duplicates_far_apart_merges_like_parse_csv(store: Store,
                                                                tmp_path: Path) -> None:
    rows = spread_duplicates(3 * IMPORT_CHUNK)
    text = "email,name,status\n" + "".join(
        f"{r.email},{r.name},{'unsubscribed' if i % 97 == 0 else ''}\n"
        for i, r in enumerate(rows))
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    merged, errors = parse_csv(text, source=str(path))
    active = [r for r in merged if r.status == "active"]
    result = import_csv(path, store)
    assert errors == [] and result.errors == ()
    assert result.not_active == len(merged) - len(active) > 0
    assert result.report is not None and result.report.added == len(active)
    assert [(s.email, s.name) for s in store.subscribers()] == [(r.email, r.name) for r in active]


def test_reimport_counts_what_changed(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    write_rows(path, 2_500, name="Reader {i}")
    import_csv(path, store)
    store.set_subscriber_status("reader7@example.org", "bounced")
    text = path.read_bytes().replace(b",Reader 12\r\n", b",Renamed\r\n")
    path.write_bytes(text + b"reader12@example.org,\r\nnew@example.org,New\r\n")
    result = import_csv(path, store)
    assert result.report == ImportReport(added=1, updated=1, unchanged=2_498, kept_out=1)
    assert store.subscriber_by_email("reader12@example.org").name == "Renamed"  # type: ignore


# --- bad input ------------------------------------------------------------------------------------


def test_a_bad_line_after_many_good_ones_costs_that_line_only(store: Store,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    lines = [f"reader{i}@example.org;Reader {i}" for i in range(5_000)]
    lines[4_321] = 'broken@example.org;"never closed'
    lines[4_500] = "bob@@example.org;Bob"
    path.write_bytes(("E-Mail;Name\r\n" + "\r\n".join(lines) + "\r\n").encode("cp1252"))
    result = import_csv(path, store)
    assert result.report is not None and result.report.added == 4_998
    assert [e.split(" (")[0] for e in result.errors] == [
        f"{path}:4323: this line is not valid CSV",
        f'{path}:4502: "bob@@example.org" is not a valid email address']


def test_a_byte_that_is_no_encoding_far_into_the_file_imports_nothing(
        store: Store, tmp_path: Path) -> None:
    store.add_subscriber("zed@example.org", "Zed")
    before = table(store.path)
    path = tmp_path / "people.csv"
    size = write_rows(path, 20_000)
    with path.open("ab") as out:
        out.write(b"last@example.org,\xc3\x81\x81\r\n")
    result = import_csv(path, store)
    assert result.errors == (f"{path}: the file is neither UTF-8 nor Windows-1252 (byte 0x81 "
                             f"at offset {size + 19}); save it as \"CSV UTF-8\"; nothing was "
                             "imported",)
    assert table(store.path) == before


def test_an_invalid_row_after_several_chunks_writes_nothing(store: Store) -> None:
    """The rows reach SQLite a chunk at a time, but in one transaction: a bad row late in the
    input undoes the chunks before it, renames included."""
    store.import_subscribers([SubscriberRow("reader5@example.org", "Old name")])
    before = table(store.path)
    rows = [SubscriberRow(f"reader{i}@example.org", f"Reader {i}", i + 1) for i in range(2_600)]
    rows.append(SubscriberRow("reader@@example.org", "Bad", 2_601))
    with pytest.raises(SubscriberError, match="line 2601: .* nothing was imported"):
        store.import_subscribers(iter(rows))
    assert table(store.path) == before


def test_a_disk_that_fills_up_midway_leaves_the_list_as_it_was(tmp_path: Path) -> None:
    """A real full disk: the store's folder on a 1 MB tmpfs (in a user and mount namespace),
    an import that needs more. SQLite fails in the middle of the transaction; the import is
    rolled back whole and the run exits 4 naming the file."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not allowed here: {probe.stderr.decode().strip()}")
    config = write_config(tmp_path / "site", ["feed.xml"], subscribers=None)
    store = config.parent / "digest.sqlite3"
    with Store.open(store) as opened:
        opened.import_subscribers(SubscriberRow(f"reader{i}@example.org", "Before")
                                  for i in range(0, 40_000, 100))
    with sqlite3.connect(store) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = table(store)
    small, people = tmp_path / "small.csv", tmp_path / "people.csv"
    small.write_text("small@example.org,Small\n", encoding="utf-8")
    write_rows(people, 40_000)
    keep = tmp_path / "kept"
    keep.mkdir()
    site, kept, q = shlex.quote(str(config.parent)), shlex.quote(str(keep)), shlex.quote
    command = " ".join(q(a) for a in [sys.executable, "-m", "digest", "--config", str(config),
                                      "subscribers", "import"])
    # The small import first shows the disk takes a write: only the large one runs out.
    script = (f"cp -a {site}/. {kept}/\nmount -t tmpfs -o size=1m tmpfs {site}\n"
              f"cp -a {kept}/. {site}/\nrm {kept}/digest.sqlite3*\n"
              f"trap 'cp {site}/digest.sqlite3* {kept}/' EXIT\nset +e\n"
              f"{command} {q(str(small))} >/dev/null 2>&1\necho $? >{kept}/small.txt\n"
              f"{command} {q(str(people))} 2>{kept}/err.txt\necho $? >{kept}/code.txt\n")
    ran = subprocess.run(["unshare", "-rm", "sh", "-ec", script], capture_output=True,
                         text=True, timeout=180)
    assert ran.returncode == 0, ran.stderr
    err = (keep / "err.txt").read_text()
    assert (keep / "small.txt").read_text().strip() == "0"
    assert (keep / "code.txt").read_text().strip() == "4", err
    assert "is full" in err and err.count("\n") == 1, err
    after = table(keep / "digest.sqlite3")
    assert after[:-1] == before and after[-1][:3] == ("small@example.org", "Small", "active")
