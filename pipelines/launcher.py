"""Starts an ingest job: prepare, build and submit it, then wait for it or not, and sum it up.

Every way in calls this module: ``newsflow ingest`` and ``newsflow run`` (through ``main`` and
``run``), ``python -m pipelines.ingest`` (``main``), and a template launcher such as Dataflow's
(``submit``: build, submit, return). ``prepare`` refuses a bad start before any work: flags no
option class knows, bad values, flags the mode cannot honour, an unreachable cluster, a runner
that cannot be set up. A run's exit status says whether it worked: a few bad feeds do not fail
it; an unreachable Elasticsearch, a run where every feed failed or a document Elasticsearch
refused does.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult, PipelineState

from local import RunnerSetupError
from newsflow import es
from newsflow.es import EsConfig
from pipelines import pipeline, runners
from pipelines.options import (
    ArticleOptions,
    DeadLetterOptions,
    EsOptions,
    StreamOptions,
    help_text,
    unknown_flags,
    validate_all,
)

__all__ = ["Job", "LaunchError", "Summary", "counters_of", "main", "prepare", "run", "submit"]

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
    ("pages_due", "  of which pages to read again"),
    ("articles_truncated", "  of which truncated copies"),
    ("articles_failed", "articles without text"),
    ("stories_new", "new stories"),
    ("copies_merged", "copies merged"),
    ("docs_indexed", "documents indexed"),
    ("docs_failed", "documents failed"),
)


class LaunchError(Exception):
    """The job cannot start; the message says why, in a line or a few."""


@dataclass
class Job:
    """A job ready to build: its options (runner filled in), cluster, feeds and dead letters."""

    options: PipelineOptions
    es: EsConfig
    streaming: bool
    runner: str
    urls: list[str]  # the feed list now (a streaming job re-reads it at each poll)
    dead_letters: str

    def count_dead_letters(self) -> int:
        """Dead letters written so far: the lines of the file (batch) or of the folder's files
        (streaming), on any filesystem Beam reads; 0 where there are none yet."""
        from apache_beam.io.filesystems import FileSystems

        pattern = self.dead_letters.rstrip("/") + "/*.jsonl" if self.streaming else (
            self.dead_letters)
        try:
            found = FileSystems.match([pattern])[0].metadata_list
        except Exception:  # noqa: BLE001 - nothing written (or nothing readable) yet
            return 0
        count = 0
        for match in found:
            with FileSystems.open(match.path) as handle:
                count += sum(1 for line in handle.read().splitlines() if line.strip())
        return count


@dataclass
class Summary:
    """What a run did, from the pipeline's counters and its dead-letter file."""

    counters: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    dead_letter_path: str = ""
    elapsed: float = 0.0
    runner: str = ""
    streaming: bool = False
    done: bool = True  # the job ended by itself (a streaming job: drained, not cancelled)
    freshness: tuple[int, float, int, int] = (0, 0.0, 0, 0)  # ms: count, mean, min, max

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
        if self.streaming:
            count, mean, low, high = self.freshness
            out.append(f"{'freshness (ms)':<28}{mean:>8.0f}  mean of {count}, min {low}, "
                       f"max {high}")
        return out

    def ok(self) -> bool:
        """Batch: Elasticsearch took what it was given and some feed was readable. Streaming:
        Elasticsearch took what it was given and the job drained."""
        c = self.counters
        if c.get("docs_failed", 0):
            return False
        if self.streaming:
            return self.done
        read = c.get("feeds_fetched", 0) + c.get("feeds_not_modified", 0)
        return read > 0 or c.get("docs_indexed", 0) > 0  # a retry may replay no feed


