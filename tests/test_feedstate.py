"""Feed state rules (pure) and its storage in the real Elasticsearch node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.es import EsConfig
from newsflow.feedstate import (
    FeedState,
    FeedStateStore,
    PollPolicy,
    after_fetch,
    after_parse,
    after_parse_failure,
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
