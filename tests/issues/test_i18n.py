"""The digest in the reader's language: catalogues, plural forms, dates, direction, templates."""

from __future__ import annotations

import json
import string
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import pytest
from babel import Locale
from lxml import html as lxml_html

from digest.errors import ConfigError, RenderError
from digest.issues import i18n
from digest.issues.compose import format_subject, plan_issue
from digest.issues.render import Renderer, byline
from digest.models import DiscussedPost, IssuePlan, Post, StoredPost
from digest.settings import DigestSettings

GOLDEN = Path(__file__).parents[1] / "golden"
CREATED = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)
DIGEST = DigestSettings(title="Feeling Again weekly", from_addr="Feeling Again <d@example.org>",
                        site_url="https://example.org/", summary_words=30)
COUNTS = (0, 1, 2, 3, 11, 100)
GERMAN = ["Von Ann, noch keine Kommentare", "Von Ann, 1 Kommentar", "Von Ann, 2 Kommentare",
          "Von Ann, 3 Kommentare", "Von Ann, 11 Kommentare", "Von Ann, 100 Kommentare"]
# Arabic: zero, one, two, few (3-10), many (11-99), other (100...) each take their own form.
ARABIC = ["نشره Ann، لا تعليقات بعد", "نشره Ann، تعليق واحد", "نشره Ann، تعليقان",
          "نشره Ann، 3 تعليقات", "نشره Ann، 11 تعليقًا", "نشره Ann، 100 تعليق"]


def post(n: int, comments: int | None, *, author: str = "Ann", title: str = "") -> Post:
    return Post(key=f"k{n}", feed_url="https://example.org/feed/",
                title=title or f"Post {n}", link=f"https://example.org/p/{n}/", author=author,
                published=datetime(2026, 11, 20, 9, n % 60, tzinfo=UTC),
                summary_html=f"<p>Summary {n}.</p>", comment_count=comments,
                comments_url=None)


def plan(posts: list[Post], *, more_count: int = 0, discussed: tuple[DiscussedPost, ...] = (),
         discussed_heading: str = "") -> IssuePlan:
    keys = tuple(p.key for p in posts) + tuple(f"more-{i}" for i in range(more_count))
    return IssuePlan(posts=tuple(posts), covered_keys=keys, more_count=more_count, since=SINCE,
                     subject="Subject", intro_markdown="", created_at=CREATED,
                     discussed=discussed, discussed_heading=discussed_heading)


def render(locale: str | None, *, language: str = "", more_count: int = 0,
           renderer: Renderer | None = None) -> tuple[lxml_html.HtmlElement, str]:
    posts = [post(n, count) for n, count in enumerate(COUNTS)]
    settings = replace(DIGEST, locale=locale, language=language)
    out = (renderer or Renderer()).render(plan(posts, more_count=more_count), settings)
    return lxml_html.document_fromstring(out.html), out.text


def bylines(doc: lxml_html.HtmlElement) -> list[str]:
    return [p.text_content() for p in doc.find_class("byline")]


# --- catalogues ---------------------------------------------------------------------------------

def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", i18n.available())
def test_every_catalogue_is_complete_for_its_plural_rules(language: str) -> None:
    english = i18n.catalogue("en")
    messages = i18n.catalogue(language)
    categories = Locale.parse(language).plural_form.tags | {"other"}
    assert set(messages) - {"date_format"} == set(english) - {"date_format"}
    for key, message in messages.items():
        reference = english[key]
        if isinstance(reference, str):
            assert isinstance(message, str), key
            assert _fields(message) <= _fields(reference), key
            continue
        assert isinstance(message, dict), key
        missing = categories - {form for form in message if not form.startswith("=")}
        assert not missing, f"{language} {key} lacks {missing}"
        assert set(message) <= {*i18n.PLURAL_CATEGORIES, "=0"}, key
        allowed = set().union(*(_fields(text) for text in reference.values()))
        assert all(_fields(text) <= allowed for text in message.values()), key


def test_catalogues_ship_as_package_data() -> None:
    names = {entry.name for entry in files("digest.issues").joinpath("locales").iterdir()}
    assert {"en.json", "de.json", "fr.json", "ar.json"} <= names
    for name in names:
        data = json.loads(files("digest.issues").joinpath("locales", name).read_text("utf-8"))
        assert data["messages"]


