"""FetchFeeds and ParseFeeds in Beam pipelines against a real loopback server (and the real
Elasticsearch node for feed state across runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apache_beam as beam
import orjson
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsflow.es import EsConfig
from newsflow.feedstate import FeedStateStore, PollPolicy
from tests.loopback import LoopbackServer, Response, allowing_loopback, wait_for
from transforms.fetch import FetchFeeds
from transforms.parse import ParseFeeds

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
CONFIG = allowing_loopback(connect_timeout=5, read_timeout=5, retries=1, backoff_base=0,
                     backoff_max=1, per_host_min_delay=0, per_host_concurrency=8,
                     max_workers=8, max_bytes=200_000)
COUNTERS = ("feeds_fetched", "feeds_not_modified", "feeds_failed", "entries_parsed",
            "entries_bozo", "entries_skipped_seen")


def counters(pipeline: Any) -> dict[str, int]:
    result = pipeline.result
    out = {}
    for name in COUNTERS:
        found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
        out[name] = sum(c.committed for c in found)
    return out


def rss(items: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid>"
                   f"<pubDate>Wed, 06 Mar 2024 12:00:00 GMT</pubDate></item>" for t, u in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}'
            f"</channel></rss>").encode()


def run(urls: list[str], state: EsConfig | None = None, policy: PollPolicy | None = None,
        expect_responses: list[tuple[str, int]] | None = None,
        expect_entries: list[tuple[str, str]] | None = None,
        expect_dead: list[tuple[str, str, str]] | None = None) -> dict[str, int]:
    """Fetch and parse ``urls``; assert every output; return the counters."""
    with TestPipeline() as p:
        fetched = p | beam.Create(urls) | FetchFeeds(CONFIG, state=state, batch_size=4,
                                                      poll_policy=policy)
        parsed = fetched.responses | ParseFeeds(state=state, batch_size=3, poll_policy=policy)
        assert_that(fetched.responses | "Response keys" >> beam.Map(
            lambda r: (r.feed_url, r.status)), equal_to(expect_responses or []),
            label="responses")
        assert_that(parsed.entries | "Entry keys" >> beam.Map(lambda e: (e.feed_url, e.url)),
                    equal_to(expect_entries or []), label="entries")
        dead = (fetched.dead_letter, parsed.dead_letter) | beam.Flatten()
        assert_that(dead | "Dead keys" >> beam.Map(lambda f: (f.step, f.input, f.error_type)),
                    equal_to(expect_dead or []), label="dead letters")
    return counters(p)


def test_every_outcome_is_a_response_or_a_dead_letter(loopback: LoopbackServer) -> None:
    u = loopback.url
    loopback.file("/rss2.xml", FIXTURES / "rss2.xml", content_type="application/rss+xml")
    loopback.file("/html-type.xml", FIXTURES / "rss10.rdf", content_type="text/html")
    loopback.file("/cp1251.xml", FIXTURES / "windows-1251.xml", content_type="text/xml")
    loopback.file("/broken.xml", FIXTURES / "malformed.xml")
    loopback.file("/home.html", FIXTURES / "not-a-feed.html", content_type="text/html")
    loopback.redirect("/moved", "/rss2.xml", 301)
    loopback.redirect("/loop-a", "/loop-b")
    loopback.redirect("/loop-b", "/loop-a")
    loopback.add("/big.xml", size=1_000_000)
    loopback.add("/bomb.xml", b"<rss>" + b" " * 5_000_000 + b"</rss>", gzip=True)
    loopback.hang("/never.xml")
    loopback.sequence("/flaky.xml", [Response(500), Response(200, rss([("F", "http://f/1")]))])
    urls = [u(p) for p in ("/rss2.xml", "/html-type.xml", "/cp1251.xml", "/broken.xml",
                           "/home.html", "/moved", "/loop-a", "/missing.xml", "/big.xml",
                           "/bomb.xml", "/never.xml", "/flaky.xml")]
    rss2 = ["https://news.example.com/2024/03/bridge?utm_source=rss", u("/2024/03/storm"),
            "https://news.example.com/notice", "https://news.example.com/2024/03/guid-only"]
    moved = ["https://news.example.com/2024/03/bridge?utm_source=rss",
             u("/2024/03/storm"),  # relative links resolve against the URL after redirects
             "https://news.example.com/notice", "https://news.example.com/2024/03/guid-only"]
    counts = run(
        urls,
        expect_responses=[(u(p), 200) for p in ("/rss2.xml", "/html-type.xml", "/cp1251.xml",
                                                "/broken.xml", "/home.html", "/moved",
                                                "/flaky.xml")],
        expect_entries=[(u("/rss2.xml"), x) for x in rss2]
        + [(u("/moved"), x) for x in moved]
        + [(u("/html-type.xml"), "https://science.example.edu/p/1"),
           (u("/cp1251.xml"), "https://ru.example.com/weather"),
           (u("/broken.xml"), "http://broken.example.com/1?a=1&b=2"),
           (u("/broken.xml"), "http://broken.example.com/2"),
           (u("/flaky.xml"), "http://f/1")],
        expect_dead=[("fetch", u("/loop-a"), "redirect_loop"),
                     ("fetch", u("/missing.xml"), "http_status"),
                     ("fetch", u("/big.xml"), "too_large"),
                     ("fetch", u("/bomb.xml"), "too_large"),
                     ("fetch", u("/never.xml"), "timeout"),
                     ("parse", u("/home.html"), "not_a_feed")],
    )
    assert counts == {"feeds_fetched": 7, "feeds_not_modified": 0, "feeds_failed": 6,
                      "entries_parsed": 13, "entries_bozo": 2, "entries_skipped_seen": 0}
    # bozo: the two entries of the malformed feed (a feed labelled text/html is not bozo)


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        FetchFeeds(CONFIG, batch_size=0)
    with pytest.raises(ValueError, match="fetch_config"):
        FetchFeeds({"read_timeout": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="state"):
        ParseFeeds(state="http://localhost:9200")  # type: ignore[arg-type]


def test_rerun_sends_conditional_headers_and_skips_seen_entries(
    loopback: LoopbackServer, state: EsConfig,
) -> None:
    v1 = rss([("One", "https://s.example/1"), ("Two", "https://s.example/2")])
    v2 = rss([("Three", "https://s.example/3"), ("One", "https://s.example/1"),
              ("Two", "https://s.example/2")])
    stamp = "Wed, 06 Mar 2024 12:00:00 GMT"
    loopback.sequence("/feed.xml", [
        Response(200, v1, etag='"v1"', content_type="application/rss+xml"),
        Response(200, v2, etag='"v2"', last_modified=stamp, content_type="application/rss+xml"),
    ])
    url = loopback.url("/feed.xml")

    first = run([url], state, expect_responses=[(url, 200)],
                expect_entries=[(url, "https://s.example/1"), (url, "https://s.example/2")])
    assert (first["feeds_fetched"], first["entries_parsed"]) == (1, 2)

    second = run([url], state, expect_responses=[(url, 200)],
                 expect_entries=[(url, "https://s.example/3")])
    assert loopback.requests_for("/feed.xml")[1].headers.get("if-none-match") == '"v1"'
    assert (second["entries_parsed"], second["entries_skipped_seen"]) == (3, 2)

    third = run([url], state, expect_responses=[(url, 304)])
    sent = loopback.requests_for("/feed.xml")[2].headers
    assert (sent.get("if-none-match"), sent.get("if-modified-since")) == ('"v2"', stamp)
    assert (third["feeds_not_modified"], third["feeds_fetched"], third["entries_parsed"]) == (
        1, 0, 0)

    store = FeedStateStore.from_config(state)
    try:
        saved = store.get_many([url])[url]
    finally:
        store.close()
    assert (saved.etag, saved.last_modified, saved.consecutive_failures) == ('"v2"', stamp, 0)
    assert saved.last_success_at is not None and saved.last_status == 304
    assert len(saved.seen_ids) == 3


def test_failing_feed_is_polled_less_often(loopback: LoopbackServer, state: EsConfig) -> None:
    url = loopback.url("/gone.xml")
    policy = PollPolicy(failures_before_backoff=1)
    dead = [("fetch", url, "http_status")]
    counts = run([url], state, policy=policy, expect_dead=dead)
    assert counts["feeds_failed"] == 1
    run([url], state, policy=policy)  # in back-off: not fetched, nothing out
    assert loopback.hits("/gone.xml") == 1
    store = FeedStateStore.from_config(state)
    try:
        saved = store.get_many([url])[url]
    finally:
        store.close()
    assert saved.consecutive_failures == 1
    assert saved.next_poll_at is not None and saved.last_error
    assert saved.last_status == 404


def test_not_a_feed_resets_validators_and_counts_a_failure(loopback: LoopbackServer,
                                                           state: EsConfig) -> None:
    loopback.file("/page", FIXTURES / "not-a-feed.html", content_type="text/html",
                  etag='"p"')
    url = loopback.url("/page")
    run([url], state, expect_responses=[(url, 200)],
        expect_dead=[("parse", url, "not_a_feed")])
    run([url], state, expect_responses=[(url, 200)],
        expect_dead=[("parse", url, "not_a_feed")])
    assert "if-none-match" not in loopback.requests_for("/page")[1].headers
    store = FeedStateStore.from_config(state)
    try:
        saved = store.get_many([url])[url]
    finally:
        store.close()
    assert saved.consecutive_failures == 2  # each fetch succeeded; each parse failed
    assert saved.etag is None and saved.next_poll_at is not None


def test_feeds_show_prints_entries_and_errors(loopback: LoopbackServer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from newsflow.cli import main

    loopback.file("/rss2.xml", FIXTURES / "rss2.xml")
    loopback.file("/home.html", FIXTURES / "not-a-feed.html", content_type="text/html")
    status = main(["feeds", "show", loopback.url("/rss2.xml"), loopback.url("/home.html"),
                   loopback.url("/missing")])
    out, err = capsys.readouterr()
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert status == 0
    assert [line["title"] for line in lines] == [
        "Council approves new bridge", "Storm warning for the coast", "Undated notice",
        "Only a permalink guid"]
    assert lines[0] == {
        "feed": loopback.url("/rss2.xml"),
        "url": "https://news.example.com/2024/03/bridge?utm_source=rss",
        "title": "Council approves new bridge", "published_at": "2024-03-05T11:30:00Z",
        "summary": "The council voted 7–2 for the bridge.\nWork starts in May.",
        "authors": ["Jane Reporter"], "guid": "news-1001",
    }
    assert lines[2]["published_at"] is None
    errors = err.strip().splitlines()
    assert len(errors) == 2
    assert any("/home.html: an HTML page, not a feed" in e for e in errors)
    assert any("/missing: the server answered HTTP 404" in e for e in errors)


def test_feeds_show_fails_when_no_feed_was_read(loopback: LoopbackServer,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from newsflow.cli import main

    assert main(["feeds", "show", loopback.url("/missing")]) == 1
    assert main(["feeds", "show", "not-a-url"]) == 2
    assert "not an absolute" in capsys.readouterr().err


def test_a_feed_that_does_not_answer_holds_up_only_itself(loopback: LoopbackServer) -> None:
    import threading

    from apache_beam.pvalue import TaggedOutput

    from newsflow.feedstate import PollPolicy
    from tests.loopback import Request
    from transforms.fetch import _FetchFeedsFn

    asked, release = threading.Event(), threading.Event()

    def stuck(_req: Request) -> Response:
        asked.set()
        release.wait(60)
        return Response(500)

    loopback.route("/stuck.xml", stuck)
    loopback.file("/rss2.xml", FIXTURES / "rss2.xml")
    loopback.file("/atom.xml", FIXTURES / "atom03.xml")
    fn = _FetchFeedsFn(CONFIG, None, PollPolicy())
    fn.setup()
    outputs: list[Any] = []
    batch = [loopback.url("/stuck.xml"), loopback.url("/rss2.xml"), loopback.url("/atom.xml")]
    worker = threading.Thread(target=lambda: outputs.extend(fn.process(batch)))
    try:
        worker.start()
        # While the stuck feed is still being answered, the two others have come out.
        assert wait_for(lambda: len(outputs) == 2, 60) and asked.is_set()
        assert not release.is_set()
        assert sorted(o.feed_url.rsplit("/", 1)[1] for o in outputs) == ["atom.xml", "rss2.xml"]
    finally:
        release.set()
        worker.join(60)
        fn.teardown()
    assert isinstance(outputs[-1], TaggedOutput) and outputs[-1].tag == "dead_letter"
