"""MeasureFreshness: how long a story took from its feed to the index, as it goes by.

Freshness is the time from the poll that first saw an entry to its story being handed to the
index. The streaming job windows articles by arrival (their fetch time), so a story that comes out
of a window and whose ``fetched_at`` lies in that window was first seen then: its freshness is
now minus ``fetched_at``. A story whose canonical article is older than the window (a copy that
merged into a story indexed earlier keeps that story's canonical and fetch time) carries no
fetch time of the new copy, so it is counted (``freshness_unmeasured``) rather than measured
wrongly. The bulk write after this step adds tens of milliseconds and the index refresh up to a
second; ``bench/stream.py`` measures the full time to searchable from outside.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import Story

__all__ = ["MeasureFreshness"]


class MeasureFreshness(beam.PTransform):
    """Pass stories through unchanged, recording their freshness.

    Input and output: ``PCollection[Story]`` (windows and timestamps kept). No tagged outputs.
    Metrics: Distribution ``freshness_ms``; counters ``stories_measured``,
    ``freshness_unmeasured``. With ``progress``, writes at most every ``interval`` seconds a line
    with the stories so far and the freshness p50/p95 of the last ``recent`` stories.
    """

    def __init__(self, *, progress: bool = False, interval: float = 5.0,
                 recent: int = 1000) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if recent < 1:
            raise ValueError(f"recent must be at least 1, got {recent}")
        self._fn = _FreshnessFn(progress, interval, recent)

    def expand(self, stories: beam.PCollection[Story]) -> beam.PCollection[Story]:
        return stories | "Record freshness" >> beam.ParDo(self._fn)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (``share`` in [0, 1]); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


class _FreshnessFn(beam.DoFn):
    def __init__(self, progress: bool, interval: float, recent: int) -> None:
        self._progress = progress
        self._interval = interval
        self._recent = recent
        self._freshness = Metrics.distribution(self.__class__, "freshness_ms")
        self._measured = Metrics.counter(self.__class__, "stories_measured")
        self._unmeasured = Metrics.counter(self.__class__, "freshness_unmeasured")

    def setup(self) -> None:
        self._values: deque[float] = deque(maxlen=self._recent)
        self._count = 0
        self._last = time.monotonic()

    def process(self, story: Story, window: Any = beam.DoFn.WindowParam) -> Iterator[Story]:
        start = getattr(window, "start", None)
        fetched = story.fetched_at
        if fetched is None or (start is not None and fetched.timestamp() < float(start)):
            self._unmeasured.inc()
        else:
            ms = max(0, int((datetime.now(UTC) - fetched).total_seconds() * 1000))
            self._freshness.update(ms)
            self._measured.inc()
            self._values.append(ms / 1000)
        self._count += 1
        now = time.monotonic()
        if self._progress and now - self._last >= self._interval:
            self._last = now
            self._report()
        yield story

    def teardown(self) -> None:
        if self._progress and getattr(self, "_count", 0) > 0:
            self._report()

    def _report(self) -> None:
        values = list(self._values)
        sys.stderr.write(
            f"  … stories {self._count}, freshness p50 {percentile(values, 0.5):.1f}s "
            f"p95 {percentile(values, 0.95):.1f}s (last {len(values)})\n"
        )
        sys.stderr.flush()
