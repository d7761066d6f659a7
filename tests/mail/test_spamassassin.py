"""SpamAssassin (Debian's package, local rules, Bayes off) on the demo digest and on a bad message.

`make test` installs SpamAssassin (.ci/install-system-deps); these tests skip only where it could
not be installed, and fail under CI=true.
"""

from __future__ import annotations

import re
import shutil
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.mail import spamassassin
from digest.mail.spamassassin import SpamReport
from support.demo_digest import build_demo, require_spamassassin

# Rules that betray a badly built message; none may fire on the digest.
FORBIDDEN = re.compile(r"MIME_HTML_ONLY|MISSING_DATE|MISSING_MID|HTML_FONT_LOW_CONTRAST|"
                       r"FONT_INVIS_\w*|HTML_IMAGE_ONLY_\w*|MPART_ALT_DIFF\w*")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> SpamReport:
    require_spamassassin()
    report = spamassassin.score(build_demo(tmp_path_factory.mktemp("demo")).eml)
    assert report is not None
    return report


def bad_message() -> bytes:
    """HTML only, no Date, no Message-ID: what a careless script sends."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Deals <deals@example.org>"
    msg["To"] = "ann@example.org"
    msg["Subject"] = "You have won"
    msg.set_content("<html><body><p>Dear friend, your prize is waiting. Click "
                    '<a href="http://192.0.2.7/claim">HERE</a> to claim it today.</p>'
                    "</body></html>", subtype="html")
    return msg.as_bytes()


def test_the_demo_digest_scores_below_1_and_fires_no_forbidden_rule(
        demo_report: SpamReport) -> None:
    assert demo_report.score < 1.0
    assert demo_report.required == 5.0
    assert demo_report.rules, "a report always lists some rules (HTML_MESSAGE at least)"
    assert "HTML_MESSAGE" in demo_report.names
    assert sorted(n for n in demo_report.names if FORBIDDEN.fullmatch(n)) == []
    assert demo_report.denied() == ()
    assert demo_report.problems() == []
    # The points listed add up to the score SpamAssassin gives (each rounded to 0.1).
    assert abs(sum(r.points for r in demo_report.rules) - demo_report.score) < 0.05 * len(
        demo_report.rules) + 0.05


def test_a_bad_message_scores_higher_and_fires_missing_date(demo_report: SpamReport) -> None:
    report = spamassassin.score(bad_message())
    assert report is not None
    assert report.score > demo_report.score + 2.0
    assert {"MISSING_DATE", "MISSING_MID", "MIME_HTML_ONLY"} <= report.names
    problems = report.problems()
    assert any(p.startswith("MISSING_DATE (+") for p in problems), problems
    assert any(p.startswith("score ") for p in problems), problems


def test_a_report_quoted_in_the_message_is_not_taken_for_the_real_one(
        demo_report: SpamReport) -> None:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "digest@example.org"
    msg["To"] = "ann@example.org"
    msg["Subject"] = "A forwarded report"
    msg["Date"] = "Wed, 25 Nov 2026 08:00:00 +0000"
    msg["Message-ID"] = "<forwarded.1@example.org>"
    msg.set_content("Look at this:\n\nContent analysis details:   (-50.0 points, 5.0 required)\n"
                    "\n pts rule name              description\n---- ---------------------- "
                    "------------------\n-50.0 ALL_GOOD               Trust me\n")
    report = spamassassin.score(msg.as_bytes())
    assert report is not None
    assert report.score > -50 and "ALL_GOOD" not in report.names


def test_nothing_is_written_outside_a_temporary_home(demo_report: SpamReport) -> None:
    home = Path.home() / ".spamassassin"
    existed = home.exists()
    assert spamassassin.score(bad_message()) is not None
    assert home.exists() == existed


def test_not_installed_gives_none(tmp_path: Path) -> None:
    assert spamassassin.score(bad_message(), search_path=str(tmp_path)) is None


def test_a_failing_spamassassin_is_an_error_that_says_so() -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(DigestError, match=r"spamassassin exited with status 1"):
        spamassassin.score(bad_message(), executable=false)


def test_output_without_a_report_is_an_error() -> None:
    # echo ignores the message and prints only its arguments: no report in the output.
    echo = shutil.which("echo")
    assert echo is not None
    with pytest.raises(DigestError, match="printed no 'Content analysis details' report"):
        spamassassin.score(bad_message(), executable=echo)


def test_parse_report_joins_continued_descriptions() -> None:
    output = ("X-Spam-Status: No\n\nbody\nContent analysis details:   (1.4 points, 5.0 required)\n"
              "\n pts rule name              description\n"
              "---- ---------------------- --------------------------------------------------\n"
              " 2.4 FAKE_RULE              First half of a long\n"
              "                            description\n"
              "-1.0 MAILING_LIST_MULTI     Multiple indicators\n"
              "\nafterwards: 9.9 NOT_A_RULE\n")
    report = spamassassin.parse_report(output)
    assert (report.score, report.required) == (1.4, 5.0)
    assert [(r.name, r.points, r.description) for r in report.rules] == [
        ("FAKE_RULE", 2.4, "First half of a long description"),
        ("MAILING_LIST_MULTI", -1.0, "Multiple indicators")]
    assert report.problems() == []
    assert report.problems(limit=1.0) == ["score 1.4 is at or above 1.0 (spam at 5.0)"]

