"""Benchmark: compose + render one issue, and personalize it per recipient.

Each figure is compared with a baseline measured in the same run:
- rendering: the same templates without CSS inlining, to show what premailer costs per issue;
- personalize: the naive approach, rendering the templates (and inlining) per recipient, and
  the obvious substitution, str.replace of each token over the whole output.

Goals: compose + render of a 20-post issue < 100 ms; personalize() < 50 µs per recipient.
Run: .venv/bin/python bench/render.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape

from digest.issues.compose import plan_issue
from digest.issues.render import Renderer
from digest.mail.fill import personalize
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    IssuePlan,
    Post,
    Recipient,
    RenderedIssue,
    StoredPost,
)
from digest.settings import DigestSettings

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
DIGEST = DigestSettings(
    title="Feeling Again weekly", from_addr="Feeling Again <digest@example.org>",
    site_url="https://example.org/", max_posts=20, summary_words=60,
    intro="This week on **Feeling Again**: what emotional blunting feels like, why it happens, "
          "and what people have done about it [with their doctors](https://example.org/doctors/).",
)
SUMMARY = (
    "<p>Readers describe the flatness in their own words: <em>like watching my life through a "
    "window</em>. We collect their experiences and what helped them talk to a doctor.</p>"
    "<ul><li><strong>Morning light</strong>, ten minutes a day.</li><li>Old hobbies, on a "
    "timer.</li><li>Writing one line a day about anything that felt different.</li></ul>"
    "<p>More in the <a href='https://example.org/research/'>research round-up</a>, with notes "
    "on what is known and what is not, and how long the feeling usually lasts.</p>"
)


class _NoInlining(Renderer):
    """The same templates, without premailer: the baseline for the per-issue render cost."""

    @staticmethod
    def _inline_css(html: str) -> str:
        return html


def unissued(count: int) -> list[StoredPost]:
    posts = []
    for n in range(count):
        post = Post(
            key=f"https://example.org/?p={1000 + n}", feed_url="https://example.org/feed/",
            title=f"Living with emotional blunting, part {n + 1}",
            link=f"https://example.org/2026/11/part-{n + 1}/", author="Ian Skaife",
            published=NOW - timedelta(hours=7 * n), summary_html=SUMMARY,
            comment_count=n % 5 if n % 7 else None,
        )
        posts.append(StoredPost(post=post, first_seen=NOW))
    return posts


def personalize_by_replace(rendered: RenderedIssue, recipient: Recipient) -> tuple[str, str]:
    """The obvious alternative to personalize(): str.replace per token over the whole output."""
    html, text = rendered.html, rendered.text
    for token, value in ((TOKEN_NAME, recipient.name), (TOKEN_EMAIL, recipient.email),
                         (TOKEN_UNSUBSCRIBE, recipient.unsubscribe_url)):
        html = html.replace(token, escape(value))
        text = text.replace(token, value)
    return html, text


def best_of(function: Callable[[], object], repeat: int, number: int) -> float:
    """Seconds per call: the median of ``repeat`` timings of ``number`` calls each."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        timings.append((time.perf_counter() - start) / number)
    return statistics.median(timings)


def main() -> None:
    posts = unissued(20)
    renderer = Renderer()
    plain = _NoInlining()

    def compose_and_render() -> None:
        plan = plan_issue(posts, None, DIGEST, NOW)
        assert plan is not None
        renderer.render(plan, DIGEST)

    plan: IssuePlan | None = plan_issue(posts, None, DIGEST, NOW)
    assert plan is not None
    rendered = renderer.render(plan, DIGEST)
    recipient = Recipient("reader@example.org", "Alex Reader",
                          "https://example.org/unsubscribe/3f2a9c7e1b?list=weekly&id=42")

    compose_s = best_of(lambda: plan_issue(posts, None, DIGEST, NOW), repeat=5, number=200)
    render_s = best_of(compose_and_render, repeat=5, number=10)
    no_inline_s = best_of(lambda: plain.render(plan, DIGEST), repeat=5, number=10)
    personalize_s = best_of(lambda: personalize(rendered, recipient), repeat=5, number=2000)
    replace_s = best_of(lambda: personalize_by_replace(rendered, recipient), repeat=5,
                        number=2000)
    assert personalize_by_replace(rendered, recipient) == personalize(rendered, recipient)
    naive_s = render_s  # rendering the templates per recipient costs a whole render each time

    size_kb = len(rendered.html.encode()) / 1024
    print(f"issue: {rendered.post_count} posts, HTML {size_kb:.1f} KB, text "
          f"{len(rendered.text.encode()) / 1024:.1f} KB")
    print(f"compose (plan_issue):            {compose_s * 1e6:8.1f} µs")
    print(f"compose + render (goal < 100 ms): {render_s * 1e3:7.2f} ms")
    print(f"  baseline, no CSS inlining:      {no_inline_s * 1e3:7.2f} ms "
          f"(inlining costs x{render_s / no_inline_s:.1f})")
    print(f"personalize (goal < 50 µs):       {personalize_s * 1e6:7.1f} µs")
    print(f"  baseline, render per recipient: {naive_s * 1e3:7.2f} ms "
          f"(personalize is x{naive_s / personalize_s:,.0f} faster)")
    print(f"  baseline, str.replace per token:{replace_s * 1e6:7.1f} µs "
          f"(personalize is x{replace_s / personalize_s:.1f} faster)")
    for recipients in (1_000, 10_000):
        print(f"  {recipients:>6} recipients: personalize {recipients * personalize_s:.2f} s, "
              f"naive {recipients * naive_s:.1f} s")


if __name__ == "__main__":
    main()
