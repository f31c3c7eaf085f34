"""The ingest job's options, one ``PipelineOptions`` class per concern.

All option classes share one argument parser with Beam's own, so every flag is prefixed by its
concern (``--es_url``, ``--http_timeout``, ``--dedupe_horizon_hours``). Each class has a
``validate()`` that returns one message per bad value; ``validate_all`` raises them together,
with the flags a mode cannot honour (``--poll_interval`` in a batch job), before anything runs.
``unknown_flags`` names what neither our classes nor Beam's know, with the closest known flag.
Secrets come from the environment or a file, never from a flag.
"""

from __future__ import annotations

import argparse
import difflib
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from newsflow.dedupe import DEFAULT_RULES, MatchRules
from newsflow.es import EsConfig
from newsflow.feedstate import PollPolicy
from newsflow.http import FetchConfig
from newsflow.netguard import ALLOW_HOSTS_ENV, parse_allowlist
from newsflow.schedule import ScheduleBounds
from pipelines.runners import runs_on_this_machine

__all__ = [
    "OPTION_CLASSES",
    "ArticleOptions",
    "DeadLetterOptions",
    "DedupeOptions",
    "EsOptions",
    "FeedOptions",
    "FetchOptions",
    "StreamOptions",
    "help_text",
    "unknown_flags",
    "validate_all",
]


NO_FEEDS = "no feeds: give --feeds FILE or --feed_url URL"


class FeedOptions(PipelineOptions):
    """Feeds: which to read, and whether to remember what was read."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--feeds", metavar="FILE",
                            help="feed list: a text file (one URL a line) or OPML")
        parser.add_argument(
            "--feed_url", action="append", default=[], metavar="URL", help="a feed URL (repeatable)"
        )
        parser.add_argument(
            "--feed_state", default="true", choices=("true", "false"),
            help="keep ETags, seen entries and poll schedules in Elasticsearch, so re-runs fetch "
            "and index only what changed (false: every run starts afresh; a streaming job then "
            "remembers the entries it saw for as long as it runs, and polls every feed at the "
            "shortest poll interval)",
        )

    def validate(self) -> list[str]:
        errors = []
        if not self.feeds and not self.feed_url:
            errors.append(NO_FEEDS)
        if self.feeds and not Path(self.feeds).is_file():
            errors.append(f"--feeds {self.feeds}: no such file")
        return errors


class ArticleOptions(PipelineOptions):
    """Articles: whether each entry's page is fetched, and how pages are extracted."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--fetch_articles", default="true", choices=("true", "false"),
            help="fetch and extract each entry's page (false: index the feed's own text)",
        )
        parser.add_argument(
            "--extract_workers", type=int, default=None, metavar="N",
            help="processes extracting articles per worker (default: one per core on the local "
            "runner, 1 on distributed runners, which run many workers already)",
        )

    def validate(self) -> list[str]:
        if self.extract_workers is not None and self.extract_workers < 1:
            return [f"--extract_workers must be at least 1, got {self.extract_workers}"]
        return []


class FetchOptions(PipelineOptions):
    """HTTP: limits and politeness, shared by feed and page fetching."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        default = FetchConfig()
        parser.add_argument("--http_timeout", type=float, metavar="SECONDS",
                            default=default.read_timeout,
                            help="read timeout in seconds")
        parser.add_argument("--http_connect_timeout", type=float, metavar="SECONDS",
                            default=default.connect_timeout, help="connect timeout in seconds")
        parser.add_argument("--http_max_bytes", type=int, metavar="BYTES",
                            default=default.max_bytes,
                            help="largest body accepted, after decompression")
        parser.add_argument("--http_retries", type=int, metavar="N", default=default.retries,
                            help="retries of a failed request (timeouts, 429, 5xx)")
        parser.add_argument("--per_host_concurrency", type=int, metavar="N",
                            default=default.per_host_concurrency,
                            help="requests in flight to one host at most")
        parser.add_argument("--per_host_delay", type=float, metavar="SECONDS",
                            default=default.per_host_min_delay,
                            help="least seconds between two requests to one host")
        parser.add_argument("--fetch_workers", type=int, metavar="N", default=default.max_workers,
                            help="requests in flight per worker")
        parser.add_argument("--http_user_agent", metavar="TEXT", default=default.user_agent,
                            help="the User-Agent header")
        parser.add_argument("--ignore_robots", action="store_true",
                            help="do not read robots.txt (only for your own sites)")
        parser.add_argument(
            "--http_allow_hosts", metavar="CIDR[,CIDR...]",
            default=os.environ.get(ALLOW_HOSTS_ENV) or None,
            help="non-public networks that may be fetched from (loopback, private, link-local "
            f"and other non-public addresses are refused otherwise), else ${ALLOW_HOSTS_ENV}")

    def fetch_config(self) -> FetchConfig:
        return FetchConfig(
            connect_timeout=self.http_connect_timeout,
            read_timeout=self.http_timeout,
            max_bytes=self.http_max_bytes,
            retries=self.http_retries,
            per_host_concurrency=self.per_host_concurrency,
            per_host_min_delay=self.per_host_delay,
            max_workers=self.fetch_workers,
            user_agent=self.http_user_agent,
            respect_robots=not self.ignore_robots,
            allow_networks=parse_allowlist(self.http_allow_hosts),
        )

    def validate(self) -> list[str]:
        try:
            self.fetch_config()
        except ValueError as exc:
            return [str(exc)]
        return []


class DedupeOptions(PipelineOptions):
    """Dedupe: which copies join one story, and where the batch job groups them."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dedupe_horizon_hours", type=float, metavar="HOURS",
            default=DEFAULT_RULES.horizon / timedelta(hours=1),
            help="copies published further apart than this are different stories, in a run "
            "and against stories stored earlier",
        )
        parser.add_argument(
            "--dedupe_in_memory", choices=("auto", "true", "false"), default="auto",
            help="group all articles (of a batch, or of a streaming window) in one worker "
            "instead of by keyed shuffles (default auto: on the local batch runner only)",
        )

    def rules(self) -> MatchRules:
        return replace(DEFAULT_RULES, horizon=timedelta(hours=self.dedupe_horizon_hours))

    def dedupe_in_one_worker(self, runner: object, *, streaming: bool = False) -> bool:
        """Whether dedupe runs in one worker (``DedupeArticles(in_memory=True)``); ``auto``:
        a batch job on this machine's batch runner."""
        if self.dedupe_in_memory == "auto":
            return not streaming and runs_on_this_machine(runner)
        return bool(self.dedupe_in_memory == "true")

    def validate(self) -> list[str]:
        if self.dedupe_horizon_hours <= 0:
            return [f"--dedupe_horizon_hours must be positive, got {self.dedupe_horizon_hours}"]
        return []


