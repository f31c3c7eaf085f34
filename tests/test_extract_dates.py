"""Publication dates: every source, their precedence, relative forms and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

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
