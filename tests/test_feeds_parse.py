"""Feed parsing: formats, encodings, relative links, dates, malformed feeds, not-a-feed.

Each fixture feed in ``tests/fixtures/feeds`` has a golden ``*.expected.json`` beside it (what
goes in, what comes out); the tests below also spell out the behaviours that matter.
Regenerate the golden files after a deliberate change with
``python tests/test_feeds_parse.py --regen`` and review the diff.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from newsflow.feeds import (
    FeedParseError,
    ParsedFeed,
    absolute_links,
    html_to_text,
    parse_feed,
    poll_hint_seconds,
)
from schemas.records import FeedEntry

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2024, 3, 10, tzinfo=UTC)
BASE = "https://feeds.example.com/"
FEEDS = sorted(p.name for p in FIXTURES.iterdir()
               if p.suffix in (".xml", ".atom", ".rdf") and not p.name.endswith(".json"))


def parse(name: str, content_type: str = "application/xml", **headers: str) -> ParsedFeed:
    body = (FIXTURES / name).read_bytes()
    return parse_feed(body, {"Content-Type": content_type, **headers}, BASE + name, now=NOW)


def by_title(feed: ParsedFeed) -> dict[str, FeedEntry]:
    return {entry.title: entry for entry in feed.entries}


def golden(feed: ParsedFeed) -> dict[str, Any]:
    return {
        "version": feed.version, "title": feed.title, "bozo": feed.bozo,
        "language": feed.language, "poll_hint_seconds": feed.poll_hint_seconds,
        "entries": [entry.to_dict() for entry in feed.entries],
    }


@pytest.mark.parametrize("name", FEEDS)
def test_golden_output(name: str) -> None:
    expected = orjson.loads((FIXTURES / f"{name}.expected.json").read_bytes())
    assert golden(parse(name)) == expected


@pytest.mark.parametrize(
    ("name", "version"),
    [("rss2.xml", "rss20"), ("atom10-xmlbase.atom", "atom10"), ("atom03.xml", "atom03"),
     ("rss10.rdf", "rss10"), ("latin1.xml", "rss091u")],
)
def test_formats(name: str, version: str) -> None:
    feed = parse(name)
    assert feed.version == version
    assert feed.entries
    assert all(e.url.startswith(("http://", "https://")) for e in feed.entries)


def test_rss2_entry_fields() -> None:
    entries = by_title(parse("rss2.xml"))
    bridge = entries["Council approves new bridge"]
    assert bridge.url == "https://news.example.com/2024/03/bridge?utm_source=rss"
    assert bridge.guid == "news-1001"
    assert bridge.published_at == datetime(2024, 3, 5, 11, 30, tzinfo=UTC)  # +0300
    assert bridge.authors == ["Jane Reporter"]
    assert bridge.tags == ["Local", "Transport"]
    assert bridge.summary == "The council voted 7–2 for the bridge.\nWork starts in May."
    assert 'href="https://feeds.example.com/2024/03/vote"' in bridge.content
    assert bridge.feed_title == "Example News & Views"
    assert bridge.language == "en"
    storm = entries["Storm warning for the coast"]
    assert storm.url == "https://feeds.example.com/2024/03/storm"  # relative: feed URL is base
    assert storm.published_at == datetime(2024, 3, 5, 4, 15, tzinfo=UTC)  # EST
    assert storm.authors == ["Weather Desk"]
    assert entries["Only a permalink guid"].url == "https://news.example.com/2024/03/guid-only"
    undated = entries["Undated notice"]
    assert (undated.published_at, undated.published_at_note) == (None, "no date in the entry")


def test_relative_links_resolve_against_xml_base() -> None:
    entries = by_title(parse("atom10-xmlbase.atom"))
    first = entries["Relative to the feed base"]
    assert first.url == "https://blog.example.org/en/posts/first.html"
    assert first.published_at == datetime(2024, 2, 10, 11, 0, tzinfo=UTC)
    assert first.authors == ["Ana Writer", "Ben Editor"]
    assert first.tags == ["notes"]
    assert 'href="https://blog.example.org/img/y.png"' in first.content
    second = entries["Entry with its own base"]
    assert second.url == "https://other.example.net/archive/2024/second"
    assert second.published_at == datetime(2024, 2, 10, 7, 30, tzinfo=UTC)  # updated, -08:00


def test_tag_uri_link_still_gets_an_absolute_url() -> None:
    entry = by_title(parse("atom10-xmlbase.atom"))["Link is a tag URI"]
    assert entry.url.startswith(BASE + "atom10-xmlbase.atom#entry-")
    assert entry.guid == "tag:blog.example.org,2024:3"


def test_relative_links_use_content_location_and_final_url() -> None:
    body = (FIXTURES / "rss2.xml").read_bytes()
    feed = parse_feed(body, {"content-type": "application/rss+xml"}, "http://old.example/rss",
                      final_url="https://moved.example/feeds/rss", now=NOW)
    assert by_title(feed)["Storm warning for the coast"].url == (
        "https://moved.example/2024/03/storm")
    assert feed.feed_url == "http://old.example/rss"
    assert all(e.feed_url == "http://old.example/rss" for e in feed.entries)


def test_a_content_location_header_is_the_base_of_relative_links() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Relative</title>'
            b"<item><title>Link</title><link>../2024/link.html</link></item>"
            b"<item><title>Permalink guid</title><guid>/2024/guid.html</guid></item>"
            b'<item><title>Content</title><link>c.html</link><content:encoded '
            b'xmlns:content="http://purl.org/rss/1.0/modules/content/">&lt;p&gt;See '
            b'&lt;a href="more.html"&gt;more&lt;/a&gt;.&lt;/p&gt;</content:encoded></item>'
            b"</channel></rss>")
    feed = by_title(parse_feed(body, {"Content-Type": "application/rss+xml",
                                      "Content-Location": "/news/feeds/all.rss"},
                               "https://site.example/rss", now=NOW))
    assert feed["Link"].url == "https://site.example/news/2024/link.html"
    assert feed["Permalink guid"].url == "https://site.example/2024/guid.html"
    assert feed["Content"].url == "https://site.example/news/feeds/c.html"
    assert 'href="https://site.example/news/feeds/more.html"' in feed["Content"].content


@pytest.mark.parametrize(
    ("title", "expected", "note"),
    [("Tokyo", datetime(2024, 3, 6, 0, 0, tzinfo=UTC), None),
     ("India", datetime(2024, 3, 6, 0, 0, tzinfo=UTC), None),
     ("Pacific", datetime(2024, 3, 6, 0, 0, tzinfo=UTC), None),
     ("Naive ISO", datetime(2024, 3, 6, 0, 0, tzinfo=UTC), None),
     ("Epoch", None, "before 1990"),
     ("Far future", None, "in the future"),
     ("Gibberish", None, "unparseable published date 'sometime last week'"),
     ("None", None, "no date in the entry")],
)
def test_dates_are_utc_or_null_with_a_reason(title: str, expected: datetime | None,
                                             note: str | None) -> None:
    entry = by_title(parse("dates.xml"))[title]
    assert entry.published_at == expected
    if entry.published_at is not None:
        assert entry.published_at.tzinfo == UTC
        assert entry.published_at_note is None
    else:
        assert note is not None and entry.published_at_note is not None
        assert note in entry.published_at_note


@pytest.mark.parametrize(
    ("name", "title", "text"),
    [("windows-1251.xml", "Погода в Москве", "Завтра снег и мороз."),
     ("latin1.xml", "Große Änderungen für Fußgänger", "Grüße aus Köln."),
     ("utf16-bom.xml", "Élection à Besançon", ""),
     ("undeclared-cp1252.xml", "It’s “quoted”", "")],
)
def test_encodings(name: str, title: str, text: str) -> None:
    feed = parse(name)
    assert [e.title for e in feed.entries] == [title]
    assert feed.entries[0].summary == text


def test_utf16_url_with_non_ascii_path_is_encoded() -> None:
    assert parse("utf16-bom.xml").entries[0].url == "https://fr.example.com/%C3%A9lection"


def test_charset_from_http_header_is_used() -> None:
    body = ('<rss version="2.0"><channel><title>x</title><item><title>Привет</title>'
            '<link>http://r.example/1</link></item></channel></rss>').encode("koi8-r")
    feed = parse_feed(body, {"content-type": "application/xml; charset=koi8-r"},
                      "http://r.example/rss", now=NOW)
    assert feed.entries[0].title == "Привет"


def test_xml_declaration_beats_the_charset_of_a_non_xml_content_type() -> None:
    feed = parse("windows-1251.xml", content_type="text/html; charset=utf-8")
    assert feed.entries[0].title == "Погода в Москве"
    assert not feed.bozo


def test_malformed_xml_is_kept_and_flagged_bozo() -> None:
    feed = parse("malformed.xml")
    assert feed.bozo and feed.bozo_reason
    assert [e.url for e in feed.entries] == ["http://broken.example.com/1?a=1&b=2",
                                             "http://broken.example.com/2"]
    assert feed.entries[0].published_at == datetime(2024, 3, 6, 10, 0, tzinfo=UTC)


def test_leading_blank_line_before_the_xml_declaration_is_not_an_error() -> None:
    feed = parse("leading-blank-line.xml")
    assert not feed.bozo
    assert [e.title for e in feed.entries] == ["Still a feed"]


def test_feed_served_as_text_html_is_still_read() -> None:
    feed = parse("rss2.xml", content_type="text/html; charset=utf-8")
    assert len(feed.entries) == 4


def test_html_page_is_not_a_feed_and_names_the_advertised_feed() -> None:
    with pytest.raises(FeedParseError) as info:
        parse("not-a-feed.html", content_type="text/html")
    assert info.value.kind == "not_a_feed"
    assert "https://feeds.example.com/rss.xml" in info.value.message


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"", "unparseable"), (b"   \n", "unparseable"), (b"\x00\x01\x02 binary", "not_a_feed"),
     (b'{"json": true}', "not_a_feed"), (b"<?xml version='1.0'?><root><a>1</a></root>",
                                         "unparseable")],
)
def test_not_feeds(body: bytes, kind: str) -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(body, {"content-type": "application/xml"}, "http://x.example/f", now=NOW)
    assert info.value.kind == kind


def test_empty_but_valid_feed_has_no_entries() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(body, {}, "http://q.example/rss", now=NOW)
    assert (feed.version, feed.entries, feed.title) == ("rss20", [], "Quiet")


def test_entries_without_link_or_id_get_stable_guids() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><description>alpha'
            b'</description></item><item><description>beta</description></item>'
            b'</channel></rss>')
    one = parse_feed(body, {}, "http://g.example/rss", now=NOW)
    two = parse_feed(body, {}, "http://g.example/rss", now=NOW)
    assert [e.guid for e in one.entries] == [e.guid for e in two.entries]
    assert len({e.guid for e in one.entries}) == 2
    assert len({e.url for e in one.entries}) == 2


def test_absolute_links_in_content() -> None:
    html = ('<a href="../a">a</a> <img src=\'img/b.png\'> <a href="#top">t</a> '
            '<a href="mailto:x@y.z">m</a> <a href="//cdn.example/c">c</a> '
            '<a href="https://full.example/d">d</a> <a href="e?x=1&amp;y=2">e</a>')
    assert absolute_links(html, "https://s.example/dir/page") == (
        '<a href="https://s.example/a">a</a> <img src=\'https://s.example/dir/img/b.png\'> '
        '<a href="#top">t</a> <a href="mailto:x@y.z">m</a> <a href="//cdn.example/c">c</a> '
        '<a href="https://full.example/d">d</a> <a href="https://s.example/dir/e?x=1&y=2">e</a>')


def test_the_feed_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        parse_feed(b"<rss version='2.0'/>", {}, "feeds/rss.xml")


def test_html_to_text() -> None:
    assert html_to_text("<p>A&amp;B</p><script>x()</script><p>C<br/>D</p>") == "A&B\nC\nD"
    assert html_to_text("  spaced \n\n out ", keep_lines=False) == "spaced out"


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"ttl": "45"}, 45 * 60.0),
        ({"ttl": " 15 "}, 15 * 60.0),
        ({"sy_updateperiod": "hourly"}, 3600.0),  # frequency defaults to 1
        ({"sy_updateperiod": "hourly", "sy_updatefrequency": "4"}, 900.0),
        ({"sy_updateperiod": "Daily", "sy_updatefrequency": "2"}, 12 * 3600.0),
        ({"sy_updateperiod": "daily", "sy_updatefrequency": "24"}, 3600.0),
        ({"sy_updateperiod": "weekly", "sy_updatefrequency": "7"}, 86400.0),
        ({"ttl": "90", "sy_updateperiod": "hourly"}, 90 * 60.0),  # both: the longer
        ({}, None),
        ({"title": "no hint"}, None),
        ({"ttl": "0"}, None),
        ({"ttl": "-30"}, None),
        ({"ttl": "soon"}, None),
        ({"ttl": str(31 * 24 * 60)}, None),  # over 30 days
        ({"ttl": "99999999999999"}, None),  # beyond timedelta
        ({"sy_updateperiod": "yearly"}, None),  # 365 days
        ({"sy_updateperiod": "fortnightly"}, None),
        ({"sy_updateperiod": "hourly", "sy_updatefrequency": "9" * 30}, None),  # rounds to 0
        ({"sy_updateperiod": "hourly", "sy_updatefrequency": "0"}, 3600.0),  # absent: 1
        ({"ttl": str(60 * 24 * 365), "sy_updateperiod": "daily"}, 86400.0),  # absurd ttl ignored
    ],
)
def test_poll_hint_seconds(meta: dict[str, str], expected: float | None) -> None:
    assert poll_hint_seconds(meta) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ttl.xml", 45 * 60.0),  # RSS 2.0 <ttl>
     ("syndication.rdf", 1800.0),  # RSS 1.0 syn:updatePeriod hourly, syn:updateFrequency 2
     ("absurd-ttl.xml", 6 * 3600.0),  # a ttl beyond timedelta, then sy: daily 4 times
     ("rss2.xml", None), ("atom10-xmlbase.atom", None)],
)
def test_feed_documents_carry_their_poll_hint(name: str, expected: float | None) -> None:
    assert parse(name).poll_hint_seconds == expected


def _regenerate() -> None:
    for name in FEEDS:
        data = orjson.dumps(golden(parse(name)), option=orjson.OPT_INDENT_2)
        (FIXTURES / f"{name}.expected.json").write_bytes(data + b"\n")
        print("wrote", name + ".expected.json")


if __name__ == "__main__" and "--regen" in sys.argv:
    _regenerate()
