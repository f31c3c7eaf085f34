"""NormaliseArticles in a Beam pipeline against a real loopback server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsflow.http import FetchConfig
from schemas.records import FeedEntry
from tests.loopback import LoopbackServer
from transforms.normalise import NormaliseArticles

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
CONFIG = FetchConfig(connect_timeout=2, read_timeout=1, retries=0, backoff_base=0,
                     backoff_max=1, per_host_min_delay=0, per_host_concurrency=8, max_workers=8)
COUNTERS = ("pages_fetched", "pages_failed", "articles_from_page", "articles_from_feed",
            "articles_truncated", "articles_failed")
FEED_CONTENT = "<p>The short version of the story, as the feed carried it to its readers.</p>"


def entry(url: str, content: str = "") -> FeedEntry:
    return FeedEntry(feed_url="http://feeds.example/rss", url=url, guid=url, title="T",
                     content=content, published_at=datetime(2024, 3, 5, 6, 0, tzinfo=UTC))


def counters(pipeline: Any) -> dict[str, int]:
    out = {}
    for name in COUNTERS:
        found = pipeline.result.metrics().query(MetricsFilter().with_name(name))["counters"]
        out[name] = sum(c.committed for c in found)
    return out


def test_pages_fallbacks_and_dead_letters(loopback: LoopbackServer) -> None:
    u = loopback.url
    base = u("/")
    loopback.file("/business/rail", str(FIXTURES / "publisher.html"))
    loopback.file("/agg/ferry", str(FIXTURES / "aggregator.html"))
    loopback.redirect("/~r/feedproxy/ferry", "/agg/ferry?utm_source=feedburner", status=302)
    loopback.add("/empty", b"<html><body></body></html>", content_type="text/html")
    loopback.add("/empty-no-feed", b"<html><body></body></html>", content_type="text/html")
    loopback.add("/image", b"\x89PNG\r\n", content_type="image/png")
    loopback.hang("/slow")
    entries = [
        entry(u("/business/rail")),
        entry(u("/~r/feedproxy/ferry")),
        entry(u("/missing"), FEED_CONTENT),
        entry(u("/missing-no-feed")),
        entry(u("/slow")),
        entry(u("/empty"), FEED_CONTENT),
        entry(u("/empty-no-feed")),
        entry(u("/image")),
    ]
    with TestPipeline() as p:
        result = p | beam.Create(entries) | NormaliseArticles(CONFIG, batch_size=3)
        assert_that(
            result.articles | "Article keys" >> beam.Map(
                lambda a: (a.fetched_url.rsplit("/", 1)[-1], a.url.replace(base, "/"),
                           a.body_source, a.truncated)),
            equal_to([
                ("rail", "https://www.northernledger.example/business/2024/03/05/"
                         "rail-operator-orders-trains", "page", False),
                ("ferry", "/agg/ferry", "page", True),
                ("missing", "/missing", "feed", False),
                ("empty", "/empty", "feed", False),
            ]),
            label="articles",
        )
        assert_that(
            result.dead_letter | "Dead keys" >> beam.Map(
                lambda f: (f.step, f.input.rsplit("/", 1)[-1], f.error_type)),
            equal_to([
                ("normalise", "missing-no-feed", "http_status"),
                ("normalise", "slow", "timeout"),
                ("normalise", "empty-no-feed", "no_text"),
                ("normalise", "image", "not_html"),
            ]),
            label="dead letters",
        )
    assert counters(p) == {"pages_fetched": 5, "pages_failed": 3, "articles_from_page": 2,
                           "articles_from_feed": 2, "articles_truncated": 1,
                           "articles_failed": 4}


def test_without_fetching_pages_articles_come_from_the_feed(loopback: LoopbackServer) -> None:
    entries = [entry(loopback.url("/a"), FEED_CONTENT), entry(loopback.url("/b"))]
    with TestPipeline() as p:
        result = p | beam.Create(entries) | NormaliseArticles(CONFIG, fetch_pages=False)
        assert_that(result.articles | "Bodies" >> beam.Map(lambda a: (a.body_source, a.body)),
                    equal_to([("feed", "The short version of the story, as the feed carried "
                                       "it to its readers.")]), label="articles")
        assert_that(result.dead_letter | "Dead" >> beam.Map(lambda f: f.error_type),
                    equal_to(["no_text"]), label="dead letters")
    assert loopback.hits("/a") == 0 and loopback.hits("/b") == 0


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"batch_size": True}, {"fetch": "x"}])
def test_bad_arguments_raise_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NormaliseArticles(**bad)
