"""The Elasticsearch sink: stories in, indexed ids and dead letters out.

Documents are written with ``helpers.streaming_bulk`` in batches bounded by count and bytes,
up to ``IN_FLIGHT`` batches at once from background threads, so that the cluster indexes one
batch while the next is serialised (and on two of its write threads when two are in flight).
The ``_id`` is the story id decided upstream by the dedupe step, so a retried bundle or a re-run
overwrites instead of duplicating (the shape of Beam's ``WriteToMongoDB``: decide ids, reshuffle,
write). 429 and 5xx answers are retried with backoff by the client helper; whatever still fails
goes to the ``dead_letter`` output with the reason.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics
from elasticsearch import helpers

from newsflow.es import EsConfig, ensure_index
from schemas.records import Failure, Story
from transforms._windowed import WindowedBuffer, windowed

__all__ = ["IndexArticles"]

LOG = logging.getLogger(__name__)
RETRY_STATUSES = (429, 502, 503, 504)
CONFLICT_ROUNDS = 3  # read-combine-write rounds for a story someone else wrote in between
IN_FLIGHT = 2  # bulk requests one DoFn instance has sent and not yet had answered
# What a batch sent comes back as: (ok, story, window, timestamp, the item's info) for each
# story, and how many conflicts it met on the way.
_Sent = tuple[list[tuple[bool, Story, Any, Any, dict[str, Any]]], int]


class IndexArticles(beam.PTransform):
    """Bulk-index ``Story`` records into the alias ``es.index``.

    Input: ``PCollection[Story]``.
    Outputs (a tagged tuple):
      - ``indexed`` (main): ``PCollection[str]``, the story ids Elasticsearch accepted;
      - ``dead_letter``: ``PCollection[Failure]``, step ``index``, one per document that still
        failed after retries (rejected by the mapping, or the cluster kept refusing).
    Counters: ``docs_indexed``, ``docs_failed``, ``docs_conflicts``.

    ``resolve_conflict(stored, ours)``, when given, turns on optimistic concurrency: a story
    merged into a stored version (``seq_no``/``primary_term`` set) is written only if that
    version is still the current one, a new story only if its id is still free. On a conflict
    (someone wrote in between, e.g. another window of a streaming job) the current version is
    read back, combined with ours by the function, and written again, up to
    ``CONFLICT_ROUNDS`` times; then the story goes to the dead letters. Without it, a write
    simply replaces the document (the batch job's ids make that idempotent).

    ``reshuffle`` (default True) puts a ``Reshuffle`` before the writes, so that a distributed
    runner's retry of the write step re-sends the same stories instead of re-running the steps
    before it. ``False`` writes in the bundles that made the stories, overlapping the two: for
    the local runner, which does not retry a bundle.
    """

    def __init__(
        self,
        es: EsConfig,
        *,
        batch_size: int = 500,
        batch_bytes: int = 5 * 1024 * 1024,
        max_retries: int = 5,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        refresh: bool = False,
        resolve_conflict: Callable[[Story, Story], Story] | None = None,
        reshuffle: bool = True,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_bytes < 1024:
            raise ValueError(f"batch_bytes must be at least 1024, got {batch_bytes}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self._reshuffle = reshuffle
        self._fn = _BulkIndexFn(
            es, batch_size, batch_bytes, max_retries, initial_backoff, max_backoff, refresh,
            resolve_conflict,
        )

    def expand(self, stories: beam.PCollection[Story]) -> beam.pvalue.DoOutputsTuple:
        if self._reshuffle:
            stories = stories | "Reshuffle before write" >> beam.Reshuffle()
        return stories | "Bulk index stories" >> beam.ParDo(self._fn).with_outputs(
            "dead_letter", main="indexed")


class _BulkIndexFn(beam.DoFn):
    def __init__(
        self,
        es: EsConfig,
        batch_size: int,
        batch_bytes: int,
        max_retries: int,
        initial_backoff: float,
        max_backoff: float,
        refresh: bool,
        resolve_conflict: Callable[[Story, Story], Story] | None = None,
    ) -> None:
        self._es = es
        self._resolve = resolve_conflict
        self._conflicts = Metrics.counter(self.__class__, "docs_conflicts")
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._refresh = refresh
        self._indexed = Metrics.counter(self.__class__, "docs_indexed")
        self._failed = Metrics.counter(self.__class__, "docs_failed")

    def setup(self) -> None:
        self._client = self._es.client()
        ensure_index(self._es, self._client)
        self._sender = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="newsflow-bulk")

    def teardown(self) -> None:
        sender = getattr(self, "_sender", None)
        if sender is not None:
            sender.shutdown(wait=True)  # a failed bundle's batches: let them end, then close
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def start_bundle(self) -> None:
        self._buffer: WindowedBuffer[tuple[bytes, Story]] = WindowedBuffer(
            self._batch_size, self._batch_bytes)
        self._sending: deque[Future[_Sent]] = deque()  # oldest first

    def process(
        self,
        story: Story,
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        source = story.to_json()
        if not self._buffer.fits(len(source)):
            yield from self._flush()
        if self._buffer.add((source, story), window, timestamp, size=len(source)):
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()
        while self._sending:
            yield from self._outputs(self._sending.popleft().result())

    def _flush(self) -> Iterator[Any]:
        """Send the buffered batch in the background; emit what the cluster has answered,
        waiting for the oldest batch when ``IN_FLIGHT`` are already out."""
        if self._buffer:
            batch = [(source, story, window, ts)
                     for (source, story), window, ts in self._buffer.take()]
            if len(self._sending) >= IN_FLIGHT:
                yield from self._outputs(self._sending.popleft().result())
            self._sending.append(self._sender.submit(self._send_all, batch))
        while self._sending and self._sending[0].done():
            yield from self._outputs(self._sending.popleft().result())

    def _outputs(self, sent: _Sent) -> Iterator[Any]:
        """Counters and outputs of an answered batch, in this (the bundle's) thread. The
        outputs may belong to earlier elements: each carries its own window."""
        results, conflicts = sent
        self._conflicts.inc(conflicts)
        for ok, story, window, timestamp, error in results:
            if ok:
                self._indexed.inc()
                yield windowed(story.story_id, window, timestamp)
            else:
                self._failed.inc()
                yield windowed(_failure(story, error), window, timestamp, "dead_letter")

    def _send_all(self, batch: list[tuple[bytes, Story, Any, Any]]) -> _Sent:
        """``_send`` to its end, in a sender thread (Beam's counters belong to the bundle's)."""
        conflicts: list[int] = []
        return list(self._send(batch, conflicts)), sum(conflicts)

    def _send(
        self, batch: list[tuple[bytes, Story, Any, Any]], conflicts: list[int]
    ) -> Iterable[tuple[bool, Story, Any, Any, dict[str, Any]]]:
        pending = [(story, window, ts) for _, story, window, ts in batch]
        # serialised once in process() (for the byte bound); a story combined after a conflict
        # is new and is serialised again
        sources = {story.story_id: source for source, story, _, _ in batch}
        for attempt in range(CONFLICT_ROUNDS + 1):
            conflicted = []
            for ok, story, window, ts, info in self._bulk(pending, sources):
                if not ok and info.get("status") == 409 and self._resolve is not None:
                    conflicted.append((story, window, ts, info))
                else:
                    yield ok, story, window, ts, info
            if not conflicted:
                return
            conflicts.append(len(conflicted))
            if attempt == CONFLICT_ROUNDS:
                for story, window, ts, info in conflicted:
                    yield False, story, window, ts, info
                return
            current = self._current([story.story_id for story, _, _, _ in conflicted])
            for story, _, _, _ in conflicted:
                sources.pop(story.story_id, None)
            resolve = self._resolve
            assert resolve is not None  # conflicts are only collected when there is a resolver
            pending = [
                (resolve(current[s.story_id], s) if s.story_id in current else s, window, ts)
                for s, window, ts, _ in conflicted
            ]

    def _current(self, ids: list[str]) -> dict[str, Story]:
        """The stored versions of ``ids``, each with its position for the next write."""
        resp = self._client.search(
            index=self._es.index,
            query={"ids": {"values": ids}},
            size=len(ids),
            seq_no_primary_term=True,
        )
        out = {}
        for hit in resp["hits"]["hits"]:
            stored = Story.from_dict(hit["_source"])
            stored.seq_no, stored.primary_term = hit["_seq_no"], hit["_primary_term"]
            stored.stored_index = hit["_index"]
            out[hit["_id"]] = stored
        return out

    def _action(self, story: Story, source: bytes | None) -> dict[str, Any]:
        action: dict[str, Any] = {
            "_op_type": "index",
            # a stored story is updated where it is: after a rollover the alias writes elsewhere
            "_index": story.stored_index or self._es.index,
            "_id": story.story_id,
            "_source": source if source is not None else story.to_json(),
        }
        if self._resolve is not None:
            if story.seq_no is not None and story.primary_term is not None:
                action["if_seq_no"], action["if_primary_term"] = story.seq_no, story.primary_term
            else:
                action["_op_type"] = "create"
        return action

    def _bulk(
        self, pending: list[tuple[Story, Any, Any]], sources: dict[str, bytes]
    ) -> Iterable[tuple[bool, Story, Any, Any, dict[str, Any]]]:
        by_id = {story.story_id: (story, window, ts) for story, window, ts in pending}
        actions = (self._action(story, sources.get(story.story_id)) for story, _, _ in pending)
        seen: set[str] = set()
        results = helpers.streaming_bulk(
            self._client,
            actions,
            chunk_size=self._batch_size,
            max_chunk_bytes=self._batch_bytes + 1024 * 1024,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=self._max_retries,
            initial_backoff=self._initial_backoff,
            max_backoff=self._max_backoff,
            retry_on_status=RETRY_STATUSES,
            refresh="wait_for" if self._refresh else False,
        )
        for ok, item in results:
            info = next(iter(item.values()))
            doc_id = str(info.get("_id"))
            if doc_id not in by_id or doc_id in seen:
                continue
            seen.add(doc_id)
            story, window, ts = by_id[doc_id]
            yield ok, story, window, ts, info
        # A transport failure can end the generator early: nothing may be lost silently.
        for doc_id, (story, window, ts) in by_id.items():
            if doc_id not in seen:
                yield (
                    False,
                    story,
                    window,
                    ts,
                    {"error": {"type": "no_response", "reason": "no bulk result"}},
                )


def _failure(story: Story, info: dict[str, Any]) -> Failure:
    error = info.get("error") or {}
    if isinstance(error, dict):
        error_type = str(error.get("type", "error"))
        reason = str(error.get("reason", error))
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason = f"{reason}: {caused['reason']}"
    else:
        error_type, reason = "error", str(error)
    status = info.get("status")
    return Failure(
        step="index",
        input=story.story_id,
        error_type=error_type,
        message=f"HTTP {status}: {reason}" if status else reason,
        transient=status in RETRY_STATUSES or status is None or error_type == "no_response",
        at=datetime.now(UTC),
        context={"url": story.url, "document": orjson.loads(story.to_json())},
    )