class EsOptions(PipelineOptions):
    """Elasticsearch: where stories go. Credentials: ES_API_KEY / ES_USERNAME + ES_PASSWORD, or
    the *_file flags."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--es_url", metavar="URL",
                            help="cluster URL (default $ES_URL, else the local node)")
        parser.add_argument("--es_index", metavar="ALIAS",
                            help="index alias (default $ES_INDEX, else news)")
        parser.add_argument("--es_username", metavar="USER",
                            help="user for basic auth (default $ES_USERNAME)")
        parser.add_argument(
            "--es_password_file", metavar="FILE",
            help="file holding the password (else $ES_PASSWORD)"
        )
        parser.add_argument("--es_api_key_file", metavar="FILE",
                            help="file holding an API key (else $ES_API_KEY)")
        parser.add_argument(
            "--es_batch_size", type=int, default=500, metavar="N", help="documents per bulk request"
        )

    def es_config(self) -> EsConfig:
        """The cluster config; secret files may be local or on any Beam filesystem (gs://...).

        The secret ends up in the ``EsConfig`` the workers receive, hence in the job graph:
        on Dataflow, keep the staging bucket as private as the secret.
        """
        config = EsConfig.from_env(self.es_url, self.es_index, username=self.es_username)
        if self.es_api_key_file:
            config = replace(config, api_key=_read_secret(self.es_api_key_file))
        if self.es_password_file:
            config = replace(config, password=_read_secret(self.es_password_file))
        return config

    def validate(self) -> list[str]:
        errors = []
        try:
            self.es_config()
        except ValueError as exc:
            errors.append(str(exc))
        if self.es_batch_size < 1:
            errors.append(f"--es_batch_size must be at least 1, got {self.es_batch_size}")
        return errors


class DeadLetterOptions(PipelineOptions):
    """Dead letters: where every record that failed a step is written."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dead_letters", default=None, metavar="PATH",
            help="JSON-lines file of failed records (default deadletters/run-<UTC time>.jsonl, "
            "stream-<UTC time>.jsonl when streaming)",
        )

    def validate(self) -> list[str]:
        return []


