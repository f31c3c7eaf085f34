"""Feed entries to normalised articles: fetch each article page, extract the story, normalise it.

Fetching is I/O-bound, so the DoFn buffers a bundle's entries and fetches a batch of pages at
once through the shared, polite HTTP layer (``newsflow.http.Fetcher.fetch_many``: many requests
in flight, per-host limits). Extraction is pure logic in ``newsflow.extract`` and pure CPU, so
with ``extract_workers > 1`` it runs in a pool of processes: pages are handed over as they
arrive (``EXTRACT_CHUNK`` to a task), and the DoFn goes on fetching while the pool extracts,
emitting each article once its extraction is done (up to ``MAX_WAITING`` pages ahead of the
pool). When a page cannot be fetched or yields no story text, the feed entry's own content
stands in (the article says ``body_source='feed'``); when neither has text, the entry goes to
the dead letters with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from newsflow.extract.pool import ExtractionPool
from newsflow.http import FetchConfig, Fetcher, FetchError, FetchResult
from schemas.records import Article, Failure, FeedEntry

__all__ = ["NormaliseArticles"]

LOG = logging.getLogger(__name__)
STEP = "normalise"
_HTML_TYPES = ("html", "xml", "text/plain")
_PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# A fetched entry in pool mode: (entry, window, timestamp, outcome, its extraction or None).
_Pending = tuple[FeedEntry, Any, Any, FetchResult | FetchError, Future[Any] | None]
# Pages whose extraction may be unfinished before the DoFn waits for the oldest (pool mode): a
# backlog for the workers while they start (the first second of a job) and a bound on the page
# bodies held meanwhile (a few tens of MB of real pages).
MAX_WAITING = 256
# Pages handed to the pool in one task (pool mode): one round trip to a worker each costs this
# process about half a millisecond of CPU, which this shares out.
EXTRACT_CHUNK = 8


class NormaliseArticles(beam.PTransform):
    """Fetch, extract and normalise the article behind each feed entry.

    Input: ``PCollection[FeedEntry]``.
    Outputs (a tagged tuple):
      - ``articles`` (main): ``PCollection[Article]``, one per entry that has story text, from
        its page (``body_source='page'``) or, when the page failed or had no text, from the
        feed entry's content (``body_source='feed'``);
      - ``dead_letter``: ``PCollection[Failure]``, step ``normalise``, one per entry with no text
        from either; ``error_type`` is the fetch error kind (``http_status``, ``timeout``, ...)
        or ``no_text``.
    Counters: ``pages_fetched``, ``pages_failed``, ``articles_from_page``,
    ``articles_from_feed``, ``articles_truncated``, ``articles_failed``.

    ``fetch_pages=False`` skips the network and builds every article from its feed entry
    (``body_source='feed'``); ``fall_back_to_feed=False`` dead-letters a page without text
    instead. ``batch_size`` pages are fetched concurrently.

    ``extract_workers`` (default 1: in the DoFn's thread) is how many processes extract pages;
    with more than one, each DoFn instance starts a pool of that many
    (``newsflow.extract.pool``: forked from a warmed-up server, in the background while the
    first pages download) in ``setup()`` and stops it in ``teardown()``; pages are extracted
    while the next ones are fetched, so outputs come when their extraction is done, in any
    order, up to the end of the bundle. Outputs, dead letters and counters are the same either
    way.
    """

    def __init__(self, fetch: FetchConfig | None = None, *, batch_size: int = 32,
                 fetch_pages: bool = True, fall_back_to_feed: bool = True,
                 extract_workers: int = 1) -> None:
        super().__init__()
        if fetch is not None and not isinstance(fetch, FetchConfig):
            raise ValueError(f"fetch must be a FetchConfig, got {type(fetch).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if (isinstance(extract_workers, bool) or not isinstance(extract_workers, int)
                or extract_workers < 1):
            raise ValueError(
                f"extract_workers must be a positive integer, got {extract_workers!r}")
        self._fn = _NormaliseFn(fetch or FetchConfig(accept=_PAGE_ACCEPT), batch_size,
                                fetch_pages, fall_back_to_feed, extract_workers)

    def expand(self, entries: beam.PCollection[FeedEntry]) -> beam.pvalue.DoOutputsTuple:
        return entries | "Normalise articles" >> beam.ParDo(self._fn).with_outputs(
            "dead_letter", main="articles"
        )


class _NormaliseFn(beam.DoFn):
    def __init__(self, fetch: FetchConfig, batch_size: int, fetch_pages: bool,
                 fall_back_to_feed: bool, extract_workers: int = 1) -> None:
        self._config = fetch
        self._batch_size = batch_size
        self._fetch_pages = fetch_pages
        self._fall_back = fall_back_to_feed
        self._workers = extract_workers
        self._fetched = Metrics.counter(self.__class__, "pages_fetched")
        self._fetch_failed = Metrics.counter(self.__class__, "pages_failed")
        self._from_page = Metrics.counter(self.__class__, "articles_from_page")
        self._from_feed = Metrics.counter(self.__class__, "articles_from_feed")
        self._truncated = Metrics.counter(self.__class__, "articles_truncated")
        self._failed = Metrics.counter(self.__class__, "articles_failed")

    def setup(self) -> None:
        self._fetcher = Fetcher(self._config) if self._fetch_pages else None
        self._pool: ExtractionPool | None = None
        if self._fetcher is not None and self._workers > 1:
            # Starts in the background (its workers warm up while the first pages download).
            self._pool = ExtractionPool(self._workers)

    def teardown(self) -> None:
        fetcher = getattr(self, "_fetcher", None)
        if fetcher is not None:
            fetcher.close()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            # Every extraction was collected by finish_bundle: nothing is lost by not waiting
            # for the idle workers to exit (about 0.3 s at the end of every batch job).
            pool.shutdown()
            self._pool = None

    def start_bundle(self) -> None:
        self._buffer: list[tuple[FeedEntry, Any, Any]] = []
        # Pool mode: fetched entries whose extraction may still be running, oldest first.
        self._pending: list[_Pending] = []

    def process(
        self,
        entry: FeedEntry,
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        self._buffer.append((entry, window, timestamp))
        if len(self._buffer) >= self._batch_size:
            yield from self._flush(windowed=False)

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush(windowed=True)

    def _flush(self, windowed: bool) -> Iterator[Any]:
        if self._pool is not None:
            yield from self._flush_to_pool(final=windowed)
            return
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        urls = list(dict.fromkeys(entry.url for entry, _, _ in batch))
        outcomes: dict[str, FetchResult | FetchError | None] = {}
        if self._fetcher is not None:
            for request, fetched in self._fetcher.fetch_many(urls):
                outcomes[request if isinstance(request, str) else request.url] = fetched
        for entry, window, timestamp in batch:
            outcome = outcomes.get(entry.url)
            if outcome is None and self._fetcher is not None:
                outcome = FetchError("bad_url", "not fetched", entry.url)
            out = self._normalise(entry, outcome)
            yield _windowed(out, window, timestamp) if windowed else out

    def _flush_to_pool(self, final: bool) -> Iterator[Any]:
        """Fetch the buffered batch, handing each page to the pool as it arrives; then emit what
        the pool has finished (see ``_take_ready``), or, at the end of the bundle, everything."""
        assert self._pool is not None and self._fetcher is not None
        batch, self._buffer = self._buffer, []
        if batch:
            positions: dict[str, list[int]] = {}
            for i, (entry, _, _) in enumerate(batch):
                positions.setdefault(entry.url, []).append(i)
            outcomes: dict[str, FetchResult | FetchError] = {}
            extracting: dict[int, Future[Any]] = {}
            chunk: list[tuple[int, FetchResult]] = []  # (position in the batch, its page)
            for request, fetched in self._fetcher.fetch_many(list(positions)):
                url = request if isinstance(request, str) else request.url
                outcomes[url] = fetched
                if isinstance(fetched, FetchResult) and _not_html(fetched) is None:
                    chunk += [(i, fetched) for i in positions[url]]
                    if len(chunk) >= EXTRACT_CHUNK:
                        extracting.update(self._submit(batch, chunk))
                        chunk = []
            if chunk:
                extracting.update(self._submit(batch, chunk))
            for i, (entry, window, timestamp) in enumerate(batch):
                outcome = outcomes.get(entry.url)
                if outcome is None:
                    outcome = FetchError("bad_url", "not fetched", entry.url)
                self._pending.append((entry, window, timestamp, outcome, extracting.get(i)))
        if final:
            ready, self._pending = self._pending, []
        else:
            ready, self._pending = self._take_ready()
        for entry, window, timestamp, outcome, extracted in ready:
            # Outputs may belong to earlier elements: each carries its own window.
            yield _windowed(self._normalise(entry, outcome, extracted), window, timestamp)

    def _take_ready(self) -> tuple[list[_Pending], list[_Pending]]:
        """(to emit, to keep): the pending entries whose extraction is done (or who need
        none), oldest first, and the oldest of the others beyond ``MAX_WAITING`` (emitting those
        waits for them). This thread never waits for the pool otherwise: it goes on fetching
        and parsing while the workers start and while they catch up."""
        ready: list[_Pending] = []
        waiting: list[_Pending] = []
        for item in self._pending:
            extracted = item[4]
            (ready if extracted is None or extracted.done() else waiting).append(item)
        overflow = len(waiting) - MAX_WAITING
        if overflow > 0:
            ready += waiting[:overflow]
            waiting = waiting[overflow:]
        return ready, waiting

    def _submit(self, batch: list[tuple[FeedEntry, Any, Any]],
                chunk: list[tuple[int, FetchResult]]) -> dict[int, Future[Any]]:
        """Hand the pages of ``chunk`` to the pool in one task; their futures by position."""
        from newsflow.extract import extract_article_or_error

        calls = [((page.body, page.final_url),
                  {"fetched_at": page.fetched_at, "headers": page.headers,
                   "entry": batch[i][0], "fetched_url": batch[i][0].url})
                 for i, page in chunk]
        assert self._pool is not None
        try:
            futures = self._pool.submit_each(extract_article_or_error, calls)
        except BrokenProcessPool:  # a worker died (its pages are dead letters): start anew
            self._pool.shutdown()
            self._pool = ExtractionPool(self._workers)
            futures = self._pool.submit_each(extract_article_or_error, calls)
        return {i: future for (i, _), future in zip(chunk, futures, strict=True)}

    def _normalise(self, entry: FeedEntry, outcome: FetchResult | FetchError | None,
                   extracted: Future[Any] | None = None) -> Any:
        from newsflow.extract import article_from_feed, extract_article_or_error

        reason: tuple[str, str, bool] = ("no_text", "pages are not fetched", False)
        fetched_at = datetime.now(UTC)
        if outcome is None:
            pass  # fetch_pages=False: the feed entry is all we have
        elif isinstance(outcome, FetchError):
            self._fetch_failed.inc()
            reason = (outcome.kind, str(outcome), outcome.transient)
        else:
            self._fetched.inc()
            fetched_at = outcome.fetched_at
            not_html = _not_html(outcome)
            if not_html is not None:
                reason = not_html
            else:
                if extracted is None:
                    result = extract_article_or_error(
                        outcome.body, outcome.final_url, fetched_at=outcome.fetched_at,
                        headers=outcome.headers, entry=entry, fetched_url=entry.url,
                    )
                else:
                    try:
                        result = extracted.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. a worker died on this page
                        result = f"{type(exc).__name__}: {exc}"
                article = result if isinstance(result, Article) else None
                if isinstance(result, str):  # a page we cannot read is a dead letter
                    LOG.warning("extraction failed for %s: %s", entry.url, result)
                    reason = ("extract_error", result, False)
                if article is not None and article.body:
                    return self._emit(article, self._from_page)
                if article is not None:
                    reason = ("no_text", "the page has no story text", False)
        if self._fall_back or outcome is None:
            article = article_from_feed(entry, fetched_at=fetched_at)
            if article.body:
                return self._emit(article, self._from_feed)
        self._failed.inc()
        error_type, message, transient = reason
        if self._fall_back or outcome is None:
            message = f"{message}; the feed entry has no content either"
        return beam.pvalue.TaggedOutput(
            "dead_letter",
            Failure(step=STEP, input=entry.url, error_type=error_type, message=message,
                    transient=transient, at=datetime.now(UTC),
                    context={"feed_url": entry.feed_url, "guid": entry.guid}),
        )

    def _emit(self, article: Article, counter: Any) -> Article:
        counter.inc()
        if article.truncated:
            self._truncated.inc()
        return article


def _not_html(page: FetchResult) -> tuple[str, str, bool] | None:
    """The dead-letter reason of a page that is not HTML (nor text), else None."""
    content_type = page.content_type.lower()
    if content_type and not any(t in content_type for t in _HTML_TYPES):
        return ("not_html", f"content type {content_type!r}", False)
    return None


def _windowed(out: Any, window: Any, timestamp: Any) -> Any:
    """``out`` in its element's window, for outputs made outside that element's ``process``."""
    tag = out.tag if isinstance(out, beam.pvalue.TaggedOutput) else None
    value = out.value if tag else out
    wv = WindowedValue(value, timestamp or MIN_TIMESTAMP, (window or GlobalWindow(),))
    return beam.pvalue.TaggedOutput(tag, wv) if tag else wv
