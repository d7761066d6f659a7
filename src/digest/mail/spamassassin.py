"""Score a message with a locally installed SpamAssassin (Debian package ``spamassassin``).

Only local rules run (``-L``: no DNS blocklists, no Razor/Pyzor, no network at all) and Bayes is
off, so the score depends on the message alone: a regression check for content and format mistakes
(HTML only, missing Date, invisible text), not a prediction of what Gmail or Outlook will do.

SpamAssassin writes state into the home directory of the user it runs as, whatever ``HOME`` says.
As root it therefore runs as ``nobody`` with a throw-away home, so nothing is left behind.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from digest.errors import DigestError

INSTALL_HINT = ("install it to score messages locally: apt-get install spamassassin "
                "(Debian/Ubuntu, as root), or `make deps`")
# Above this the message is worth a look: receivers add network rules this check cannot run.
SCORE_LIMIT = 2.0
# Rules that point at a mistake in how the message is built, whatever the total.
DENIED_RULES = ("MIME_HTML_ONLY", "MISSING_DATE", "MISSING_MID", "HTML_FONT_LOW_CONTRAST",
                "MPART_ALT_DIFF", "HTML_MIME_NO_HTML_TAG")
DENIED_PREFIXES = ("FONT_INVIS", "HTML_IMAGE_ONLY_")

_ARGS = ("-L", "-t", "-x", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0")
_SUMMARY_RE = re.compile(
    r"^Content analysis details:\s+\((-?\d+(?:\.\d+)?) points, (-?\d+(?:\.\d+)?) required\)",
    re.MULTILINE)
_RULE_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s*(.*)$")


@dataclass(frozen=True)
class Rule:
    name: str
    points: float
    description: str


@dataclass(frozen=True)
class SpamReport:
    score: float
    required: float  # SpamAssassin's own spam threshold (5.0 unless configured)
    rules: tuple[Rule, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(rule.name for rule in self.rules)

    def denied(self) -> tuple[Rule, ...]:
        """The rules that fired and betray a badly built message."""
        return tuple(r for r in self.rules
                     if r.name in DENIED_RULES or r.name.startswith(DENIED_PREFIXES))

    def problems(self, limit: float = SCORE_LIMIT) -> list[str]:
        found = [f"{r.name} ({r.points:+.1f}): {r.description}" for r in self.denied()]
        if self.score >= limit:
            found.insert(0, f"score {self.score:.1f} is at or above {limit:.1f} "
                            f"(spam at {self.required:.1f})")
        return found


def parse_report(output: str) -> SpamReport:
    """Read the score and the rules from ``spamassassin -t`` output.

    The report is appended after the message itself, so the last summary line is SpamAssassin's
    own: a message quoting an earlier report cannot pass for it.
    """
    summaries = list(_SUMMARY_RE.finditer(output))
    if not summaries:
        raise DigestError("SpamAssassin printed no 'Content analysis details' report; "
                          "is it SpamAssassin 3.4 or later?")
    last = summaries[-1]
    rules: list[Rule] = []
    for line in output[last.end():].splitlines()[3:]:  # blank line, column names, dashes
        if not line.strip():
            break
        match = _RULE_RE.match(line)
        if match:
            rules.append(Rule(match[2], float(match[1]), match[3].strip()))
        elif rules:  # a description continued on the next line
            head = rules[-1]
            rules[-1] = Rule(head.name, head.points, f"{head.description} {line.strip()}")
    return SpamReport(float(last[1]), float(last[2]), tuple(rules))


def command(executable: str) -> list[str]:
    return [executable, *_ARGS]


def score(raw: bytes, *, executable: str | None = None, search_path: str | None = None,
          timeout: float = 120) -> SpamReport | None:
    """Score one message; None when SpamAssassin is not installed.

    ``executable`` names the program; otherwise ``spamassassin`` is looked up in ``search_path``
    (default: $PATH).
    """
    found = executable or shutil.which("spamassassin", path=search_path)
    if found is None:
        return None
    with tempfile.TemporaryDirectory(prefix="digest-spamassassin-") as home:
        completed = _run(command(found), raw, home, timeout)
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DigestError(f"spamassassin exited with status {completed.returncode}: "
                          + (" / ".join(tail) or "no message"))
    return parse_report(completed.stdout.decode("utf-8", "replace"))


def _run(argv: Sequence[str], raw: bytes, home: str,
         timeout: float) -> subprocess.CompletedProcess[bytes]:
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        uid, gid, groups = nobody.pw_uid, nobody.pw_gid, []
        os.chown(home, uid, gid)
    try:
        return subprocess.run(argv, input=raw, capture_output=True, env=env, cwd=home,
                              timeout=timeout, check=False, user=uid, group=gid,
                              extra_groups=groups)
    except subprocess.TimeoutExpired as exc:
        raise DigestError(f"spamassassin took longer than {timeout:.0f} s; gave up") from exc
    except OSError as exc:
        raise DigestError(f"cannot run {argv[0]}: {exc}") from exc
