"""The ingest pipeline: feeds → entries → articles → stories → Elasticsearch.

``build`` applies the transforms to a given pipeline and computes nothing itself; ``run`` is the
thin entry point (``newsflow ingest`` and ``python -m pipelines.ingest``). The same transforms
serve the streaming job; only the source and the windowing differ.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import apache_beam as beam
import orjson
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from newsflow.dedupe.story import resolve_write_conflict
from newsflow.feedlist import load_feed_list
from pipelines.options import EsOptions, FeedOptions, FetchOptions, OutputOptions
from pipelines.runners import runs_on_this_machine
from schemas.records import Failure
from transforms.dedupe import DedupeArticles
from transforms.fetch import FetchFeeds
from transforms.index import IndexArticles
from transforms.normalise import NormaliseArticles
from transforms.parse import ParseFeeds
from transforms.progress import ShowProgress

LOG = logging.getLogger(__name__)


@dataclass
class IngestOutputs:
    """The PCollections a caller (a test, the summary) may want to look at."""

    indexed: beam.PCollection[str]
    dead_letters: beam.PCollection[Failure]


def feed_urls(options: PipelineOptions) -> list[str]:
    """The deduplicated feed list from --feeds and --feed_url (a bad line is a ValueError)."""
    feeds = options.view_as(FeedOptions)
    sources = load_feed_list(feeds.feed_url, [feeds.feeds] if feeds.feeds else [])
    return [source.url for source in sources]


def build(
    p: beam.Pipeline, options: PipelineOptions, urls: list[str], *, progress: bool = False
) -> IngestOutputs:
    """Apply the batch ingest transforms to ``p`` for ``urls``; ``progress`` adds progress lines."""
    feeds = options.view_as(FeedOptions)
    fetch = options.view_as(FetchOptions).fetch_config()
    es_options = options.view_as(EsOptions)
    es = es_options.es_config()
    state = es if feeds.feed_state == "true" else None

    fetched = p | "Feed list" >> beam.Create(urls) | "Fetch feeds" >> FetchFeeds(fetch, state=state)
    entries = fetched.responses | "Parse feeds" >> ParseFeeds(state=state)
    articles = entries.entries | "Normalise articles" >> NormaliseArticles(
        fetch,
        fetch_pages=feeds.fetch_articles == "true",
        extract_workers=feeds.extract_workers or 1,
    )
    normalised = articles.articles
    if progress:
        _ = (
            (
                fetched.responses | "Fetched feed URL" >> beam.Map(lambda r: r.feed_url),
                fetched.dead_letter | "Failed feed URL" >> beam.Map(lambda f: f.input),
            )
            | "Feeds done" >> beam.Flatten()
            | "Feed progress" >> ShowProgress("feeds", total=len(urls))
        )
        normalised = normalised | "Article progress" >> ShowProgress("articles")
    output = options.view_as(OutputOptions)
    runner = options.view_as(StandardOptions).runner
    in_memory = output.dedupe_in_one_worker(runner)
    stories = normalised | "Dedupe articles" >> DedupeArticles(es=es, in_memory=in_memory)
    indexed = stories.stories | "Index stories" >> IndexArticles(
        es, batch_size=es_options.es_batch_size, resolve_conflict=resolve_write_conflict,
        reshuffle=not runs_on_this_machine(runner),
    )

    dead = (
        fetched.dead_letter,
        entries.dead_letter,
        articles.dead_letter,
        stories.dead_letter,
        indexed.dead_letter,
    ) | "Collect dead letters" >> beam.Flatten()
    _ = (
        dead
        | "Dead letters to JSON" >> beam.Map(lambda f: orjson.dumps(f.to_dict()).decode())
        | "Write dead letters"
        >> beam.io.WriteToText(output.dead_letters, shard_name_template="", num_shards=1)
    )
    return IngestOutputs(indexed=indexed.indexed, dead_letters=dead)


def main(argv: list[str] | None = None) -> int:
    from newsflow.commands.ingest import run_ingest

    return run_ingest(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
