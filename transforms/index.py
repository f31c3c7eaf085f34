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
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

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
# One story's outcome: (ok, story, window, timestamp, the item's info).
_Result = tuple[bool, Story, Any, Any, dict[str, Any]]
# What a batch sent comes back as: each story's outcome, and the counts it made on the way.
_Sent = tuple[list[_Result], Counter[str]]


class Reconcile(Protocol):
    """After a write, the stored stories a written story turns out to copy, merged with it
    (``newsflow.dedupe.stored.Reconciler``); None for each story that copies none."""

    def open(self, client: Any) -> None: ...

    def close(self) -> None: ...

    def __call__(self, written: Sequence[Story]) -> list[Story | None]: ...


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

    A story that absorbed stored stories (``Story.absorbed``: a copy showed they are one
    story) is written first, then each absorbed story is deleted at the version that was read;
    one that changed meanwhile is merged again through ``reconcile`` and deleted then.
    ``recheck_new`` (a streaming job: windows may race) also asks ``reconcile`` about every
    story it created: two windows that each made a new story of the same copies, each having
    looked before the other wrote, find each other once both are written (``refresh`` makes a
    write searchable before it counts as done, so at least one of the two sees the other).
    Counters: ``docs_deleted`` (absorbed stories removed), ``stories_reconciled`` (merges
    written after a write), ``stories_unreconciled`` (stories left apart after ``CONFLICT_ROUNDS``
    tries or a failed request; nothing of them is lost, they stay two stories).

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
        reconcile: Reconcile | None = None,
        recheck_new: bool = False,
        reshuffle: bool = True,
    ) -> None:
        super().__init__()
        if recheck_new and not (reconcile and resolve_conflict and refresh):
            raise ValueError("recheck_new needs reconcile, resolve_conflict and refresh")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_bytes < 1024:
            raise ValueError(f"batch_bytes must be at least 1024, got {batch_bytes}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self._reshuffle = reshuffle
        self._fn = _BulkIndexFn(
            es, batch_size, batch_bytes, max_retries, initial_backoff, max_backoff, refresh,
            resolve_conflict, reconcile, recheck_new,
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
        reconcile: Reconcile | None = None,
        recheck_new: bool = False,
    ) -> None:
        self._es = es
        self._resolve = resolve_conflict
        self._reconcile = reconcile
        self._recheck_new = recheck_new
        self._counters = {name: Metrics.counter(self.__class__, name) for name in (
            "docs_conflicts", "docs_deleted", "stories_reconciled", "stories_unreconciled")}
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
        if self._reconcile is not None:
            self._reconcile.open(self._client)

    def teardown(self) -> None:
        sender = getattr(self, "_sender", None)
        if sender is not None:
            sender.shutdown(wait=True)  # a failed bundle's batches: let them end, then close
        if self._reconcile is not None:
            self._reconcile.close()
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
        results, counts = sent
        for name, n in counts.items():
            self._counters[name].inc(n)
        for ok, story, window, timestamp, error in results:
            if ok:
                self._indexed.inc()
                yield windowed(story.story_id, window, timestamp)
            else:
                self._failed.inc()
                yield windowed(_failure(story, error), window, timestamp, "dead_letter")

    def _send_all(self, batch: list[tuple[bytes, Story, Any, Any]]) -> _Sent:
        """Write a batch, then the follow-ups of what it wrote, in a sender thread (Beam's
        counters belong to the bundle's: they are counted here and added there)."""
        counts: Counter[str] = Counter()
        results, written = self._write(batch, counts)
        self._follow_up(written, counts)
        return results, counts

    def _write(
        self, batch: list[tuple[bytes, Story, Any, Any]], counts: Counter[str]
    ) -> tuple[list[_Result], list[tuple[Story, bool]]]:
        """Each story's outcome, and the stories written (at their new position) with whether
        each was created."""
        pending = [(story, window, ts) for _, story, window, ts in batch]
        # serialised once in process() (for the byte bound); a story combined after a conflict
        # is new and is serialised again
        sources = {story.story_id: source for source, story, _, _ in batch}
        results: list[_Result] = []
        written: list[tuple[Story, bool]] = []
        for attempt in range(CONFLICT_ROUNDS + 1):
            conflicted = []
            for ok, story, window, ts, info in self._bulk(pending, sources):
                if ok:
                    written.append((_at(story, info), info.get("result") == "created"))
                    results.append((ok, story, window, ts, info))
                elif info.get("status") == 409 and self._resolve is not None:
                    conflicted.append((story, window, ts, info))
                else:
                    results.append((ok, story, window, ts, info))
            if not conflicted:
                break
            counts["docs_conflicts"] += len(conflicted)
            if attempt == CONFLICT_ROUNDS:
                results.extend((False, story, window, ts, info)
                               for story, window, ts, info in conflicted)
                break
            current = self._current([story for story, _, _, _ in conflicted])
            for story, _, _, _ in conflicted:
                sources.pop(story.story_id, None)
            resolve = self._resolve
            assert resolve is not None  # conflicts are only collected when there is a resolver
            pending = [
                (resolve(current[s.story_id], s) if s.story_id in current else _unstored(s),
                 window, ts)
                for s, window, ts, _ in conflicted
            ]
        return results, written

    def _follow_up(self, written: list[tuple[Story, bool]], counts: Counter[str]) -> None:
        """Delete what the written stories absorbed; with ``recheck_new``, merge each created
        story with the stored stories it copies (written by a window that raced this one)."""
        to_delete = [story for story, _ in written if story.absorbed]
        to_check = [story for story, created in written if created and self._recheck_new]
        for attempt in range(CONFLICT_ROUNDS + 1):
            if to_delete:
                to_check += self._delete_absorbed(to_delete, counts)
                to_delete = []
            if not to_check or attempt == CONFLICT_ROUNDS or self._reconcile is None:
                break
            try:
                merged = self._reconcile(to_check)
            except Exception as exc:  # noqa: BLE001 - the stories stay as written
                LOG.warning("cannot re-check %d stories just written: %s", len(to_check), exc)
                counts["stories_unreconciled"] += len(to_check)
                return
            to_check = []
            writes = self._one_per_id([story for story in merged if story is not None])
            for ok, story, _, _, info in self._bulk([(s, None, None) for s in writes], {}):
                if ok:
                    counts["stories_reconciled"] += 1
                    to_delete.append(_at(story, info))
                elif info.get("status") == 409:  # changed meanwhile: look at it again
                    to_check += list(self._current([story, *story.absorbed]).values())
                else:
                    LOG.warning("cannot write story %s merged after a write: %s",
                                story.story_id, info.get("error"))
                    counts["stories_unreconciled"] += 1
            to_delete = [story for story in to_delete if story.absorbed]
        if to_check or to_delete:
            counts["stories_unreconciled"] += len(to_check) + len(to_delete)
            LOG.warning("%d stories still overlap others after %d tries",
                        len(to_check) + len(to_delete), CONFLICT_ROUNDS)

    def _one_per_id(self, stories: list[Story]) -> list[Story]:
        """Two re-checked stories merged into the same stored one: one write of both."""
        by_id: dict[str, Story] = {}
        for story in stories:
            seen = by_id.get(story.story_id)
            by_id[story.story_id] = (story if seen is None or self._resolve is None
                                     else self._resolve(seen, story))
        return list(by_id.values())

    def _delete_absorbed(self, survivors: list[Story], counts: Counter[str]) -> list[Story]:
        """Delete each survivor's absorbed stories at the version read; the survivors (as
        stored now) of those that changed meanwhile, to merge again."""
        actions, owner, gone_by_id = [], {}, {}
        for survivor in survivors:
            for gone in survivor.absorbed:
                if gone.seq_no is None or gone.primary_term is None:
                    continue
                owner[gone.story_id], gone_by_id[gone.story_id] = survivor, gone
                actions.append({"_op_type": "delete", "_id": gone.story_id,
                                "_index": gone.stored_index or self._es.index,
                                "if_seq_no": gone.seq_no, "if_primary_term": gone.primary_term})
        changed: list[Story] = []
        results = helpers.streaming_bulk(
            self._client, actions, chunk_size=self._batch_size, raise_on_error=False,
            raise_on_exception=False, max_retries=self._max_retries,
            initial_backoff=self._initial_backoff, max_backoff=self._max_backoff,
            retry_on_status=RETRY_STATUSES, refresh="wait_for" if self._refresh else False,
        )
        for ok, item in results:
            info = next(iter(item.values()))
            status = info.get("status")
            if ok:
                counts["docs_deleted"] += 1
            elif status == 409:  # deleted meanwhile, or it took a copy meanwhile
                changed.append(gone_by_id[str(info.get("_id"))])
            elif status != 404:  # 404: someone else merged it already
                LOG.warning("cannot delete absorbed story %s: %s", info.get("_id"),
                            info.get("error"))
                counts["stories_unreconciled"] += 1
        if not changed:
            return []
        still = self._current(changed)  # what is not there any more, someone else merged
        again = {owner[sid].story_id: owner[sid] for sid in still}
        if again and self._reconcile is None:
            counts["stories_unreconciled"] += len(again)
            return []
        return list(self._current(list(again.values())).values()) if again else []

    def _current(self, stories: Sequence[Story]) -> dict[str, Story]:
        """The stored versions of ``stories`` (by id), each with its position for the next
        write. Read in real time (a version written a moment ago, not yet searchable, is the
        one a write must name) from the index each is in (else the alias, when it has one
        index); a search finds those left."""
        wanted = {s.story_id: s.stored_index for s in stories}
        out: dict[str, Story] = {}
        left = []
        resp = self._client.mget(docs=[{"_index": index or self._es.index, "_id": sid}
                                       for sid, index in wanted.items()])
        for sid, doc in zip(wanted, resp["docs"], strict=True):
            if doc.get("found"):
                out[sid] = _stored(doc)
            elif "error" in doc:  # an alias over several indices: search for it
                left.append(sid)
        if left:
            resp = self._client.search(index=self._es.index, query={"ids": {"values": left}},
                                       size=len(left), seq_no_primary_term=True)
            out.update((hit["_id"], _stored(hit)) for hit in resp["hits"]["hits"])
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


def _stored(hit: dict[str, Any]) -> Story:
    """A stored story from a search hit or a get answer, with its position."""
    stored = Story.from_dict(hit["_source"])
    stored.seq_no, stored.primary_term = hit["_seq_no"], hit["_primary_term"]
    stored.stored_index = hit["_index"]
    return stored


def _at(story: Story, info: dict[str, Any]) -> Story:
    """``story`` as just written: at the position the bulk answer gives."""
    return replace(story, seq_no=info.get("_seq_no"), primary_term=info.get("_primary_term"),
                   stored_index=info.get("_index"))


def _unstored(story: Story) -> Story:
    """A story whose stored version is gone (another story absorbed it meanwhile): written
    anew, and with ``recheck_new`` merged where that version went."""
    return replace(story, seq_no=None, primary_term=None, stored_index=None)


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
