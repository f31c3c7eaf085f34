"""PollFeeds: the streaming job's source — every tick, the feed URLs that are due.

A tick fires every ``poll_interval`` seconds (a splittable DoFn like Beam's ``PeriodicImpulse``,
whose watermark follows the ticks). At each tick the feed list file is read again when it
changed on disk (so feeds added or removed while the job runs are picked up without a restart),
the feed state written by ``FetchFeeds`` and ``ParseFeeds`` is read from Elasticsearch, and each
feed's schedule (:mod:`newsflow.schedule`) is advanced by the fetches it has not yet accounted
for: never sooner than the feed's own hint (``poll_hint_seconds``, from its ``<ttl>`` or
``sy:updatePeriod``), always within the configured bounds. The feeds due now go on to
``FetchFeeds``; their conditional requests and seen entries stay the business of
``FetchFeeds``/``ParseFeeds``.

The source ends when ``stop_at`` is reached or when ``stop_file`` exists: then the restriction
is finished, the watermark goes to the end of time and every open window downstream fires. That
is how ``newsflow ingest --streaming`` drains on SIGINT/SIGTERM with nothing half-written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.metrics import Metrics
from apache_beam.runners import sdf_utils
from apache_beam.transforms.periodicsequence import ImpulseSeqGenRestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from newsflow.es import EsConfig
from newsflow.feedlist import load_feed_list
from newsflow.feedstate import FeedState, FeedStateStore
from newsflow.schedule import FeedSchedule, ScheduleBounds, after_poll, is_due

__all__ = ["PollFeeds"]

log = logging.getLogger(__name__)


class _TickTracker(OffsetRestrictionTracker):
    """The tick sequence's tracker: it splits only to checkpoint (``fraction_of_remainder`` 0,
    what ``defer_remainder`` asks for), never in the middle of what is left.

    A split of an endless tick sequence at a fraction of its remainder starts the residual at a
    tick in the far future, whose first ``process`` call sets the watermark there: every tick
    still to come would then be late downstream (``docs/design.md``). Ticks are cheap: there is
    nothing to parallelise.
    """

    def try_split(self, fraction_of_remainder: float) -> Any:
        if fraction_of_remainder > 0:
            return None
        return super().try_split(fraction_of_remainder)


class _TickRestrictions(ImpulseSeqGenRestrictionProvider):
    def create_tracker(self, restriction: OffsetRange) -> _TickTracker:
        return _TickTracker(restriction)


_TICKS = _TickRestrictions()
_WATERMARK = ManualWatermarkEstimator.default_provider()


class PollFeeds(beam.PTransform):
    """Poll a feed list on each feed's own schedule.

    Input: ``PBegin`` (apply to the pipeline).
    Output: ``PCollection[str]``, unbounded: the URLs of the feeds due at each tick, with the
    tick's time as element timestamp. No tagged outputs: a feed list that cannot be read keeps
    the last good list (counted in ``feed_list_errors`` and logged); feed state that cannot be
    read polls on the schedule remembered so far.
    Counters: ``poll_ticks``, ``feeds_due``, ``feed_list_errors``.

    ``feeds_file``: a feed list (text or OPML, see :mod:`newsflow.feedlist`) re-read when its
    modification time changes; ``feed_urls``: more feeds, fixed. ``state``: the feed-state
    cluster ``FetchFeeds`` writes to; ``None`` (a job without feed state) polls every feed at
    the schedule's initial interval. ``stop_after`` seconds (``None``: never) or ``stop_file``
    (when it exists) end the source. ``progress`` writes a line per tick with feeds due.
    """

    def __init__(
        self,
        state: EsConfig | None,
        *,
        feeds_file: str | None = None,
        feed_urls: Sequence[str] = (),
        poll_interval: float = 15.0,
        bounds: ScheduleBounds | None = None,
        stop_after: float | None = None,
        stop_file: str | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__()
        if state is not None and not isinstance(state, EsConfig):
            raise ValueError(f"state must be an EsConfig or None, got {state!r}")
        if not feeds_file and not feed_urls:
            raise ValueError("PollFeeds needs feeds_file or feed_urls")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        if stop_after is not None and stop_after <= 0:
            raise ValueError(f"stop_after must be positive or None, got {stop_after}")
        self._state = state
        self._feeds_file = feeds_file
        self._feed_urls = list(feed_urls)
        self._interval = poll_interval
        self._bounds = bounds or ScheduleBounds()
        self._stop_after = stop_after
        self._stop_file = stop_file
        self._progress = progress

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[str]:
        interval, stop_after = self._interval, self._stop_after
        return (
            pbegin
            | "Start polling" >> beam.Impulse()
            | "Poll period" >> beam.Map(lambda _: _period(interval, stop_after))
            | "Tick" >> beam.ParDo(_TickFn(self._stop_file))
            | "Feeds due" >> beam.ParDo(
                _DueFeedsFn(self._state, self._feeds_file, self._feed_urls, self._bounds,
                            self._progress)
            )
        )


def _period(interval: float, stop_after: float | None) -> tuple[Timestamp, Timestamp, float]:
    """(first tick, end, interval), from the moment the job starts (not when it was built)."""
    start = Timestamp.now()
    end = MAX_TIMESTAMP if stop_after is None else start + stop_after
    return start, end, interval


class _TickFn(beam.DoFn):
    """``PeriodicImpulse``'s generator, plus an early end when ``stop_file`` appears."""

    def __init__(self, stop_file: str | None) -> None:
        self._stop_file = stop_file
        self._ticks = Metrics.counter(self.__class__, "poll_ticks")

    def _stopping(self) -> bool:
        return bool(self._stop_file) and os.path.exists(self._stop_file or "")

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: tuple[Timestamp, Timestamp, float],
        tracker: Any = beam.DoFn.RestrictionParam(_TICKS),  # noqa: B008 - Beam's API
        watermark: Any = beam.DoFn.WatermarkEstimatorParam(_WATERMARK),  # noqa: B008
    ) -> Iterator[Any]:
        start, _, interval = element
        assert isinstance(tracker, sdf_utils.RestrictionTrackerView)
        first = start.micros / 1e6
        index = tracker.current_restriction().start
        while True:
            if self._stopping():
                last = tracker.current_restriction().stop - 1
                if last >= index:
                    tracker.try_claim(last)  # the rest of the sequence is done: nothing emitted
                log.info("poll source stopping: %s exists", self._stop_file)
                return
            at = first + interval * index
            if at > time.time():
                next_tick = Timestamp.of(at)
                current = watermark.current_watermark()
                if current is None or next_tick > current:
                    watermark.set_watermark(next_tick)
                tracker.defer_remainder(next_tick)
                return
            if not tracker.try_claim(index):
                return
            stamp = Timestamp.of(at)
            current = watermark.current_watermark()
            if current is None or stamp > current:
                watermark.set_watermark(stamp)
            self._ticks.inc()
            yield TimestampedValue(stamp, stamp)
            index += 1


