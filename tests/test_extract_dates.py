"""Publication dates: every source, their precedence, relative forms and time zones."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest

from newsflow.extract.dates import DateInfo, find_dates, parse_date, parse_relative
from newsflow.extract.metadata import read_meta

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

JSONLD = """<script type="application/ld+json">{"@context": "https://schema.org",
 "@type": "NewsArticle", "datePublished": "2024-04-30T08:00:00+02:00",
 "dateModified": "2024-04-30T09:30:00+02:00"}</script>"""
META = '<meta property="article:published_time" content="2024-04-29T10:00:00Z">'
TIME = '<time datetime="2024-04-28T07:00:00-05:00">28 April</time>'
RELATIVE = "<p>Published 3 hrs ago</p>"


def _dates(head: str = "", body: str = "", url: str = "https://example.org/a",
           feed: datetime | None = None, lines: list[str] | None = None) -> DateInfo:
    html = f"<html><head>{head}</head><body>{body}<p>x</p></body></html>"
    tree = lxml.html.document_fromstring(html)
    return find_dates(read_meta(tree), url, fetched_at=NOW, feed_published=feed,
                      lines=lines)


def test_jsonld_wins_and_is_converted_to_utc() -> None:
    info = _dates(JSONLD + META, TIME, feed=datetime(2024, 4, 1, tzinfo=UTC),
                  lines=["Published 3 hrs ago"])
    assert info.published_at == datetime(2024, 4, 30, 6, 0, tzinfo=UTC)
    assert info.published_at_source == "jsonld"
    assert info.modified_at == datetime(2024, 4, 30, 7, 30, tzinfo=UTC)


def test_meta_before_time_before_feed() -> None:
    assert _dates(META, TIME).published_at_source == "meta"
    info = _dates("", TIME, feed=datetime(2024, 4, 1, tzinfo=UTC))
    assert (info.published_at, info.published_at_source) == (
        datetime(2024, 4, 28, 12, 0, tzinfo=UTC), "time")
    info = _dates(feed=datetime(2024, 4, 1, tzinfo=UTC), lines=["3 hrs ago"],
                  url="https://example.org/2024/03/02/story")
    assert (info.published_at, info.published_at_source) == (
        datetime(2024, 4, 1, tzinfo=UTC), "feed")


def test_relative_line_before_url() -> None:
    info = _dates(lines=["Share with:", "  • Published1 hour ago"],
                  url="https://example.org/2024/03/02/story")
    assert (info.published_at, info.published_at_source) == (
        datetime(2024, 5, 1, 11, 0, tzinfo=UTC), "relative")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/news/2024/03/02/story", datetime(2024, 3, 2, tzinfo=UTC)),
        ("https://example.org/2023-11-20/story", datetime(2023, 11, 20, tzinfo=UTC)),
        ("https://example.org/a/20240115/story", datetime(2024, 1, 15, tzinfo=UTC)),
        ("https://example.org/story-2024", None),
    ],
)
def test_url_date(url: str, expected: datetime | None) -> None:
    info = _dates(url=url)
    assert info.published_at == expected
    assert info.published_at_source == ("url" if expected else None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Published1 hour ago", datetime(2024, 5, 1, 11, 0, tzinfo=UTC)),
        ("3 hrs ago", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("Updated 25 mins ago", datetime(2024, 5, 1, 11, 35, tzinfo=UTC)),
        ("an hour ago", datetime(2024, 5, 1, 11, 0, tzinfo=UTC)),
        ("2 days ago", datetime(2024, 4, 29, 12, 0, tzinfo=UTC)),
        ("yesterday", datetime(2024, 4, 30, 12, 0, tzinfo=UTC)),
        ("Posted: Yesterday", datetime(2024, 4, 30, 12, 0, tzinfo=UTC)),
        ("just now", NOW),
        ("The hour is late", None),
    ],
)
def test_relative_forms(text: str, expected: datetime | None) -> None:
    assert parse_relative(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T09:15:00+01:00", datetime(2024, 3, 5, 8, 15, tzinfo=UTC)),
        ("2024-03-05T09:15:00Z", datetime(2024, 3, 5, 9, 15, tzinfo=UTC)),
        ("2024-03-05 09:15", datetime(2024, 3, 5, 9, 15, tzinfo=UTC)),  # naive means UTC
        ("Tue, 05 Mar 2024 09:15:00 -0500", datetime(2024, 3, 5, 14, 15, tzinfo=UTC)),
        ("5:27 am CST, Wednesday, November 20, 2019", datetime(2019, 11, 20, 11, 27, tzinfo=UTC)),
        ("1709630100", datetime(2024, 3, 5, 9, 15, tzinfo=UTC)),
        ("not a date", None),
        ("1850-01-01", None),
    ],
)
def test_parse_date_time_zones(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_future_dates_are_rejected() -> None:
    head = '<meta property="article:published_time" content="2030-01-01T00:00:00Z">'
    info = _dates(head, feed=datetime(2024, 4, 1, tzinfo=UTC))
    assert info.published_at_source == "feed"


def test_modified_before_published_is_dropped() -> None:
    head = ('<meta property="article:published_time" content="2024-04-29T10:00:00Z">'
            '<meta property="article:modified_time" content="2024-04-01T10:00:00Z">')
    assert _dates(head).modified_at is None


def test_broken_jsonld_is_ignored() -> None:
    head = '<script type="application/ld+json">{"datePublished": </script>' + META
    assert _dates(head).published_at_source == "meta"


# Relative dates in the feeds' languages, resolved by dateparser against a fixed fetch time.
@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("vor 3 Stunden", "de", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("Veröffentlicht vor 3 Stunden", "de", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("il y a 2 heures", "fr", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("Mis à jour il y a 2 heures", "fr", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("hace 3 horas", "es", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("há 2 horas", "pt", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("3 часа назад", "ru", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("2時間前", "ja", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("gestern", "de", datetime(2024, 4, 30, 12, 0, tzinfo=UTC)),
        ("Aktualisiert: gestern, 14:30 Uhr", "de", datetime(2024, 4, 30, 14, 30, tzinfo=UTC)),
        # Not relative dates: a reading time, a count, an absolute date, a headline.
        ("2 min read", "en", None),
        ("Top 10", "en", None),
        ("20 Nov 2019, 10:42", "en", None),
        ("Gewinner des Abends", "de", None),
    ],
)
def test_relative_dates_in_the_feeds_languages(text: str, language: str,
                                               expected: datetime | None) -> None:
    assert parse_relative(text, NOW, languages=[language]) == expected


def test_a_clock_time_in_a_relative_date_is_in_the_page_zone() -> None:
    berlin_summer = timezone(timedelta(hours=2))
    assert parse_relative("gestern, 14:30 Uhr", NOW, languages=["de"], tz=berlin_summer) == (
        datetime(2024, 4, 30, 12, 30, tzinfo=UTC))
    # "3 hours ago" is three hours before the fetch, whatever the zone.
    assert parse_relative("vor 3 Stunden", NOW, languages=["de"], tz=berlin_summer) == (
        datetime(2024, 5, 1, 9, 0, tzinfo=UTC))


def test_an_unknown_language_code_gives_no_date_rather_than_an_error() -> None:
    assert parse_relative("vor 3 Stunden", NOW, languages=["xx"]) is None


@pytest.mark.parametrize(
    ("language", "line", "expected"),
    [
        ("de", "Veröffentlicht vor 3 Stunden", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("fr", "Publié il y a 2 heures", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("es", "Publicado hace 3 horas", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("pt-BR", "Publicado há 2 horas", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("ru", "Опубликовано 3 часа назад", datetime(2024, 5, 1, 9, 0, tzinfo=UTC)),
        ("ja", "2時間前に公開", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ],
)
def test_find_dates_reads_a_relative_line_in_the_page_language(
        language: str, line: str, expected: datetime) -> None:
    info = find_dates(read_meta(lxml.html.document_fromstring(
        f"<html lang='{language}'><body><p>x</p></body></html>")),
        "https://example.org/a", fetched_at=NOW, lines=["Menu", line],
        languages=[language.split("-")[0]])
    assert (info.published_at, info.published_at_source) == (expected, "relative")


def test_naive_times_take_the_page_zone_then_the_feed_zone() -> None:
    # The page declares +02:00 on its modification time: its naive publication time is local.
    head = ('<meta property="article:published_time" content="2024-04-30T08:00:00">'
            '<meta property="article:modified_time" content="2024-04-30T09:30:00+02:00">')
    info = _dates(head)
    assert info.published_at == datetime(2024, 4, 30, 6, 0, tzinfo=UTC)
    tree = lxml.html.document_fromstring(
        '<html><head><meta property="article:published_time" content="2024-04-30T08:00:00">'
        "</head><body><p>x</p></body></html>")
    new_york = timezone(timedelta(hours=-4))
    info = find_dates(read_meta(tree), "https://example.org/a", fetched_at=NOW,
                      feed_zone=new_york)
    assert info.published_at == datetime(2024, 4, 30, 12, 0, tzinfo=UTC)
    assert find_dates(read_meta(tree), "https://example.org/a",
                      fetched_at=NOW).published_at == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)


def test_dateparser_stays_unloaded_on_pages_with_an_absolute_date() -> None:
    # In a fresh interpreter: a page with a JSON-LD date and a relative line never imports
    # dateparser; the same page without the JSON-LD date does.
    code = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from newsflow.extract import extract_article\n"
        "story = ''.join(f'<p>Sentence {i} of the story, long enough to be prose here.</p>'"
        " for i in range(8))\n"
        "page = ('<html lang=\"de\"><head>{}</head><body><article><h1>Titel</h1>'"
        " '<p>vor 3 Stunden</p>' + story + '</article></body></html>')\n"
        "ld = ('<script type=\"application/ld+json\">{\"@type\": \"NewsArticle\", '"
        " '\"datePublished\": \"2024-04-30T08:00:00Z\"}</script>')\n"
        "now = datetime(2024, 5, 1, 12, tzinfo=UTC)\n"
        "a = extract_article(page.format(ld), 'https://example.org/a', fetched_at=now)\n"
        "assert a.published_at_source == 'jsonld', a.published_at_source\n"
        "assert 'dateparser' not in sys.modules\n"
        "b = extract_article(page.format(''), 'https://example.org/a', fetched_at=now)\n"
        "assert b.published_at_source == 'relative', b.published_at_source\n"
        "assert b.published_at == datetime(2024, 5, 1, 9, tzinfo=UTC), b.published_at\n"
        "assert 'dateparser' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "line",
    [
        "News 24 is now available on your cellphone.",  # "now", inside a sentence
        "9. One year on: the old system still outshines the new one",
        "Top stories for 2007:",  # a year, the rest of the date taken from the fetch time
        "Telephone Number: 021 680 3971",
        "Posted at 6:18 a.m., Tuesday, January 8, 2008",  # absolute: not this source's
    ],
)
def test_lines_that_are_not_relative_dates(line: str) -> None:
    assert parse_relative(line, NOW, languages=["en"]) is None
