"""The streaming job: arrival-time windows around the batch transforms, and the live job on Prism.

TestStream tests (DirectRunner in streaming mode) pin the windowing: out-of-order arrivals in
one window become one story, the same entry seen again in a later window keeps its story id, a
copy in a later window or one arriving after the horizon merges into the stored story through
Elasticsearch, and a copy published beyond the horizon stays apart. The live test runs the whole
job on Prism against a loopback site whose feeds grow while it runs, and drains it with SIGTERM.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream as Arrivals
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from elasticsearch import Elasticsearch

from bench.stream import GrowingSite
from local.demosite import synthetic_story
from newsflow.es import EsConfig, ensure_index, refresh
from pipelines.options import StreamOptions
from pipelines.pipeline import ingest
from schemas.records import Article, FeedResponse, Story
from transforms.dedupe import DedupeArticles
from transforms.index import IndexArticles
from transforms.parse import ParseFeeds

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
WINDOW = 10  # seconds


def streaming_pipeline() -> TestPipeline:
    return TestPipeline(options=PipelineOptions(["--runner=DirectRunner", "--streaming"]))


_RNG = random.Random(11)
BODIES = ["\n\n".join(synthetic_story(_RNG, f"s{n}").paragraphs) for n in range(4)]


def article(url: str, body: int, fetched: float, published_hours: float = 0.0) -> Article:
    """An article of body ``body`` at ``url``, fetched ``fetched`` s after T0."""
    return Article(
        url=url, title=f"story {body}", body=BODIES[body],
        source=url.split("/")[2], fetched_url=url,
        published_at=T0 + timedelta(hours=published_hours),
        fetched_at=T0 + timedelta(seconds=fetched),
    )


def at(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


def arrived(a: Article) -> TimestampedValue:
    """``a`` at the time its poll fetched it, as the job's arrival windows see it."""
    assert a.fetched_at is not None
    return TimestampedValue(a, a.fetched_at.timestamp())


def windowed_stories(p: beam.Pipeline, events: Arrivals, es: EsConfig | None) -> Any:
    """The streaming job's middle: articles in arrival windows, DedupeArticles."""
    return (
        p
        | "Arrivals" >> events
        | "Stamp arrival time" >> beam.Map(arrived)
        | "Dedupe windows" >> beam.WindowInto(FixedWindows(WINDOW))
        | "Dedupe" >> DedupeArticles(es=es)
    )


def copy_urls(story: Story) -> tuple[str, tuple[str, ...]]:
    return story.url, tuple(sorted(c.url for c in story.copies))


