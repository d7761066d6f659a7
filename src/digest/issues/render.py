"""Render an issue once: HTML (CSS inlined) and plain text, holding per-recipient tokens.

Inlining CSS costs tens of milliseconds, so it runs once per issue; each recipient's copy is made
by replacing the tokens of ``digest.models`` in the finished output (``digest.mail.fill``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup
from premailer import Premailer

from digest.errors import RenderError
from digest.feeds.bounds import bound
from digest.feeds.summary import clean_summary, html_to_text, truncate_html, wrap_text
from digest.issues.breaks import break_long_runs
from digest.issues.discussed import HEADINGS as DISCUSSED_HEADINGS
from digest.issues.discussed import DiscussedView
from digest.issues.discussed import view as discussed_view
from digest.issues.featured import ImageView, image_view
from digest.issues.i18n import ENGLISH, Messages, for_digest, text_direction
from digest.mail.check_layout import layout_problems
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    TOKEN_WEB_VERSION,
    DiscussedPost,
    IssuePlan,
    Post,
    RenderedIssue,
)
from digest.settings import DigestSettings

HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"
# Gmail clips messages whose HTML passes ~102 KB, hiding the footer and its unsubscribe link.
MAX_HTML_BYTES = 90 * 1024
PREHEADER_MAX = 140
SAFE_LINK = re.compile(r"^(https?:|mailto:|[^:]*$)", re.IGNORECASE)


@dataclass(frozen=True)
class PostView:
    """A post as the templates see it."""

    title: str
    link: str | None
    author: str
    comment_count: int | None
    comments_url: str | None
    published: datetime | None
    byline: str  # "" when neither author nor comment count is known
    summary_html: Markup  # sanitised and truncated
    summary_text: str
    truncated: bool
    image: ImageView | None = None  # the featured picture; None with digest.images: none


@dataclass(frozen=True)
class _Draft:
    """The parts of an issue that do not depend on how many posts fit."""

    context: dict[str, Any]
    views: tuple[PostView, ...]
    more_count: int
    # layout "sections": (section number, feed name) of each view, in order
    section_of: tuple[tuple[int, str], ...] = ()


class Renderer:
    """Renders issues from the bundled templates, or a folder overriding them file by file."""

    def __init__(self, template_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [_BundledLoader()]
        if template_dir is not None:
            if not template_dir.is_dir():
                raise RenderError(f"template folder {template_dir} does not exist")
            loaders.insert(0, jinja2.FileSystemLoader(template_dir))
        self.template_dir = template_dir
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=lambda name: name is not None and name.endswith((".html.j2", ".html")),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["longdate"] = _localized_longdate
        self.markdown = _IntroMarkdown("commonmark", {"html": False}).disable("image")
        # premailer and cssutils warn about every mso-* property on every call: noise in cron mail.
        for name in ("premailer", "CSSUTILS", "cssutils"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def render(self, plan: IssuePlan, digest: DigestSettings) -> RenderedIssue:
        draft = self._draft(plan, digest)
        shown = len(draft.views)
        rendered = self._render_with(draft, shown, plan.subject)
        if _size(rendered) <= MAX_HTML_BYTES:
            return rendered
        full_size = _size(rendered)
        rendered = self._largest_fitting(draft, plan.subject)
        kept = rendered.post_count
        warning = (
            f"the HTML would be {full_size // 1024} KB with all {shown} posts, over the "
            f"{MAX_HTML_BYTES // 1024} KB limit (Gmail clips longer messages); showing {kept}, "
            f"the other {shown - kept} are counted in 'view more on the blog'"
        )
        if _size(rendered) > MAX_HTML_BYTES:
            warning += f"; still {_size(rendered) // 1024} KB without posts: shorten the intro"
        return replace(rendered, warnings=(*rendered.warnings, warning))

    def _largest_fitting(self, draft: _Draft, subject: str) -> RenderedIssue:
        """Binary search for the most posts that fit (size grows with every post), else none."""
        low, high = 0, len(draft.views) - 1
        best: RenderedIssue | None = None
        while low <= high:
            middle = (low + high) // 2
            candidate = self._render_with(draft, middle, subject)
            if _size(candidate) <= MAX_HTML_BYTES:
                best, low = candidate, middle + 1
            else:
                high = middle - 1
        return best if best is not None else self._render_with(draft, 0, subject)

    def _draft(self, plan: IssuePlan, digest: DigestSettings) -> _Draft:
        intro_html = self._intro_html(plan.intro_markdown, digest.site_url)
        messages = for_digest(digest.locale, digest.language)
        views = tuple(_post_view(post, digest.summary_words, messages, digest.images == "featured")
                      for post in plan.posts)
        language = digest.language or messages.tag
        context: dict[str, Any] = {
            "subject": plan.subject,
            "title": digest.title,
            "site_url": digest.site_url,
            "web_url": TOKEN_WEB_VERSION if digest.public_url else "",
            "archive_url": archive_url(digest.public_url),
            "site_host": urlsplit(digest.site_url).hostname or digest.site_url,
            "lang": language,
            "dir": text_direction(language),
            "locale": messages.identifier,
            "t": messages,  # t("key"), t("key", count=n): the catalogue's words for the locale
            "issue_date": plan.created_at,
            "since": plan.since,
            "intro_html": Markup(intro_html),
            "intro_text": html_to_text(intro_html),
            "recipient": {"name": TOKEN_NAME, "email": TOKEN_EMAIL,
                          "unsubscribe_url": TOKEN_UNSUBSCRIBE},
            "discussed": tuple(_discussed_view(item, messages) for item in plan.discussed),
            "discussed_heading": _discussed_heading(plan.discussed_heading, messages),
        }
        section_of = tuple((number, section.name)
                           for number, section in enumerate(plan.sections) for _ in section.posts)
        return _Draft(context, views, plan.more_count, section_of)

    def _render_with(self, draft: _Draft, count: int, subject: str) -> RenderedIssue:
        shown = draft.views[:count]
        context = dict(draft.context)
        context["posts"] = shown
        context["sections"] = _sections(shown, draft.section_of)
        context["more_count"] = draft.more_count + len(draft.views) - count
        context["preheader"] = preheader([view.title for view in shown], context["title"],
                                         context["site_host"])
        html = self._inline_css(break_long_runs(self._template(HTML_TEMPLATE, context)))
        html = html.replace("<wbr></wbr>", "<wbr>")  # lxml writes the void element as a pair
        text = wrap_text(self._template(TEXT_TEMPLATE, context))
        warnings = tuple(f"layout: {problem}" for problem in layout_problems(html))
        return RenderedIssue(subject=subject, html=html, text=text,
                             preheader=context["preheader"], post_count=count, warnings=warnings)

    def render_message(self, html_name: str, text_name: str,
                       context: dict[str, Any]) -> tuple[str, str]:
        """(HTML with its CSS inlined, wrapped text) of a message other than an issue (the
        welcome) from templates of these names, overridable like the issue's. ``RenderError``
        names a missing template or an unknown variable."""
        html = self._inline_css(self._template(html_name, context))
        return html, wrap_text(self._template(text_name, context))

    def _template(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            where = f"{self.template_dir} or " if self.template_dir else ""
            raise RenderError(
                f"template {exc.name!r} not found (looked in {where}the bundled templates)"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(
                f"template {exc.name or name}, line {exc.lineno}: {exc.message}"
            ) from exc
        except jinja2.UndefinedError as exc:
            raise RenderError(
                f"template {_failing_template(exc) or name}: unknown variable: {exc.message}"
            ) from exc
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {name}: {exc}") from exc

    def _intro_html(self, markdown: str, site_url: str) -> str:
        if not markdown.strip():
            return ""
        tokens = self.markdown.parse(markdown)
        _adjust_intro_tokens(tokens, site_url)
        return str(self.markdown.renderer.render(tokens, self.markdown.options, {}))

    @staticmethod
    def _inline_css(html: str) -> str:
        try:
            inliner = Premailer(html, strip_important=False, disable_validation=True,
                                allow_network=False, remove_classes=False,
                                # an image's height:auto must not become height="auto"
                                disable_basic_attributes=["width", "height"],
                                cssutils_logging_level=logging.CRITICAL)
            return str(inliner.transform())
        except Exception as exc:  # premailer raises bare parser errors for broken CSS
            raise RenderError(f"inlining the CSS of {HTML_TEMPLATE} failed: {exc}") from exc


def archive_url(public_url: str | None) -> str:
    """Where every sent issue is listed (`digest serve`'s /issues); "" without public_url."""
    return f"{public_url.rstrip('/')}/issues" if public_url else ""


_BROWSER_LINK = re.compile(r'<(p|div|span)\b[^>]*\bclass="[^"]*\bbrowser\b[^"]*"[^>]*>.*?</\1>\s*',
                           re.DOTALL)


def without_browser_link(html: str) -> str:
    """The issue's HTML for its own web page: the "view in browser" line (the element with class
    ``browser`` in the template) taken out, since the reader is already there."""
    return _BROWSER_LINK.sub("", html, count=1)


def byline(author: str, comment_count: int | None, messages: Messages = ENGLISH) -> str:
    """"Posted by AUTHOR with N comments"; an unknown count is left out, never shown as zero."""
    if comment_count is None or comment_count < 0:
        comments = ""
    else:
        comments = messages("comments", count=comment_count)
    author = " ".join(author.split())
    if author:
        if comments:
            return messages("posted_by_with", author=author, comments=comments)
        return messages("posted_by", author=author)
    return comments[:1].upper() + comments[1:]


def preheader(titles: Sequence[str], title: str, host: str) -> str:
    """Inbox preview text from the post titles: 40 to 140 characters where the titles allow."""
    text = " · ".join(t for t in titles if t)
    if len(text) < 40:
        text = " · ".join(part for part in (text, title, host) if part)
    if len(text) <= PREHEADER_MAX:
        return text
    cut = text[: PREHEADER_MAX - 1]
    return cut[: cut.rfind(" ")].rstrip(" ·") + "…" if " " in cut else cut + "…"


def longdate(moment: datetime, messages: Messages = ENGLISH) -> str:
    """"25 November 2026": the day first, so no reader misreads it; in the locale's words."""
    return messages.date(moment)


@jinja2.pass_context
def _localized_longdate(context: jinja2.runtime.Context, moment: datetime) -> str:
    messages = context.get("t")
    return longdate(moment, messages if isinstance(messages, Messages) else ENGLISH)


# The schedule kind behind each English heading that compose chose, as a catalogue key.
_DISCUSSED_KEYS = {text: f"discussed_{kind or 'since_last'}"
                   for kind, text in DISCUSSED_HEADINGS.items()}


def _discussed_view(item: DiscussedPost, messages: Messages) -> DiscussedView:
    shown = discussed_view(item)
    title = bound(" ".join(item.post.title.split()), "title")
    return replace(shown, title=title or messages("untitled"),
                   gained_label=messages("gained", count=item.gained))


def _discussed_heading(heading: str, messages: Messages) -> str:
    key = _DISCUSSED_KEYS.get(heading)
    return messages(key) if key else heading


def _post_view(post: Post, words: int, messages: Messages = ENGLISH,
               images: bool = True) -> PostView:
    summary, truncated = truncate_html(clean_summary(post.summary_html), words)
    author = bound(post.author, "author")  # posts stored before texts were bounded at fetch
    title = bound(post.title.strip(), "title") or messages("untitled")
    return PostView(
        title=title,
        link=post.link,
        author=author,
        comment_count=post.comment_count,
        comments_url=post.comments_url,
        published=post.published,
        byline=byline(author, post.comment_count, messages),
        summary_html=Markup(summary),
        summary_text=html_to_text(summary),
        truncated=truncated,
        image=image_view(post.image, title) if images else None,
    )


def _sections(views: Sequence[PostView],
              section_of: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """The shown posts grouped under their feeds' names; empty for one merged list."""
    sections: dict[int, dict[str, Any]] = {}
    for view, (number, name) in zip(views, section_of, strict=False):
        sections.setdefault(number, {"name": name, "posts": []})["posts"].append(view)
    return list(sections.values())


def _adjust_intro_tokens(tokens: Sequence[Token], site_url: str) -> None:
    """Links absolute against the site; headings below the issue's h1 and the posts' h2."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1:]) + 2, 6)}"
        for child in token.children or ():
            href = child.attrGet("href") if child.type == "link_open" else None
            if isinstance(href, str):
                child.attrSet("href", urljoin(site_url, href))


def _failing_template(exc: BaseException) -> str | None:
    """The template (and line) where rendering failed, read from jinja2's rewritten traceback."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{Path(filename).name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _size(rendered: RenderedIssue) -> int:
    return len(rendered.html.encode("utf-8"))


class _IntroMarkdown(MarkdownIt):
    """Markdown for the editor's intro: raw HTML off, links only to web pages and addresses."""

    def validateLink(self, url: str) -> bool:
        return bool(SAFE_LINK.match(url.strip()))


class _BundledLoader(jinja2.BaseLoader):
    """The templates shipped in the package digest.templates."""

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        if "/" in template or "\\" in template or template.startswith("."):
            raise jinja2.TemplateNotFound(template)
        resource = files("digest.templates").joinpath(template)
        if not resource.is_file():
            raise jinja2.TemplateNotFound(template)
        return resource.read_text(encoding="utf-8"), str(resource), lambda: True

