"""IndexArticles and search against the real Elasticsearch node."""

from __future__ import annotations

import dataclasses
import http.server
import socketserver
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsflow import es
from newsflow.dedupe.story import resolve_write_conflict
from schemas.records import Copy, Story
from transforms.index import IN_FLIGHT, IndexArticles


def story(n: int, published: str = "2024-03-05T12:00:00Z", **extra: object) -> Story:
    when = datetime.fromisoformat(published.replace("Z", "+00:00"))
    url = f"https://example.org/news/{n}"
    return Story(
        story_id=f"s{n:04d}",
        url=url,
        title=extra.pop("title", f"Harbour bridge reopens after repairs {n}"),  # type: ignore[arg-type]
        body=extra.pop("body", f"The harbour bridge reopened on Tuesday, story number {n}."),  # type: ignore[arg-type]
        source="example.org",
        published_at=when,
        copies=[Copy(url=url, source="example.org", published_at=when, title="t")],
        copy_count=1,
        **extra,  # type: ignore[arg-type]
    )


def run_index(
    config: es.EsConfig, stories: list[Story], **kwargs: object
) -> tuple[list[str], list[str], object]:
    """Index through a real pipeline; return indexed ids, dead-letter error types and the result."""
    p = TestPipeline()
    out = p | beam.Create(stories) | IndexArticles(config, refresh=True, **kwargs)  # type: ignore[arg-type]
    indexed = sorted(s.story_id for s in stories if s.story_id.startswith("s"))
    assert_that(out.indexed, equal_to(indexed), label="indexed ids")
    assert_that(
        out.dead_letter | beam.Map(lambda f: (f.input, f.error_type)),
        equal_to(
            [
                (s.story_id, "document_parsing_exception")
                for s in stories
                if s.story_id.startswith("bad")
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    return indexed, [], result


def count(config: es.EsConfig) -> int:
    client = config.client()
    client.indices.refresh(index=config.index)
    n = client.count(index=config.index)["count"]
    client.close()
    return int(n)


def test_template_installed_and_live_mapping_matches_schema(es_config: es.EsConfig) -> None:
    es.ensure_index(es_config)
    client = es_config.client()
    mapping = client.indices.get_mapping(index=es_config.index)[es_config.first_index]["mappings"]
    client.close()
    fields = set(mapping["properties"])
    assert fields == set(Story.__dataclass_fields__) - set(Story.NOT_INDEXED)
    assert mapping["properties"]["published_at"]["type"] == "date"
    assert mapping["properties"]["source"]["type"] == "keyword"
    assert mapping["properties"]["title"]["fields"]["keyword"]["type"] == "keyword"
    assert mapping["dynamic"] == "strict"


def test_template_adds_language_analysis_only_where_the_cluster_has_it() -> None:
    minimal = es.build_template("news", {"x-pack-core"})
    full = es.build_template("news", {"x-pack-core", "analysis-common"})
    assert "english" not in minimal["template"]["mappings"]["properties"]["body"].get("fields", {})
    assert (
        full["template"]["mappings"]["properties"]["body"]["fields"]["english"]["analyzer"]
        == "english"
    )
    assert minimal["index_patterns"] == ["news-0*"]


@pytest.mark.parametrize("reshuffle", [True, False])
def test_index_then_search_round_trip_and_metrics(es_config: es.EsConfig, reshuffle: bool) -> None:
    stories = [
        story(1),
        story(2, title="Council approves new tram line", body="Trams will run by 2026."),
    ]
    _, _, result = run_index(es_config, stories, reshuffle=reshuffle)
    found = es.search(es_config, "tram line")
    assert [h["story_id"] for h in found["hits"]] == ["s0002"]
    assert found["hits"][0]["snippet"] == "Trams will run by 2026."
    assert "«harbour»" in es.search(es_config, "harbour")["hits"][0]["snippet"]
    counters = result.metrics().query(MetricsFilter().with_name("docs_indexed"))["counters"]  # type: ignore[attr-defined]
    assert sum(c.committed for c in counters) == 2


def test_date_range_includes_and_excludes_exactly_at_the_boundaries(es_config: es.EsConfig) -> None:
    stories = [
        story(1, "2024-03-04T23:59:59Z"),
        story(2, "2024-03-05T00:00:00Z"),
        story(3, "2024-03-05T23:59:59Z"),
        story(4, "2024-03-06T00:00:00Z"),
    ]
    run_index(es_config, stories)
    one_day = es.search(es_config, date_from="2024-03-05", date_to="2024-03-05")
    assert sorted(h["story_id"] for h in one_day["hits"]) == ["s0002", "s0003"]
    exact = es.search(es_config, date_from="2024-03-05T00:00:00Z", date_to="2024-03-06T00:00:00Z")
    assert sorted(h["story_id"] for h in exact["hits"]) == ["s0002", "s0003", "s0004"]
    before = es.search(es_config, date_to=datetime(2024, 3, 4, 23, 59, 58, tzinfo=UTC))
    assert before["total"] == 0


def test_same_batch_twice_leaves_the_same_count(es_config: es.EsConfig) -> None:
    stories = [story(n) for n in range(1, 8)]
    run_index(es_config, stories)
    run_index(es_config, stories)
    assert count(es_config) == 7


def test_rejected_document_goes_to_dead_letters_and_the_rest_lands(es_config: es.EsConfig) -> None:
    bad = story(9)
    bad.story_id = "bad9"
    bad.word_count = "nine hundred"  # type: ignore[assignment]  # the mapping says integer
    run_index(es_config, [story(1), bad, story(2)])
    assert count(es_config) == 2


def test_unreachable_elasticsearch_is_one_clear_error_naming_the_url() -> None:
    config = es.EsConfig(url="http://127.0.0.1:9", index="news")
    with pytest.raises(
        es.EsUnavailable, match=r"Elasticsearch at http://127.0.0.1:9 is unreachable"
    ):
        es.check_reachable(config)
    with pytest.raises(es.EsUnavailable, match="http://127.0.0.1:9"):
        es.ensure_index(config)


class _Throttle:
    """A real HTTP proxy in front of the node that answers the first N bulk requests with 429.

    With ``gather`` set, it holds the bulk requests it gets until ``gather`` of them are held at
    once (or 60 s have passed), then ``grace`` seconds more, in which a request beyond those
    would arrive and be counted, and lets them all through; later ones pass at once.
    ``most_held`` is the most it held at once."""

    def __init__(self, upstream: str, refuse: int, gather: int = 0, grace: float = 0.5) -> None:
        self.upstream, self.refused, self.refuse = upstream, 0, refuse
        self.gather, self.grace, self.holding, self.most_held = gather, grace, 0, 0
        self.lock = threading.Condition()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                if "_bulk" in self.path and proxy.refused < proxy.refuse:
                    proxy.refused += 1
                    body = (
                        b'{"error":{"type":"es_rejected_execution_exception","reason":"busy"},'
                        b'"status":429}'
                    )
                    self.send_response(429)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("X-elastic-product", "Elasticsearch")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if "_bulk" in self.path:
                    with proxy.lock:
                        if proxy.most_held < proxy.gather:  # still gathering
                            proxy.holding += 1
                            proxy.most_held = max(proxy.most_held, proxy.holding)
                            proxy.lock.notify_all()
                            proxy.lock.wait_for(lambda: proxy.most_held >= proxy.gather, 60)
                            proxy.lock.wait(proxy.grace)
                            proxy.holding -= 1
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=data, method=self.command, headers=headers
                )
                try:
                    resp = urllib.request.urlopen(req, timeout=30)
                except urllib.error.HTTPError as err:
                    resp = err
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def throttle(es_config: es.EsConfig) -> Iterator[_Throttle]:
    proxy = _Throttle(es_config.url, refuse=2)
    yield proxy
    proxy.close()


def test_real_429_is_retried_until_the_batch_lands(
    es_config: es.EsConfig, throttle: _Throttle
) -> None:
    via_proxy = es.EsConfig(url=throttle.url, index=es_config.index)
    run_index(via_proxy, [story(1), story(2), story(3)], initial_backoff=0.1)
    assert throttle.refused == 2
    assert count(es_config) == 3


def test_batches_go_out_while_earlier_ones_are_being_indexed(es_config: es.EsConfig) -> None:
    proxy = _Throttle(es_config.url, refuse=0, gather=IN_FLIGHT)
    try:
        via_proxy = es.EsConfig(url=proxy.url, index=es_config.index)
        run_index(via_proxy, [story(n) for n in range(1, 7)], batch_size=1)
    finally:
        proxy.close()
    assert proxy.most_held == IN_FLIGHT  # and never more
    assert count(es_config) == 6


def test_bad_constructor_arguments_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        IndexArticles(es.EsConfig(), batch_size=0)
    with pytest.raises(ValueError, match="alias"):
        es.EsConfig(index="News Index")


def _stored(config: es.EsConfig, story_id: str) -> Story:
    """The stored version of a story with its position for an optimistic write."""
    client = config.client()
    client.indices.refresh(index=config.index)
    hit = client.search(
        index=config.index, query={"ids": {"values": [story_id]}}, seq_no_primary_term=True
    )["hits"]["hits"][0]
    client.close()
    stored = Story.from_dict(hit["_source"])
    stored.seq_no, stored.primary_term = hit["_seq_no"], hit["_primary_term"]
    return stored


def _with_copy(stored: Story, n: int) -> Story:
    url = f"https://copies.example/{n}"
    return dataclasses.replace(
        stored,
        copies=[
            *stored.copies,
            Copy(url=url, source="copies.example", published_at=stored.published_at),
        ],
        copy_count=len(stored.copies) + 1,
    )


def test_two_writers_merging_into_one_stored_story_lose_no_copy(es_config: es.EsConfig) -> None:
    """Two windows each merge a copy into the same stored version; the later write conflicts,
    is combined with what the first wrote, and both copies stay (a plain overwrite loses one)."""
    run_index(es_config, [story(1)], resolve_conflict=resolve_write_conflict)
    base = _stored(es_config, "s0001")
    first, second = _with_copy(base, 1), _with_copy(base, 2)  # both read the same version
    run_index(es_config, [first], resolve_conflict=resolve_write_conflict)
    _, _, result = run_index(es_config, [second], resolve_conflict=resolve_write_conflict)
    urls = {c.url for c in _stored(es_config, "s0001").copies}
    assert urls == {
        "https://example.org/news/1",
        "https://copies.example/1",
        "https://copies.example/2",
    }
    conflicts = result.metrics().query(MetricsFilter().with_name("docs_conflicts"))["counters"]  # type: ignore[attr-defined]
    assert sum(c.committed for c in conflicts) == 1


def test_a_new_story_whose_id_was_taken_meanwhile_is_combined_not_overwritten(
    es_config: es.EsConfig,
) -> None:
    run_index(es_config, [story(1)], resolve_conflict=resolve_write_conflict)
    newcomer = _with_copy(story(1), 3)  # no stored position: it thinks the id is free
    run_index(es_config, [newcomer], resolve_conflict=resolve_write_conflict)
    assert {c.url for c in _stored(es_config, "s0001").copies} == {
        "https://example.org/news/1",
        "https://copies.example/3",
    }
    assert count(es_config) == 1
