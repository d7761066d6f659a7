"""'Most discussed': earlier posts that gained the most comments since the previous issue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lxml import html as lxml_html

from digest.issues.compose import History, plan_issue, same_post_link
from digest.issues.discussed import gained_label, heading, most_discussed
from digest.issues.render import Renderer
from digest.models import (
    CommentChange,
    DiscussedPost,
    Feed,
    FetchOutcome,
    Issue,
    Post,
    RenderedIssue,
    StoredPost,
)
from digest.settings import DigestSettings, MostDiscussedSettings
from digest.store import Store

FEED = Feed("https://example.org/feed/", "Example Blog")
T0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DIGEST = DigestSettings(title="Example weekly", from_addr="Example <d@example.org>",
                        site_url="https://example.org/",
                        most_discussed=MostDiscussedSettings(enabled=True, size=3))


def post(key: str, comments: int | None = 0, *, link: str | None = None,
         published: datetime | None = None, feed: str = FEED.url) -> Post:
    return Post(key=key, feed_url=feed, title=f"Post {key}",
                link=link if link is not None else f"https://example.org/{key}/",
                author="Ann", published=published or T0 - timedelta(days=3),
                summary_html="<p>Words.</p>", comment_count=comments,
                comments_url=f"https://example.org/{key}/#comments")


def change(key: str, before: int | None, after: int | None, *, issue_id: int | None = 1,
           link: str | None = None, published: datetime | None = None) -> CommentChange:
    stored = StoredPost(post(key, after, link=link, published=published),
                        first_seen=T0 - timedelta(days=3), issue_id=issue_id)
    return CommentChange(stored, before, after)


def keys(items: tuple[DiscussedPost, ...]) -> list[tuple[str, int]]:
    return [(item.post.key, item.gained) for item in items]


# --- the pure choice -------------------------------------------------------------------------


def test_most_new_comments_first_with_their_gain() -> None:
    changes = [change("a", 10, 12), change("b", 3, 20), change("c", 0, 5), change("d", 7, 8)]
    assert keys(most_discussed(changes, exclude=set(), size=3)) == [("b", 17), ("c", 5),
                                                                    ("a", 2)]


def test_no_gain_and_unknown_counts_are_left_out() -> None:
    changes = [change("same", 4, 4), change("fewer", 9, 6), change("was-unknown", None, 30),
               change("now-unknown", 5, None), change("up", 1, 2)]
    assert keys(most_discussed(changes, exclude=set(), size=10)) == [("up", 1)]


def test_posts_of_the_issue_being_made_and_unissued_posts_are_left_out() -> None:
    changes = [change("new", 0, 40, issue_id=None), change("this", 0, 30),
               change("old", 2, 5)]
    assert keys(most_discussed(changes, exclude={"this"}, size=3)) == [("old", 3)]


def test_ties_go_to_more_comments_then_newer_then_key() -> None:
    changes = [change("k2", 0, 4, published=T0), change("k1", 0, 4, published=T0),
               change("older", 0, 4, published=T0 - timedelta(days=9)),
               change("bigger", 6, 10, published=T0 - timedelta(days=20))]
    assert [k for k, _ in keys(most_discussed(changes, exclude=set(), size=4))] == [
        "bigger", "k1", "k2", "older"]


def test_syndicated_copies_count_once() -> None:
    changes = [change("a", 0, 9, link="https://Example.org/a/?utm_source=x#top"),
               change("a-copy", 0, 7, link="https://example.org/a"),
               change("b", 0, 3)]
    result = most_discussed(changes, exclude=set(), size=3, same_post=same_post_link)
    assert keys(result) == [("a", 9), ("b", 3)]


def test_size_limits_the_list() -> None:
    changes = [change(f"p{n}", 0, n + 1) for n in range(10)]
    assert len(most_discussed(changes, exclude=set(), size=3)) == 3


def test_labels_and_headings() -> None:
    assert gained_label(1) == "+1 comment"
    assert gained_label(12) == "+12 comments"
    assert heading("weekly") == "Most discussed this week"
    assert heading("monthly") == "Most discussed this month"
    assert heading(None) == "Most discussed since the last issue"


# --- compose ---------------------------------------------------------------------------------

PREVIOUS = Issue(id=1, subject="s", html="h", text="t", created_at=T0, status="sent",
                 post_keys=("old",))


def new_post(key: str) -> StoredPost:
    return StoredPost(post(key, 2, published=T1 - timedelta(days=1)), first_seen=T1)


def test_compose_adds_the_section_only_when_enabled_and_there_was_an_issue() -> None:
    history = History(comment_changes=(change("old", 1, 13),))
    plan = plan_issue([new_post("n1")], PREVIOUS, DIGEST, T1, history=history, every="weekly")
    assert plan is not None
    assert keys(plan.discussed) == [("old", 12)]
    assert plan.discussed_heading == "Most discussed this week"
    off = replace(DIGEST, most_discussed=MostDiscussedSettings(enabled=False, size=3))
    plain = plan_issue([new_post("n1")], PREVIOUS, off, T1, history=history)
    assert plain is not None and plain.discussed == ()
    first = plan_issue([new_post("n1")], None, DIGEST, T1, history=history)
    assert first is not None and first.discussed == ()


def test_compose_leaves_out_posts_this_issue_covers() -> None:
    history = History(comment_changes=(change("n1", 0, 50), change("old", 1, 2)))
    plan = plan_issue([new_post("n1")], PREVIOUS, DIGEST, T1, history=history)
    assert plan is not None and keys(plan.discussed) == [("old", 1)]


def test_discussion_alone_makes_no_issue() -> None:
    history = History(comment_changes=(change("old", 1, 13),))
    assert plan_issue([], PREVIOUS, DIGEST, T1, history=history) is None


# --- the store's history ---------------------------------------------------------------------


def fetched(store: Store, when: datetime, *posts: Post) -> None:
    store.record_fetch(FetchOutcome(feed=FEED, status="ok", posts=posts), when)


def make_issue(store: Store, keys: list[str], when: datetime) -> None:
    rendered = RenderedIssue(subject="s", html="h", text="t", preheader="", post_count=1)
    store.create_issue(keys, rendered, when)


def test_store_gives_counts_at_both_instants_for_posts_that_changed(store: Store) -> None:
    fetched(store, T0 - timedelta(days=2), post("a", 3), post("b", 1), post("c", None),
            post("d", 4))
    fetched(store, T0 - timedelta(days=1), post("a", 5), post("b", 1), post("c", None),
            post("d", 4))
    make_issue(store, ["a", "b", "c", "d"], T0)
    fetched(store, T0 + timedelta(days=2), post("a", 9), post("b", 2), post("c", 7),
            post("d", 4), post("e", 1))
    fetched(store, T0 + timedelta(days=4), post("a", 11), post("b", 2), post("c", 7),
            post("d", 4), post("e", 3))
    found = {c.post.post.key: (c.before, c.after, c.post.issue_id)
             for c in store.comment_changes(T0, T1)}
    # d did not change; e is in no issue yet; c had no count at the previous issue.
    assert found == {"a": (5, 11, 1), "b": (1, 2, 1), "c": (None, 7, 1)}
    result = most_discussed(store.comment_changes(T0, T1), exclude=set(), size=3)
    assert keys(result) == [("a", 6), ("b", 1)]


def test_store_counts_stop_at_the_second_instant(store: Store) -> None:
    fetched(store, T0 - timedelta(days=1), post("a", 3))
    make_issue(store, ["a"], T0)
    fetched(store, T0 + timedelta(days=1), post("a", 4))
    fetched(store, T1 + timedelta(hours=1), post("a", 40))
    [only] = store.comment_changes(T0, T1)
    assert (only.before, only.after) == (3, 4)
    assert store.comment_changes(T1 + timedelta(hours=2), T1 + timedelta(days=1)) == []


# --- rendered --------------------------------------------------------------------------------


def test_rendered_after_the_new_posts_in_html_and_text() -> None:
    history = History(comment_changes=(change("old", 1, 13), change("older", 0, 1)))
    plan = plan_issue([new_post("n1")], PREVIOUS, DIGEST, T1, history=history, every="weekly")
    assert plan is not None
    rendered = Renderer().render(plan, DIGEST)
    doc = lxml_html.document_fromstring(rendered.html)
    [section] = doc.xpath("//td[@class='discussed']")
    assert section.xpath("string(.//h2)") == "Most discussed this week"
    items = [" ".join(p.text_content().split()) for p in section.xpath(".//p")]
    assert items == ["Post old +12 comments", "Post older +1 comment"]
    assert section.xpath(".//a/@href") == [
        "https://example.org/old/", "https://example.org/old/#comments",
        "https://example.org/older/", "https://example.org/older/#comments"]
    cells = doc.xpath("//td[@class='post' or @class='discussed']/@class")
    assert cells == ["post", "discussed"]
    text = rendered.text
    assert text.index("Post n1") < text.index("MOST DISCUSSED THIS WEEK")
    assert "- Post old (+12 comments)\n  https://example.org/old/#comments" in text
    assert text.index("MOST DISCUSSED") < text.index("Unsubscribe")


def test_no_section_when_nothing_gained() -> None:
    plan = plan_issue([new_post("n1")], PREVIOUS, DIGEST, T1, history=History())
    assert plan is not None
    rendered = Renderer().render(plan, DIGEST)
    assert "discussed" not in rendered.html.split("<body", 1)[1]
    assert "MOST DISCUSSED" not in rendered.text