def test_out_of_order_arrivals_in_one_window_make_one_story() -> None:
    original = article("https://a.example/news/1", 0, fetched=7, published_hours=0)
    copy = article("https://b.example/story/1", 0, fetched=2, published_hours=1)
    other = article("https://c.example/news/9", 1, fetched=12)
    events = (
        Arrivals()
        .advance_watermark_to(at(0))
        .add_elements([copy])  # the copy arrives first, the original later in the window
        .add_elements([original])
        .advance_watermark_to(at(WINDOW))
        .add_elements([other])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        stories = windowed_stories(p, events, es=None)
        assert_that(
            stories.stories | beam.Map(copy_urls),
            equal_to([
                # canonical: the earlier original
                (original.url, tuple(sorted([original.url, copy.url]))),
                (other.url, (other.url,)),
            ]),
            label="one story per window cluster",
        )
        assert_that(stories.dead_letter, equal_to([]), label="no dead letters")


def test_dedupe_in_one_worker_groups_each_window_on_its_own() -> None:
    """``--dedupe_in_memory true`` in a streaming job: one group per window, as the keyed path
    gives (a copy in the next window is a story of its own there, without Elasticsearch)."""
    original = article("https://a.example/news/1", 0, fetched=7)
    copy = article("https://b.example/story/1", 0, fetched=2, published_hours=1)
    later = article("https://c.example/x/1", 0, fetched=WINDOW + 3, published_hours=2)
    events = (
        Arrivals()
        .advance_watermark_to(at(0))
        .add_elements([copy, original])
        .advance_watermark_to(at(WINDOW))
        .add_elements([later])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        stories = (
            p
            | "Arrivals" >> events
            | "Stamp arrival time" >> beam.Map(arrived)
            | "Dedupe windows" >> beam.WindowInto(FixedWindows(WINDOW))
            | "Dedupe" >> DedupeArticles(in_memory=True)
        )
        windows = stories.stories | "Window of story" >> beam.Map(
            lambda s, w=beam.DoFn.WindowParam: (copy_urls(s), float(w.start)))
        assert_that(windows, equal_to([
            ((original.url, tuple(sorted([original.url, copy.url]))), at(0)),
            ((later.url, (later.url,)), at(WINDOW)),
        ]), label="a story per window cluster, in its window")
        assert_that(stories.dead_letter, equal_to([]), label="no dead letters")


def _rss(feed: str, guids: list[str]) -> FeedResponse:
    items = "".join(f"<item><title>{g}</title><link>https://{feed}.example/{g}</link>"
                    f"<guid>{g}</guid><description>text of {g}</description></item>"
                    for g in guids)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>{items}' \
           "</channel></rss>"
    url = f"https://{feed}.example/feed.xml"
    return FeedResponse(feed_url=url, final_url=url, status=200, body=body.encode(),
                        headers={"content-type": "application/rss+xml"})


def test_without_feed_state_a_poll_emits_only_what_the_run_has_not_seen() -> None:
    """``--feed_state false --streaming``: every poll reads each feed in full; an entry goes on
    once per run (per feed), in the window of the poll that first saw it."""
    polls = [(0, "a", ["a1", "a2"]), (1, "b", ["b1"]), (WINDOW + 1, "a", ["a3", "a1", "a2"]),
             (WINDOW + 2, "b", ["b1"]), (2 * WINDOW + 1, "a", ["a3", "a2"])]
    events = Arrivals().advance_watermark_to(at(0))
    for second, feed, guids in polls:
        events = events.add_elements([TimestampedValue(_rss(feed, guids), at(second))])
    events = events.advance_watermark_to_infinity()
    with streaming_pipeline() as p:
        entries = (
            p
            | "Polls" >> events
            | "Arrival windows" >> beam.WindowInto(FixedWindows(WINDOW))
            | "Parse" >> ParseFeeds(state=None, seen_in_run=True)
        )
        firsts = entries.entries | "Guid and window" >> beam.Map(
            lambda e, w=beam.DoFn.WindowParam: (e.guid, float(w.start)))
        assert_that(firsts, equal_to([("a1", at(0)), ("a2", at(0)), ("b1", at(0)),
                                      ("a3", at(WINDOW))]), label="each entry once")
        assert_that(entries.dead_letter, equal_to([]), label="no dead letters")


def test_the_same_entry_in_a_later_window_keeps_its_story_id() -> None:
    first = article("https://a.example/news/1", 0, fetched=1)
    again = article("https://a.example/news/1", 0, fetched=14)  # re-listed, fetched again
    events = (
        Arrivals()
        .advance_watermark_to(at(0))
        .add_elements([first])
        .advance_watermark_to(at(WINDOW))
        .add_elements([again])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        stories = windowed_stories(p, events, es=None)
        ids = stories.stories | beam.Map(lambda s: (s.story_id, s.copy_count))
        # Each window emits the story once, under the same id: indexing overwrites.
        assert_that(
            ids,
            equal_to([(_story_id_of(first), 1), (_story_id_of(first), 1)]),
            label="one id across windows",
        )


def _story_id_of(a: Article) -> str:
    from newsflow.dedupe.canonical import story_id

    return story_id(a.url)


def _stored(es: EsConfig) -> list[Story]:
    client = Elasticsearch(es.url)
    client.indices.refresh(index=es.index)
    hits = client.search(index=es.index, size=100, query={"match_all": {}})["hits"]["hits"]
    client.close()
    return sorted((Story.from_dict(h["_source"]) for h in hits), key=lambda s: s.url)


def _index_batch(es: EsConfig, articles: list[Article]) -> None:
    """Index ``articles`` as the job would have earlier (batch, through the same transforms)."""
    with TestPipeline() as p:
        stories = p | beam.Create(articles) | "Dedupe" >> DedupeArticles(es=es)
        _ = stories.stories | "Index" >> IndexArticles(es, refresh=True)


def test_copies_in_later_windows_and_after_the_horizon_merge_through_elasticsearch(
    es_config: EsConfig,
) -> None:
    ensure_index(es_config)
    # Indexed long ago: fetched 80 h before the copies arrive (far beyond any in-memory state).
    stored = article("https://a.example/news/1", 0, fetched=0, published_hours=0)
    far = article("https://f.example/news/7", 2, fetched=0, published_hours=0)
    _index_batch(es_config, [stored, far])
    late = 80 * 3600
    copy = article("https://b.example/story/1", 0, fetched=late + 2, published_hours=2)
    again = article("https://a.example/news/1", 0, fetched=late + 3, published_hours=0)
    # Same text as `far`, but published 100 h later: beyond the 72 h horizon, a new story.
    beyond = article("https://g.example/news/7", 2, fetched=late + 4, published_hours=100)
    later_copy = article("https://c.example/x/1", 0, fetched=late + WINDOW + 1,
                         published_hours=3)
    events = (
        Arrivals()
        .advance_watermark_to(at(late))
        .add_elements([copy, again, beyond])
        .advance_watermark_to(at(late + WINDOW))
        .add_elements([later_copy])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        stories = windowed_stories(p, events, es_config)
        indexed = stories.stories | "Index" >> IndexArticles(es_config, refresh=True)
        assert_that(indexed.dead_letter, equal_to([]), label="nothing failed to index")
        assert_that(stories.dead_letter, equal_to([]), label="no dedupe dead letters")

    by_url = {s.url: s for s in _stored(es_config)}
    assert set(by_url) == {stored.url, far.url, beyond.url}
    merged = by_url[stored.url]
    assert merged.story_id == _story_id_of(stored)  # the stored story's id kept
    assert sorted(c.url for c in merged.copies) == sorted(
        [stored.url, copy.url, later_copy.url])
    assert [c.url for c in by_url[far.url].copies] == [far.url]


@pytest.mark.timeout(180)
def test_articles_keep_the_window_of_the_poll_that_fetched_them(
    es_config: EsConfig, tmp_path: Path,
) -> None:
    """The source's watermark runs ahead of the work its ticks start (it only promises that no
    earlier *tick* comes), so what a tick's feeds yield must keep the tick's time all the way to
    dedupe: only then does the watermark wait for it. Re-stamped with their fetch time, articles
    fell behind the watermark and were dropped as late data (at 1,000 feeds, half of them),
    with no error and no dead letter. Here the tick is long before the fetch, so an article
    re-stamped on the way lands in another window than its tick's."""
    from local.siteserver import SiteServer

    ensure_index(es_config)
    site = GrowingSite(tmp_path / "site", feeds=2)
    added = [site.add(site.outlet(n % 2), *site.new_story()) for n in range(6)]
    with SiteServer(site.root) as server:
        base = server.url
        feeds = site.feed_list(base, tmp_path / "feeds.txt").read_text().split()
        events = (
            Arrivals()
            .advance_watermark_to(at(0))
            .add_elements([TimestampedValue(url, at(1)) for url in feeds])  # one tick
            .advance_watermark_to(at(6 * WINDOW))  # later ticks, feeds still being fetched
            .advance_watermark_to_infinity()
        )
        options = PipelineOptions([
            "--runner=DirectRunner", "--streaming",
            f"--es_url={es_config.url}", f"--es_index={es_config.index}",
            "--poll_interval=5", f"--dedupe_window={WINDOW}", "--fetch_articles=false",
            "--ignore_robots", "--per_host_delay=0", f"--dead_letters={tmp_path / 'dead.jsonl'}",
        ])
        assert options.view_as(StreamOptions).window_seconds() == WINDOW
        with TestPipeline(options=options) as p:
            outputs = ingest(p | "Ticks" >> events, options)
            windows = outputs.indexed | "Window start" >> beam.Map(
                lambda _, w=beam.DoFn.WindowParam: float(w.start))
            assert_that(windows, equal_to([at(0)] * len(added)), label="in the tick's window")
            assert_that(outputs.dead_letters, equal_to([]), label="no dead letters")

    indexed = {c.url for story in _stored(es_config) for c in story.copies}
    assert indexed == {base + path for path in added}


# -- live on Prism ---------------------------------------------------------------------------


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for: {what}")


def _story_of(es: EsConfig, url: str) -> Story | None:
    client = Elasticsearch(es.url)
    try:
        resp = client.search(index=es.index, size=5, query={"bool": {"should": [
            {"term": {"copies.url": url}}, {"term": {"copies.fetched_url": url}}]}})
    except Exception:  # noqa: BLE001 - the index may not exist yet
        return None
    finally:
        client.close()
    hits = resp["hits"]["hits"]
    return Story.from_dict(hits[0]["_source"]) if hits else None


def _stream_while(drive: Callable[[], None], feeds_txt: Path, es_config: EsConfig,
                  tmp_path: Path) -> tuple[Any, list[str]]:
    """The streaming job on the local runner (Prism) while ``drive`` acts on the web in a
    thread; when it returns or fails, the job is stopped as Ctrl-C stops it (it drains).
    Returns the job's summary and what went wrong in ``drive``."""
    from pipelines import launcher

    problems: list[str] = []

    def driver() -> None:
        try:
            drive()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            problems.append(repr(exc))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=driver, daemon=True)
    thread.start()
    summary = launcher.run([
        "--streaming", f"--feeds={feeds_txt}",
        f"--es_url={es_config.url}", f"--es_index={es_config.index}",
        "--poll_interval=2", "--min_poll_interval=2", "--max_poll_interval=4",
        "--fetch_articles=false", "--ignore_robots", "--per_host_delay=0",
        f"--dead_letters={tmp_path / 'dead.jsonl'}",
    ], quiet=True)
    thread.join(10)
    return summary, problems


# The driver's own waits name a slow step; they and this bound are for a hang, not for speed
# (freshness is measured by bench/stream.py).
@pytest.mark.timeout(600)
def test_live_streaming_on_prism(es_config: EsConfig, tmp_path: Path) -> None:
    from local.siteserver import SiteServer

    ensure_index(es_config)
    site = GrowingSite(tmp_path / "site", feeds=4)  # f3 joins the feed list while the job runs
    title_a, paras_a = site.new_story()
    site.add("f0", title_a, paras_a)
    title_s, paras_s = site.new_story()
    site.add("f2", title_s, paras_s)  # f2 never changes again: it must get 304s
    facts: dict[str, Any] = {}

    with SiteServer(site.root) as server:
        base = server.url
        feeds_txt = site.feed_list(base, tmp_path / "feeds.txt")
        f3 = f"{base}{site.feed_path('f3')}"
        feeds_txt.write_text(feeds_txt.read_text().replace(f"{f3}\n", ""))

        def driver() -> None:
            a_url, s_url = f"{base}{site.entries['f0'][0].path}", \
                f"{base}{site.entries['f2'][0].path}"
            _wait("the first entries searchable",
                  lambda: _story_of(es_config, a_url) is not None
                  and _story_of(es_config, s_url) is not None, 120)
            first = _story_of(es_config, a_url)
            assert first is not None
            facts["first_id"] = first.story_id
            # New entries while it runs: a new story, and a copy of A on another outlet.
            b_url = base + site.add("f1", *site.new_story())
            copy_url = base + site.add("f1", title_a, paras_a)
            _wait("the new story searchable",
                  lambda: _story_of(es_config, b_url) is not None, 90)
            _wait("the copy merged into the earlier story",
                  lambda: (s := _story_of(es_config, copy_url)) is not None
                  and s.story_id == facts["first_id"], 90)
            # The feed list edited while it runs: the new feed is polled without a restart.
            d_url = base + site.add("f3", *site.new_story())
            with feeds_txt.open("a") as listing:
                listing.write(f"{f3}\n")
            _wait("an entry of a feed added to the list while running",
                  lambda: _story_of(es_config, d_url) is not None, 90)
            # Drain: an entry fetched but whose window has not closed yet must not be lost.
            n_before = len([r for r in server.requests if r.path == "/feeds/f0.xml"
                            and r.status == 200])
            facts["last_url"] = base + site.add("f0", *site.new_story())
            _wait("the last entry fetched",
                  lambda: len([r for r in server.requests if r.path == "/feeds/f0.xml"
                               and r.status == 200]) > n_before, 90)

        summary, problems = _stream_while(driver, feeds_txt, es_config, tmp_path)
        requests = server.requests

    assert not problems, problems
    assert summary is not None
    freshness = summary.freshness
    assert summary.done  # drained, not cancelled
    refresh(es_config)  # the drain's last bulk request is acknowledged; make it searchable now
    assert _story_of(es_config, facts["last_url"]) is not None  # flushed by the drain
    f2 = [r for r in requests if r.path == "/feeds/f2.xml"]
    assert any(r.status == 304 and r.conditional for r in f2), f2
    assert sum(1 for r in f2 if r.status == 200) == 1  # fetched in full once only
    assert summary.counters.get("docs_failed", 0) == 0
    assert summary.counters.get("entries_skipped_seen", 0) > 0  # re-listed entries skipped
    assert freshness[0] > 0  # freshness_ms measured


@pytest.mark.timeout(600)
def test_live_copies_that_came_before_their_original_join_it_on_prism(
    es_config: EsConfig, tmp_path: Path,
) -> None:
    """On Prism, against the real node: a brief of a story's first paragraphs and an excerpt
    of its last ones (nothing in common) appear first, on two outlets, and become two stories.
    The original appears later on a third and joins them, as a batch of the three does: one
    story, led by the original."""
    from local.siteserver import SiteServer
    from newsflow.dedupe import fingerprint, is_copy

    story = synthetic_story(random.Random(21), "bridge")
    paragraphs = list(story.paragraphs)
    brief = [*paragraphs[:2], "Read more at harbour-post.test"]
    excerpt = [*paragraphs[-3:], "Continue reading at harbour-post.test"]
    original, first, last = (fingerprint("\n\n".join(p)) for p in (paragraphs, brief, excerpt))
    assert is_copy(first, original) and is_copy(last, original) and not is_copy(first, last)

    ensure_index(es_config)
    site = GrowingSite(tmp_path / "site", feeds=3)
    now = datetime.now(UTC)
    urls: list[str] = []
    with SiteServer(site.root) as server:
        base = server.url
        feeds_txt = site.feed_list(base, tmp_path / "feeds.txt")

        def driver() -> None:
            urls.append(base + site.add("f0", story.title, brief, now - timedelta(hours=1)))
            urls.append(base + site.add("f1", story.title, excerpt, now - timedelta(hours=1)))
            _wait("the brief and the excerpt searchable, as two stories",
                  lambda: (a := _story_of(es_config, urls[0])) is not None
                  and (b := _story_of(es_config, urls[1])) is not None
                  and a.story_id != b.story_id, 120)
            urls.append(base + site.add("f2", story.title, paragraphs,
                                        now - timedelta(hours=3)))
            _wait("one story of the three",
                  lambda: (s := _story_of(es_config, urls[2])) is not None
                  and {c.url for c in s.copies} == set(urls), 120)

        summary, problems = _stream_while(driver, feeds_txt, es_config, tmp_path)

    assert not problems, problems
    assert summary is not None and summary.done
    refresh(es_config)
    stories = _stored(es_config)
    assert [sorted(c.url for c in s.copies) for s in stories] == [sorted(urls)]
    assert stories[0].url == urls[2]  # led by the original
    assert summary.counters.get("docs_deleted", 0) == 1  # the other story, absorbed
