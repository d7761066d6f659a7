"""Benchmark: how long `digest --version` and `digest --help` take to start, against rss2email.

rss2email (`r2e --version`) is the peer baseline: it lives in its own virtual environment
(.cache/bench/r2e, made here with pip on first use), so neither tool's imports help the other. The
commands run alternately, ROUNDS times each, and the medians are compared. Goal: both digest
commands within 1.5x of `r2e --version`. The last line is the worse of the two ratios.

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
R2E_VENV = ROOT / ".cache" / "bench" / "r2e"
ROUNDS = 21
GOAL = 1.5


def _r2e() -> Path:
    """The r2e program in its own venv, installed from PyPI the first time."""
    r2e = R2E_VENV / "bin" / "r2e"
    if not r2e.exists():
        subprocess.run([sys.executable, "-m", "venv", str(R2E_VENV)], check=True)
        subprocess.run([str(R2E_VENV / "bin" / "pip"), "install", "--quiet", "rss2email"],
                       check=True)
    return r2e


def _time(command: list[str]) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[:500]}")
    return elapsed


def main() -> None:
    digest = str(Path(sys.executable).parent / "digest")
    commands = {
        "r2e --version": [str(_r2e()), "--version"],
        "digest --version": [digest, "--version"],
        "digest --help": [digest, "--help"],
    }
    for command in commands.values():  # warm the page cache and the bytecode
        _time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ROUNDS):
        for name, command in commands.items():
            times[name].append(_time(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["r2e --version"]
    for name, median in medians.items():
        print(f"{name:18} median {median * 1000:6.1f} ms over {ROUNDS} runs "
              f"({median / base:.2f}x r2e --version)")
    worst = max(medians["digest --version"], medians["digest --help"]) / base
    verdict = "within" if worst <= GOAL else "over"
    print(f"ratio {worst:.2f} (slower digest command / r2e --version; goal {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
