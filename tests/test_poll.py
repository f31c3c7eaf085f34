"""PollFeeds' use of the feed state (pure: no runner, no cluster): each fetch the state shows
advances the feed's schedule once, and the feed's own hint stored by ParseFeeds bounds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from newsflow.feedstate import FeedState
from newsflow.schedule import FeedSchedule, ScheduleBounds
from transforms.poll import _TICKS, _advance

T0 = datetime(2025, 1, 1, tzinfo=UTC)
URL = "https://feeds.example/rss"
BOUNDS = ScheduleBounds(min_interval=timedelta(seconds=30), max_interval=timedelta(hours=1))


def fetched(at: datetime, hint: float | None = None, status: int = 200) -> FeedState:
    return FeedState(URL, last_fetched_at=at, last_status=status, poll_hint_seconds=hint)


def test_the_stored_hint_bounds_the_next_poll() -> None:
    start = FeedSchedule(interval=BOUNDS.initial)
    hinted = _advance(start, fetched(T0, hint=45 * 60.0), BOUNDS)
    assert (hinted.interval, hinted.next_poll_at) == (
        timedelta(minutes=45), T0 + timedelta(minutes=45))
    plain = _advance(start, fetched(T0), BOUNDS)  # documents without a hint
    assert plain.interval == BOUNDS.min_interval
    capped = _advance(start, fetched(T0, hint=86400.0), BOUNDS)  # sy:updatePeriod daily
    assert capped.next_poll_at == T0 + BOUNDS.max_interval


def test_a_fetch_is_accounted_for_once_and_unfetched_feeds_are_left_alone() -> None:
    start = FeedSchedule(interval=BOUNDS.initial)
    once = _advance(start, fetched(T0, hint=600.0), BOUNDS)
    assert _advance(once, fetched(T0, hint=600.0), BOUNDS) == once
    assert _advance(start, None, BOUNDS) == start
    assert _advance(start, FeedState(URL), BOUNDS) == start


def test_the_tick_sequence_splits_only_to_checkpoint() -> None:
    # An endless sequence (as PollFeeds makes it): a split in the middle of what is left would
    # start a residual at a far-future tick, whose watermark then runs ahead of every tick still
    # to come (Prism, splitting a slow bundle, hung the job so).
    restriction = _TICKS.initial_restriction((Timestamp.now(), MAX_TIMESTAMP, 2.0))
    tracker = _TICKS.create_tracker(restriction)
    assert tracker.try_claim(restriction.start)
    assert tracker.try_split(0.5) is None
    assert tracker.try_split(0.001) is None
    primary, residual = tracker.try_split(0)  # what defer_remainder asks for
    assert (primary.start, primary.stop) == (restriction.start, restriction.start + 1)
    assert (residual.start, residual.stop) == (restriction.start + 1, restriction.stop)
