"""Feed entries to normalised articles: fetch each article page, extract the story, normalise it.

Fetching is I/O-bound and paced per host, so the DoFn queues every entry's page with the
worker's shared, polite HTTP layer as the entry arrives (``newsflow.http.Fetcher.submit``: the
process's frontier serves all hosts side by side, each within its limits) and takes pages as
they come back, from whichever hosts are ready. Extraction is pure logic in
``newsflow.extract`` and pure CPU, so with ``extract_workers > 1`` it runs in a pool of
processes: pages are handed over as they arrive (up to ``EXTRACT_CHUNK`` to a task) and each
article is emitted once its extraction is done. Only the end of a bundle waits, for that
bundle's own pages. When a page cannot be fetched or yields no story text, the feed entry's
own content stands in (the article says ``body_source='feed'``); when neither has text, the
entry goes to the dead letters with the reason.
"""

from __future__ import annotations

import itertools
import logging
import queue
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
from newsflow.http import (
    REFUSED_ADDRESS,
    FetchConfig,
    Fetcher,
    FetchError,
    FetchRequest,
    FetchResult,
)
from schemas.records import Article, Failure, FeedEntry

__all__ = ["NormaliseArticles"]

LOG = logging.getLogger(__name__)
STEP = "normalise"
_HTML_TYPES = ("html", "xml", "text/plain")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# An entry in the DoFn: the element, its window and timestamp (outputs come outside its call).
_Element = tuple[FeedEntry, Any, Any]
# A fetched entry: the element, the fetch outcome, its extraction (pool mode) or None.
_Fetched = tuple[_Element, FetchResult | FetchError | None, Future[Any] | None]
# Pages whose extraction may be unfinished before the DoFn waits for the oldest (pool mode): a
# backlog for the workers while they start and a bound on the page bodies held meanwhile.
MAX_WAITING = 256
# Pages handed to the pool in one task while the workers have enough to do: one round trip to a
# worker costs this process about half a millisecond of CPU, which this shares out.
EXTRACT_CHUNK = 8


class NormaliseArticles(beam.PTransform):
    """Fetch, extract and normalise the article behind each feed entry.

    Input: ``PCollection[FeedEntry]``.
    Outputs (a tagged tuple):
      - ``articles`` (main): ``PCollection[Article]``, one per entry that has story text, from
        its page (``body_source='page'``) or, when the page failed or had no text, from the
        feed entry's content (``body_source='feed'``);
      - ``dead_letter``: ``PCollection[Failure]``, step ``normalise``, one per entry with no text
        from either, and one per transient page failure (whatever stood in), holding the entry
        (``context["entry"]``); ``error_type`` is the fetch error kind (``http_status``,
        ``timeout``, ``refused_address``: never indexed, not even from the feed) or ``no_text``.
    Counters: ``pages_fetched``, ``pages_failed``, ``articles_from_page``,
    ``articles_from_feed``, ``articles_truncated``, ``articles_failed``, ``pages_due`` (pages
    that failed for now while the feed's text stood in: each also has a transient dead letter
    holding its entry, so that a retry, or the next run, fetches the page again).

    ``fetch_pages=False`` skips the network and builds every article from its feed entry
    (``body_source='feed'``); ``fall_back_to_feed=False`` dead-letters a page without text
    instead. ``max_queued`` bounds the entries of a DoFn instance whose page is queued or held
    (``process`` waits for pages beyond it); they are fetched from all their hosts at once.

    ``extract_workers`` (default 1: in the DoFn's thread) is how many processes extract pages;
    with more than one, the DoFn instances of a worker share one pool of that many
    (``newsflow.extract.pool``: forked from a warmed-up server, started in the background while
    the first pages download, stopped when the last instance is torn down). Either way outputs
    come as pages arrive and are extracted, in any order, up to the end of the bundle; the
    outputs, dead letters and counters are the same.
    """

    def __init__(self, fetch: FetchConfig | None = None, *, max_queued: int = 10_000,
                 fetch_pages: bool = True, fall_back_to_feed: bool = True,
                 extract_workers: int = 1) -> None:
        super().__init__()
        if fetch is not None and not isinstance(fetch, FetchConfig):
            raise ValueError(f"fetch must be a FetchConfig, got {type(fetch).__name__}")
        if isinstance(max_queued, bool) or not isinstance(max_queued, int) or max_queued < 1:
            raise ValueError(f"max_queued must be a positive integer, got {max_queued!r}")
        if (isinstance(extract_workers, bool) or not isinstance(extract_workers, int)
                or extract_workers < 1):
            raise ValueError(
                f"extract_workers must be a positive integer, got {extract_workers!r}")
        self._fn = _NormaliseFn(fetch or FetchConfig(), max_queued, fetch_pages,
                                fall_back_to_feed, extract_workers)

    def expand(self, entries: beam.PCollection[FeedEntry]) -> beam.pvalue.DoOutputsTuple:
        return entries | "Normalise articles" >> beam.ParDo(self._fn).with_outputs(
            "dead_letter", main="articles"
        )


