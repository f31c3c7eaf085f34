"""NormaliseArticles in a Beam pipeline against a real loopback server.

Every case runs with extraction in the DoFn's thread (``extract_workers=1``) and in a pool of
two processes (``extract_workers=2``), with the same expected outputs and counters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

import newsflow.extract
from newsflow.http import FetchConfig
from schemas.records import FeedEntry
from tests.loopback import LoopbackServer, allowing_loopback, wait_for
from transforms.normalise import NormaliseArticles

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
# The read timeout is what ends the /slow page that never answers; it leaves every other page
# of these tests seconds to spare on a loaded machine.
CONFIG = allowing_loopback(connect_timeout=5, read_timeout=5, retries=0, backoff_base=0,
                     backoff_max=1, per_host_min_delay=0, per_host_concurrency=8, max_workers=8)
COUNTERS = ("pages_fetched", "pages_failed", "articles_from_page", "articles_from_feed",
            "articles_truncated", "articles_failed", "pages_due")
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


@pytest.mark.parametrize("workers", [1, 2])
def test_pages_fallbacks_and_dead_letters(loopback: LoopbackServer, workers: int) -> None:
    u = loopback.url
    base = u("/")
    loopback.file("/business/rail", str(FIXTURES / "publisher.html"))
    loopback.file("/agg/ferry", str(FIXTURES / "aggregator.html"))
    loopback.redirect("/~r/feedproxy/ferry", "/agg/ferry?utm_source=feedburner", status=302)
    loopback.add("/empty", b"<html><body></body></html>", content_type="text/html")
    loopback.add("/empty-no-feed", b"<html><body></body></html>", content_type="text/html")
    loopback.add("/image", b"\x89PNG\r\n", content_type="image/png")
    loopback.hang("/slow")
    loopback.add("/down", b"back soon", status=503)
    entries = [
        entry(u("/business/rail")),
        entry(u("/~r/feedproxy/ferry")),
        entry(u("/missing"), FEED_CONTENT),
        entry(u("/missing-no-feed")),
        entry(u("/slow")),
        entry(u("/empty"), FEED_CONTENT),
        entry(u("/empty-no-feed")),
        entry(u("/image")),
        entry(u("/down"), FEED_CONTENT),  # down for now: the feed's text stands in
    ]
    with TestPipeline() as p:
        result = p | beam.Create(entries) | NormaliseArticles(CONFIG, extract_workers=workers)
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
                ("down", "/down", "feed", False),
            ]),
            label="articles",
        )
        assert_that(
            result.dead_letter | "Dead keys" >> beam.Map(
                lambda f: (f.step, f.input.rsplit("/", 1)[-1], f.error_type, f.transient,
                           (f.context.get("entry") or {}).get("url", "").rsplit("/", 1)[-1])),
            equal_to([
                ("normalise", "missing-no-feed", "http_status", False, ""),
                ("normalise", "slow", "timeout", True, "slow"),  # holds its entry, for retry
                ("normalise", "empty-no-feed", "no_text", False, ""),
                ("normalise", "image", "not_html", False, ""),
                ("normalise", "down", "http_status", True, "down"),
            ]),
            label="dead letters",
        )
    assert counters(p) == {"pages_fetched": 5, "pages_failed": 4, "articles_from_page": 2,
                           "articles_from_feed": 3, "articles_truncated": 1,
                           "articles_failed": 4, "pages_due": 1}


@pytest.mark.parametrize("workers", [1, 2])
def test_without_fetching_pages_articles_come_from_the_feed(loopback: LoopbackServer,
                                                            workers: int) -> None:
    entries = [entry(loopback.url("/a"), FEED_CONTENT), entry(loopback.url("/b"))]
    with TestPipeline() as p:
        result = p | beam.Create(entries) | NormaliseArticles(CONFIG, fetch_pages=False,
                                                              extract_workers=workers)
        assert_that(result.articles | "Bodies" >> beam.Map(lambda a: (a.body_source, a.body)),
                    equal_to([("feed", "The short version of the story, as the feed carried "
                                       "it to its readers.")]), label="articles")
        assert_that(result.dead_letter | "Dead" >> beam.Map(lambda f: f.error_type),
                    equal_to(["no_text"]), label="dead letters")
    assert loopback.hits("/a") == 0 and loopback.hits("/b") == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_extraction_runs_in_the_worker_processes(loopback: LoopbackServer, workers: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Extraction breaks in this process only: spawned workers import the real one.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("extracted in the pipeline's process")

    monkeypatch.setattr(newsflow.extract, "extract_article", broken)
    loopback.file("/business/rail", str(FIXTURES / "publisher.html"))
    entries = [entry(loopback.url("/business/rail"), FEED_CONTENT)]
    with TestPipeline() as p:
        result = p | beam.Create(entries) | NormaliseArticles(CONFIG, extract_workers=workers)
        assert_that(result.articles | "Sources" >> beam.Map(lambda a: a.body_source),
                    equal_to(["feed" if workers == 1 else "page"]), label="articles")
        assert_that(result.dead_letter, equal_to([]), label="dead letters")


@pytest.mark.parametrize("bad", [{"max_queued": 0}, {"max_queued": True}, {"fetch": "x"},
                                 {"extract_workers": 0}, {"extract_workers": True},
                                 {"extract_workers": 1.5}])
def test_bad_arguments_raise_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NormaliseArticles(**bad)


def _process(fn: Any, url: str) -> list[Any]:
    """The DoFn's outputs for one entry, called as a runner would (global window)."""
    from apache_beam.transforms.window import GlobalWindow
    from apache_beam.utils.timestamp import MIN_TIMESTAMP

    return [out.value for out in fn.process(entry(url), GlobalWindow(), MIN_TIMESTAMP)]


