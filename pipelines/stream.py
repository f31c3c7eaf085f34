"""The streaming ingest pipeline: the batch job's transforms behind a polling source.

``build_streaming`` applies, in order: ``PollFeeds`` (a tick every ``--poll_interval`` seconds;
the feed list re-read when it changes; each feed polled on its own schedule) → the same
``FetchFeeds`` → ``ParseFeeds`` → ``NormaliseArticles`` as ``pipelines/ingest.py`` (conditional
requests and seen entries through the feed state) → windows → ``DedupeArticles(es=...)`` →
``MeasureFreshness`` → ``IndexArticles``. Only the source and the windowing differ from batch.

Windowing, and why
------------------
Each article's event time is its ``published_at`` (its fetch time when absent); that is the time
dedupe compares against the horizon (``--dedupe_horizon_hours``) both between articles and
against stories already indexed. The windows that *group* articles for dedupe, however, are
fixed windows on arrival time: the time of the poll tick that fetched the feed,
``--dedupe_window`` seconds long (default: two poll intervals), with the default trigger. The
tick's URLs are windowed as they leave ``PollFeeds``, so every feed response, entry and article
made from them stays in that window and keeps a timestamp in it (``BatchElements`` in
``FetchFeeds``/``ParseFeeds`` stamps a windowed batch with its window's end; a global-window
batch emitted from ``finish_bundle`` would get the end of time instead).

* Elements never get an earlier timestamp on the way. The source's watermark runs up to one
  tick ahead of the clock, and only elements in flight with their own timestamps hold it back;
  re-stamping an article downstream (say with its ``fetched_at``) puts it behind a watermark
  that did not wait for it, and the dedupe grouping drops it as late data without a word
  (1,000 feeds lost more than half their articles so). With the tick's window kept, a window
  closes only once every article from its ticks has reached dedupe.
* ``DedupeArticles`` is a chain of keyed groupings (band buckets, two joins of candidate pairs
  with their articles, label propagation rounds, components). A pane is only right when every
  stage sees the same complete set of articles, which the watermark trigger guarantees and which
  early, late or allowed-lateness firings do not: an early pane of the pair join may hold the
  articles but not yet the pairs, and in discarding mode that pair is gone; in accumulating
  mode the first pane indexes singleton stories the next pane contradicts.
* Windows on ``published_at`` would therefore wait for the watermark, which a polling source can
  only hold back by the horizon (72 h of delay), or treat almost every entry as late (a feed
  lists entries published minutes to days before the poll) with exactly those partial panes.
* Still, under load Prism was seen dropping whole windows of articles inside dedupe's chain of
  groupings (1,000 feeds: 542–679 of 1,500 entries searchable in some runs, all in others) with
  no dead letter and no counter. The windows therefore allow lateness up to the horizon: an
  article the runner considers late fires a late pane instead of vanishing. That pane may hold
  only part of a story's copies (the partial-pane problem above), but a late pane's stories
  still merge with what the on-time pane indexed through the Elasticsearch lookup, and nothing
  is lost (1,000 feeds: 1,500 of 1,500 searchable in every run since). The cause, found later:
  Prism split the tick source under load, and the split-off half set the source's watermark to
  a far-future tick, so every later article was late; the source now refuses such splits
  (``transforms/poll.py``, ``_TickTracker``). Checked with the allowed lateness set to zero and
  two CPU burners beside the job (``bench/stream.py --feeds 1000 --seconds 120 --rate 12.5``):
  with Beam's own tracker, 682 of 1,375 entries searchable; with ``_TickTracker``, 1,375 of
  1,375 in two runs of two. The allowed lateness stays as a safety net.
* On arrival time every article is on time: a window closes once its last tick's articles are
  through, so a story is indexed within about ``dedupe_window`` plus one poll's work of its
  first fetch. In-memory dedupe state is bounded by one window (not by the horizon, not by the
  archive). A copy arriving in a later window, or days later but published within the horizon,
  merges into the stored story through ``DedupeArticles``' Elasticsearch lookup by band keys,
  which keeps the stored ``story_id``. A copy published further apart than the horizon stays
  apart, as in batch.

Dead letters are appended to ``--dead_letters`` as JSON lines as they happen (a streaming job
never "ends" to write a file at the end); with several workers give each its own path or use
``--dead_letter_index``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.window import FixedWindows, GlobalWindows
from apache_beam.utils.timestamp import Duration

from newsflow.dedupe import DEFAULT_RULES
from newsflow.dedupe.story import resolve_write_conflict
from newsflow.feedstate import PollPolicy
from newsflow.schedule import ScheduleBounds
from pipelines.options import EsOptions, FeedOptions, FetchOptions, OutputOptions
from schemas.records import Failure
from transforms.dedupe import DedupeArticles
from transforms.fetch import FetchFeeds
from transforms.freshness import MeasureFreshness
from transforms.index import IndexArticles
from transforms.normalise import NormaliseArticles
from transforms.parse import ParseFeeds
from transforms.poll import PollFeeds

__all__ = ["StreamOptions", "StreamOutputs", "build_streaming", "ingest_polls"]


class StreamOptions(PipelineOptions):
    """How often the streaming job polls, how long it runs, how it windows dedupe."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--poll_interval", type=float, default=15.0,
            help="seconds between two looks at which feeds are due",
        )
        parser.add_argument(
            "--min_poll_interval", type=float, default=60.0,
            help="least seconds between two polls of one feed",
        )
        parser.add_argument(
            "--max_poll_interval", type=float, default=3600.0,
            help="most seconds between two polls of one feed (unchanged or failing)",
        )
        parser.add_argument(
            "--duration", type=float, default=0.0,
            help="stop polling after this many seconds and drain (0: run until stopped)",
        )
        parser.add_argument(
            "--dedupe_window", type=float, default=0.0,
            help="seconds of arrivals deduplicated together (0: two poll intervals)",
        )

    def validate(self) -> list[str]:
        errors = []
        for name in ("poll_interval", "min_poll_interval", "max_poll_interval"):
            if getattr(self, name) <= 0:
                errors.append(f"--{name} must be positive, got {getattr(self, name)}")
        if 0 < self.max_poll_interval < self.min_poll_interval:
            errors.append(f"--max_poll_interval ({self.max_poll_interval}) is below "
                          f"--min_poll_interval ({self.min_poll_interval})")
        if self.duration < 0:
            errors.append(f"--duration must be 0 (forever) or positive, got {self.duration}")
        if self.dedupe_window < 0:
            errors.append(f"--dedupe_window must be 0 (default) or positive, "
                          f"got {self.dedupe_window}")
        return errors

    def window_seconds(self) -> float:
        return self.dedupe_window or 2 * self.poll_interval

    def bounds(self) -> ScheduleBounds:
        return ScheduleBounds(
            min_interval=timedelta(seconds=self.min_poll_interval),
            max_interval=timedelta(seconds=self.max_poll_interval),
        )


