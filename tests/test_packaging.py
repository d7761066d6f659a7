"""A wheel installed outside the checkout carries its templates and works."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installed_elsewhere_renders_with_bundled_templates(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    [wheel] = list((tmp_path / "dist").glob("digest-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    bundled = sorted(p.name for p in (ROOT / "templates").iterdir() if p.suffix in (".j2", ".css"))
    assert bundled and all(f"digest/templates/{name}" in names for name in bundled)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    (work / "demo").mkdir(parents=True)
    for name in ("feed.xml", "subscribers.csv"):
        (work / "demo" / name).write_bytes((ROOT / "demo" / name).read_bytes())
    (work / "feeds.yaml").write_bytes((ROOT / "feeds.yaml").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import digest; print(digest.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True)
    assert where.stdout.startswith(str(target))
    shown = subprocess.run([sys.executable, "-m", "digest", "preview", "--out", "p"], cwd=work,
                           env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    page = (work / "p" / "digest.html").read_text()
    assert "Posted by" in page and "role=\"presentation\"" in page
