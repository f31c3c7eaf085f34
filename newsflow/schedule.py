"""When to poll each feed next, in the streaming job: a pure function of what the feed did.

A feed that changes at every poll is polled more often, one that keeps answering 304 less often,
one that fails backs off exponentially; a feed's own hint (RSS ``<ttl>`` minutes, or
``sy:updatePeriod`` / ``sy:updateFrequency``) is a floor: it asks readers not to come back sooner.
Everything stays within ``[min_interval, max_interval]``. No Beam and no clock in here: the
polling source (``transforms/poll.py``) keeps one :class:`FeedSchedule` per feed and calls
:func:`after_poll` whenever the feed state shows a new fetch.

The rule is multiplicative increase / decrease: a change halves the interval (``speedup``), an
unchanged poll stretches it by ``slowdown``; a failure doubles the interval per consecutive
failure (on top of the interval the feed had), up to ``max_interval``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = [
    "FeedSchedule",
    "ScheduleBounds",
    "after_poll",
    "feed_hint",
    "is_due",
    "next_interval",
]

_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_MAX_TTL_MINUTES = timedelta.max // timedelta(minutes=1)


@dataclass(frozen=True)
class ScheduleBounds:
    """The interval limits and the adaptation factors (``ValueError`` when inconsistent)."""

    min_interval: timedelta = timedelta(minutes=1)
    max_interval: timedelta = timedelta(hours=1)
    initial_interval: timedelta | None = None  # default: min_interval
    speedup: float = 0.5
    slowdown: float = 1.5

    def __post_init__(self) -> None:
        if self.min_interval <= timedelta(0):
            raise ValueError(f"min_interval must be positive, got {self.min_interval}")
        if self.max_interval < self.min_interval:
            raise ValueError(
                f"max_interval ({self.max_interval}) is below min_interval ({self.min_interval})"
            )
        if not 0 < self.speedup <= 1:
            raise ValueError(f"speedup must be in (0, 1], got {self.speedup}")
        if self.slowdown < 1:
            raise ValueError(f"slowdown must be at least 1, got {self.slowdown}")

    @property
    def initial(self) -> timedelta:
        return self.clamp(self.initial_interval or self.min_interval)

    def clamp(self, interval: timedelta) -> timedelta:
        return max(self.min_interval, min(self.max_interval, interval))


@dataclass(frozen=True)
class FeedSchedule:
    """One feed's polling memory: its current interval and when it is next due.

    ``last_fetched_at`` is the fetch time of the poll last accounted for (so the same fetch is
    never counted twice); ``changes`` and ``polls`` count what the feed did since the job began.
    """

    interval: timedelta
    next_poll_at: datetime | None = None
    last_fetched_at: datetime | None = None
    last_changed_at: datetime | None = None
    failures: int = 0
    changes: int = 0
    polls: int = 0


def feed_hint(
    ttl_minutes: int | str | None = None,
    update_period: str | None = None,
    update_frequency: int | str | None = None,
) -> timedelta | None:
    """The shortest interval a feed asks for: RSS ``<ttl>`` minutes, or
    ``sy:updatePeriod``/``sy:updateFrequency`` (``hourly`` + 2 = every 30 minutes).

    Unreadable values are ignored (a hint is advice, not a contract); both given: the larger.
    """
    hints: list[timedelta] = []
    ttl = _positive_int(ttl_minutes)
    if ttl is not None and ttl <= _MAX_TTL_MINUTES:  # beyond that, timedelta overflows
        hints.append(timedelta(minutes=ttl))
    period = _PERIODS.get((update_period or "").strip().lower())
    if period is not None:
        frequency = _positive_int(update_frequency) or 1
        hints.append(period / frequency)
    return max(hints) if hints else None


def _positive_int(value: int | str | None) -> int | None:
    try:
        number = int(str(value).strip()) if value is not None else None
    except ValueError:
        return None
    return number if number and number > 0 else None


def next_interval(
    interval: timedelta,
    changed: bool,
    failures: int,
    bounds: ScheduleBounds,
    hint: timedelta | None = None,
) -> timedelta:
    """The interval after one poll: halved on a change, stretched when unchanged, doubled per
    consecutive failure; never below the feed's ``hint``; always within ``bounds``."""
    if failures > 0:
        backed_off = interval * (2 ** min(failures, 30))
        return bounds.clamp(backed_off)
    factor = bounds.speedup if changed else bounds.slowdown
    following = interval * factor
    if hint is not None:
        following = max(following, hint)
    return bounds.clamp(following)


def after_poll(
    schedule: FeedSchedule,
    fetched_at: datetime,
    changed: bool,
    failures: int,
    bounds: ScheduleBounds,
    hint: timedelta | None = None,
) -> FeedSchedule:
    """The schedule once a poll at ``fetched_at`` is known to have ``changed`` the feed (a 200
    with a new body) or not (a 304), with ``failures`` consecutive failures so far."""
    if schedule.last_fetched_at is not None and fetched_at <= schedule.last_fetched_at:
        return schedule  # already accounted for
    wait = next_interval(schedule.interval, changed, failures, bounds, hint)
    # A failure backs off the next poll but keeps the interval, so a recovered feed resumes
    # its own pace.
    return replace(
        schedule,
        interval=schedule.interval if failures else wait,
        next_poll_at=fetched_at + wait,
        last_fetched_at=fetched_at,
        last_changed_at=fetched_at if changed and not failures else schedule.last_changed_at,
        failures=failures,
        changes=schedule.changes + (1 if changed and not failures else 0),
        polls=schedule.polls + 1,
    )


def is_due(schedule: FeedSchedule | None, now: datetime) -> bool:
    """Whether a feed should be polled at ``now`` (a feed never polled is due)."""
    return schedule is None or schedule.next_poll_at is None or schedule.next_poll_at <= now