def _direct_fn(config: FetchConfig = CONFIG, workers: int = 2, max_queued: int = 10_000) -> Any:
    from transforms.normalise import _NormaliseFn

    fn = _NormaliseFn(config, max_queued, True, True, extract_workers=workers)
    fn.setup()
    fn.start_bundle()
    return fn


def test_pages_are_fetched_while_the_extraction_workers_are_starting(
        loopback: LoopbackServer, held_pool_start: Any) -> None:
    for n in range(9):
        loopback.file(f"/news/{n}", str(FIXTURES / "publisher.html"))
    fn = _direct_fn()
    try:
        # While no worker is up: every page is fetched, nothing waits or comes out.
        early = [out for n in range(9) for out in _process(fn, loopback.url(f"/news/{n}"))]
        assert early == []
        assert wait_for(lambda: sum(loopback.hits(f"/news/{n}") for n in range(9)) == 9, 60)
        assert _process(fn, loopback.url("/news/0")) == []  # the same page: no second fetch
        held_pool_start.set()
        articles = [wv.value for wv in fn.finish_bundle()]
    finally:
        fn.teardown()
    assert sorted(a.fetched_url.rsplit("/", 1)[-1] for a in articles) == sorted(
        [str(n) for n in range(9)] + ["0"])
    assert all(a.body_source == "page" for a in articles)
    assert sum(loopback.hits(f"/news/{n}") for n in range(9)) == 9


