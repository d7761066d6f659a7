"""SQLite trouble with the store file becomes one clear StoreError naming the file and what to
do, and changes nothing; SQLite errors from bugs in digest's own logic are not dressed up.

Through the real `digest run` too: exit code 4 and one line naming the file. A full disk and a
read-only disk are real: a small tmpfs and a read-only bind mount in a user namespace
(``unshare -rm``), skipped where the kernel does not allow one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.store import Store
from support.e2e import DATA, digest, write_config
from support.feedserver import FeedServer, Route


def files_of(folder: Path) -> dict[str, bytes]:
    """The store's database file and its write-ahead log, by name; an empty log (left by a
    process that could not clean up) counts as none."""
    found = {p.name: p.read_bytes() for p in sorted(folder.glob("digest.sqlite3*"))
             if not p.name.endswith((".lock", "-shm"))}
    return {name: data for name, data in found.items() if data or not name.endswith("-wal")}


def make_store(path: Path) -> None:
    with Store.open(path) as store:
        for i in range(300):
            store.add_subscriber(f"reader{i}@example.org", "Reader " + "x" * 100)
    with sqlite3.connect(path) as conn:  # everything into the main file, the WAL emptied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[2 * page:-page] = b"Z" * (len(data) - 3 * page)  # the header and first page stay
    path.write_bytes(bytes(data))


# --- in process ---------------------------------------------------------------------------------


def test_a_locked_store_is_a_store_error_and_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    with Store.open(path, busy_timeout=0.1) as store:
        store.add_subscriber("ann@example.org")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError) as caught:
            store.set_subscriber_status("ann@example.org", "unsubscribed")
        other.execute("ROLLBACK")
        other.close()
        assert str(caught.value).startswith(f"the store {path} is busy: another process kept it "
                                            "locked for longer than 0.1 s")
        assert "run again when it has finished" in str(caught.value)
        assert store.subscriber_count() == 1


def test_a_damaged_store_is_refused_by_name_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "digest.sqlite3"
    make_store(path)
    damage(path)
    before = files_of(tmp_path)
    with (pytest.raises(StoreError, match=f"{path} is not a digest store, or it is damaged "
                        r"\(database disk image is malformed\); restore it from a backup"),
          Store.open(path) as store):
        store.add_subscriber("new@example.org")
    assert files_of(tmp_path) == before


def test_errors_of_our_own_logic_stay_bugs(tmp_path: Path) -> None:
    """A broken constraint or a bad statement is not the file's trouble: not a StoreError."""
    with Store.open(tmp_path / "digest.sqlite3") as store:
        store.add_subscriber("ann@example.org")
        with pytest.raises(sqlite3.IntegrityError), store._tx() as conn:
            conn.execute("INSERT INTO subscribers (email, email_norm, created_at, updated_at) "
                         "SELECT email, email_norm, created_at, updated_at FROM subscribers")
        with pytest.raises(sqlite3.OperationalError, match="syntax error"), store._tx() as conn:
            conn.execute("SELEC 1")
        with pytest.raises(sqlite3.ProgrammingError), store._tx() as conn:
            conn.execute("SELECT ?", (1, 2))
        assert store.subscriber_count() == 1  # each transaction was rolled back


# --- through `digest run` -------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    """A config whose first `digest run` has made the store and sent issue 1 to the outbox."""
    with FeedServer() as feeds:
        url = feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        path = write_config(tmp_path / "site", [url])
        first = digest(path, "run")
        assert first.code == 0, first.err
        with sqlite3.connect(path.parent / "digest.sqlite3") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield path


def one_line_naming(err: str, store: Path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(store) in lines[0] and "Traceback" not in err
    return lines[0]


def test_run_on_a_damaged_store_exits_4_and_changes_nothing(config: Path) -> None:
    store = config.parent / "digest.sqlite3"
    damage(store)
    before = files_of(config.parent)
    result = digest(config, "run")
    assert result.code == 4
    assert "is not a digest store, or it is damaged" in one_line_naming(result.err, store)
    assert files_of(config.parent) == before


def test_run_on_a_locked_store_exits_4_and_changes_nothing(config: Path) -> None:
    """Waits the store's whole busy timeout (30 s) before giving up, as a real run would."""
    store = config.parent / "digest.sqlite3"
    before = files_of(config.parent)
    other = sqlite3.connect(store, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        result = digest(config, "run")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.code == 4
    assert " is busy: another process kept it locked" in one_line_naming(result.err, store)
    assert files_of(config.parent) == before


def run_mounted(config: Path, out: Path, mount: str) -> tuple[str, str]:
    """`digest run` as root of a new user and mount namespace, after the shell lines ``mount``
    (their mounts vanish with it); (stderr, exit status) as written into ``out``."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not allowed here: {probe.stderr.decode().strip()}")
    command = " ".join(shlex.quote(a) for a in
                       [sys.executable, "-m", "digest", "--config", str(config), "run"])
    q = shlex.quote
    script = (f"{mount}\ncd {q(str(config.parent))}\nset +e\n"
              f"{command} 2>{q(str(out / 'err.txt'))}\necho $? >{q(str(out / 'code.txt'))}\n")
    result = subprocess.run(["unshare", "-rm", "sh", "-ec", script], capture_output=True,
                            text=True, timeout=180, env={**os.environ})
    assert result.returncode == 0, result.stderr
    return (out / "err.txt").read_text(), (out / "code.txt").read_text().strip()


def test_run_on_a_full_disk_exits_4_and_changes_nothing(config: Path, tmp_path: Path) -> None:
    store = config.parent / "digest.sqlite3"
    before = files_of(config.parent)
    keep = tmp_path / "kept"
    keep.mkdir()
    site, kept = shlex.quote(str(config.parent)), shlex.quote(str(keep))
    # A 1 MB disk over the site folder, holding the same files, then filled up; what the run
    # left of the store is copied out before the disk vanishes.
    mount = (f"cp -a {site}/. {kept}/\nmount -t tmpfs -o size=1m tmpfs {site}\n"
             f"cp -a {kept}/. {site}/\n(dd if=/dev/zero of={site}/filler bs=4k 2>/dev/null"
             f" || true)\nrm {kept}/digest.sqlite3*\n"
             f"trap 'cp {site}/digest.sqlite3* {kept}/' EXIT")
    err, code = run_mounted(config, tmp_path, mount)
    assert code == "4", err
    assert "is full" in one_line_naming(err, store)
    assert files_of(keep) == before


def test_run_on_a_read_only_disk_exits_4_and_changes_nothing(config: Path,
                                                             tmp_path: Path) -> None:
    store = config.parent / "digest.sqlite3"
    before = files_of(config.parent)
    site = shlex.quote(str(config.parent))
    err, code = run_mounted(config, tmp_path,
                            f"mount --bind {site} {site}\nmount -o remount,bind,ro {site}")
    assert code == "4", err
    assert "cannot be written" in one_line_naming(err, store)
    assert files_of(config.parent) == before
