"""Progress lines for people watching a run: how many elements passed a point, and how fast.

Beam reports counters only when a batch job ends, so a long local run would sit silent. This
pass-through step writes ``feeds 7/10`` or ``articles 320 (48.2/s)`` to standard error at most
every ``interval`` seconds from the worker that sees the elements. On the local runner that is
the terminal; on Flink or Dataflow it is the worker log, where progress belongs there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import apache_beam as beam

__all__ = ["ShowProgress"]

T = TypeVar("T")


class ShowProgress(beam.PTransform):
    """Pass every element through unchanged, reporting the count (of ``total``) and the rate.

    Input and output: the same ``PCollection``. No tagged outputs, no counters.
    """

    def __init__(self, noun: str, total: int | None = None, interval: float = 2.0) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self._fn = _ProgressFn(noun, total, interval)

    def expand(self, pcoll: beam.PCollection[T]) -> beam.PCollection[T]:
        return pcoll | f"Count {self._fn.noun}" >> beam.ParDo(self._fn)


class _ProgressFn(beam.DoFn):
    def __init__(self, noun: str, total: int | None, interval: float) -> None:
        self.noun, self._total, self._interval = noun, total, interval

    def setup(self) -> None:
        self._seen = 0
        self._started = time.monotonic()
        self._last = 0.0
        self._reported = 0

    def process(self, element: Any) -> Iterator[Any]:
        now = time.monotonic()
        if not self._seen:
            # the rate counts from the first element, not from start-up; first line after interval
            self._started = self._last = now
        self._seen += 1
        if now - self._last >= self._interval or self._seen == self._total:
            self._last = now
            self._report(now)
        yield element

    def teardown(self) -> None:
        if getattr(self, "_seen", 0) != getattr(self, "_reported", 0):
            self._report(time.monotonic())

    def _report(self, now: float) -> None:
        self._reported = self._seen
        elapsed = max(now - self._started, 1e-6)
        if self._total:
            line = f"{self.noun} {self._seen}/{self._total}"
        else:
            line = f"{self.noun} {self._seen} ({self._seen / elapsed:.1f}/s)"
        sys.stderr.write(f"  … {line}\n")
        sys.stderr.flush()