def counters_of(result: PipelineResult) -> dict[str, int]:
    """Sum every counter of a pipeline result by name (ours, not the runner's own)."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query()["counters"]:
        name = counter.key.metric.name
        if name.startswith("metric:"):  # Flink reports Beam's internal metrics as counters too
            continue
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[name] = totals.get(name, 0) + int(value or 0)
    return totals


def _distribution(result: PipelineResult, name: str) -> tuple[int, float, int, int]:
    """(count, mean, min, max) of a Distribution summed over steps; zeros when absent."""
    count = total = low = high = 0
    try:
        found = result.metrics().query()["distributions"]
    except Exception:  # noqa: BLE001 - a runner without metrics: report none
        return 0, 0.0, 0, 0
    for dist in found:
        if dist.key.metric.name != name:
            continue
        data = dist.committed if dist.committed is not None else dist.attempted
        if data is None or not data.count:
            continue
        low = data.min if not count else min(low, data.min)
        high = max(high, data.max)
        count += data.count
        total += data.sum
    return count, (total / count if count else 0.0), low, high


def _extract_workers(options: PipelineOptions, argv: list[str]) -> int | None:
    """``--extract_workers``, else one per core on the local runner (extraction is CPU-bound:
    use every core), else None (the transform's default: in the DoFn's thread)."""
    workers: int | None = options.view_as(ArticleOptions).extract_workers
    if workers is None and runners.is_local(argv):
        return os.cpu_count() or 1
    return workers


def _prestart_extraction(argv: list[str]) -> None:
    """Start the extraction workers' fork server now when the job will use it (fetching pages
    on this machine, more than one worker): it warms up (about a second of CPU) while the cluster
    is checked and the pipeline built, instead of making the first pages wait for it."""
    if not runners.is_local(argv):
        return
    options = PipelineOptions(argv)
    fetches = options.view_as(ArticleOptions).fetch_articles == "true"
    if fetches and (_extract_workers(options, argv) or 1) > 1:
        from newsflow.extract.pool import prestart

        prestart()


def prepare(argv: list[str], *, check_cluster: bool = True, replay: bool = False) -> Job:
    """Check ``argv`` and everything the job needs before it is built; ``LaunchError`` names
    what is wrong. ``check_cluster``: also reach Elasticsearch and make the index (a template
    launcher may not reach it; the index sink makes the index from the workers)."""
    unknown = unknown_flags(argv)
    if unknown:
        raise LaunchError("\n  ".join(["bad arguments:", *unknown]))
    options = PipelineOptions(argv)
    streaming = bool(options.view_as(StandardOptions).streaming)
    try:
        validate_all(options, need_feeds=not replay)
        urls = pipeline.feed_urls(options)
        if check_cluster:
            _prestart_extraction(argv)
            config = options.view_as(EsOptions).es_config()
            es.check_reachable(config)
            es.ensure_index(config)
        options = PipelineOptions(runners.resolve_runner_args(argv, streaming=streaming))
    except (ValueError, es.EsUnavailable, RunnerSetupError) as exc:
        raise LaunchError(str(exc)) from None
    standard = options.view_as(StandardOptions)
    standard.streaming = streaming
    options.view_as(ArticleOptions).extract_workers = _extract_workers(options, argv)
    output = options.view_as(DeadLetterOptions)
    if not output.dead_letters:
        if not _workers_here(options):
            raise LaunchError("--dead_letters: give a path every worker can write to (e.g. "
                              "gs://bucket/deadletters/run.jsonl): this job's workers are not "
                              "on this machine")
        output.dead_letters = time.strftime(
            f"{DEAD_LETTER_DIR}/stream-%Y%m%dT%H%M%SZ" if streaming
            else f"{DEAD_LETTER_DIR}/run-%Y%m%dT%H%M%SZ.jsonl", time.gmtime())
    if "://" not in output.dead_letters:  # else gs://... and the like, written there
        where = Path(output.dead_letters)
        (where if streaming else where.parent).mkdir(parents=True, exist_ok=True)
    return Job(options, options.view_as(EsOptions).es_config(), streaming,
               str(standard.runner), urls, output.dead_letters)


def _workers_here(options: PipelineOptions) -> bool:
    """Whether the job's workers run on this machine, where a default local path is readable:
    Beam's local runners, and any runner whose SDK workers are this process (LOOPBACK)."""
    from apache_beam.options.pipeline_options import PortableOptions

    runner = str(options.view_as(StandardOptions).runner or "")
    environment = options.view_as(PortableOptions).environment_type or ""
    return runners.runs_on_this_machine(runner or None) or runner == "PrismRunner" or (
        environment.upper() == "LOOPBACK")


