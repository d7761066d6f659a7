"""Deliverability checks: the demo digest passes them, and each kind of bad message is caught."""

from __future__ import annotations

import shutil
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from digest.mail.check import GMAIL_CLIP_BYTES, TARGET_BYTES, CheckReport, check_message
from digest.mail.check_headers import check_headers, header_block
from digest.mail.check_links import html_links, link_problem
from support.demo_digest import Demo, build_demo, demo_copy, set_header, swap_parts
from support.e2e import digest

GOOD_LINK = "https://example.org/2026/11/24/what-emotional-blunting-feels-like/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build_demo(tmp_path_factory.mktemp("demo"))


def messages(report: CheckReport, area: str) -> list[str]:
    return [f.message for f in report.problems if f.area == area]


# --- the demo passes ------------------------------------------------------------------------------


def test_the_demo_digest_passes_every_check(demo: Demo) -> None:
    report = check_message(demo.eml)
    assert report.problems == ()
    assert report.html_bytes is not None and 10 * 1024 < report.html_bytes < TARGET_BYTES
    # Title, Outlook button and "view more" per post, plus the blog and unsubscribe links.
    assert report.links_checked > 3 * 10
    assert [f.message for f in report.findings if f.severity == "warning"] == [
        "List-Unsubscribe has no https URI, so no one-click unsubscribe (RFC 8058): Gmail and "
        "Yahoo ask it of senders of 5,000+ messages a day; set digest.unsubscribe_url (a signed "
            "one-click link per reader)"]


def test_the_demo_with_https_unsubscribe_passes_with_one_click(tmp_path: Path) -> None:
    demo = build_demo(tmp_path, unsubscribe="https://example.org/unsubscribe")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in demo.eml
    report = check_message(demo.eml)
    assert report.findings == ()

    without_post = set_header(demo.eml, b"List-Unsubscribe-Post", None)
    assert messages(check_message(without_post), "headers") == [
        "List-Unsubscribe-Post: missing; with an https List-Unsubscribe URI it must say "
        "'List-Unsubscribe=One-Click' for one-click unsubscribe (RFC 8058)"]


# --- links ---------------------------------------------------------------------------------------


def test_an_http_link_and_an_ip_link_are_each_listed(demo: Demo) -> None:
    html = demo.draft.rendered.html
    assert html.count(GOOD_LINK) == 4  # title, picture, Outlook's button, "view more"
    spoiled = html.replace(GOOD_LINK, "http://example.org/plain").replace(
        "https://example.org/2026/11/22/", "https://192.0.2.7/2026/11/22/")
    found = messages(check_message(demo.message(html=spoiled)), "links")
    assert sorted(found) == [
        "'http://example.org/plain' (4 times): plain http: use https",
        "'https://192.0.2.7/2026/11/22/rebuilding-joy-small-experiments/' (4 times): points at "
        "an IP address (192.0.2.7); spam filters distrust those, use a name",
    ]


@pytest.mark.parametrize(("link", "why"), [
    ("http://example.org/", "plain http"),
    ("https://10.0.0.1/x", "IP address (10.0.0.1)"),
    ("https://[2001:db8::1]/x", "IP address (2001:db8::1)"),
    ("https://2130706433/", "IP address (2130706433)"),
    ("https://localhost:8000/x", "points at localhost"),
    ("https://blog.localhost/x", "points at blog.localhost"),
    ("https://example.org/a b", "whitespace"),
    (" https://example.org/", "whitespace"),
    ("/2026/11/post", "relative link"),
    ("javascript:alert(1)", "javascript: link"),
    ("data:image/png;base64,AAAA", "data: link"),
    ("mailto:?subject=x", "without an address"),
    ("https:///nohost", "without a host"),
    ("https://[nope/", "cannot be parsed"),
    ("", "empty"),
])
def test_bad_links_say_what_is_wrong(link: str, why: str) -> None:
    problem = link_problem(link)
    assert problem is not None and why in problem


@pytest.mark.parametrize("link", [
    "https://example.org/", "https://example.org/a%20b?x=1&y=2#top", "HTTPS://EXAMPLE.ORG/",
    "mailto:unsubscribe@example.org?subject=unsubscribe%20ann%40example.org",
])
def test_good_links_pass(link: str) -> None:
    assert link_problem(link) is None


def test_links_inside_outlook_conditional_comments_are_checked() -> None:
    page = ('<html><body><a href="https://example.org/a?x=1&amp;y=2">a</a>'
            '<img src="https://example.org/i.png" alt="">'
            '<!--[if mso]><v:roundrect href="http://example.org/button"><![endif]-->'
            "</body></html>")
    assert html_links(page) == ["https://example.org/a?x=1&y=2", "https://example.org/i.png",
                                "http://example.org/button"]


# --- size -----------------------------------------------------------------------------------------