class StreamOptions(PipelineOptions):
    """Streaming (with --streaming): how often feeds are polled, how long the job runs, how
    arrivals are windowed for dedupe."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--poll_interval", type=float, metavar="SECONDS", default=15.0,
                            help="seconds between two looks at which feeds are due")
        parser.add_argument("--min_poll_interval", type=float, metavar="SECONDS", default=60.0,
                            help="least seconds between two polls of one feed")
        parser.add_argument("--max_poll_interval", type=float, metavar="SECONDS", default=3600.0,
                            help="most seconds between two polls of one feed (unchanged or "
                            "failing)")
        parser.add_argument("--duration", type=float, metavar="SECONDS", default=0.0,
                            help="stop polling after this many seconds and drain (default 0: "
                            "run until stopped)")
        parser.add_argument("--dedupe_window", type=float, metavar="SECONDS", default=0.0,
                            help="seconds of arrivals deduplicated together (default 0: two "
                            "poll intervals)")

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

    def poll_policy(self) -> PollPolicy:
        """Failing feeds back off within the same bounds as the schedule."""
        bounds = self.bounds()
        return PollPolicy(backoff_base=bounds.min_interval, backoff_max=bounds.max_interval)


# In the order `newsflow ingest --help` lists them.
OPTION_CLASSES: tuple[type[PipelineOptions], ...] = (
    FeedOptions, ArticleOptions, FetchOptions, DedupeOptions, EsOptions, DeadLetterOptions,
    StreamOptions,
)


def _read_secret(path: str) -> str:
    """A secret from a file on any filesystem Beam knows (local, gs://, s3://...)."""
    try:
        with FileSystems.open(path) as handle:
            return handle.read().decode().strip()  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - Beam wraps filesystem errors in its own types
        raise ValueError(f"cannot read secret file {path}: {exc}") from None


def _mode_errors(options: PipelineOptions) -> list[str]:
    """The flags this job's mode cannot honour, given with a value that would change anything."""
    if options.view_as(StandardOptions).streaming:
        return []
    given = options.view_as(StreamOptions).get_all_options(drop_default=True, current_only=True)
    return [f"--{name} applies to the streaming job only (add --streaming)"
            for name in sorted(given)]


def validate_all(options: PipelineOptions, *, need_feeds: bool = True) -> None:
    """Raise one ValueError naming every bad value across the option classes, and every flag
    the job's mode (batch or ``--streaming``) cannot honour. ``need_feeds=False``: a job that
    replays failures may have no feed to read."""
    errors = [msg for cls in OPTION_CLASSES for msg in options.view_as(cls).validate()]
    if not need_feeds:
        errors = [e for e in errors if e != NO_FEEDS]
    errors += _mode_errors(options)
    if errors:
        raise ValueError("bad options:\n  " + "\n  ".join(errors))


def _all_options_parser() -> argparse.ArgumentParser:
    """Every flag any ``PipelineOptions`` class defines: ours and Beam's (as Beam parses them)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)
    return parser


# Runners whose job service adds flags of its own when the job is submitted (a Flink job
# server's --checkpointing_interval, ...): an unknown flag may be one of those.
_JOB_SERVICE_RUNNERS = ("flink", "flinkrunner", "portablerunner", "sparkrunner", "prismrunner")
_TYPO = 0.85  # how alike a flag and a known one are when the first is a misspelling of the other


def _runner_named(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1].lower()
        if arg == "--runner" and i + 1 < len(argv):
            return argv[i + 1].lower()
    return ""


def unknown_flags(argv: list[str]) -> list[str]:
    """One message per argument of ``argv`` that no option class knows, naming the closest known
    flag. On a runner with a job service (Flink, ``PortableRunner``) a flag that is no near miss
    of a known one passes: the job service may know it."""
    parser = _all_options_parser()
    _, unknown = parser.parse_known_args(argv)
    known = [opt for action in parser._actions for opt in action.option_strings]
    lenient = _runner_named(argv) in _JOB_SERVICE_RUNNERS
    messages = []
    value_of_unknown = False  # `--per_host_dealy 1`: the 1 is the unknown flag's value
    for arg in unknown:
        if not arg.startswith("-"):
            if not value_of_unknown:
                messages.append(f"unexpected argument {arg!r}")
            value_of_unknown = False
            continue
        name, eq, _ = arg.partition("=")
        value_of_unknown = not eq
        if lenient and not difflib.get_close_matches(name, known, n=1, cutoff=_TYPO):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        messages.append(f"unknown flag {name}{hint}")
    return messages


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each flag's default unless its help says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def help_text(prog: str) -> str:
    """The job's flags grouped by concern, with their defaults, and how Beam's flags pass."""
    parser = argparse.ArgumentParser(
        prog=prog, formatter_class=_HelpFormatter, add_help=False,
        usage=f"{prog} --feeds FILE | --feed_url URL [options] [Beam flags]",
        description="Fetch feeds and their articles, merge copies into stories and index them "
        "into Elasticsearch: once (batch) or until stopped (--streaming).",
        epilog="Beam's own flags pass through (--runner, --project, --region, --flink_master, "
        "--parallelism, ...), and on Flink or another job service the flags it knows "
        "(--checkpointing_interval, ...); any other flag is refused.",
    )
    runner = parser.add_argument_group("runner")
    runner.add_argument("--streaming", action="store_true",
                        help="run the streaming job: poll the feeds until stopped (Ctrl-C drains)")
    runner.add_argument("--runner", metavar="RUNNER",
                        help="default: on this machine (FnApiRunner; Prism when streaming); "
                        "'flink' for Flink with --flink_master HOST:PORT (default: embedded), or "
                        "any Beam runner (DataflowRunner, PortableRunner, ...)")
    for cls in OPTION_CLASSES:
        title, _, description = (cls.__doc__ or cls.__name__).partition(": ")
        description = " ".join(description.split())
        group = parser.add_argument_group(title.lower(), description[:1].upper() + description[1:])
        cls._add_argparse_args(group)  # type: ignore[arg-type]
    return parser.format_help()