def _advance(schedule: FeedSchedule, state: FeedState | None,
             bounds: ScheduleBounds) -> FeedSchedule:
    """A feed's schedule once it accounts for the last fetch its stored state shows, with the
    feed's own hint; unchanged when the feed was never fetched or that fetch is counted."""
    if state is None or state.last_fetched_at is None:
        return schedule
    hint = (None if state.poll_hint_seconds is None
            else timedelta(seconds=state.poll_hint_seconds))
    return after_poll(schedule, state.last_fetched_at, changed=state.last_status == 200,
                      failures=state.consecutive_failures, bounds=bounds, hint=hint)


class _DueFeedsFn(beam.DoFn):
    """Tick → the feeds due now, keeping one ``FeedSchedule`` per feed in this worker."""

    def __init__(
        self,
        state: EsConfig | None,
        feeds_file: str | None,
        feed_urls: list[str],
        bounds: ScheduleBounds,
        progress: bool,
    ) -> None:
        self._state = state
        self._feeds_file = feeds_file
        self._feed_urls = feed_urls
        self._bounds = bounds
        self._progress = progress
        self._due = Metrics.counter(self.__class__, "feeds_due")
        self._list_errors = Metrics.counter(self.__class__, "feed_list_errors")

    def setup(self) -> None:
        self._store = None if self._state is None else FeedStateStore.from_config(self._state)
        self._schedules: dict[str, FeedSchedule] = {}
        self._urls: list[str] = list(dict.fromkeys(self._feed_urls))
        self._list_stamp: tuple[int, int] | None = None
        self._tick_count = 0

    def teardown(self) -> None:
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()

    def process(self, tick: Timestamp) -> Iterator[str]:
        now = datetime.now(UTC)
        urls = self._feed_list()
        states: dict[str, FeedState] = {}
        try:
            if self._store is not None:
                states = self._store.get_many(urls)
        except Exception as exc:  # noqa: BLE001 - poll on the remembered schedules meanwhile
            assert self._store is not None
            log.warning("cannot read feed state from %s: %s", self._store.index, exc)
        schedules: dict[str, FeedSchedule] = {}
        due: list[str] = []
        for url in urls:
            schedule = self._schedules.get(url) or FeedSchedule(interval=self._bounds.initial)
            schedule = _advance(schedule, states.get(url), self._bounds)
            if is_due(schedule, now):
                due.append(url)
                # Not due again before this poll's own outcome reschedules it.
                schedule = replace(schedule, next_poll_at=now + schedule.interval)
            schedules[url] = schedule
        self._schedules = schedules  # feeds removed from the list are forgotten
        self._tick_count += 1
        self._due.inc(len(due))
        if self._progress:
            sys.stderr.write(f"  … poll {self._tick_count}: {len(due)} of {len(urls)} feeds due\n")
            sys.stderr.flush()
        yield from due

    def _feed_list(self) -> list[str]:
        """The feeds now: the fixed URLs plus the file's, re-read when the file changed."""
        if not self._feeds_file:
            return self._urls
        try:
            st = Path(self._feeds_file).stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._list_stamp:
                sources = load_feed_list(self._feed_urls, [self._feeds_file])
                self._urls = [source.url for source in sources]
                if self._list_stamp is not None:
                    log.info("feed list %s changed: %d feeds", self._feeds_file, len(self._urls))
                self._list_stamp = stamp
        except (OSError, ValueError) as exc:
            self._list_errors.inc()
            log.warning("cannot read feed list %s (keeping %d feeds): %s",
                        self._feeds_file, len(self._urls), exc)
        return self._urls
