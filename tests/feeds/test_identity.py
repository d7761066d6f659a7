"""The identity rules as data in, decisions out: link_key, entry_keys, match and place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.feeds.identity import Entry, Incoming, Known, entry_keys, link_key, match, place

DAY = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("spelled", "same_as"), [
    ("http://blog.example.org/p/1/", "https://blog.example.org/p/1"),
    ("https://WWW.Blog.Example.org:443/p/1", "https://blog.example.org/p/1"),
    ("http://blog.example.org:80/p/1?utm_source=feedburner&utm_medium=feed", "https://blog.example.org/p/1"),
    ("https://medium.com/@a/post-1a2b?source=rss----5e3f---4", "https://medium.com/@a/post-1a2b"),
    ("https://blog.example.org/p/1#more-102", "https://blog.example.org/p/1"),
    ("https://blog.example.org/p/1#xtor=RSS-3", "https://blog.example.org/p/1"),
    ("https://blog.example.org/p/%7Ea", "https://blog.example.org/p/~a"),
    ("http://blog.example.org//article//p1", "https://blog.example.org/article/p1"),
])
def test_spellings_of_one_page_have_one_key(spelled: str, same_as: str) -> None:
    assert link_key(spelled) == link_key(same_as)


@pytest.mark.parametrize(("one", "other"), [
    ("https://blog.example.org/p/1/#comment-5", "https://blog.example.org/p/1/"),
    ("https://blog.example.org/#!/post/3", "https://blog.example.org/#!/post/4"),
    ("https://blog.example.org/?p=1", "https://blog.example.org/?p=2"),
    ("https://blog.example.org/P/1", "https://blog.example.org/p/1"),
    ("https://blog.example.org:8080/p/1", "https://blog.example.org/p/1"),
])
def test_different_pages_keep_different_keys(one: str, other: str) -> None:
    assert link_key(one) != link_key(other)


def test_a_shared_guid_is_no_identity_but_a_repeated_entry_is_one() -> None:
    a = Entry("g", "https://x.example/a", "A", DAY)
    b = Entry("g", "https://x.example/b", "B", DAY)
    assert entry_keys([a, b, a]) == ["link:https://x.example/a", "link:https://x.example/b",
                                     "link:https://x.example/a"]
    assert entry_keys([a, a]) == ["id:g", "id:g"]


def test_a_link_every_entry_shares_is_no_identity() -> None:
    keys = entry_keys([Entry("", "https://x.example/", "A", None),
                       Entry("", "https://x.example/", "B", None)])
    assert len(set(keys)) == 2 and all(key.startswith("sha256:") for key in keys)


def _known(key: str, guid: str | None, link: str | None, title: str = "T") -> Known:
    return Known(key, guid, link, title, DAY)


def test_a_rewritten_guid_is_recognised_by_link_then_by_title_and_date() -> None:
    known = [_known("id:?p=1", "?p=1", "http://x.example/a/", "A"),
             _known("id:?p=2", "?p=2", "https://x.example/old/b", "B")]
    incoming = [Incoming("id:https://x.example/a", "https://x.example/a", "https://x.example/a",
                         "A", DAY),
                Incoming("id:https://x.example/new/b", "https://x.example/new/b",
                         "https://x.example/new/b", "B", DAY),
                Incoming("id:c", "c", "https://x.example/c", "C", DAY)]
    assert match(incoming, known) == ["id:?p=1", "id:?p=2", "id:c"]


def test_a_stored_post_is_matched_once_and_a_guid_match_comes_first() -> None:
    known = [_known("id:1", "1", "https://x.example/a")]
    incoming = [Incoming("id:2", "2", "https://x.example/a", "T", DAY),
                Incoming("id:1", "1", "https://x.example/b", "T", DAY)]
    assert match(incoming, known) == ["id:2", "id:1"]


def test_undated_entries_take_their_place_from_their_neighbours() -> None:
    older = DAY.replace(day=1)
    assert place([DAY, None, older, None]) == ([DAY, DAY, older, older], [0, 1, 2, 3])
    # listed oldest first: the newer neighbour comes after
    assert place([older, None, DAY]) == ([older, DAY, DAY], [2, 1, 0])
    assert place([None, None]) == ([None, None], [0, 1])
