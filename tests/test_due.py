"""KeepEntriesDue: the entries that dead letters leave unstored become due again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsflow.es import EsConfig
from newsflow.feedstate import FeedState, FeedStateStore, entry_key, state_index
from schemas.records import Copy, Failure, Story
from transforms.due import KeepEntriesDue, due_entries

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
FEED = "http://feeds.example/rss"


def failure(step: str, transient: bool, **context: object) -> Failure:
    return Failure(step=step, input="x", error_type="e", message="m", transient=transient, at=NOW,
                   context=dict(context))


def stored_story(*guids: str) -> dict:
    story = Story(story_id="s1", url="u", title="t", body="b", copies=[
        Copy(url=f"https://a.example/{g}", source="a.example", feed_url=FEED, guid=g)
        for g in guids])
    return story.to_dict()


def test_which_entries_a_dead_letter_leaves_unstored() -> None:
    assert due_entries(failure("normalise", True, feed_url=FEED, guid="g1")) == [(FEED, "g1")]
    assert due_entries(failure("normalise", False, feed_url=FEED, guid="g1")) == []  # a 404
    assert due_entries(failure("index", True, document=stored_story("g2", "g3"))) == [
        (FEED, "g2"), (FEED, "g3")]
    assert due_entries(failure("fetch", True, feed_url=FEED)) == []


@pytest.fixture
def store(es_config: EsConfig) -> Iterator[FeedStateStore]:
    store = FeedStateStore.from_config(es_config)
    yield store
    store.client.indices.delete(index=state_index(es_config), ignore_unavailable=True)
    store.close()


def test_entries_become_due_and_the_feed_is_read_in_full_next_time(
        es_config: EsConfig, store: FeedStateStore) -> None:
    seen = [entry_key(g) for g in ("g1", "g2", "g3", "g4")]
    store.update([FeedState(feed_url=FEED, etag='"v1"', last_modified="Mon, 04 Mar 2024",
                            seen_ids=seen)], fields=("etag", "last_modified", "seen_ids"),
                 refresh=True)
    p = TestPipeline()
    failures = p | beam.Create([failure("normalise", True, feed_url=FEED, guid="g2"),
                                failure("normalise", False, feed_url=FEED, guid="g3"),
                                failure("index", True, document=stored_story("g4"))])
    assert_that(failures | KeepEntriesDue(es_config), equal_to([]), label="no failures")
    result = p.run()
    result.wait_until_finish()
    [due] = result.metrics().query(MetricsFilter().with_name("entries_due"))["counters"]
    assert due.committed == 2
    state = store.get_many([FEED])[FEED]
    assert state.seen_ids == [entry_key("g1"), entry_key("g3")]
    assert (state.etag, state.last_modified) == (None, None)


def test_a_state_that_cannot_be_written_is_a_dead_letter() -> None:
    nowhere = EsConfig(url="http://127.0.0.1:9", index="nowhere", request_timeout=2)
    with TestPipeline() as p:
        out = (p | beam.Create([failure("normalise", True, feed_url=FEED, guid="g1")])
               | KeepEntriesDue(nowhere))
        assert_that(out | beam.Map(lambda f: (f.step, f.transient, f.context["entries"])),
                    equal_to([("feed_state", True, [[FEED, "g1"]])]), label="dead letter")