@dataclass
class StreamOutputs:
    """The PCollections a caller (a test) may want to look at."""

    indexed: beam.PCollection[str]
    dead_letters: beam.PCollection[Failure]


def build_streaming(
    p: beam.Pipeline,
    options: PipelineOptions,
    *,
    stop_file: str | None = None,
    progress: bool = False,
) -> StreamOutputs:
    """Apply the streaming ingest to ``p``. ``stop_file``: the source ends (and the job drains)
    once this file exists; ``progress`` adds progress and freshness lines on standard error."""
    feeds = options.view_as(FeedOptions)
    stream = options.view_as(StreamOptions)
    urls = p | "Poll feeds" >> PollFeeds(
        options.view_as(EsOptions).es_config(),
        feeds_file=feeds.feeds,
        feed_urls=feeds.feed_url,
        poll_interval=stream.poll_interval,
        bounds=stream.bounds(),
        stop_after=stream.duration or None,
        stop_file=stop_file,
        progress=progress,
    )
    return ingest_polls(urls, options, progress=progress)


def ingest_polls(
    urls: beam.PCollection[str],
    options: PipelineOptions,
    *,
    progress: bool = False,
) -> StreamOutputs:
    """Everything after the source: ``urls`` are the feeds due at each poll tick, each with the
    tick's time as its timestamp (``PollFeeds``' output; a ``TestStream`` in tests)."""
    feeds = options.view_as(FeedOptions)
    fetch = options.view_as(FetchOptions).fetch_config()
    es_options = options.view_as(EsOptions)
    es = es_options.es_config()
    stream = options.view_as(StreamOptions)
    output = options.view_as(OutputOptions)
    bounds = stream.bounds()
    # FetchFeeds' own failure back-off within the same bounds as the schedule.
    policy = PollPolicy(backoff_base=bounds.min_interval, backoff_max=bounds.max_interval)
    rules = replace(DEFAULT_RULES, horizon=timedelta(hours=output.dedupe_horizon_hours))

    # Windowed at the tick, so everything made from a poll keeps its time (module docstring).
    polls = urls | "Arrival windows" >> beam.WindowInto(
        FixedWindows(stream.window_seconds()),
        allowed_lateness=Duration(seconds=output.dedupe_horizon_hours * 3600),
    )
    fetched = polls | "Fetch feeds" >> FetchFeeds(fetch, state=es, poll_policy=policy)
    entries = fetched.responses | "Parse feeds" >> ParseFeeds(state=es, poll_policy=policy)
    articles = entries.entries | "Normalise articles" >> NormaliseArticles(
        fetch,
        fetch_pages=feeds.fetch_articles == "true",
        extract_workers=feeds.extract_workers or 1,
    )
    stories = articles.articles | "Dedupe articles" >> DedupeArticles(es=es, rules=rules)
    measured = stories.stories | "Measure freshness" >> MeasureFreshness(progress=progress)
    indexed = measured | "Index stories" >> IndexArticles(
        es, batch_size=es_options.es_batch_size, resolve_conflict=resolve_write_conflict
    )

    windowed_dead = (fetched.dead_letter, entries.dead_letter, articles.dead_letter,
                     stories.dead_letter, indexed.dead_letter)
    dead = tuple(
        failures | f"Unwindow dead letters {n}" >> beam.WindowInto(GlobalWindows())
        for n, failures in enumerate(windowed_dead, start=1)
    ) | "Collect dead letters" >> beam.Flatten()
    if output.dead_letters:
        _ = dead | "Write dead letters" >> beam.ParDo(_AppendJsonLinesFn(output.dead_letters))
    return StreamOutputs(indexed=indexed.indexed, dead_letters=dead)


class _AppendJsonLinesFn(beam.DoFn):
    """Append each failure to a JSON-lines file, flushed at once (no end-of-job write)."""

    def __init__(self, path: str) -> None:
        self._path = path

    def setup(self) -> None:
        self._file: IO[bytes] | None = open(self._path, "ab")  # noqa: SIM115 - closed in teardown

    def teardown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def process(self, failure: Failure) -> Any:
        assert self._file is not None
        self._file.write(orjson.dumps(failure.to_dict()) + b"\n")
        self._file.flush()
        return ()