def test_html_over_the_gmail_clip_limit_is_a_problem(demo: Demo) -> None:
    html = demo.draft.rendered.html
    padding = "<p>" + "Long week, many posts. " * 40 + "</p>\n"
    big = html.replace("</body>", padding * (GMAIL_CLIP_BYTES // len(padding) + 1) + "</body>")
    report = check_message(demo.message(html=big))
    assert report.html_bytes is not None and report.html_bytes > GMAIL_CLIP_BYTES
    [problem] = messages(report, "size")
    assert "Gmail clips it above 102 KB" in problem
    # Encoded as quoted-printable, the big message still has no long lines.
    assert messages(report, "structure") == []


def test_html_over_the_target_is_a_warning_only(demo: Demo) -> None:
    html = demo.draft.rendered.html
    padding = "<p>" + "Long week. " * 80 + "</p>\n"
    needed = (TARGET_BYTES + 2048 - len(html.encode())) // len(padding) + 1
    report = check_message(demo.message(html=html.replace("</body>", padding * needed
                                                          + "</body>")))
    assert report.html_bytes is not None and TARGET_BYTES < report.html_bytes < GMAIL_CLIP_BYTES
    assert report.problems == ()
    [warning] = report.in_area("size")
    assert warning.severity == "warning" and "over the 90 KB target" in warning.message


# --- headers --------------------------------------------------------------------------------------


def test_a_raw_non_ascii_header_is_a_problem(demo: Demo) -> None:
    raw = set_header(demo.eml, b"Subject", "Subject: Caf\u00e9 weekly".encode())
    assert messages(check_message(raw), "headers") == [
        "Subject: raw non-ASCII bytes; headers must be ASCII (RFC 2047 encoded-words for other "
        "text)"]


def test_a_999_byte_header_line_and_an_unfolded_one(demo: Demo) -> None:
    long_line = b"X-Campaign: " + b"x" * (999 - 12)
    assert len(long_line) == 999
    unfolded = b"Subject: " + b" ".join([b"word"] * 20)  # 108 characters, many places to fold
    raw = set_header(set_header(demo.eml, b"Auto-Submitted", long_line), b"Subject", unfolded)
    assert messages(check_message(raw), "headers") == [
        "Subject: 108 characters; fold it at 78",
        "X-Campaign: 999 characters; lines must not pass 998",
    ]


def test_a_long_header_that_cannot_be_folded_is_accepted() -> None:
    block = header_block(b"X-Token: " + b"t" * 120 + b"\r\n\r\nbody")
    assert check_headers(block)[:1] == ["From: missing"]
    assert not any("X-Token" in p for p in check_headers(block))


def test_missing_and_malformed_headers_are_named(demo: Demo) -> None:
    raw = set_header(demo.eml, b"Date", b"Date: last Tuesday")
    raw = set_header(raw, b"Message-ID", b"Message-ID: digest-1")
    raw = set_header(raw, b"List-Id", None)
    raw = set_header(raw, b"List-Unsubscribe", b"List-Unsubscribe: http://example.org/u")
    raw = set_header(raw, b"To", b"To: a@example.org\r\nTo: b@example.org\r\nBcc: c@example.org")
    assert messages(check_message(raw), "headers") == [
        "List-Id: missing",
        "To: appears 2 times; at most once",
        "Bcc: a bulk message must not carry one (a sign of header injection)",
        "Date: 'last Tuesday' is not an RFC 5322 date",
        "Message-ID: 'digest-1' is not of the form <unique@domain>",
        "List-Unsubscribe: 'http://example.org/u'; each URI must be in <angle brackets>, "
        "separated by commas (RFC 2369)",
    ]


def test_dkim_must_sign_the_unsubscribe_headers(tmp_path: Path) -> None:
    eml = build_demo(tmp_path, unsubscribe="https://example.org/unsubscribe").eml
    signature = (b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
                 b" s=digest; h=from:to:subject:date:message-id:\r\n list-unsubscribe; bh=AAAA;"
                 b" b=BBBB")
    unsigned_post = signature + b"\r\n" + eml
    assert messages(check_message(unsigned_post), "headers") == [
        "DKIM-Signature: h= does not cover list-unsubscribe-post; receivers ignore unsigned "
        "unsubscribe headers (RFC 8058) and From (RFC 6376)"]
    signed = signature.replace(b"list-unsubscribe;", b"list-unsubscribe:list-unsubscribe-post;")
    assert messages(check_message(signed + b"\r\n" + eml), "headers") == []


# --- structure ------------------------------------------------------------------------------------


def test_parts_in_the_wrong_order_are_a_problem(demo: Demo) -> None:
    assert messages(check_message(swap_parts(demo.eml)), "structure") == [
        "the parts are text/html, text/plain: text/plain must come first and text/html last "
        "(clients show the last part they understand)"]


def test_a_999_byte_body_line_is_a_problem(demo: Demo) -> None:
    line = b"x" * 999
    raw = demo.eml.replace(b"\r\n\r\nFeeling Again weekly\r\n",
                           b"\r\n\r\nFeeling Again weekly\r\n" + line + b"\r\n", 1)
    assert raw != demo.eml
    [problem] = messages(check_message(raw), "structure")
    assert problem.startswith("1 line(s) longer than 998 octets (first: line ")
    assert check_message(raw.replace(line, line[:998])).problems == ()


def test_an_html_only_message_without_date_is_caught() -> None:
    raw = bad_message()
    report = check_message(raw)
    assert "the message is text/html, not multipart/alternative with a text/plain and a " \
           "text/html part" in messages(report, "structure")
    headers = messages(report, "headers")
    assert {"Date: missing", "Message-ID: missing", "List-Unsubscribe: missing"} <= set(headers)
    assert "'http://192.0.2.7/win': plain http: use https" in messages(report, "links")
    assert messages(report, "links")[-1].startswith("no unsubscribe link in the HTML body")


def test_an_unfilled_recipient_token_is_a_problem(demo: Demo) -> None:
    raw = demo.message(text=demo.draft.rendered.text + "\nBye %%DIGEST_RECIPIENT_NAME%%\n")
    assert check_message(raw).problems == ()  # filled in by the message code
    leftover = raw.replace(b"Feeling Again weekly\r\n", b"%%DIGEST_RECIPIENT_NAME%%\r\n", 1)
    assert messages(check_message(leftover), "structure") == [
        "placeholders left unfilled: %%DIGEST_RECIPIENT_NAME%%"]


def test_an_unfilled_web_version_link_is_a_problem(demo: Demo) -> None:
    """Any placeholder shape counts, found in the decoded parts even where a quoted-printable
    soft break cuts it in the bytes."""
    raw = demo.message()
    assert check_message(raw).problems == ()
    cut = raw.replace(b"Feeling Again weekly\r\n", b"%%DIGEST_WEB_=\r\nVERSION_URL%%\r\n", 1)
    assert messages(check_message(cut), "structure") == [
        "placeholders left unfilled: %%DIGEST_WEB_VERSION_URL%%"]


def bad_message() -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Deals <deals@example.org>"
    msg["To"] = "ann@example.org"
    msg["Subject"] = "WIN NOW"
    msg.set_content('<html><body><p>Click <a href="http://192.0.2.7/win">HERE</a></p>'
                    "</body></html>", subtype="html")
    return msg.as_bytes()


# --- the command ----------------------------------------------------------------------------------


def test_digest_check_on_the_demo_exits_0_and_changes_nothing(tmp_path: Path) -> None:
    config = demo_copy(tmp_path)
    result = digest(config, "check")
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0].startswith('Checking the next issue: "Feeling Again weekly: ')
    assert any(line.startswith("Size:         HTML ") and line.endswith(": ok") for line in lines)
    assert any(line.startswith("Links:        ") and line.endswith(" checked: ok")
               for line in lines)
    assert "Headers:      ok" in lines and "Structure:    ok" in lines
    spam = next(line for line in lines if line.startswith("SpamAssassin: "))
    if shutil.which("spamassassin"):
        assert spam.endswith("local rules only): ok") and "MAILING_LIST_MULTI" in result.out
    else:
        assert "not installed" in spam and "apt-get install spamassassin" in spam
    assert lines[-1] == "No problems found."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "feeds.yaml"]


