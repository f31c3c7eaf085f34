"""Feed state rules (pure) and its storage in the real Elasticsearch node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.es import EsConfig
from newsflow.feedstate import (
    MAPPING,
    FeedState,
    FeedStateStore,
    PollPolicy,
    after_fetch,
    after_parse,
    after_parse_failure,
    doc_id,
    entry_key,
    is_due,
    remember_entries,
    split_seen,
    state_index,
)
from newsflow.http import FetchError, FetchResult

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
URL = "https://feeds.example/rss"


def result(status: int = 200, **headers: str) -> FetchResult:
    return FetchResult(URL, URL, status, {k.replace("_", "-"): v for k, v in headers.items()},
                       b"", NOW)


def test_state_index_name_does_not_match_the_story_template() -> None:
    assert state_index(EsConfig(index="news")) == "news_feeds"


def test_200_keeps_validators_and_leaves_failures_to_the_parse() -> None:
    failing = FeedState(URL, consecutive_failures=3, last_error="x",
                        next_poll_at=NOW + timedelta(hours=1))
    state = after_fetch(failing, result(etag='"a"', last_modified="Sun, 10 Mar 2024"), NOW)
    assert (state.etag, state.last_modified) == ('"a"', "Sun, 10 Mar 2024")
    assert (state.consecutive_failures, state.next_poll_at) == (3, None)
    assert state.last_success_at == NOW
    parsed = after_parse(state, ["g"])
    assert (parsed.consecutive_failures, parsed.last_error, parsed.seen_ids) == (
        0, None, [entry_key("g")])
    assert parsed.poll_hint_seconds is None


def test_the_parse_keeps_the_feeds_current_hint() -> None:
    hinted = after_parse(FeedState(URL), ["g"], poll_hint_seconds=2700.0)
    assert hinted.poll_hint_seconds == 2700.0
    assert after_parse(hinted, ["g"]).poll_hint_seconds is None  # the feed dropped its <ttl>
    failed = after_parse_failure(hinted, "not a feed", NOW)
    assert failed.poll_hint_seconds == 2700.0  # a bad body says nothing about the feed's pace


def test_304_clears_failures() -> None:
    state = after_fetch(FeedState(URL, consecutive_failures=2, last_error="x"), result(304), NOW)
    assert (state.consecutive_failures, state.last_error) == (0, None)


def test_304_without_validators_keeps_the_old_ones() -> None:
    state = after_fetch(FeedState(URL, etag='"a"', last_modified="M"), result(304), NOW)
    assert (state.etag, state.last_modified, state.last_status) == ('"a"', "M", 304)


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    policy = PollPolicy(backoff_base=timedelta(minutes=10), backoff_max=timedelta(hours=1),
                        failures_before_backoff=2)
    error = FetchError("timeout", "read timed out", URL, None, True)
    state = FeedState(URL)
    delays = []
    for _ in range(5):
        state = after_fetch(state, error, NOW, policy)
        delays.append(None if state.next_poll_at is None else state.next_poll_at - NOW)
    assert delays == [None, timedelta(minutes=10), timedelta(minutes=20),
                      timedelta(minutes=40), timedelta(hours=1)]
    assert state.consecutive_failures == 5
    assert state.last_error == f"timeout: read timed out ({URL})"
    assert not is_due(state, NOW)
    assert is_due(state, NOW + timedelta(hours=1))
    assert is_due(None, NOW)


def test_parse_failure_forgets_validators() -> None:
    state = after_parse_failure(FeedState(URL, etag='"a"', last_modified="M"), "not a feed",
                                NOW)
    assert (state.etag, state.last_modified, state.consecutive_failures) == (None, None, 1)


def test_seen_entries_are_split_and_remembered_newest_first() -> None:
    state = FeedState(URL, seen_ids=[entry_key("a"), entry_key("old")])
    flags, skipped = split_seen(["b", "a"], state)
    assert (flags, skipped) == ([True, False], 1)
    assert split_seen(["a"], None) == ([True], 0)
    policy = PollPolicy(max_seen_ids=3)
    assert remember_entries(state, ["b", "a"], policy) == [
        entry_key("b"), entry_key("a"), entry_key("old")]
    many = [str(i) for i in range(5)]
    assert len(remember_entries(state, many, policy)) == 5  # never forget the current feed


@pytest.mark.parametrize(
    "kwargs",
    [{"backoff_base": timedelta(0)}, {"backoff_max": timedelta(seconds=1)},
     {"failures_before_backoff": 0}, {"max_seen_ids": 0}],
)
def test_policy_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**kwargs)  # type: ignore[arg-type]


def test_store_round_trip_and_partial_updates(es_config: EsConfig) -> None:
    store = FeedStateStore.from_config(es_config)
    try:
        assert store.get_many([URL]) == {URL: FeedState(URL)}
        fetched = after_fetch(FeedState(URL), result(etag='"e"'), NOW)
        store.update([fetched])
        seen = FeedState(URL, seen_ids=[entry_key("x")])
        store.update([seen], fields=("seen_ids",))
        back = store.get_many([URL, "https://other.example/"])
        assert back[URL].etag == '"e"'  # the seen-ids update left the fetch fields alone
        assert back[URL].seen_ids == [entry_key("x")]
        assert back[URL].last_success_at == NOW
        assert back["https://other.example/"] == FeedState("https://other.example/")
        store.update([after_fetch(back[URL], result(304), NOW)])
        assert store.get_many([URL])[URL].seen_ids == [entry_key("x")]
        assert store.client.indices.exists(index=f"{es_config.index}_feeds")
    finally:
        store.client.indices.delete(index=store.index, ignore_unavailable=True)
        store.close()


def test_store_keeps_the_poll_hint_and_reads_documents_written_before_it(
        es_config: EsConfig) -> None:
    store = FeedStateStore.from_config(es_config)
    old_url = "https://old.example/rss"
    try:
        # an index and a document from before the field existed (mapping ``dynamic: false``)
        old_mapping = {**MAPPING, "properties": {
            k: v for k, v in MAPPING["properties"].items() if k != "poll_hint_seconds"}}
        store.client.indices.create(index=store.index, mappings=old_mapping)
        old = FeedState(old_url, etag='"o"', seen_ids=[entry_key("a")])
        store.update([old], fields=("etag", "seen_ids"), refresh=True)
        stored = store.client.get(index=store.index, id=doc_id(old_url))["_source"]
        assert "poll_hint_seconds" not in stored
        assert store.get_many([old_url])[old_url] == old

        fetched = after_fetch(FeedState(URL), result(etag='"e"'), NOW)
        store.update([fetched])
        store.update_parsed([after_parse(fetched, ["g"], poll_hint_seconds=1800.0)])
        back = store.get_many([URL])[URL]
        assert (back.poll_hint_seconds, back.etag, back.seen_ids) == (
            1800.0, '"e"', [entry_key("g")])
        store.update([after_fetch(back, result(304), NOW)])  # the fetch fields leave it alone
        assert store.get_many([URL])[URL].poll_hint_seconds == 1800.0
        store.update_parsed([], [after_parse_failure(back, "not a feed", NOW)])
        assert store.get_many([URL])[URL].poll_hint_seconds == 1800.0
        store.update_parsed([after_parse(back, ["g"])])  # the feed no longer gives a hint
        assert store.get_many([URL])[URL].poll_hint_seconds is None
    finally:
        store.client.indices.delete(index=store.index, ignore_unavailable=True)
        store.close()


def test_a_new_state_index_maps_the_poll_hint(es_config: EsConfig) -> None:
    store = FeedStateStore.from_config(es_config)
    try:
        store.ensure()
        mapping = store.client.indices.get_mapping(index=store.index)[store.index]["mappings"]
        assert mapping["properties"]["poll_hint_seconds"] == {"type": "float"}
    finally:
        store.client.indices.delete(index=store.index, ignore_unavailable=True)
        store.close()