def start(job: Job, *, progress: bool = False, stop_file: str | None = None,
          replay: pipeline.Replay | None = None) -> PipelineResult:
    """Build the job's pipeline and submit it; the result of a job that may still run."""
    p = beam.Pipeline(options=job.options)
    pipeline.build(p, job.options, urls=job.urls, stop_file=stop_file, progress=progress,
                   replay=replay)
    return p.run()


def submit(argv: list[str]) -> PipelineResult:
    """A template launcher's call: check, build, submit and return, without waiting for the
    job or reaching its cluster."""
    return start(prepare(argv, check_cluster=False))


def wait(job: Job, result: PipelineResult, started: float, *, stop_file: str | None = None,
         quiet: bool = True) -> Summary:
    """Wait for the job to end and sum it up. A streaming job in the main thread drains on
    SIGINT/SIGTERM (``stop_file`` is created: the source ends at its next tick and every open
    window is flushed); a second signal cancels it."""
    if job.streaming and stop_file:
        _wait_draining(result, stop_file, quiet)
    else:
        result.wait_until_finish()
    return Summary(
        counters=counters_of(result),
        dead_letters=job.count_dead_letters(),
        dead_letter_path=job.dead_letters,
        elapsed=time.monotonic() - started,
        runner=job.runner,
        streaming=job.streaming,
        done=result.state == PipelineState.DONE,
        freshness=_distribution(result, "freshness_ms") if job.streaming else (0, 0.0, 0, 0),
    )


def _wait_draining(result: PipelineResult, stop_file: str, quiet: bool) -> None:
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            Path(stop_file).touch()
            if not quiet:
                print("draining: polling stops at the next tick, open windows flush "
                      "(signal again to cancel)", file=sys.stderr)
        else:
            try:
                result.cancel()
            except Exception:  # noqa: BLE001 - already ending
                pass

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    waiter = threading.Thread(target=result.wait_until_finish, name="stream-wait", daemon=True)
    waiter.start()
    try:
        while waiter.is_alive():
            waiter.join(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(argv: list[str], *, quiet: bool = False, stop_file: str | None = None,
        prog: str = "newsflow ingest", replay: pipeline.Replay | None = None) -> Summary | None:
    """Prepare, start and wait for the job ``argv`` describes; its summary, or None after one
    message on standard error when it could not start. A streaming job runs until ``--duration``
    ends, a signal drains it, or ``stop_file`` appears (default: a private temporary path).
    ``replay``: a batch job's entries and stories to retry besides its feeds."""
    try:
        job = prepare(argv, replay=bool(replay))
    except LaunchError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    if not quiet:
        print(_starting(job), file=sys.stderr)
    own_stop = job.streaming and stop_file is None
    if own_stop:
        stop_file = os.path.join(tempfile.mkdtemp(prefix="newsflow-stream-"), "stop")
    if stop_file:
        Path(stop_file).unlink(missing_ok=True)
    started = time.monotonic()
    try:
        result = start(job, progress=not quiet, stop_file=stop_file, replay=replay)
        return wait(job, result, started, stop_file=stop_file, quiet=quiet)
    finally:
        if own_stop and stop_file:
            Path(stop_file).unlink(missing_ok=True)
            Path(stop_file).parent.rmdir()


def _starting(job: Job) -> str:
    where = f"into {job.es.url} (alias {job.es.index})"
    if not job.streaming:
        return f"ingesting {len(job.urls)} feeds {where}"
    stream = job.options.view_as(StreamOptions)
    until = (f"for {stream.duration:.0f} s" if stream.duration
             else "until stopped (Ctrl-C drains)")
    return f"streaming {where}, polling every {stream.poll_interval:g} s, {until}"


def main(argv: list[str], *, prog: str = "newsflow ingest") -> int:
    """The ingest command: help, or run the job and print its summary; the exit status."""
    if "-h" in argv or "--help" in argv:
        print(help_text(prog), end="")
        return 0
    summary = run(argv, prog=prog)
    if summary is None:
        return 1
    print("\n".join(summary.lines()))
    return 0 if summary.ok() else 1
