"""ParseFeeds: raw feed responses in, one ``FeedEntry`` per entry out, nothing lost.

feedparser reads the bytes with the response headers (see :mod:`newsflow.feeds`); a feed that
is not well-formed but still yields entries is kept (counted in ``entries_bozo`` and logged);
a body that is not a feed goes to the dead letters. With an :class:`~newsflow.es.EsConfig`, the
entries already seen in earlier runs are skipped (``entries_skipped_seen``) and the ids of this
run's entries are remembered in the feed state, with the feed's polling hint (``<ttl>``,
``sy:updatePeriod``) for the streaming job's schedule. Without one, a streaming job
(``seen_in_run``) still skips the entries it emitted earlier in the same run: each feed's seen
ids are kept in Beam state, keyed by feed, for as long as the job runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.coders import ListCoder, StrUtf8Coder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import GlobalWindows

from newsflow.es import EsConfig
from newsflow.feeds import FeedParseError, parse_feed
from newsflow.feedstate import (
    FeedState,
    FeedStateStore,
    PollPolicy,
    after_parse,
    after_parse_failure,
    entry_key,
    split_seen,
)
from schemas.records import Failure, FeedEntry, FeedResponse

__all__ = ["ParseFeeds"]

log = logging.getLogger(__name__)
STEP = "parse"


class ParseFeeds(beam.PTransform):
    """Parse fetched feeds into entries.

    Input: ``PCollection[FeedResponse]`` (304 responses yield nothing: nothing changed).
    Outputs (a tagged tuple):
      - ``entries`` (main): ``PCollection[FeedEntry]``, absolute ``url``, ``published_at`` in
        UTC or ``None`` with ``published_at_note``;
      - ``dead_letter``: ``PCollection[Failure]``, step ``parse``, ``error_type``
        ``not_a_feed`` (an HTML page, JSON, binary) or ``unparseable``; or ``feed_state``.
    Counters: ``entries_parsed`` (all entries found), ``entries_bozo`` (of those, from feeds
    that are not well-formed), ``entries_skipped_seen`` (seen in an earlier run, not emitted),
    ``feeds_failed`` (bodies that are not feeds).

    ``state``: the same :class:`~newsflow.es.EsConfig` given to ``FetchFeeds``; ``None``
    emits every entry every time, unless ``seen_in_run``: then each entry once per run (for a
    streaming job without feed state, which re-reads every feed at each poll; entries keep
    their windows).
    """

    def __init__(
        self,
        state: EsConfig | None = None,
        *,
        batch_size: int = 64,
        poll_policy: PollPolicy | None = None,
        seen_in_run: bool = False,
    ) -> None:
        super().__init__()
        if state is not None and not isinstance(state, EsConfig):
            raise ValueError(f"state must be an EsConfig or None, got {state!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if seen_in_run and state is not None:
            raise ValueError("seen_in_run is for a job without feed state (state=None)")
        self._state = state
        self._batch_size = batch_size
        self._policy = poll_policy or PollPolicy()
        self._seen_in_run = seen_in_run

    def expand(self, responses: beam.PCollection[FeedResponse]) -> ParseOutputs:
        parsed = (
            responses
            | "Group responses" >> beam.BatchElements(
                min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "Parse feed batch" >> beam.ParDo(
                _ParseFeedsFn(self._state, self._policy)
            ).with_outputs("dead_letter", main="entries")
        )
        if not self._seen_in_run:
            return ParseOutputs(entries=parsed.entries, dead_letter=parsed.dead_letter)
        # Seen ids live in keyed state; state is per window, so it is kept in the global
        # window, and the entries go back to their own windows (assigned by timestamp) after.
        windowing = responses.windowing
        entries = (
            parsed.entries
            | "Key by feed" >> beam.Map(
                lambda entry: (entry.feed_url, entry)).with_output_types(tuple[str, Any])
            | "One window for the run" >> beam.WindowInto(GlobalWindows())
            | "Skip seen in run" >> beam.ParDo(_SkipSeenInRunFn(self._policy.max_seen_ids))
            | "Back to their windows" >> beam.WindowInto(
                windowing.windowfn, trigger=windowing.triggerfn,
                accumulation_mode=windowing.accumulation_mode,
                timestamp_combiner=windowing.timestamp_combiner,
                allowed_lateness=windowing.allowed_lateness)
        )
        return ParseOutputs(entries=entries, dead_letter=parsed.dead_letter)


class ParseOutputs(dict):  # type: ignore[type-arg]
    """The outputs by name, also as attributes: ``result.entries``, ``result.dead_letter``."""

    @property
    def entries(self) -> beam.PCollection[FeedEntry]:
        return self["entries"]

    @property
    def dead_letter(self) -> beam.PCollection[Failure]:
        return self["dead_letter"]


class _SkipSeenInRunFn(beam.DoFn):
    """(feed URL, entry) → the entry, unless this feed emitted it earlier in the run."""

    SEEN = ReadModifyWriteStateSpec("seen", ListCoder(StrUtf8Coder()))

    def __init__(self, max_seen: int) -> None:
        self._max_seen = max_seen
        self._skipped = Metrics.counter(self.__class__, "entries_skipped_seen")

    def process(self, item: tuple[str, FeedEntry],
                seen: Any = beam.DoFn.StateParam(SEEN)) -> Iterator[FeedEntry]:  # noqa: B008
        entry = item[1]
        key = entry_key(entry.guid)
        known: list[str] = seen.read() or []
        if key in known:
            self._skipped.inc()
            return
        seen.write([key, *known][: self._max_seen])
        yield entry


class _ParseFeedsFn(beam.DoFn):
    def __init__(self, state: EsConfig | None, policy: PollPolicy) -> None:
        self._state = state
        self._policy = policy
        self._parsed = Metrics.counter(self.__class__, "entries_parsed")
        self._bozo = Metrics.counter(self.__class__, "entries_bozo")
        self._skipped = Metrics.counter(self.__class__, "entries_skipped_seen")
        self._failed = Metrics.counter(self.__class__, "feeds_failed")
        self._store: FeedStateStore | None = None

    def setup(self) -> None:
        if self._state is not None:
            self._store = FeedStateStore.from_config(self._state)

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()

    def process(self, batch: list[FeedResponse]) -> Iterator[Any]:
        now = datetime.now(UTC)
        responses = [r for r in batch if r.status != 304]
        states: dict[str, FeedState] = {}
        if self._store is not None and responses:
            try:
                states = self._store.get_many(r.feed_url for r in responses)
            except Exception as exc:
                log.warning("cannot read feed state from %s: %s", self._store.index, exc)
                yield beam.pvalue.TaggedOutput(
                    "dead_letter", _failure(responses[0].feed_url, "feed_state",
                                            f"feed state unavailable: {exc}", now, True))
        parsed: list[FeedState] = []
        failed: list[FeedState] = []
        entries: list[Any] = []
        for response in responses:
            state = states.get(response.feed_url)
            try:
                feed = parse_feed(response.body, response.headers, response.feed_url,
                                  response.final_url or response.feed_url,
                                  fetched_at=response.fetched_at, now=now)
            except FeedParseError as exc:
                self._failed.inc()
                yield beam.pvalue.TaggedOutput(
                    "dead_letter", _failure(response.feed_url, exc.kind, exc.message, now,
                                            False, response))
                if state is not None:
                    failed.append(after_parse_failure(state, str(exc), now,
                                                              self._policy))
                continue
            self._parsed.inc(len(feed.entries))
            if feed.bozo and feed.entries:
                self._bozo.inc(len(feed.entries))
            guids = [entry.guid for entry in feed.entries]
            fresh, skipped = split_seen(guids, state)
            self._skipped.inc(skipped)
            entries += [entry for entry, is_new in zip(feed.entries, fresh, strict=True)
                        if is_new]
            if state is not None:
                parsed.append(after_parse(state, guids, self._policy,
                                          poll_hint_seconds=feed.poll_hint_seconds))
        if self._store is not None and (parsed or failed):
            try:
                self._store.update_parsed(parsed, failed)
            except Exception as exc:
                log.warning("cannot write feed state to %s: %s", self._store.index, exc)
                yield beam.pvalue.TaggedOutput(
                    "dead_letter", _failure(responses[0].feed_url, "feed_state",
                                            f"feed state not saved: {exc}", now, True))
        # Only now, with the entries remembered, may later steps see them: a page that fails
        # may then make its entry due again (KeepEntriesDue) without this write undoing it.
        yield from entries


def _failure(feed_url: str, kind: str, message: str, now: datetime, transient: bool,
             response: FeedResponse | None = None) -> Failure:
    context: dict[str, Any] = {"feed_url": feed_url}
    if response is not None:
        context |= {"final_url": response.final_url,
                   "content_type": response.headers.get("content-type", ""),
                   "bytes": len(response.body)}
    return Failure(step=STEP, input=feed_url, error_type=kind, message=message[:500],
                   transient=transient, at=now, context=context)
