"""Benchmark: importing a subscribers CSV of 100,000 rows into a fresh store.

``digest`` reads the file line by line, so that a stray quote or a huge field costs that line
only, and never holds it whole. The baseline is what such recovery costs against: the whole file
decoded and given to one ``csv.reader`` (no recovery: a stray quote swallows the rest of the
file), each row checked, merged in a dict, then handed to the same store import. Both run on the
same file, alternately, ROUNDS times each; medians are compared. A file whose every name is
quoted shows the lines that take the csv module's way (no fast path).

The last line: ``ratio=R`` (baseline seconds / digest seconds; above 1, digest is faster).

    .venv/bin/python bench/csvimport.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from digest.app.readers import import_csv
from digest.store import Store
from digest.subscribers import SubscriberRow, check_row, email_key

ROUNDS = 5


def write(path: Path, rows: int, *, quoted: bool) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\r\n")
        for i in range(rows):
            name = f'"Reader {i}, N\u00f8 {i}"' if quoted else f"Reader N\u00f8 {i}"
            out.write(f"reader{i}@example.net,{name}\r\n")
    return path


def whole_file(path: Path, store: Store) -> int:
    """The baseline: one csv.reader over the whole decoded text, rows merged in a dict."""
    text = path.read_bytes().decode("utf-8-sig")
    merged: dict[str, SubscriberRow] = {}
    for line, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if line == 1 or not cells:
            continue
        row = check_row(SubscriberRow(cells[0], cells[1] if len(cells) > 1 else "", line))
        merged.setdefault(email_key(row.email), row)
    return store.import_subscribers(merged.values()).added


def streamed(path: Path, store: Store) -> int:
    report = import_csv(path, store).report
    assert report is not None
    return report.added


def timed(folder: Path, path: Path, work: Callable[[Path, Store], int], rows: int,
          round_: int) -> float:
    with Store.open(folder / f"{work.__name__}-{path.stem}-{round_}.sqlite3") as store:
        start = time.perf_counter()
        added = work(path, store)
        elapsed = time.perf_counter() - start
    assert added == rows, (work.__name__, added)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = write(folder / "plain.csv", rows, quoted=False)
        quoted = write(folder / "quoted.csv", rows, quoted=True)
        times: dict[str, list[float]] = {}
        for round_ in range(ROUNDS):
            for name, path, work in (("baseline", plain, whole_file), ("digest", plain, streamed),
                                     ("digest, every name quoted", quoted, streamed)):
                times.setdefault(name, []).append(timed(folder, path, work, rows, round_))
    medians = {name: statistics.median(found) for name, found in times.items()}
    print(f"importing {rows:,} rows into a fresh store, median of {ROUNDS}:")
    for name, seconds in medians.items():
        print(f"  {name:<28} {seconds:6.2f} s")
    print(f"ratio={medians['baseline'] / medians['digest']:.2f}")


if __name__ == "__main__":
    main()