def test_digest_check_eml_lists_the_problems_and_exits_1(tmp_path: Path) -> None:
    config = demo_copy(tmp_path)
    bad = tmp_path / "bad.eml"
    bad.write_bytes(bad_message())
    result = digest(config, "check", "--eml", str(bad))
    assert result.code == 1, result.out + result.err
    assert f'Checking {bad}: "WIN NOW"' in result.out
    for expected in ["Date: missing", "Message-ID: missing", "plain http: use https",
                     "not multipart/alternative", "problem: 'http://192.0.2.7/win'"]:
        assert expected in result.out, expected
    if shutil.which("spamassassin"):
        assert "problem: MISSING_DATE" in result.out
    assert result.out.splitlines()[-1].endswith("problems found: fix them before sending.")


def test_digest_check_eml_passes_a_delivered_message_and_says_when_nothing_is_new(
        tmp_path: Path) -> None:
    config = demo_copy(tmp_path)
    run = digest(config, "run")
    assert run.code == 0, run.out + run.err
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    assert outbox, run.out + run.err
    checked = digest(config, "--quiet", "check", "--eml", str(outbox[0]))
    assert (checked.code, checked.out) == (0, ""), checked.out + checked.err
    nothing = digest(config, "check")
    assert nothing.code == 0 and nothing.out.startswith("No issue to check: "), nothing.out


def test_digest_check_checks_the_open_draft_as_stored(tmp_path: Path) -> None:
    config = demo_copy(tmp_path)
    made = digest(config, "draft")
    assert made.code == 0, made.out + made.err
    result = digest(config, "check")
    assert result.code == 0, result.out + result.err
    assert result.out.startswith('Checking draft issue 1: "Feeling Again weekly: ')
    assert result.out.splitlines()[-1] == "No problems found."
