"""KeepEntriesDue: an entry whose article is not stored as it should be stays due.

``ParseFeeds`` remembers a feed's entries as seen, so that the next run skips them, and
``FetchFeeds`` the feed's validators, so that an unchanged feed costs a 304. An entry whose page
failed for now (a 5xx, a timeout: the feed's text stood in, or nothing did) or whose story could
not be indexed is not stored as it should be. This step forgets it again, from the dead letters
that say so: its key leaves the feed's seen ids and the feed's validators are dropped, so the
next run (or ``newsflow deadletters retry``) reads the feed in full, finds the entry new and
fetches its page again. Failures for good (a 404, a page that is not an article) stay seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from newsflow.es import EsConfig
from newsflow.feedstate import FeedStateStore, entry_key
from schemas.records import Failure
from transforms._windowed import WindowedBuffer, windowed

__all__ = ["KeepEntriesDue", "due_entries"]

log = logging.getLogger(__name__)
STEP = "feed_state"
DEAD_LETTER = "dead_letter"


def due_entries(failure: Failure) -> list[tuple[str, str]]:
    """The (feed URL, entry guid) pairs a dead letter leaves unstored: a page that failed for
    now, or every copy of a story that could not be indexed."""
    context = failure.context or {}
    if failure.step == "normalise" and failure.transient:
        feed, guid = context.get("feed_url"), context.get("guid")
        return [(feed, guid)] if feed and guid else []
    if failure.step == "index":
        copies = (context.get("document") or {}).get("copies") or []
        return [(c["feed_url"], c["guid"]) for c in copies
                if c.get("feed_url") and c.get("guid")]
    return []


class KeepEntriesDue(beam.PTransform):
    """Make the entries behind transient page failures and index failures due again.

    Input: ``PCollection[Failure]``, a job's dead letters (those it does not concern pass by).
    Output: ``PCollection[Failure]`` of its own, step ``feed_state``: feed state it could not
    update (the entries then stay seen; their dead letters still hold them for a retry).
    Counters: ``entries_due``.
    """

    def __init__(self, state: EsConfig, *, batch_size: int = 256) -> None:
        super().__init__()
        if not isinstance(state, EsConfig):
            raise ValueError(f"state must be an EsConfig, got {state!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._state = state
        self._batch_size = batch_size

    def expand(self, failures: beam.PCollection[Failure]) -> beam.PCollection[Failure]:
        return (
            failures
            | "Entries left unstored" >> beam.FlatMap(due_entries)
            | "Forget them" >> beam.ParDo(_ForgetFn(self._state, self._batch_size))
        )


class _ForgetFn(beam.DoFn):
    def __init__(self, state: EsConfig, batch_size: int) -> None:
        self._state = state
        self._batch_size = batch_size
        self._due = Metrics.counter(self.__class__, "entries_due")

    def setup(self) -> None:
        self._store = FeedStateStore.from_config(self._state)

    def teardown(self) -> None:
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()

    def start_bundle(self) -> None:
        self._buffer: WindowedBuffer[tuple[str, str]] = WindowedBuffer(self._batch_size)

    def process(self, pair: tuple[str, str], window: Any = beam.DoFn.WindowParam,
                timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        if self._buffer.add(pair, window, timestamp):
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        held = self._buffer.take()
        if not held:
            return
        keys: dict[str, set[str]] = {}
        for (feed, guid), _, _ in held:
            keys.setdefault(feed, set()).add(entry_key(guid))
        try:
            states = self._store.get_many(keys)
            for feed, state in states.items():
                state.seen_ids = [k for k in state.seen_ids if k not in keys[feed]]
                state.etag = state.last_modified = None
            self._store.update(states.values(), fields=("seen_ids", "etag", "last_modified"))
        except Exception as exc:  # noqa: BLE001 - the cluster is down: say which stay seen
            log.warning("cannot keep %d entries due: %s", len(held), exc)
            _, window, timestamp = held[0]
            yield windowed(Failure(
                step=STEP, input=", ".join(sorted(keys))[:500], error_type="feed_state",
                message=f"entries not made due again: {type(exc).__name__}: {exc}"[:500],
                transient=True, at=datetime.now(UTC),
                context={"entries": [list(pair) for pair, _, _ in held]},
            ), window, timestamp)
            return
        self._due.inc(len(held))
