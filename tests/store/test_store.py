"""The store: fetches and posts, issues, and the delivery ledger, on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import (
    Delivery,
    FeaturedImage,
    Feed,
    FetchOutcome,
    Post,
    RenderedIssue,
    SendResult,
    Validators,
)
from digest.store import Store
from digest.subscribers import SubscriberRow

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FEED = Feed(url="https://blog.example.org/feed.xml", name="Example Blog")


def post(key: str, **changes: object) -> Post:
    base = Post(key=key, feed_url=FEED.url, title=f"Title {key}", link=f"https://b.example/{key}",
                author="Ann", published=T0 - timedelta(days=1), summary_html="<p>Hi</p>",
                comment_count=None)
    return replace(base, **changes)  # type: ignore[arg-type]


def ok(*posts: Post, etag: str | None = '"v1"', status: str = "ok") -> FetchOutcome:
    return FetchOutcome(feed=FEED, status=status, posts=posts,  # type: ignore[arg-type]
                        validators=Validators(etag=etag, last_modified=None))


def rendered(subject: str = "Issue") -> RenderedIssue:
    return RenderedIssue(subject=subject, html="<p>html</p>", text="text", preheader="",
                         post_count=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "digest.sqlite3", clock=lambda: T0) as opened:
        yield opened


def subscribe(store: Store, count: int) -> None:
    store.import_subscribers(SubscriberRow(f"reader{i}@example.org") for i in range(count))


# --- fetches and posts ----------------------------------------------------------------------------


def test_record_fetch_counts_new_posts_and_keeps_first_seen(store: Store) -> None:
    assert store.record_fetch(ok(post("a"), post("b")), T0) == 2
    later = T0 + timedelta(hours=1)
    changed = post("a", title="New title", published=T0, summary_html="<p>edited</p>")
    assert store.record_fetch(ok(changed, post("b"), post("c")), later) == 1
    by_key = {p.post.key: p for p in store.unissued_posts()}
    assert by_key["a"].post.title == "New title"
    assert by_key["a"].post.summary_html == "<p>edited</p>"
    assert by_key["a"].post.published == T0
    assert by_key["a"].first_seen == T0
    assert by_key["c"].first_seen == later
    assert by_key["a"].first_seen.tzinfo == UTC


def test_a_post_listed_twice_in_one_feed_is_new_once(store: Store) -> None:
    assert store.record_fetch(ok(post("a"), post("a", title="second copy")), T0) == 1
    assert [p.post.title for p in store.unissued_posts()] == ["Title a"]


def test_an_unknown_count_or_date_never_overwrites_a_known_one(store: Store) -> None:
    store.record_fetch(ok(post("a", comment_count=4)), T0)
    store.record_fetch(ok(post("a", comment_count=None, published=None, link=None)), T0)
    [stored] = store.unissued_posts()
    assert stored.post.comment_count == 4
    assert stored.post.published == T0 - timedelta(days=1)
    assert stored.post.link == "https://b.example/a"


def test_comment_history_records_first_known_and_changed_counts(store: Store) -> None:
    times = [T0 + timedelta(days=n) for n in range(5)]
    for moment, count in zip(times, [None, 2, 2, None, 5], strict=True):
        store.record_fetch(ok(post("a", comment_count=count)), moment)
    assert store.comment_history("a") == [(times[1], 2), (times[4], 5)]
    assert store.comment_history("unknown") == []


def test_timestamps_come_back_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    store.record_fetch(ok(post("a", published=datetime(2024, 1, 1, 9, tzinfo=paris))),
                       datetime(2024, 3, 1, 13, tzinfo=paris))
    [stored] = store.unissued_posts()
    assert stored.post.published == datetime(2024, 1, 1, 8, tzinfo=UTC)
    assert stored.post.published.tzinfo == UTC
    assert stored.first_seen == T0


def test_validators_follow_the_fetches(store: Store) -> None:
    assert store.validators(FEED.url) == Validators()
    store.record_fetch(ok(etag='"v1"'), T0)
    assert store.validators(FEED.url).etag == '"v1"'
    store.record_fetch(ok(etag=None, status="not_modified"), T0)  # a 304 that repeats nothing
    assert store.validators(FEED.url).etag == '"v1"'
    store.record_fetch(FetchOutcome(feed=FEED, status="error", error="HTTP 503"), T0)
    assert store.validators(FEED.url).etag == '"v1"'
    store.record_fetch(ok(etag=None), T0)  # a 200 without an ETag: the old one is stale
    assert store.validators(FEED.url) == Validators()


def test_feed_rows_count_failures_until_a_success(store: Store) -> None:
    store.record_fetch(ok(post("a"), post("b")), T0)
    for hour in (1, 2):
        store.record_fetch(FetchOutcome(feed=FEED, status="error", error="timed out"),
                           T0 + timedelta(hours=hour))
    [row] = store.feed_rows()
    assert (row.url, row.name, row.last_status, row.last_error) == (
        FEED.url, "Example Blog", "error", "timed out")
    assert (row.consecutive_failures, row.post_count) == (2, 2)
    assert (row.last_success_at, row.last_fetched_at) == (T0, T0 + timedelta(hours=2))
    store.record_fetch(ok(status="not_modified"), T0 + timedelta(hours=3))
    [row] = store.feed_rows()
    assert (row.last_status, row.last_error, row.consecutive_failures) == (
        "not_modified", None, 0)
    assert row.last_success_at == T0 + timedelta(hours=3)


# --- issues ---------------------------------------------------------------------------------------


def test_create_issue_claims_posts_and_queues_active_subscribers(store: Store) -> None:
    store.record_fetch(ok(post("a"), post("b"), post("c")), T0)
    subscribe(store, 3)
    store.add_subscriber("gone@example.org")
    store.set_subscriber_status("gone@example.org", "unsubscribed")
    issue = store.create_issue(["b", "a"], rendered("First"), T0)
    assert (issue.subject, issue.status, issue.post_keys, issue.sent_at) == (
        "First", "sending", ("b", "a"), None)
    assert issue.created_at == T0
    assert store.get_issue(issue.id) == issue
    assert store.last_issue() == issue
    assert [p.post.key for p in store.unissued_posts()] == ["c"]
    assert store.delivery_counts(issue.id)["pending"] == 3
    emails = {d.email for d in store.pending_deliveries(issue.id)}
    assert emails == {f"reader{i}@example.org" for i in range(3)}


@pytest.mark.parametrize(("keys", "message"), [
    (["b", "a"], r"already in an issue.*a \(issue 1\)"),
    (["b", "nope"], "not in the store: nope"),
])
def test_create_issue_is_all_or_nothing(store: Store, keys: list[str], message: str) -> None:
    store.record_fetch(ok(post("a"), post("b")), T0)
    subscribe(store, 4)
    first = store.create_issue(["a"], rendered(), T0)
    with pytest.raises(StoreError, match=message):
        store.create_issue(keys, rendered("Second"), T0)
    assert store.last_issue() == first
    assert [p.post.key for p in store.unissued_posts()] == ["b"]
    assert [s.id for s in store.issue_summaries()] == [first.id]
    assert sum(store.delivery_counts(first.id).values()) == 4


def test_one_delivery_per_issue_and_subscriber(store: Store, tmp_path: Path) -> None:
    store.record_fetch(ok(post("a"), post("b")), T0)
    subscribe(store, 5)
    first = store.create_issue(["a"], rendered(), T0)
    with pytest.raises(StoreError):
        store.create_issue(["a"], rendered(), T0)
    second = store.create_issue(["b"], rendered(), T0)
    for issue in (first, second):
        deliveries = store.pending_deliveries(issue.id)
        assert len(deliveries) == len({d.subscriber_id for d in deliveries}) == 5
    raw = sqlite3.connect(tmp_path / "digest.sqlite3")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        raw.execute("INSERT INTO deliveries (issue_id, subscriber_id) VALUES (?, ?)",
                    (first.id, deliveries[0].subscriber_id))
    raw.close()


def test_unknown_issues_are_store_errors(store: Store) -> None:
    assert store.last_issue() is None
    with pytest.raises(StoreError, match="no issue 9"):
        store.get_issue(9)
    with pytest.raises(StoreError, match="no issue 9"):
        store.delivery_counts(9)
    with pytest.raises(StoreError, match="no issue 9"):
        store.finish_issue(9, T0)


# --- the delivery ledger --------------------------------------------------------------------------


def _issue_for(store: Store, subscribers: int) -> int:
    store.record_fetch(ok(post(f"p{subscribers}")), T0)
    subscribe(store, subscribers)
    return store.create_issue([f"p{subscribers}"], rendered(), T0).id


def test_pending_deliveries_pages_by_id_over_active_subscribers(store: Store) -> None:
    issue_id = _issue_for(store, 1200)
    store.set_subscriber_status("reader7@example.org", "unsubscribed")
    store.set_subscriber_status("reader900@example.org", "bounced")
    store.set_subscriber_status("reader901@example.org", "complained")
    seen: list[int] = []
    pages: list[int] = []
    after = 0
    while page := store.pending_deliveries(issue_id, after_id=after, limit=500):
        pages.append(len(page))
        seen += [d.id for d in page]
        after = page[-1].id
    assert pages == [500, 500, 197]
    assert seen == sorted(set(seen))
    emails = {d.email for d in store.pending_deliveries(issue_id, limit=2000)}
    assert len(emails) == 1197
    assert not {"reader7@example.org", "reader900@example.org", "reader901@example.org"} & emails
    assert store.skip_inactive(issue_id) == 3
    assert store.delivery_counts(issue_id) == {"pending": 1197, "sent": 0, "failed": 0,
                                               "rejected": 0, "skipped": 3}


def test_record_results_moves_rows_and_never_unsends(store: Store) -> None:
    issue_id = _issue_for(store, 3)
    a, b, c = store.pending_deliveries(issue_id)
    store.record_results([
        SendResult(a.id, "sent", reply="250 ok", message_id="<m1@x>", attempts=2),
        SendResult(b.id, "temporary", reply="421 try later", attempts=3),
        SendResult(c.id, "permanent", reply="550 no such user"),
    ], now=T0, bounce_after=3)
    assert store.pending_deliveries(issue_id) == []
    retry = store.pending_deliveries(issue_id, include_failed=True)
    assert [(d.id, d.status, d.attempts, d.last_error) for d in retry] == [
        (b.id, "failed", 3, "421 try later")]
    store.record_results([SendResult(a.id, "temporary", reply="451"),
                          SendResult(b.id, "sent", message_id="<m2@x>")],
                         now=T0 + timedelta(hours=1), bounce_after=3)
    counts = store.delivery_counts(issue_id)
    assert (counts["sent"], counts["failed"], counts["rejected"]) == (2, 0, 1)
    summary = store.issue_summaries()[0]
    assert summary.top_errors == [("550 no such user", 1)]
    assert summary.counts == counts


def test_subscribers_bounce_after_consecutive_rejections_only(store: Store) -> None:
    subscribe(store, 2)

    def one_issue(n: int, ann: str) -> None:
        store.record_fetch(ok(post(f"k{n}")), T0)
        issue_id = store.create_issue([f"k{n}"], rendered(), T0).id
        first, second = store.pending_deliveries(issue_id)
        results = [SendResult(first.id, ann, reply="550 mailbox full"),  # type: ignore[arg-type]
                   SendResult(second.id, "sent")]
        store.record_results(results, now=T0, bounce_after=3)
        store.record_results(results, now=T0, bounce_after=3)  # recorded twice: counted once

    for n, outcome in enumerate(["permanent", "permanent", "sent", "permanent", "permanent"]):
        one_issue(n, outcome)
    assert store.subscriber_count() == 2
    one_issue(5, "permanent")
    assert [s.email for s in store.subscribers("bounced")] == ["reader0@example.org"]
    assert store.subscriber_count() == 1


def test_finish_issue_waits_for_pending_rows_not_failed_ones(store: Store) -> None:
    issue_id = _issue_for(store, 2)
    first, second = store.pending_deliveries(issue_id)
    store.record_results([SendResult(first.id, "sent")], now=T0, bounce_after=3)
    assert store.finish_issue(issue_id, T0) is False
    assert [i.id for i in store.unfinished_issues()] == [issue_id]
    store.record_results([SendResult(second.id, "temporary", reply="timed out")], now=T0,
                         bounce_after=3)
    done_at = T0 + timedelta(minutes=5)
    assert store.finish_issue(issue_id, done_at) is True
    assert store.finish_issue(issue_id, done_at + timedelta(days=1)) is True
    issue = store.get_issue(issue_id)
    assert (issue.status, issue.sent_at) == ("sent", done_at)
    assert store.unfinished_issues() == []
    assert [i.id for i in store.issues_with_failed()] == [issue_id]
    store.record_results([SendResult(second.id, "sent")], now=T0, bounce_after=3)
    assert store.issues_with_failed() == []


def test_issue_summaries_list_the_five_most_common_errors(store: Store) -> None:
    issue_id = _issue_for(store, 21)
    rows = store.pending_deliveries(issue_id)
    replies = [f"55{n} reason {n}" for n in range(6) for _ in range(n + 1)]  # 1+2+...+6 = 21
    store.record_results([SendResult(d.id, "permanent", reply=r) for d, r in zip(rows, replies,
                                                                                 strict=True)],
                         now=T0, bounce_after=10)
    [summary] = store.issue_summaries()
    assert summary.top_errors == [(f"55{n} reason {n}", n + 1) for n in (5, 4, 3, 2, 1)]
    assert summary.counts["rejected"] == 21
    assert (summary.status, summary.created_at, summary.sent_at) == ("sending", T0, None)


def test_bounce_after_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="bounce_after"):
        store.record_results([], now=T0, bounce_after=0)


def test_sent_since_counts_sends_over_all_issues(store: Store) -> None:
    first = _issue_for(store, 2)
    second = _issue_for(store, 3)
    rows = store.pending_deliveries(first) + store.pending_deliveries(second)
    for n, row in enumerate(rows):
        store.record_results([SendResult(row.id, "sent")], now=T0 + timedelta(minutes=20 * n),
                             bounce_after=3)
    store.record_results([SendResult(rows[0].id, "sent")], now=T0 + timedelta(hours=5),
                         bounce_after=3)  # already sent: neither re-stamped nor counted again
    assert len(rows) == 5
    assert store.sent_since(T0 + timedelta(minutes=20)) == 4
    assert store.sent_since(T0 + timedelta(minutes=41)) == 2
    assert store.sent_since(T0 + timedelta(minutes=81)) == 0


def test_one_store_can_be_shared_by_threads(store: Store) -> None:
    issue_id = _issue_for(store, 400)
    rows = store.pending_deliveries(issue_id, limit=400)

    def send(part: list[Delivery]) -> None:
        for row in part:
            store.record_results([SendResult(row.id, "sent")], now=T0, bounce_after=3)
            store.delivery_counts(issue_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, [rows[n::4] for n in range(4)]))
    assert store.delivery_counts(issue_id)["sent"] == 400
    assert store.finish_issue(issue_id, T0)


def test_a_featured_image_is_stored_changed_and_dropped_with_the_feed(store: Store) -> None:
    picture = FeaturedImage("https://b.example/a.jpg", "A window", 1200, 800)
    store.record_fetch(ok(post("a", image=picture), post("b")), T0)
    by_key = {p.post.key: p.post for p in store.unissued_posts()}
    assert by_key["a"].image == picture and by_key["b"].image is None
    other = FeaturedImage("https://b.example/other.png")
    store.record_fetch(ok(post("a", image=other), post("b")), T0 + timedelta(hours=1))
    assert store.posts_by_key(["a"])["a"].post.image == other
    store.record_fetch(ok(post("a"), post("b")), T0 + timedelta(hours=2))
    assert store.posts_by_key(["a"])["a"].post.image is None  # the feed's current word counts


def test_an_issue_made_with_an_identity_keeps_it_and_one_made_without_gets_it_when_sent(
        tmp_path: Path) -> None:
    from digest.store.identity import freeze_identity

    made_with = '{"from_addr": "A <a@example.org>"}'
    later = '{"from_addr": "B <b@example.net>"}'
    with Store.open(tmp_path / "s.sqlite3") as store:
        kept = store.create_issue([], RenderedIssue("One", "<p>1</p>", "1", "", 0),
                                  datetime(2026, 1, 1, tzinfo=UTC), identity=made_with)
        older = store.create_issue([], RenderedIssue("Two", "<p>2</p>", "2", "", 0),
                                   datetime(2026, 1, 1, tzinfo=UTC))
        now = datetime(2026, 1, 2, tzinfo=UTC)
        assert freeze_identity(store, kept.id, later, "b.example.net", now) == made_with
        assert freeze_identity(store, older.id, later, "b.example.net", now) == later
        assert freeze_identity(store, older.id, made_with, "a.example.org", now) == later