class _NormaliseFn(beam.DoFn):
    def __init__(self, fetch: FetchConfig, max_queued: int, fetch_pages: bool,
                 fall_back_to_feed: bool, extract_workers: int = 1) -> None:
        self._config = fetch
        self._max_queued = max_queued
        self._fetch_pages = fetch_pages
        self._fall_back = fall_back_to_feed
        self._workers = extract_workers
        self._fetched = Metrics.counter(self.__class__, "pages_fetched")
        self._fetch_failed = Metrics.counter(self.__class__, "pages_failed")
        self._from_page = Metrics.counter(self.__class__, "articles_from_page")
        self._from_feed = Metrics.counter(self.__class__, "articles_from_feed")
        self._truncated = Metrics.counter(self.__class__, "articles_truncated")
        self._failed = Metrics.counter(self.__class__, "articles_failed")
        self._due = Metrics.counter(self.__class__, "pages_due")

    def setup(self) -> None:
        self._fetcher = Fetcher(self._config) if self._fetch_pages else None
        self._pool: ExtractionPool | None = None
        if self._fetcher is not None and self._workers > 1:
            # The process's pool, shared by every instance of this DoFn; it starts in the
            # background (its workers warm up while the first pages download).
            self._pool = ExtractionPool.acquire(self._workers)

    def teardown(self) -> None:
        fetcher = getattr(self, "_fetcher", None)
        if fetcher is not None:
            fetcher.close()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            # Every extraction was collected by finish_bundle: nothing is lost by not waiting
            # for the idle workers to exit.
            pool.release()
            self._pool = None

    def start_bundle(self) -> None:
        # Pages queued with the fetcher: their entries, by URL (one fetch for repeated URLs).
        self._queued: dict[str, list[_Element]] = {}
        # What has happened since last looked at, told by other threads: ("page", url,
        # outcome) when a fetch ends, ("extracted", task, None) when a pool task ends.
        self._events: queue.SimpleQueue[tuple[str, Any, Any]] = queue.SimpleQueue()
        # Pool mode: fetched pages not handed to the pool yet; the pool's tasks that have not
        # told they ended, oldest first, with their pages; how many pages those hold.
        self._chunk: list[tuple[_Element, FetchResult]] = []
        self._tasks: dict[int, list[_Fetched]] = {}
        self._task_ids = itertools.count()
        self._waiting = 0
        # Fetched entries ready to go out (their extraction is done, or they need none).
        self._ready: list[_Fetched] = []

    def process(
        self,
        entry: FeedEntry,
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        element = (entry, window, timestamp)
        if self._fetcher is None:
            yield from self._normalise(entry, None)
            return
        if entry.url in self._queued:
            self._queued[entry.url].append(element)
        else:
            self._queued[entry.url] = [element]
            events, url = self._events, entry.url  # this bundle's queue

            def arrived(done: Future[FetchResult | FetchError]) -> None:
                events.put(("page", url, done.result()))

            self._fetcher.submit(FetchRequest(url, accept=PAGE_ACCEPT)).add_done_callback(arrived)
        yield from self._take(wait=len(self._queued) + self._waiting > self._max_queued)

    def finish_bundle(self) -> Iterator[Any]:
        if self._fetcher is not None:
            yield from self._take(wait=True, final=True)

    def _take(self, wait: bool, final: bool = False) -> Iterator[Any]:
        """Take the pages that have arrived (handing them to the pool, or extracting them here)
        and emit the articles that are done. With ``wait``, wait for at least one event;
        ``final`` waits until every page of the bundle is done and emitted."""
        while True:
            # Block only while something will still be told: a page on its way, a pool task.
            block = wait and bool(self._queued or self._tasks)
            try:
                kind, key, outcome = self._events.get(block=block)
            except queue.Empty:
                break
            wait = False
            if kind == "extracted":
                done = self._tasks.pop(key, [])  # gone: waited for already (MAX_WAITING)
                self._waiting -= len(done)
                self._ready += done
            else:
                for element in self._queued.pop(key):
                    self._arrived(element, outcome)
        self._hand_over(force=final and not self._queued)
        yield from self._emit_ready()
        while final and (self._queued or self._tasks or self._chunk):
            yield from self._take(wait=True)
            self._hand_over(force=not self._queued)
            yield from self._emit_ready()

    def _arrived(self, element: _Element, outcome: FetchResult | FetchError) -> None:
        if self._pool is not None and isinstance(outcome, FetchResult) and (
                not outcome.not_modified and _not_html(outcome) is None):
            self._chunk.append((element, outcome))
        else:
            self._ready.append((element, outcome, None))

    def _hand_over(self, force: bool) -> None:
        """Give the pool the pages that have arrived: in tasks of ``EXTRACT_CHUNK``, and the
        rest too when the workers are short of work (or ``force``)."""
        if self._pool is None:
            return
        while len(self._chunk) >= EXTRACT_CHUNK or (
                self._chunk and (force or len(self._tasks) < 2 * self._workers)):
            part, self._chunk = self._chunk[:EXTRACT_CHUNK], self._chunk[EXTRACT_CHUNK:]
            task = next(self._task_ids)
            futures = self._submit(part, task)
            self._tasks[task] = [(element, page, future)
                                 for (element, page), future in zip(part, futures, strict=True)]
            self._waiting += len(part)

    def _emit_ready(self) -> Iterator[Any]:
        """The articles that are ready, oldest first; then, while more than ``MAX_WAITING``
        pages wait for the pool, the oldest task's, waiting for it."""
        ready, self._ready = self._ready, []
        for item in ready:
            yield from self._output(item)
        while self._waiting > MAX_WAITING:
            oldest = next(iter(self._tasks))
            items = self._tasks.pop(oldest)
            self._waiting -= len(items)
            for item in items:
                yield from self._output(item)  # waits for its extraction

    def _output(self, item: _Fetched) -> Iterator[Any]:
        (entry, window, timestamp), outcome, extracted = item
        # Outputs may belong to earlier elements: each carries its own window.
        for out in self._normalise(entry, outcome, extracted):
            yield _windowed(out, window, timestamp)

    def _submit(self, part: list[tuple[_Element, FetchResult]], task: int) -> list[Future[Any]]:
        """Hand the pages of ``part`` to the pool in one task; a future per page. When it ends,
        the task says so (``("extracted", task, None)``)."""
        from newsflow.extract import extract_article_or_error

        calls = [((page.body, page.final_url),
                  {"fetched_at": page.fetched_at, "headers": page.headers,
                   "entry": entry, "fetched_url": entry.url})
                 for (entry, _, _), page in part]
        assert self._pool is not None
        try:
            futures = self._pool.submit_each(extract_article_or_error, calls)
        except BrokenProcessPool:  # a worker died (its pages are dead letters): start anew
            self._pool = self._pool.renewed()
            futures = self._pool.submit_each(extract_article_or_error, calls)
        events = self._events  # this bundle's: a later bundle starts afresh
        futures[-1].add_done_callback(lambda _: events.put(("extracted", task, None)))
        return futures

    def _normalise(self, entry: FeedEntry, outcome: FetchResult | FetchError | None,
                   extracted: Future[Any] | None = None) -> Iterator[Any]:
        """The article of ``entry`` (from its page, else from the feed's text), or its dead
        letter; and, when its page failed for now (5xx, a timeout, a broken connection), a
        transient dead letter holding the entry as well, so that the page is fetched again."""
        from newsflow.extract import article_from_feed, extract_article_or_error

        reason: tuple[str, str, bool] = ("no_text", "pages are not fetched", False)
        fetched_at = datetime.now(UTC)
        fall_back = self._fall_back or outcome is None
        if outcome is None:
            pass  # fetch_pages=False: the feed entry is all we have
        elif isinstance(outcome, FetchError):
            self._fetch_failed.inc()
            reason = (outcome.kind, str(outcome), outcome.transient)
            # A link to an address we may not connect to is not indexed, not even as the
            # feed's text: its dead letter says why and how to allow it.
            fall_back = fall_back and outcome.kind != REFUSED_ADDRESS
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
                    yield self._emit(article, self._from_page)
                    return
                if article is not None:
                    reason = ("no_text", "the page has no story text", False)
        error_type, message, transient = reason
        if fall_back:
            article = article_from_feed(entry, fetched_at=fetched_at)
            if article.body:
                yield self._emit(article, self._from_feed)
                if transient:  # the feed's text stands in until the page can be read
                    self._due.inc()
                    yield self._failure(entry, error_type, f"{message}; the feed's text stands "
                                        "in until the page is fetched again", True)
                return
            message = f"{message}; the feed entry has no content either"
        self._failed.inc()
        yield self._failure(entry, error_type, message, transient)

    def _failure(self, entry: FeedEntry, error_type: str, message: str,
                 transient: bool) -> beam.pvalue.TaggedOutput:
        """A dead letter; a transient one holds the entry, for the retry that fetches it."""
        context: dict[str, Any] = {"feed_url": entry.feed_url, "guid": entry.guid}
        if transient:
            context["entry"] = entry.to_dict()
        return beam.pvalue.TaggedOutput(
            "dead_letter",
            Failure(step=STEP, input=entry.url, error_type=error_type, message=message,
                    transient=transient, at=datetime.now(UTC), context=context),
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
