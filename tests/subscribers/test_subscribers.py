"""Subscriber input (addresses, CSV) and importing it into a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import SubscriberError
from digest.store import ImportReport, Store
from digest.subscribers import SubscriberRow, parse_csv, validate_email

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "digest.sqlite3", clock=lambda: T0) as opened:
        yield opened


# --- addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "normalised"), [
    ("ann@example.org", "ann@example.org"),
    ("  Ann.Lee@Example.ORG ", "Ann.Lee@example.org"),
    ("o'brien+digest@mail.example.co.uk", "o'brien+digest@mail.example.co.uk"),
    ("x@bücher.example", "x@xn--bcher-kva.example"),
    ("a@b-c.io", "a@b-c.io"),
])
def test_valid_addresses_are_normalised(given: str, normalised: str) -> None:
    assert validate_email(given) == normalised


@pytest.mark.parametrize(("given", "reason"), [
    ("bob@@example.org", "exactly one @"),
    ("bob.example.org", "exactly one @"),
    ("bob@localhost", "no dot"),
    ("@example.org", "nothing before the @"),
    ("bob@", "no domain"),
    ("bob smith@example.org", "spaces"),
    ("bob@exa\nmple.org", "control"),
    ("bob..smith@example.org", "not allowed"),
    (".bob@example.org", "not allowed"),
    ("bób@example.org", "not allowed"),
    ("=?utf-8?q?x?=@example.org", "not allowed"),
    ("bob@-example.org", "not a valid domain"),
    ("bob@example_mail.org", "not a valid domain"),
    ("bob@example.org.", "not a valid domain"),
    ("bob@10.0.0.1", "IP address"),
    ("b" * 65 + "@example.org", "longer than 64"),
    ("bob@" + "a" * 60 + ("." + "b" * 60) * 4 + ".org", "not a valid domain"),
    ("", "empty"),
])
def test_invalid_addresses_say_why(given: str, reason: str) -> None:
    with pytest.raises(SubscriberError, match="is not a valid email address") as caught:
        validate_email(given)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_with_bad_lines_reports_each_by_line_and_keeps_the_good_ones() -> None:
    text = ("email,name\n"
            "ann@example.org,Ann\n"
            "\n"
            "bob@@example.org,Bob\n"
            '"carol@example.org","Lee, Carol",extra,columns\n'
            ",Nobody\n"
            "dan@localhost,Dan\n"
            "eve@Example.org\n")
    rows, errors = parse_csv(text, source="subscribers.csv")
    assert rows == [SubscriberRow("ann@example.org", "Ann", 2),
                    SubscriberRow("carol@example.org", "Lee, Carol", 5),
                    SubscriberRow("eve@example.org", "", 8)]
    assert errors == [
        'subscribers.csv:4: "bob@@example.org" is not a valid email address '
        "(it must contain exactly one @)",
        "subscribers.csv:6: no email address in this row",
        'subscribers.csv:7: "dan@localhost" is not a valid email address (the domain has no dot)',
    ]


def test_csv_without_header_with_bom_and_crlf() -> None:
    text = "\ufeffann@example.org,Ann\r\n\r\nbob@example.org\r\n"
    rows, errors = parse_csv(text, source="s.csv")
    assert errors == []
    assert rows == [SubscriberRow("ann@example.org", "Ann", 1),
                    SubscriberRow("bob@example.org", "", 3)]


def test_csv_header_may_put_the_columns_in_any_order() -> None:
    rows, errors = parse_csv("Name,Joined,Email\nAnn,2020,ann@example.org\n", source="s.csv")
    assert (rows, errors) == ([SubscriberRow("ann@example.org", "Ann", 2)], [])


def test_csv_duplicates_merge_without_regard_to_case() -> None:
    text = "Ann@Example.org,\nbob@example.org,Bob\nANN@example.ORG,Ann Lee\nann@example.org,\n"
    rows, errors = parse_csv(text, source="s.csv")
    assert errors == []
    assert rows == [SubscriberRow("Ann@example.org", "Ann Lee", 1),
                    SubscriberRow("bob@example.org", "Bob", 2)]


def test_names_lose_control_characters_and_line_breaks() -> None:
    rows, _ = parse_csv('ann@example.org,"Ann\r\nBcc: x@evil.example\x00"\n', source="s.csv")
    assert rows == [SubscriberRow("ann@example.org", "Ann Bcc: x@evil.example", 1)]


def test_a_stray_quote_costs_its_own_line_only() -> None:
    text = ('ann@example.org,Ann\n"bob@example.org,Bob\ncarol@example.org,Carol\n'
            'dan@example.org,Dan "the man\n"eve@example.org"x,Eve\nfay@example.org,Fay"\n')
    rows, errors = parse_csv(text, source="s.csv")
    assert [(r.email, r.line) for r in rows] == [
        ("ann@example.org", 1), ("carol@example.org", 3), ("dan@example.org", 4),
        ("fay@example.org", 6)]
    assert rows[2].name == 'Dan "the man'  # a quote inside an unquoted field is just a character
    assert errors == [
        's.csv:2: this line is not valid CSV (a quoted field is never closed: a stray " '
        "perhaps); skipped, the lines after it are read",
        "s.csv:5: this line is not valid CSV (',' expected after '\"'); skipped, the lines "
        "after it are read"]


def test_999_valid_rows_survive_a_stray_quote_and_a_megabyte_field() -> None:
    lines = [f"reader{i}@example.org,Reader {i}" for i in range(999)]
    lines.insert(10, '"stray@example.org,Stray')
    lines.insert(500, "huge@example.org," + "x" * (1 << 20))
    lines.insert(700, 'open@example.org,"never closed')  # then 20 lines tried as its name
    rows, errors = parse_csv("email,name\n" + "\n".join(lines) + "\n", source="s.csv")
    assert len(rows) == 999 and all(r.email.startswith("reader") for r in rows)
    assert len(errors) == 3
    assert [e.split(" (")[0] for e in errors[:3]] == [
        "s.csv:12: this line is not valid CSV", "s.csv:502: this line is not valid CSV",
        "s.csv:702: this line is not valid CSV"]
    assert "longer than 64 KB" in errors[1]
    assert "a stray \" perhaps; it would run over more than 20 lines" in errors[2]


def test_a_quoted_name_may_span_lines() -> None:
    rows, errors = parse_csv('a@example.org,"Ann\nLee"\nb@example.org,Bob\n', source="s.csv")
    assert errors == []
    assert rows == [SubscriberRow("a@example.org", "Ann Lee", 1),
                    SubscriberRow("b@example.org", "Bob", 3)]


def test_errors_show_control_characters_escaped() -> None:
    _, errors = parse_csv("bob\x1b[31m@example.org,Bob\n", source="s.csv")
    assert errors == ['s.csv:1: "bob\\x1b[31m@example.org" is not a valid email address '
                      "(it contains spaces or control characters)"]


# --- importing ------------------------------------------------------------------------------------


def test_importing_100k_rows_then_again(store: Store) -> None:
    rows = [SubscriberRow(f"reader{i}@example.org", f"Reader {i}", i + 1) for i in range(100_000)]
    assert store.import_subscribers(rows) == ImportReport(added=100_000, updated=0, unchanged=0,
                                                          kept_out=0)
    assert store.subscriber_count() == 100_000
    again = [SubscriberRow(r.email.upper(), r.name if i % 10 else "Renamed", r.line)
             for i, r in enumerate(rows)]
    assert store.import_subscribers(again) == ImportReport(added=0, updated=10_000,
                                                           unchanged=90_000, kept_out=0)
    assert store.subscriber_count(None) == 100_000
    streamed = list(store.subscribers())
    assert [s.id for s in streamed] == sorted(s.id for s in streamed)
    assert streamed[0].email == "reader0@example.org"  # the first spelling is kept
    assert (streamed[0].name, streamed[1].name) == ("Renamed", "Reader 1")


def test_import_never_resubscribes_those_who_left(store: Store) -> None:
    store.import_subscribers([SubscriberRow("ann@example.org", "Ann"),
                              SubscriberRow("bob@example.org", "Bob"),
                              SubscriberRow("cat@example.org", "Cat")])
    store.set_subscriber_status("ann@example.org", "unsubscribed")
    store.set_subscriber_status("Bob@Example.org", "bounced")
    report = store.import_subscribers([SubscriberRow("ANN@example.org", "Ann Again"),
                                       SubscriberRow("bob@example.org", "Bob Again"),
                                       SubscriberRow("cat@example.org", ""),
                                       SubscriberRow("dan@example.org", "Dan")])
    assert report == ImportReport(added=1, updated=0, unchanged=1, kept_out=2)
    everyone = {s.email: (s.name, s.status) for s in store.subscribers()}
    assert everyone == {"ann@example.org": ("Ann", "unsubscribed"),
                        "bob@example.org": ("Bob", "bounced"),
                        "cat@example.org": ("Cat", "active"),
                        "dan@example.org": ("Dan", "active")}


def test_an_invalid_row_imports_nothing(store: Store) -> None:
    rows = [SubscriberRow("ann@example.org", "Ann", 1), SubscriberRow("nope", "Bad", 2)]
    with pytest.raises(SubscriberError, match='line 2: "nope" is not a valid email address'):
        store.import_subscribers(rows)
    assert store.subscriber_count(None) == 0


def test_an_explicit_add_welcomes_back_those_who_left(store: Store) -> None:
    ann = store.add_subscriber("Ann@Example.org", "Ann")
    assert (ann.email, ann.name, ann.status) == ("Ann@example.org", "Ann", "active")
    for status in ("unsubscribed", "bounced"):
        assert store.set_subscriber_status("ann@example.org", status).status == status
        back = store.add_subscriber("ANN@example.org")
        assert (back.id, back.email, back.name, back.status) == (
            ann.id, "Ann@example.org", "Ann", "active")
    assert store.add_subscriber("ann@example.org", "Ann Lee").name == "Ann Lee"
    assert store.subscriber_count(None) == 1


def test_bad_or_unknown_addresses_are_subscriber_errors(store: Store) -> None:
    with pytest.raises(SubscriberError, match="not a valid email address"):
        store.add_subscriber("ann@@example.org")
    with pytest.raises(SubscriberError, match='no subscriber with the address "zed@example.org"'):
        store.set_subscriber_status("zed@example.org", "unsubscribed")
    assert store.subscriber_count(None) == 0
