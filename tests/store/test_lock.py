"""The run lock: one holder at a time, released when the holder dies however it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from digest.errors import LockError
from digest.store.lock import lock_path, run_lock


def _hold_in_child(store: Path) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from digest.store.lock import run_lock
        with run_lock(Path({str(store)!r})):
            print("held", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_second_holder_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    store = tmp_path / "digest.sqlite3"
    child = _hold_in_child(store)
    try:
        with pytest.raises(LockError) as info, run_lock(store):
            pass
        assert f"process {child.pid}" in str(info.value)
        assert str(lock_path(store)) in str(info.value)
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    store = tmp_path / "digest.sqlite3"
    child = _hold_in_child(store)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with run_lock(store):
        assert lock_path(store).read_text().strip() == str(os.getpid())


def test_lock_is_released_after_use(tmp_path: Path) -> None:
    store = tmp_path / "digest.sqlite3"
    with run_lock(store):
        pass
    with run_lock(store):
        pass