def test_the_dofn_waits_once_too_many_pages_wait_for_extraction(
        loopback: LoopbackServer, held_pool_start: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import transforms.normalise

    monkeypatch.setattr(transforms.normalise, "MAX_WAITING", 4)
    for n in range(7):
        loopback.file(f"/news/{n}", str(FIXTURES / "publisher.html"))
    fn = _direct_fn()
    emitted: list[Any] = []
    try:
        for n in range(6):
            assert _process(fn, loopback.url(f"/news/{n}")) == []
        assert wait_for(lambda: fn._events.qsize() == 6, 60)  # every page is back
        # The next entry finds 6 pages for the pool, which is not up: 2 more than it may hold
        # back, so it waits for the oldest two.
        more = threading.Thread(target=lambda: emitted.extend(
            _process(fn, loopback.url("/news/6"))))
        more.start()
        more.join(0.5)
        assert more.is_alive()
        held_pool_start.set()
        more.join(60)
        assert not more.is_alive()
        rest = [wv.value for wv in fn.finish_bundle()]
    finally:
        fn.teardown()
    assert len(emitted) >= 2  # the two it waited for, and any done meanwhile
    assert len(emitted) + len(rest) == 7


def test_a_slow_host_holds_up_only_its_own_pages(loopback: LoopbackServer) -> None:
    """Pages of a host whose politeness spaces them 2 s apart, in one bundle with pages of two
    other hosts: the others' articles come out while the slow host's pages still wait."""
    from newsflow.http import host_key

    config = allowing_loopback(connect_timeout=5, read_timeout=5, retries=0, per_host_min_delay=2,
                         per_host_concurrency=1, max_workers=8, respect_robots=False)
    slow = [loopback.url(f"/slow/{n}") for n in range(3)]
    others: list[LoopbackServer] = []
    try:
        for n in (2, 3):
            other = LoopbackServer(host=f"127.0.1.{n}").start()
            others.append(other)
            other.file("/fast", str(FIXTURES / "publisher.html"))
        for url in slow:
            loopback.file(url.split(loopback.base_url, 1)[1], str(FIXTURES / "publisher.html"))
        fn = _direct_fn(config, workers=1)
        try:
            for url in [*slow, *(o.url("/fast") for o in others)]:
                assert _process(fn, url) == []
            order = [host_key(wv.value.fetched_url) for wv in fn.finish_bundle()]
        finally:
            fn.teardown()
    finally:
        for other in others:
            other.stop()
    assert sorted(order) == sorted([host_key(loopback.base_url)] * 3
                                   + [host_key(o.base_url) for o in others])
    # The slow host's first page goes at once; its second only 2 s later: the others before it.
    assert set(order[:3]) == {host_key(loopback.base_url), *(host_key(o.base_url)
                                                             for o in others)}


_REAL_EXTRACT = newsflow.extract.extract_article_or_error


def _extract_or_die(html: Any, url: str, **kwargs: Any) -> Any:
    """Extraction that kills its worker process on a /crash page (as a crash in lxml would)."""
    import os

    if "/crash" in url:
        os._exit(1)
    return _REAL_EXTRACT(html, url, **kwargs)


def test_a_worker_that_dies_costs_its_pages_not_the_job(
        loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from apache_beam.pvalue import TaggedOutput

    loopback.file("/crash", str(FIXTURES / "publisher.html"))
    loopback.file("/news/after", str(FIXTURES / "publisher.html"))
    # The pool pickles the function by name: its workers import it from this module.
    monkeypatch.setattr(newsflow.extract, "extract_article_or_error", _extract_or_die)
    fn = _direct_fn()
    try:
        _process(fn, loopback.url("/crash"))
        first = list(fn.finish_bundle())
        fn.start_bundle()  # the next bundle finds the pool broken and starts a new one
        _process(fn, loopback.url("/news/after"))
        second = [wv.value for wv in fn.finish_bundle()]
    finally:
        fn.teardown()
    [dead] = [out.value.value for out in first if isinstance(out, TaggedOutput)]
    assert dead.error_type == "extract_error" and "BrokenProcessPool" in dead.message
    assert dead.input == loopback.url("/crash")
    [article] = second
    assert article.body_source == "page" and article.fetched_url.endswith("/news/after")


def test_pages_that_arrive_together_go_to_the_pool_a_few_at_a_time(
        loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from newsflow.extract.pool import ExtractionPool
    from tests.loopback import Request, Response
    from transforms.normalise import EXTRACT_CHUNK

    tasks: list[int] = []
    submit_each = ExtractionPool.submit_each

    def counted(self: ExtractionPool, fn: Any, calls: list[Any]) -> Any:
        tasks.append(len(calls))
        return submit_each(self, fn, calls)

    monkeypatch.setattr(ExtractionPool, "submit_each", counted)
    page = (FIXTURES / "publisher.html").read_bytes()
    answer = threading.Event()

    def held(_req: Request) -> Response:  # every page is answered once all are asked for
        answer.wait(60)
        return Response(200, page, content_type="text/html")

    pages = 2 * EXTRACT_CHUNK + 3
    for n in range(pages):
        loopback.route(f"/news/{n}", held)
    fn = _direct_fn()
    try:
        articles = [out for n in range(pages) for out in _process(fn, loopback.url(f"/news/{n}"))]
        answer.set()
        assert wait_for(lambda: fn._events.qsize() == pages, 60)
        articles += [wv.value for wv in fn.finish_bundle()]
    finally:
        fn.teardown()
    assert tasks == [EXTRACT_CHUNK, EXTRACT_CHUNK, 3]
    assert sorted(int(a.fetched_url.rsplit("/", 1)[-1]) for a in articles) == list(range(pages))
    assert all(a.body_source == "page" for a in articles)


def test_a_bundle_with_nothing_to_fetch_ends_at_once() -> None:
    fn = _direct_fn()
    try:
        assert list(fn.finish_bundle()) == []
    finally:
        fn.teardown()
