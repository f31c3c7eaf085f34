"""The per-feed polling schedule of the streaming job (pure functions, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.schedule import (
    FeedSchedule,
    ScheduleBounds,
    after_poll,
    feed_hint,
    is_due,
    next_interval,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)
BOUNDS = ScheduleBounds(min_interval=MIN, max_interval=timedelta(minutes=30))


def test_changes_speed_up_and_quiet_feeds_slow_down_within_bounds() -> None:
    interval = timedelta(minutes=8)
    assert next_interval(interval, True, 0, BOUNDS) == timedelta(minutes=4)
    assert next_interval(interval, False, 0, BOUNDS) == timedelta(minutes=12)
    assert next_interval(MIN, True, 0, BOUNDS) == MIN  # never below the minimum
    assert next_interval(timedelta(minutes=25), False, 0, BOUNDS) == timedelta(minutes=30)


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    assert next_interval(MIN, False, 1, BOUNDS) == 2 * MIN
    assert next_interval(MIN, False, 3, BOUNDS) == 8 * MIN
    assert next_interval(MIN, False, 40, BOUNDS) == timedelta(minutes=30)


def test_a_hint_is_a_floor_but_the_maximum_wins() -> None:
    assert next_interval(MIN, True, 0, BOUNDS, hint=timedelta(minutes=10)) == timedelta(minutes=10)
    assert next_interval(MIN, True, 0, BOUNDS, hint=timedelta(hours=5)) == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("ttl", "period", "frequency", "expected"),
    [
        (15, None, None, timedelta(minutes=15)),
        ("20", None, None, timedelta(minutes=20)),
        (None, "hourly", "2", timedelta(minutes=30)),
        (None, "daily", None, timedelta(days=1)),
        (5, "hourly", 1, timedelta(hours=1)),  # both: the larger
        ("soon", "fortnightly", "x", None),  # unreadable hints are ignored
        (0, None, None, None),
        ("99999999999999", None, None, None),  # beyond timedelta: unreadable, not a crash
    ],
)
def test_feed_hints(ttl: object, period: str | None, frequency: object,
                    expected: timedelta | None) -> None:
    assert feed_hint(ttl, period, frequency) == expected  # type: ignore[arg-type]


def test_a_changing_feed_with_a_hint_is_never_polled_sooner_than_it_asks() -> None:
    hint = timedelta(minutes=10)
    s = FeedSchedule(interval=BOUNDS.initial)
    for minute in range(0, 120, 10):  # it changes at every poll
        s = after_poll(s, T0 + timedelta(minutes=minute), changed=True, failures=0,
                       bounds=BOUNDS, hint=hint)
        assert s.interval == hint
        assert s.next_poll_at == T0 + timedelta(minutes=minute) + hint
    unhinted = after_poll(FeedSchedule(interval=BOUNDS.initial), T0, changed=True, failures=0,
                          bounds=BOUNDS)
    assert unhinted.interval == MIN
    # a quiet feed still slows down past its hint, up to the maximum, which also caps the hint
    quiet = after_poll(FeedSchedule(interval=timedelta(minutes=20)), T0, changed=False,
                       failures=0, bounds=BOUNDS, hint=hint)
    assert quiet.interval == timedelta(minutes=30)
    daily = after_poll(FeedSchedule(interval=MIN), T0, changed=True, failures=0, bounds=BOUNDS,
                       hint=timedelta(days=1))
    assert daily.next_poll_at == T0 + BOUNDS.max_interval


def test_after_poll_counts_each_fetch_once_and_keeps_the_pace_through_failures() -> None:
    s = FeedSchedule(interval=timedelta(minutes=4))
    s = after_poll(s, T0, changed=True, failures=0, bounds=BOUNDS)
    assert (s.interval, s.next_poll_at, s.changes) == (2 * MIN, T0 + 2 * MIN, 1)
    assert after_poll(s, T0, changed=True, failures=0, bounds=BOUNDS) == s  # same fetch
    failed = after_poll(s, T0 + 2 * MIN, changed=False, failures=2, bounds=BOUNDS)
    assert failed.interval == 2 * MIN  # kept for when it recovers
    assert failed.next_poll_at == T0 + 2 * MIN + 8 * MIN
    assert not is_due(failed, T0 + 5 * MIN)
    assert is_due(failed, T0 + 10 * MIN)
    assert is_due(None, T0)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_interval"):
        ScheduleBounds(min_interval=timedelta(minutes=5), max_interval=MIN)
    with pytest.raises(ValueError, match="min_interval"):
        ScheduleBounds(min_interval=timedelta(0))
