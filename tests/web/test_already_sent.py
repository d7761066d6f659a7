"""The editor's draft page shows the posts that look already sent (a feed rewrote its ids) and
settles them in one step, through the same use case as `digest draft --already-sent`: over HTTP
with Starlette's test client on the real app, a real store and a real SMTP server."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.models import FetchOutcome, RenderedIssue
from digest.web import create_app
from support.browser import EDITOR_TOKEN, FEED, T0, Site, make_site, post
from support.smtpserver import CountingHandler, SmtpServer


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with SmtpServer(CountingHandler()) as smtp:
        yield make_site(tmp_path, smtp.port)


def _client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock)
    client = TestClient(app, follow_redirects=False)
    assert client.post("/editor/login", data={"token": EDITOR_TOKEN,
                                              "next": "/editor/"}).status_code == 303
    return client


def _rewritten_feed(site: Site) -> int:
    """Issue 1 went out with p0..p2; then a migration rewrote the feed's ids and links and
    re-dated its posts, so the identity rules cannot see through it: q0 and q1 are p0 and p1
    (the same titles), n1 is a new post. Returns the draft's id."""
    with site.store() as store:
        store.create_issue(["p0", "p1", "p2"], RenderedIssue("First", "<p>1</p>", "1", "", 3), T0)
        copies = tuple(replace(post(f"p{n}", days_old=0), key=f"id:q{n}",
                               link=f"https://blog.example.org/moved/p{n}") for n in (0, 1))
        store.record_fetch(FetchOutcome(feed=FEED, status="ok",
                                        posts=(*copies, post("n1", days_old=0))), T0)
    site.clock.advance(hours=1)
    return site.make_draft().id


def _page_and_csrf(client: TestClient) -> tuple[str, str]:
    page = client.get("/editor/draft").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return page, match.group(1)


def _unissued_keys(site: Site) -> set[str]:
    with site.store() as store:
        return {stored.post.key for stored in store.unissued_posts()}


@pytest.mark.parametrize("action", ["drop", "sent"])
def test_the_draft_page_lists_look_alikes_and_settles_them_in_one_step(site: Site,
                                                                     action: str) -> None:
    issue_id = _rewritten_feed(site)
    client = _client(site)
    page, csrf = _page_and_csrf(client)
    listed = re.search(r'<ul class="warnings" id="already-sent">(.*?)</ul>', page, re.S)
    assert listed is not None
    assert listed.group(1).count("<li>") == 2
    assert "same title as &ldquo;Post p0 &lt;b&gt;bold&lt;/b&gt;&rdquo; in issue 1" in page
    assert 'href="https://blog.example.org/moved/p1"' in listed.group(1)

    done = client.post("/editor/draft/already-sent",
                       data={"csrf": csrf, "issue_id": str(issue_id), "action": action})
    assert done.status_code == 303 and done.headers["location"] == f"/editor/draft?done={action}"
    after = client.get(done.headers["location"]).text
    assert 'id="already-sent"' not in after
    assert ("dropped for good" if action == "drop" else "marked as sent") in after
    with site.store() as store:
        draft = store.open_draft()
        assert draft is not None and list(draft.post_keys) == ["n1"]
        covered = {key: stored for key, stored in store.posts_by_key(["id:q0", "id:q1"]).items()}
    # dropped: out of every issue for good; sent: recorded in the issue that had their twins
    assert {stored.issue_id for stored in covered.values()} == ({None} if action == "drop"
                                                                 else {1})
    assert not {"id:q0", "id:q1"} & _unissued_keys(site)


@pytest.mark.parametrize(("form", "status", "says"), [
    ({"action": "keep"}, 400, "neither drop nor sent"),
    ({"action": "drop", "issue_id": "99"}, 409, "not the open draft"),
    ({"action": "drop", "issue_id": ""}, 400, "names no issue"),
])
def test_a_bad_form_is_refused_and_changes_nothing(site: Site, form: dict[str, str],
                                                   status: int, says: str) -> None:
    issue_id = _rewritten_feed(site)
    client = _client(site)
    _, csrf = _page_and_csrf(client)
    before = site.issue(issue_id)
    answer = client.post("/editor/draft/already-sent",
                         data={"csrf": csrf, "issue_id": str(issue_id), **form})
    assert answer.status_code == status
    assert says in answer.text and "Nothing was changed" in answer.text
    assert site.issue(issue_id) == before
    assert 'id="already-sent"' in client.get("/editor/draft").text


def test_without_the_csrf_token_nothing_is_settled(site: Site) -> None:
    issue_id = _rewritten_feed(site)
    client = _client(site)
    answer = client.post("/editor/draft/already-sent",
                         data={"csrf": "forged", "issue_id": str(issue_id), "action": "drop"})
    assert answer.status_code == 403
    assert len(site.issue(issue_id).post_keys) == 3