def test_arabic_uses_all_six_categories() -> None:
    arabic = i18n.messages_for("ar")
    forms = [arabic.locale.plural_form(n) for n in COUNTS]
    assert forms == ["zero", "one", "two", "few", "many", "other"]
    assert len({arabic("comments", count=n) for n in COUNTS}) == 6


def test_exact_match_beats_the_category_and_numbers_follow_the_locale() -> None:
    english, german, french = (i18n.messages_for(x) for x in ("en", "de", "fr"))
    assert english("comments", count=0) == "no comments yet"  # "=0", not "0 comments"
    assert english("comments", count=1234) == "1,234 comments"
    assert german("comments", count=1234) == "1.234 Kommentare"
    assert french("comments", count=0) == "aucun commentaire pour l’instant"
    assert french("comments", count=1_000_000) == "1\u202f000\u202f000 de commentaires"


def test_missing_key_or_count_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="unknown message 'nope'"):
        i18n.ENGLISH("nope")
    with pytest.raises(RenderError, match="needs a count"):
        i18n.ENGLISH("comments")


def test_direction_comes_from_babel_with_a_fallback() -> None:
    assert [i18n.text_direction(t) for t in ("ar", "he", "fa", "ur", "en", "de", "fr-CA")] == [
        "rtl", "rtl", "rtl", "rtl", "ltr", "ltr", "ltr"]
    assert i18n.text_direction("arc") == "rtl"  # no Babel data: the known list decides
    assert i18n.text_direction("tlh") == "ltr"


def test_a_bad_locale_in_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="digest.locale"):
        plan_issue([StoredPost(post(1, 1), CREATED, None)], None,
                   replace(DIGEST, locale="klingon"), CREATED)


# --- rendering ----------------------------------------------------------------------------------

def test_english_stays_byte_identical_whichever_way_it_is_chosen() -> None:
    renderer = Renderer()
    default = renderer.render(plan([post(1, 3)]), DIGEST)
    for settings in (replace(DIGEST, locale="en"), replace(DIGEST, language="en")):
        again = renderer.render(plan([post(1, 3)]), settings)
        assert (again.html, again.text) == (default.html, default.text)
    assert "Posted by Ann with 3 comments" in default.text
    assert byline("Ann", 1) == "Posted by Ann with 1 comment"


def test_german_plural_forms_dates_and_words() -> None:
    doc, text = render("de", more_count=1)
    assert bylines(doc) == GERMAN
    assert all(line in text for line in GERMAN)
    assert (doc.get("lang"), doc.get("dir")) == ("de", "ltr")
    kicker = doc.find_class("kicker")[0].text_content()
    assert kicker == "25. November 2026 · neu seit 18. November 2026"
    assert "25. November 2026 - neu seit 18. November 2026" in text
    assert [a.text_content() for a in doc.find_class("button")] == ["Weiterlesen"] * 6
    assert doc.find_class("button")[0].get("aria-label") == "Weiterlesen: Post 0"
    assert doc.find_class("more")[0].text_content().strip() == "1 weiterer Beitrag im Blog"
    footer = doc.find_class("footer")[0].text_content()
    assert "Sie erhalten diese E-Mail, weil Sie Feeling Again weekly als" in footer
    assert "Abbestellen" in footer and "example.org besuchen" in footer
    assert "Abbestellen: %%DIGEST_UNSUBSCRIBE_URL%%" in text
    assert "Posted" not in text + doc.text_content() and "View more" not in text


def test_german_more_count_plural() -> None:
    doc, text = render("de", more_count=3)
    assert doc.find_class("more")[0].text_content().strip() == "3 weitere Beiträge im Blog"
    assert "3 weitere Beiträge im Blog: https://example.org/" in text
    _, text = render("de")
    assert "Mehr im Blog: https://example.org/" in text


def test_arabic_is_right_to_left_with_six_plural_forms() -> None:
    doc, text = render("ar", more_count=2)
    assert bylines(doc) == ARABIC
    assert all(line in text for line in ARABIC)
    assert (doc.get("lang"), doc.get("dir")) == ("ar", "rtl")
    [article] = doc.xpath("//div[@role='article']")
    assert (article.get("lang"), article.get("dir")) == ("ar", "rtl")
    assert doc.find_class("kicker")[0].text_content().startswith("25 نوفمبر 2026")
    assert doc.find_class("more")[0].text_content().strip() == "مقالان آخران في المدونة"
    assert "إلغاء الاشتراك" in doc.find_class("footer")[0].text_content()


