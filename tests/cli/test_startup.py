"""A fast start: `digest --version`, `digest --help` and each command's --help load no heavy
library. The time itself is measured by bench/startup.py; this test pins down the cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("premailer", "babel", "httpx", "starlette", "uvicorn", "dkim", "cryptography",
         "feedparser", "jinja2", "lxml", "nh3", "markdown_it", "yaml", "sqlite3")

PROBE = """
import json, sys
from digest.cli import main
try:
    main(sys.argv[1:], prog_name="digest")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"],
                                  ["subscribers", "--help"], ["serve", "--help"],
                                  ["check", "--help"], ["draft", "--help"]])
def test_help_and_version_load_no_heavy_library(args: list[str]) -> None:
    modules = loaded(*args)
    assert "click" in modules and "digest.cli" in modules  # the probe really ran the CLI
    heavy = sorted(name for name in HEAVY if name in modules)
    assert heavy == [], f"digest {' '.join(args)} imports {heavy}"


def test_the_probe_sees_what_a_running_command_imports(tmp_path: Path) -> None:
    # Running a command (here one that reads its configuration) does load libraries: the probe
    # above would see a heavy import made by --help or --version.
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: [{url: demo/feed.xml}]\n", encoding="utf-8")
    modules = loaded("--config", str(config), "fetch")
    assert "yaml" in modules
