"""The ingest pipeline, batch or streaming: a source, ``IngestFeeds``, ``WriteDeadLetters``.

``build`` applies it to a given pipeline and computes nothing itself. Batch reads the feed list
once (``Create``); streaming polls it (``PollFeeds``) and windows what each poll tick fetched by
arrival time, so that dedupe groups a few ticks at a time (``docs/design.md`` says why arrival
time and not publication time). Everything after the source is ``ingest``, the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.window import FixedWindows
from apache_beam.utils.timestamp import Duration

from newsflow.feedlist import load_feed_list
from pipelines.options import (
    ArticleOptions,
    DeadLetterOptions,
    DedupeOptions,
    EsOptions,
    FeedOptions,
    FetchOptions,
    StreamOptions,
)
from pipelines.runners import runs_on_this_machine
from schemas.records import Failure, FeedEntry, Story
from transforms.deadletters import WriteDeadLetters
from transforms.ingest import IngestFeeds
from transforms.poll import PollFeeds

__all__ = ["IngestOutputs", "Replay", "build", "feed_urls", "ingest"]


@dataclass
class Replay:
    """What a retry feeds back into a batch job besides its feeds: entries whose page failed
    for now (fetched and extracted again) and stories that could not be indexed (written
    again), both as their dead letters held them."""

    entries: list[FeedEntry] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entries or self.stories)


@dataclass
class IngestOutputs:
    """The PCollections a caller (a test) may want to look at."""

    indexed: beam.PCollection[str]
    dead_letters: beam.PCollection[Failure]


def feed_urls(options: PipelineOptions) -> list[str]:
    """The deduplicated feed list from --feeds and --feed_url (a bad line is a ValueError)."""
    feeds = options.view_as(FeedOptions)
    sources = load_feed_list(feeds.feed_url, [feeds.feeds] if feeds.feeds else [])
    return [source.url for source in sources]


def build(
    p: beam.Pipeline,
    options: PipelineOptions,
    *,
    urls: list[str] | None = None,
    stop_file: str | None = None,
    progress: bool = False,
    replay: Replay | None = None,
) -> IngestOutputs:
    """Apply the ingest job ``options`` describe to ``p``. Batch: ``urls`` (default: the feed
    list), and what ``replay`` holds. Streaming: the source ends (and the job drains) once
    ``stop_file`` exists. ``progress`` adds progress lines on standard error."""
    if not options.view_as(StandardOptions).streaming:
        urls = feed_urls(options) if urls is None else urls
        source: Any = p | "Feed list" >> beam.Create(urls)
        if replay:
            source = {"feeds": source,
                      "entries": p | "Entries to retry" >> beam.Create(replay.entries),
                      "stories": p | "Stories to retry" >> beam.Create(replay.stories)}
        return ingest(source, options, progress=progress, feed_count=len(urls))
    feeds = options.view_as(FeedOptions)
    stream = options.view_as(StreamOptions)
    source = p | "Poll feeds" >> PollFeeds(
        options.view_as(EsOptions).es_config() if feeds.feed_state == "true" else None,
        feeds_file=feeds.feeds,
        feed_urls=feeds.feed_url,
        poll_interval=stream.poll_interval,
        bounds=stream.bounds(),
        stop_after=stream.duration or None,
        stop_file=stop_file,
        progress=progress,
    )
    return ingest(source, options, progress=progress)


def ingest(
    urls: Any,
    options: PipelineOptions,
    *,
    progress: bool = False,
    feed_count: int | None = None,
) -> IngestOutputs:
    """Everything after the source. Streaming: ``urls`` are the feeds due at each poll tick,
    stamped with the tick's time (``PollFeeds``' output; a ``TestStream`` in tests). Batch: a
    ``PCollection`` of feed URLs, or ``IngestFeeds``' dict of them with entries and stories."""
    streaming = bool(options.view_as(StandardOptions).streaming)
    runner = options.view_as(StandardOptions).runner
    dedupe = options.view_as(DedupeOptions)
    articles = options.view_as(ArticleOptions)
    es_options = options.view_as(EsOptions)
    # The local batch runner runs the whole job in one process and retries no bundle.
    local_batch = not streaming and runs_on_this_machine(runner)
    if streaming:
        stream = options.view_as(StreamOptions)
        # Each article keeps its poll tick's window all the way to dedupe, so the watermark
        # waits for it; lateness up to the horizon is a safety net (docs/design.md).
        urls = urls | "Arrival windows" >> beam.WindowInto(
            FixedWindows(stream.window_seconds()),
            allowed_lateness=Duration(seconds=dedupe.dedupe_horizon_hours * 3600),
        )
    core = urls | "Ingest feeds" >> IngestFeeds(
        es_options.es_config(),
        options.view_as(FetchOptions).fetch_config(),
        feed_state=options.view_as(FeedOptions).feed_state == "true",
        seen_in_run=streaming,
        poll_policy=options.view_as(StreamOptions).poll_policy() if streaming else None,
        fetch_pages=articles.fetch_articles == "true",
        extract_workers=articles.extract_workers or 1,
        rules=dedupe.rules(),
        dedupe_in_memory=dedupe.dedupe_in_one_worker(runner, streaming=streaming),
        reshuffle_before_index=not local_batch,
        es_batch_size=es_options.es_batch_size,
        freshness=streaming,
        progress=progress,
        feed_count=feed_count,
    )
    dead_letters = options.view_as(DeadLetterOptions).dead_letters
    if dead_letters:
        _ = core.dead_letter | "Write dead letters" >> WriteDeadLetters(
            dead_letters, streaming=streaming)
    return IngestOutputs(indexed=core.indexed, dead_letters=core.dead_letter)
