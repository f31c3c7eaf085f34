"""FetchFeeds: feed URLs in, raw feed responses out, many in flight per worker.

Fetching is I/O-bound, so the URLs of a bundle are grouped (``BatchElements``) and each group is
fetched concurrently by :class:`newsflow.http.Fetcher`, which keeps every host within its
politeness limits; outcomes leave as they come, so a feed that never answers holds up only
itself. With an :class:`~newsflow.es.EsConfig` the previous run's feed state supplies
the conditional-GET validators, feeds in a failure back-off are skipped, and the new state
(validators, last success, consecutive failures, next poll) is written back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from newsflow.es import EsConfig
from newsflow.feedstate import FeedState, FeedStateStore, PollPolicy, after_fetch, is_due
from newsflow.http import (
    FetchConfig,
    Fetcher,
    FetchError,
    FetchRequest,
    FetchResult,
    redact_url,
)
from schemas.records import Failure, FeedResponse

__all__ = ["FetchFeeds"]

log = logging.getLogger(__name__)
STEP = "fetch"
FLUSH_EVERY = 0.25  # seconds: how long finished feeds may wait for others to share a state write


class FetchFeeds(beam.PTransform):
    """Fetch feeds politely and concurrently.

    Input: ``PCollection[str]`` of feed URLs (deduplicated upstream by the feed list).
    Outputs (a tagged tuple):
      - ``responses`` (main): ``PCollection[FeedResponse]``, ``status`` 200 with the body, or
        304 (unchanged since the last run; empty body);
      - ``dead_letter``: ``PCollection[Failure]``, step ``fetch``, ``error_type`` one of the
        :class:`~newsflow.http.FetchError` kinds (``dns``, ``connect``, ``timeout``,
        ``http_status``, ``too_large``, ``redirect_loop``, ``robots_disallowed``, ...), or
        ``feed_state`` when the state index could not be read or written.
    Counters: ``feeds_fetched``, ``feeds_not_modified``, ``feeds_failed``.

    ``state``: where feed state lives (the index ``<state.index>_feeds``, see
    :mod:`newsflow.feedstate`); ``None`` fetches every feed unconditionally and remembers
    nothing. ``batch_size`` URLs are fetched concurrently at a time per worker.
    """

    def __init__(
        self,
        fetch_config: FetchConfig | None = None,
        state: EsConfig | None = None,
        *,
        batch_size: int = 256,
        poll_policy: PollPolicy | None = None,
    ) -> None:
        super().__init__()
        if fetch_config is not None and not isinstance(fetch_config, FetchConfig):
            raise ValueError(f"fetch_config must be a FetchConfig, got {fetch_config!r}")
        if state is not None and not isinstance(state, EsConfig):
            raise ValueError(f"state must be an EsConfig or None, got {state!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._config = fetch_config or FetchConfig()
        self._state = state
        self._batch_size = batch_size
        self._policy = poll_policy or PollPolicy()

    def expand(self, urls: beam.PCollection[str]) -> beam.pvalue.DoOutputsTuple:
        return (
            urls
            | "Spread feeds" >> beam.Reshuffle()
            | "Group feeds" >> beam.BatchElements(
                min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "Fetch feed batch" >> beam.ParDo(
                _FetchFeedsFn(self._config, self._state, self._policy)
            ).with_outputs("dead_letter", main="responses")
        )


class _FetchFeedsFn(beam.DoFn):
    def __init__(self, config: FetchConfig, state: EsConfig | None, policy: PollPolicy) -> None:
        self._config = config
        self._state = state
        self._policy = policy
        self._fetched = Metrics.counter(self.__class__, "feeds_fetched")
        self._not_modified = Metrics.counter(self.__class__, "feeds_not_modified")
        self._failed = Metrics.counter(self.__class__, "feeds_failed")
        self._fetcher: Fetcher | None = None
        self._store: FeedStateStore | None = None

    def setup(self) -> None:
        self._fetcher = Fetcher(self._config)
        if self._state is not None:
            self._store = FeedStateStore.from_config(self._state)

    def teardown(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()
        if self._store is not None:
            self._store.close()

    def process(self, batch: list[str]) -> Iterator[Any]:
        assert self._fetcher is not None, "setup() was not called"
        now = datetime.now(UTC)
        urls = list(dict.fromkeys(batch))
        states: dict[str, FeedState] = {}
        if self._store is not None:
            try:
                states = self._store.get_many(urls)
            except Exception as exc:  # the cluster is down: fetch unconditionally, say so
                log.warning("cannot read feed state from %s: %s", self._store.index, exc)
                yield beam.pvalue.TaggedOutput(
                    "dead_letter", _state_failure([redact_url(u) for u in urls], exc, now))
        requests: list[FetchRequest] = []
        for url in urls:
            state = states.get(url)
            if not is_due(state, now):
                log.info("skipping %s until %s after %d failures", redact_url(url),
                         state.next_poll_at if state else None,
                         state.consecutive_failures if state else 0)
                continue
            requests.append(FetchRequest(url, state.etag if state else None,
                                         state.last_modified if state else None))
        # Outcomes go out as they come, a quarter of a second's worth at a time, each group
        # once its state is written (the parse step reads it): a feed that never answers holds
        # up only itself, not the batch.
        futures = {self._fetcher.submit(request): request for request in requests}
        pending = set(futures)
        updated: list[FeedState] = []
        outputs: list[Any] = []
        since = time.monotonic()
        while pending:
            done, pending = wait(pending, timeout=FLUSH_EVERY, return_when=FIRST_COMPLETED)
            for future in done:
                request, outcome = futures[future], future.result()
                if isinstance(outcome, FetchError):
                    self._failed.inc()
                    outputs.append(beam.pvalue.TaggedOutput("dead_letter",
                                                            _failure(outcome, now)))
                else:
                    if outcome.not_modified:
                        self._not_modified.inc()
                    else:
                        self._fetched.inc()
                    outputs.append(_response(outcome.url, outcome))  # credentials redacted
                if states:
                    previous = states.get(request.url) or FeedState(feed_url=request.url)
                    updated.append(after_fetch(previous, outcome, now, self._policy))
            if outputs and (not done or not pending or time.monotonic() - since >= FLUSH_EVERY):
                yield from self._flush(updated, outputs, now)
                updated, outputs, since = [], [], time.monotonic()

    def _flush(self, updated: list[FeedState], outputs: list[Any],
               now: datetime) -> Iterator[Any]:
        """Write the state of these feeds, then let their outcomes go."""
        if self._store is not None and updated:
            try:
                self._store.update(updated)
            except Exception as exc:
                log.warning("cannot write feed state to %s: %s", self._store.index, exc)
                outputs.append(beam.pvalue.TaggedOutput(
                    "dead_letter", _state_failure([redact_url(s.feed_url) for s in updated], exc,
                                                  now)))
        # Only now, with the state written, may the parse step (which reads it) see these.
        yield from outputs


def _response(url: str, result: FetchResult) -> FeedResponse:
    return FeedResponse(
        feed_url=url,
        final_url=result.final_url,
        status=result.status,
        body=result.body,
        headers=dict(result.headers),
        fetched_at=result.fetched_at,
        etag=result.etag,
        last_modified=result.last_modified,
    )


def _failure(error: FetchError, now: datetime) -> Failure:
    return Failure(
        step=STEP,
        input=error.url,
        error_type=error.kind,
        message=error.message,
        transient=error.transient,
        at=now,
        context={"feed_url": error.url, "status": error.status, "attempts": error.attempts},
    )


def _state_failure(urls: list[str], exc: Exception, now: datetime) -> Failure:
    return Failure(
        step=STEP,
        input=urls[0] if len(urls) == 1 else f"{urls[0]} and {len(urls) - 1} more feeds",
        error_type="feed_state",
        message=f"feed state unavailable: {type(exc).__name__}: {exc}"[:500],
        transient=True,
        at=now,
        context={"feeds": urls},
    )