def test_region_variant_uses_the_language_words_and_the_region_tag() -> None:
    doc, _ = render("fr_CA")
    assert (doc.get("lang"), doc.get("dir")) == ("fr-CA", "ltr")
    assert bylines(doc)[1] == "Publié par Ann avec 1 commentaire"
    assert doc.find_class("kicker")[0].text_content().startswith("25 novembre 2026")


def test_language_alone_keeps_old_configs_working() -> None:
    doc, _ = render(None, language="pt-BR")  # no Portuguese words: English, as before
    assert (doc.get("lang"), bylines(doc)[1]) == ("pt-BR", "Posted by Ann with 1 comment")
    doc, _ = render(None, language="he")
    assert (doc.get("lang"), doc.get("dir")) == ("he", "rtl")
    doc, _ = render(None, language="de")  # German words exist: language picks them
    assert bylines(doc) == GERMAN
    doc, _ = render("de", language="de-AT")  # language still decides the tag when written
    assert (doc.get("lang"), bylines(doc)) == ("de-AT", GERMAN)


def test_unknown_count_and_untitled_are_translated() -> None:
    settings = replace(DIGEST, locale="de")
    out = Renderer().render(plan([post(1, None, title=" "), post(2, 4, author="")]), settings)
    doc = lxml_html.document_fromstring(out.html)
    assert bylines(doc) == ["Von Ann", "4 Kommentare"]
    assert doc.find_class("post-title")[0].text_content() == "(ohne Titel)"


def test_most_discussed_heading_and_counts_are_translated() -> None:
    discussed = (DiscussedPost(post(9, 20, title="Older"), 1), DiscussedPost(post(8, 5), 2))
    out = Renderer().render(plan([post(1, 3)], discussed=discussed,
                                 discussed_heading="Most discussed this week"),
                            replace(DIGEST, locale="de"))
    assert "Am meisten diskutiert diese Woche" in out.html
    assert "(+1 Kommentar)" in out.text and "(+2 Kommentare)" in out.text
    assert "AM MEISTEN DISKUTIERT DIESE WOCHE" in out.text


def test_user_template_without_translation_calls_still_renders(tmp_path: Path) -> None:
    (tmp_path / "digest.html.j2").write_text(
        '<!DOCTYPE html><html lang="{{ lang }}"><head><title>{{ subject }}</title></head><body>'
        "{% for post in posts %}<p>{{ post.byline }}</p>{% endfor %}"
        "<p>{{ issue_date | longdate }}</p></body></html>\n")
    doc, text = render("de", renderer=Renderer(tmp_path))
    assert bylines(doc) == [] and doc.get("lang") == "de"
    assert [p.text_content() for p in doc.iter("p")][:2] == GERMAN[:2]
    assert "25. November 2026" in doc.text_content()
    assert GERMAN[3] in text  # the bundled text template, translated


def test_user_template_with_an_unknown_message_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "digest.html.j2").write_text('<html><body>{{ t("no_such_words") }}</body></html>')
    with pytest.raises(RenderError, match="unknown message 'no_such_words'"):
        Renderer(tmp_path).render(plan([post(1, 1)]), DIGEST)


# --- subject ------------------------------------------------------------------------------------

def test_subject_date_stays_iso_and_date_long_follows_the_locale() -> None:
    shown = [post(1, 1, title="Hallo")]
    template = "{title} {date} / {date_long}"
    assert format_subject(template, "T", CREATED, 1, shown) == "T 2026-11-25 / 25 November 2026"
    german = i18n.messages_for("de")
    assert (format_subject(template, "T", CREATED, 1, shown, messages=german)
            == "T 2026-11-25 / 25. November 2026")
    issue = plan_issue([StoredPost(shown[0], CREATED, None)], None,
                       replace(DIGEST, locale="ar", subject="{date_long}"), CREATED)
    assert issue is not None and issue.subject == "25 نوفمبر 2026"


def test_dates_follow_each_locale() -> None:
    day = date(2026, 3, 5)
    assert [i18n.messages_for(x).date(day) for x in ("en", "de", "fr", "ar", "en_GB")] == [
        "5 March 2026", "5. März 2026", "5 mars 2026", "5 مارس 2026", "5 March 2026"]
