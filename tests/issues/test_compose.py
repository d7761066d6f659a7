"""What goes into the next issue: selection, order, overflow and subject."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from digest.errors import ConfigError
from digest.issues.compose import nothing_new_message, plan_issue
from digest.models import Issue, Post, StoredPost
from digest.settings import DigestSettings

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SEEN = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def settings(**changes: object) -> DigestSettings:
    base = DigestSettings(title="Feeling Again weekly", from_addr="Feeling Again <d@example.org>",
                          site_url="https://example.org/", intro="Hello *readers*.", max_posts=3)
    return replace(base, **changes)  # type: ignore[arg-type]


def stored(key: str, published: datetime | None, *, first_seen: datetime = SEEN,
           title: str | None = None, issue_id: int | None = None) -> StoredPost:
    post = Post(key=key, feed_url="https://example.org/feed/", title=title or f"Post {key}",
                link=f"https://example.org/{key}/", author="Ian Skaife", published=published,
                summary_html="<p>Summary.</p>", comment_count=2)
    return StoredPost(post=post, first_seen=first_seen, issue_id=issue_id)


def day(n: int) -> datetime:
    return datetime(2026, 11, n, 9, 0, tzinfo=UTC)


def previous_issue(created_at: datetime) -> Issue:
    return Issue(id=4, subject="s", html="h", text="t", created_at=created_at, status="sent",
                 post_keys=("old",))


def test_nothing_new_gives_no_plan() -> None:
    assert plan_issue([], previous_issue(day(18)), settings(), NOW) is None
    assert plan_issue([], None, settings(), NOW) is None


def test_nothing_new_messages_name_the_previous_issue() -> None:
    assert nothing_new_message(previous_issue(day(18))) == "nothing new since 2026-11-18"
    assert nothing_new_message(None) == "no posts yet"


def test_first_issue_shows_newest_max_posts_and_counts_the_rest() -> None:
    posts = [stored(f"p{n}", day(n)) for n in range(1, 8)]
    plan = plan_issue(posts, None, settings(max_posts=3), NOW)
    assert plan is not None
    assert [p.key for p in plan.posts] == ["p7", "p6", "p5"]
    assert plan.more_count == 4
    assert sorted(plan.covered_keys) == sorted(p.post.key for p in posts)
    assert plan.since is None
    assert plan.created_at == NOW
    assert plan.intro_markdown == "Hello *readers*."


def test_later_issue_starts_from_previous_issue_date() -> None:
    plan = plan_issue([stored("a", day(20))], previous_issue(day(18)), settings(), NOW)
    assert plan is not None
    assert plan.since == day(18)
    assert plan.more_count == 0
    assert plan.covered_keys == ("a",)


def test_missing_dates_fall_back_to_first_seen() -> None:
    posts = [
        stored("dated-old", day(3)),
        stored("undated-recent", None, first_seen=day(21)),
        stored("dated-new", day(22)),
        stored("undated-older", None, first_seen=day(10)),
    ]
    plan = plan_issue(posts, None, settings(max_posts=10), NOW)
    assert plan is not None
    assert [p.key for p in plan.posts] == ["dated-new", "undated-recent", "undated-older",
                                           "dated-old"]


def test_equal_dates_are_ordered_by_key_whatever_the_input_order() -> None:
    posts = [stored(key, day(12)) for key in ("m", "b", "z", "a")] + [stored("n", day(13))]
    orders = set()
    for seed in range(6):
        shuffled = posts[:]
        random.Random(seed).shuffle(shuffled)
        plan = plan_issue(shuffled, None, settings(max_posts=3), NOW)
        assert plan is not None
        orders.add((tuple(p.key for p in plan.posts), plan.covered_keys))
    assert orders == {(("n", "a", "b"), ("n", "a", "b", "m", "z"))}


def test_every_post_is_covered_exactly_once() -> None:
    posts = [stored(f"k{n}", day(1) + timedelta(hours=n)) for n in range(25)]
    duplicate = stored("k3", day(2))  # the same key offered twice
    already_issued = stored("issued", day(24), issue_id=3)
    plan = plan_issue([*posts, duplicate, already_issued], None, settings(max_posts=10), NOW)
    assert plan is not None
    assert len(plan.covered_keys) == len(set(plan.covered_keys)) == 25
    assert "issued" not in plan.covered_keys
    shown = [p.key for p in plan.posts]
    assert len(shown) == 10 and set(shown) <= set(plan.covered_keys)
    assert plan.more_count == 15


def test_naive_and_aware_dates_sort_together() -> None:
    naive = stored("naive", datetime(2026, 11, 20, 12, 0))
    aware = stored("aware", datetime(2026, 11, 20, 13, 0, tzinfo=UTC))
    plan = plan_issue([naive, aware], None, settings(), NOW)
    assert plan is not None
    assert [p.key for p in plan.posts] == ["aware", "naive"]


def test_subject_placeholders() -> None:
    posts = [stored("a", day(20), title="Older"), stored("b", day(21), title="Newest\npost")]
    digest = settings(subject="{title} {date}: {count} new, starting with {first_post}")
    plan = plan_issue(posts, None, digest, NOW)
    assert plan is not None
    assert plan.subject == "Feeling Again weekly 2026-11-25: 2 new, starting with Newest post"


def test_default_subject_uses_the_newest_title() -> None:
    plan = plan_issue([stored("a", day(20), title="Why stopping suddenly is not the answer")],
                      None, settings(), NOW)
    assert plan is not None
    assert plan.subject == "Feeling Again weekly: Why stopping suddenly is not the answer"


@pytest.mark.parametrize("template", ["{title} {nope}", "{title.__class__}", "{0}", "{title",
                                      "{count:>5}"])
def test_bad_subject_placeholder_is_a_config_error(template: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_issue([stored("a", day(20))], None, settings(subject=template), NOW)
    assert "digest.subject" in str(caught.value)
    assert template in str(caught.value)
