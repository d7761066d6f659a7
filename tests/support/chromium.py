"""Headless Debian Chromium for the digest email: screenshots, the DOM as rendered, and axe-core.

Chromium runs with its home, config and cache pointed into a temp folder so nothing is written to
the real home (email-checklist §4.4). axe-core is injected into a copy of the email and run by
``--dump-dom`` with a virtual time budget; its violations come back as JSON in a ``<pre>``
(email-checklist §4.3). No WebDriver is needed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT = 120  # seconds; generous, the machine is shared

_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
          "--hide-scrollbars")

# The two page-landmark rules always fire for an email, which has no <main> by design.
_AXE_RUNNER = """<script src="axe.min.js"></script>
<script>
window.addEventListener("load", function () {
  axe.run(document, {resultTypes: ["violations"],
                     rules: {"landmark-one-main": {enabled: false}, region: {enabled: false}}})
    .then(function (r) { write(JSON.stringify(r.violations)); })
    .catch(function (e) { write(JSON.stringify({error: String(e)})); });
  function write(text) {
    var pre = document.createElement("pre");
    pre.id = "axe-results";
    pre.textContent = text;
    document.body.appendChild(pre);
  }
});
</script>
"""
_RESULTS = re.compile(r'<pre id="axe-results">(.*?)</pre>', re.S)


def require_browser() -> None:
    """Skip without Chromium and axe-core, except under CI, where `make test` installs them."""
    missing = [str(p) for p in (Path(CHROMIUM), AXE) if not p.is_file()]
    if not missing:
        return
    message = (f"{' and '.join(missing)} missing; `make deps` (as root) installs chromium and "
               "axe-core (.ci/install-system-deps)")
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI=true: the browser tests must run)")
    pytest.skip(message)


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str | None
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending nodes

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets)}"


def run(args: list[str], work: Path) -> str:
    """Run chromium with the safe flags and ``args``; its stdout. Raises if it fails."""
    home = work / "home"
    for sub in ("config", "cache", "profile"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache")}
    command = [CHROMIUM, *_FLAGS, f"--user-data-dir={home / 'profile'}", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                          cwd=work)
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def screenshot(page: str, out: Path, *, width: int, height: int = 1600,
               dark: bool = False) -> Path:
    """A PNG of the HTML ``page`` at ``width`` CSS pixels, in dark mode if asked."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "page.html"
        source.write_text(page, encoding="utf-8")
        args = [f"--window-size={width},{height}", f"--screenshot={out.resolve()}"]
        run([*args, *(["--force-dark-mode"] if dark else []), source.as_uri()], work)
    if not out.is_file() or out.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot at {out}")
    return out


def axe(page: str, *, dark: bool = False) -> list[Violation]:
    """axe-core's violations for the HTML ``page`` as Chromium renders it."""
    data = json.loads(_dump(page, _AXE_RUNNER, dark=dark, with_axe=True))
    if isinstance(data, dict):
        raise AssertionError(f"axe-core failed: {data.get('error')}")
    return [_violation(item) for item in cast(list[dict[str, Any]], data)]


def evaluate(page: str, expression: str, *, dark: bool = False, width: int | None = None) -> str:
    """The value (as text) of a JavaScript expression once ``page`` has loaded.

    The expression sees the page as ``doc`` and ``win``. With ``width``, the page is shown in a
    frame that wide: --dump-dom lays pages out at least 500 px wide, whatever --window-size says.
    """
    runner = _EVALUATOR.replace("EXPRESSION", expression)
    if width is None:
        return _dump(page, runner, dark=dark, with_axe=False)
    framed = (f'<!DOCTYPE html><html><body style="margin:0"><iframe id="digest-frame" '
              f'style="width:{width}px;height:1600px;border:0" srcdoc="{html.escape(page)}">'
              "</iframe></body></html>")
    return _dump(framed, runner, dark=dark, with_axe=False)


_EVALUATOR = """<script>
window.addEventListener("load", function () {
  var frame = document.getElementById("digest-frame");
  var doc = frame ? frame.contentDocument : document;
  var win = frame ? frame.contentWindow : window;
  var pre = document.createElement("pre");
  pre.id = "axe-results";
  pre.textContent = String(EXPRESSION);
  document.body.appendChild(pre);
});
</script>
"""


def _dump(page: str, runner: str, *, dark: bool, with_axe: bool) -> str:
    """Run ``runner`` in a copy of ``page``; the text it left in <pre id="axe-results">."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if with_axe:
            shutil.copyfile(AXE, work / "axe.min.js")
        source = work / "page.html"
        source.write_text(_inject(page, runner), encoding="utf-8")
        args = ["--virtual-time-budget=10000", "--dump-dom", source.as_uri()]
        dom = run([*(["--force-dark-mode"] if dark else []), *args], work)
    found = _RESULTS.search(dom)
    if found is None:
        raise AssertionError("the page script wrote no results (did it load?): " + dom[-1000:])
    return html.unescape(found[1])


def _inject(page: str, runner: str) -> str:
    """The page with ``runner`` added just before </body> (or at the end)."""
    at = page.lower().rfind("</body>")
    if at < 0:
        return page + runner
    return page[:at] + runner + page[at:]


def _violation(item: dict[str, Any]) -> Violation:
    targets = tuple(" ".join(map(str, node.get("target", []))) for node in item.get("nodes", []))
    return Violation(rule=str(item["id"]), impact=item.get("impact"), help=str(item["help"]),
                     targets=targets)
