"""`newsflow ingest`: run the ingest pipeline, show progress, end with a summary.

Every flag of ``pipelines/options.py`` and every Beam flag (``--runner``, ``--streaming``, ...)
passes through. Without ``--runner`` the job runs on the local runner chosen in
``newsflow/runners.py``. The exit status says whether the run worked: a few bad feeds do not
fail it, an unreachable Elasticsearch or a run where every feed failed does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEAD_LETTER_DIR = "deadletters"

# Counters the summary reports, in order, with their labels.
SUMMARY_COUNTERS = (
    ("feeds_fetched", "feeds fetched"),
    ("feeds_not_modified", "feeds not modified"),
    ("feeds_failed", "feeds failed"),
    ("entries_parsed", "entries parsed"),
    ("entries_skipped_seen", "entries already seen"),
    ("pages_fetched", "pages fetched"),
    ("pages_failed", "pages failed"),
    ("articles_from_page", "articles from pages"),
    ("articles_from_feed", "articles from feed text"),
    ("articles_truncated", "  of which truncated copies"),
    ("articles_failed", "articles without text"),
    ("stories_new", "new stories"),
    ("copies_merged", "copies merged"),
    ("docs_indexed", "documents indexed"),
    ("docs_failed", "documents failed"),
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ingest",
        help="run the ingest pipeline (feeds → Elasticsearch); Beam flags pass through",
        description="Run the ingest pipeline. Options: --feeds FILE | --feed_url URL, --es_url, "
        "--es_index, --fetch_articles true|false, --dead_letters PATH, --http_timeout, "
        "--per_host_concurrency, --per_host_delay, --runner, --streaming, ... "
        "(see pipelines/options.py).",
    )
    p.set_defaults(func=lambda args: run_ingest(args.rest), pass_through=True)


@dataclass
class Summary:
    """What a run did, from the pipeline's counters and its dead-letter file."""

    counters: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    dead_letter_path: str = ""
    elapsed: float = 0.0
    runner: str = ""

    @property
    def articles(self) -> int:
        return self.counters.get("articles_from_page", 0) + self.counters.get(
            "articles_from_feed", 0
        )

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.elapsed if self.elapsed else 0.0

    def lines(self) -> list[str]:
        out = [f"{label:<28}{self.counters.get(name, 0):>8}" for name, label in SUMMARY_COUNTERS]
        out.append(f"{'dead letters':<28}{self.dead_letters:>8}  {self.dead_letter_path}")
        out.append(f"{'elapsed':<28}{self.elapsed:>7.1f}s")
        out.append(f"{'articles/s':<28}{self.articles_per_second:>8.1f}")
        return out

    def ok(self) -> bool:
        """A run works when Elasticsearch took what it was given and some feed was readable."""
        c = self.counters
        feeds_read = c.get("feeds_fetched", 0) + c.get("feeds_not_modified", 0)
        return feeds_read > 0 and c.get("docs_failed", 0) == 0


