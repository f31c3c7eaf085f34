"""The Elasticsearch sink: stories in, indexed ids and dead letters out.

Documents are written with ``helpers.streaming_bulk`` in batches bounded by count and bytes.
The ``_id`` is the story id decided upstream by the dedupe step, so a retried bundle or a re-run
overwrites instead of duplicating (the shape of Beam's ``WriteToMongoDB``: decide ids, reshuffle,
write). 429 and 5xx answers are retried with backoff by the client helper; whatever still fails
goes to the ``dead_letter`` output with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue
from elasticsearch import helpers

from newsflow.es import EsConfig, ensure_index
from schemas.records import Failure, Story

__all__ = ["IndexArticles"]

LOG = logging.getLogger(__name__)
RETRY_STATUSES = (429, 502, 503, 504)


class IndexArticles(beam.PTransform):
    """Bulk-index ``Story`` records into the alias ``es.index``.

    Input: ``PCollection[Story]``.
    Outputs (a tagged tuple):
      - ``indexed`` (main): ``PCollection[str]``, the story ids Elasticsearch accepted;
      - ``dead_letter``: ``PCollection[Failure]``, step ``index``, one per document that still
        failed after retries (rejected by the mapping, or the cluster kept refusing).
    Counters: ``docs_indexed``, ``docs_failed``.
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
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_bytes < 1024:
            raise ValueError(f"batch_bytes must be at least 1024, got {batch_bytes}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self._fn = _BulkIndexFn(
            es, batch_size, batch_bytes, max_retries, initial_backoff, max_backoff, refresh
        )

    def expand(self, stories: beam.PCollection[Story]) -> beam.pvalue.DoOutputsTuple:
        return (
            stories
            | "Reshuffle before write" >> beam.Reshuffle()
            | "Bulk index stories"
            >> beam.ParDo(self._fn).with_outputs("dead_letter", main="indexed")
        )


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
    ) -> None:
        self._es = es
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

    def teardown(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def start_bundle(self) -> None:
        self._buffer: list[tuple[bytes, Story, Any, Any]] = []
        self._buffered_bytes = 0

    def process(
        self,
        story: Story,
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        source = story.to_json()
        if self._buffer and self._buffered_bytes + len(source) > self._batch_bytes:
            yield from self._flush(windowed=False)
        self._buffer.append((source, story, window, timestamp))
        self._buffered_bytes += len(source)
        if len(self._buffer) >= self._batch_size:
            yield from self._flush(windowed=False)

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush(windowed=True)

    def _flush(self, windowed: bool) -> Iterator[Any]:
        if not self._buffer:
            return
        batch, self._buffer, self._buffered_bytes = self._buffer, [], 0
        for ok, story, window, timestamp, error in self._send(batch):
            if ok:
                self._indexed.inc()
                out: Any = story.story_id
            else:
                self._failed.inc()
                out = beam.pvalue.TaggedOutput("dead_letter", _failure(story, error))
            if windowed:
                # finish_bundle has no current element: outputs must carry their own window.
                tag = out.tag if isinstance(out, beam.pvalue.TaggedOutput) else None
                value = out.value if tag else out
                wv = WindowedValue(value, timestamp or MIN_TIMESTAMP, (window or GlobalWindow(),))
                out = beam.pvalue.TaggedOutput(tag, wv) if tag else wv
            yield out

    def _send(
        self, batch: list[tuple[bytes, Story, Any, Any]]
    ) -> Iterable[tuple[bool, Story, Any, Any, dict[str, Any]]]:
        by_id = {story.story_id: (story, window, ts) for _, story, window, ts in batch}
        actions = (
            {
                "_op_type": "index",
                "_index": self._es.index,
                "_id": story.story_id,
                "_source": source,
            }
            for source, story, _, _ in batch
        )
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