def counters_of(result: Any) -> dict[str, int]:
    """Sum every counter of a finished pipeline result by name (ours, not the runner's own)."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query()["counters"]:
        name = counter.key.metric.name
        if name.startswith("metric:"):  # Flink reports Beam's internal metrics as counters too
            continue
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[name] = totals.get(name, 0) + int(value or 0)
    return totals


def run_ingest(argv: list[str], *, quiet: bool = False) -> int:
    """Parse ``argv`` as pipeline options, run the job, print the summary; return exit status.

    ``--streaming`` runs the streaming job (``newsflow/commands/stream.py``) instead.
    """
    if "--streaming" in argv:
        from newsflow.commands.stream import run_streaming

        return run_streaming(argv, quiet=quiet)
    summary = ingest(argv, quiet=quiet)
    if summary is None:
        return 1
    if not quiet:
        print("\n".join(summary.lines()))
    return 0 if summary.ok() else 1


@dataclass
class Prepared:
    """A run that can start: its options (runner filled in), cluster and dead-letter file."""

    options: Any
    config: Any
    dead_path: Path
    local_dead_letters: bool
    runner: str

    def count_dead_letters(self) -> int:
        if not (self.local_dead_letters and self.dead_path.exists()):
            return 0
        return sum(1 for line in self.dead_path.open() if line.strip())


def prepare(argv: list[str], *, streaming: bool, extra_errors: Any = None) -> Prepared | None:
    """Validate ``argv``, check the cluster, pick the runner and the dead-letter file.

    Returns None after printing one clear message when the run cannot start: bad options, an
    unreachable Elasticsearch, a runner that cannot be set up. ``extra_errors(options)`` may
    return more messages (the streaming job's own options).
    """
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from local import RunnerSetupError
    from newsflow import es
    from pipelines import runners
    from pipelines.options import EsOptions, FeedOptions, OutputOptions, validate_all

    command = "newsflow ingest --streaming" if streaming else "newsflow ingest"
    options = PipelineOptions(argv)
    try:
        validate_all(options)
        errors = extra_errors(options) if extra_errors else []
        if errors:
            raise ValueError("bad options:\n  " + "\n  ".join(errors))
        config = options.view_as(EsOptions).es_config()
        es.check_reachable(config)
        es.ensure_index(config)
        options = PipelineOptions(runners.resolve_runner_args(argv, streaming=streaming))
    except (ValueError, es.EsUnavailable, RunnerSetupError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    options.view_as(StandardOptions).streaming = streaming
    feeds = options.view_as(FeedOptions)
    feeds.extract_workers = _extract_workers(feeds, argv)
    output = options.view_as(OutputOptions)
    if not output.dead_letters:
        prefix = "stream" if streaming else "run"
        output.dead_letters = time.strftime(
            f"{DEAD_LETTER_DIR}/{prefix}-%Y%m%dT%H%M%SZ.jsonl", time.gmtime()
        )
    local = "://" not in output.dead_letters  # else gs://... and the like, read there
    dead_path = Path(output.dead_letters)
    if local:
        dead_path.parent.mkdir(parents=True, exist_ok=True)
    return Prepared(options, config, dead_path, local, options.view_as(StandardOptions).runner)


def ingest(argv: list[str], *, quiet: bool = False) -> Summary | None:
    """Run the batch job for ``argv``; None (after one clear message) when it could not start."""
    _prestart_extraction(argv)
    import apache_beam as beam

    from pipelines import ingest as pipeline

    run = prepare(argv, streaming=False)
    if run is None:
        return None
    try:
        urls = pipeline.feed_urls(run.options)
    except ValueError as exc:
        print(f"newsflow ingest: {exc}", file=sys.stderr)
        return None
    if not quiet:
        print(
            f"ingesting {len(urls)} feeds into {run.config.url} (alias {run.config.index})",
            file=sys.stderr,
        )
    started = time.monotonic()
    p = beam.Pipeline(options=run.options)
    pipeline.build(p, run.options, urls, progress=not quiet)
    result = p.run()
    result.wait_until_finish()
    elapsed = time.monotonic() - started
    return Summary(
        counters_of(result), run.count_dead_letters(), str(run.dead_path), elapsed, run.runner
    )


def _prestart_extraction(argv: list[str]) -> None:
    """Start the extraction workers' fork server now when the job will use it (fetching pages
    on this machine, more than one worker): it warms up (about a second of CPU) while the cluster
    is checked and the pipeline built, instead of making the first pages wait for it."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipelines import runners
    from pipelines.options import FeedOptions

    if not runners.is_local(argv):
        return
    feeds = PipelineOptions(argv).view_as(FeedOptions)
    if feeds.fetch_articles == "true" and (_extract_workers(feeds, argv) or 1) > 1:
        from newsflow.extract.pool import prestart

        prestart()


def _extract_workers(feeds: Any, argv: list[str]) -> int | None:
    """``--extract_workers``, else one per core on the local runner (extraction is CPU-bound:
    use every core), else None (the transform's default: in the DoFn's thread)."""
    from pipelines import runners

    if feeds.extract_workers is None and runners.is_local(argv):
        return os.cpu_count() or 1
    workers: int | None = feeds.extract_workers
    return workers

