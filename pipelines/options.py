"""The ingest pipeline's options, one ``PipelineOptions`` class per concern.

All option classes share one argument parser, so every flag is prefixed by its concern
(``--es_url``, ``--feeds``, ``--http_timeout``). Each class has a ``validate()`` that returns one
message per bad value; ``validate_all`` raises them together, before anything runs. Secrets
(API key, password) come from the environment or a file, never from a flag.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from newsflow.es import EsConfig
from newsflow.http import FetchConfig
from pipelines.runners import runs_on_this_machine


class FeedOptions(PipelineOptions):
    """Which feeds to read and whether to fetch the article pages they link to."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--feeds", help="feed list: a text file (one URL a line) or OPML")
        parser.add_argument(
            "--feed_url", action="append", default=[], help="a feed URL (repeatable)"
        )
        parser.add_argument(
            "--fetch_articles",
            default="true",
            choices=("true", "false"),
            help="fetch and extract each entry's page (false: index the feed's own text)",
        )
        parser.add_argument(
            "--extract_workers",
            type=int,
            default=None,
            help="processes extracting articles per worker (default: one per core on the local "
            "runner, 1 on distributed runners, which run many workers already)",
        )
        parser.add_argument(
            "--feed_state",
            default="true",
            choices=("true", "false"),
            help="keep ETags and seen entries in Elasticsearch so re-runs fetch only what changed",
        )

    def validate(self) -> list[str]:
        errors = []
        if not self.feeds and not self.feed_url:
            errors.append("no feeds: give --feeds FILE or --feed_url URL")
        if self.extract_workers is not None and self.extract_workers < 1:
            errors.append(f"--extract_workers must be at least 1, got {self.extract_workers}")
        if self.feeds and not Path(self.feeds).is_file():
            errors.append(f"--feeds {self.feeds}: no such file")
        return errors


class FetchOptions(PipelineOptions):
    """HTTP limits and politeness, shared by feed and page fetching."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        default = FetchConfig()
        parser.add_argument(
            "--http_timeout",
            type=float,
            default=default.read_timeout,
            help="read timeout in seconds",
        )
        parser.add_argument("--http_connect_timeout", type=float, default=default.connect_timeout)
        parser.add_argument(
            "--http_max_bytes",
            type=int,
            default=default.max_bytes,
            help="largest body accepted, after decompression",
        )
        parser.add_argument("--http_retries", type=int, default=default.retries)
        parser.add_argument(
            "--per_host_concurrency", type=int, default=default.per_host_concurrency
        )
        parser.add_argument(
            "--per_host_delay",
            type=float,
            default=default.per_host_min_delay,
            help="least seconds between two requests to one host",
        )
        parser.add_argument(
            "--fetch_workers",
            type=int,
            default=default.max_workers,
            help="requests in flight per worker",
        )
        parser.add_argument("--http_user_agent", default=default.user_agent)
        parser.add_argument(
            "--ignore_robots",
            action="store_true",
            help="do not read robots.txt (only for your own sites)",
        )

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
        )

    def validate(self) -> list[str]:
        try:
            self.fetch_config()
        except ValueError as exc:
            return [str(exc)]
        return []


class EsOptions(PipelineOptions):
    """Where stories go. Credentials: ES_API_KEY / ES_USERNAME + ES_PASSWORD, or *_file flags."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--es_url", help="cluster URL (default $ES_URL, else the local node)")
        parser.add_argument("--es_index", help="index alias (default $ES_INDEX, else news)")
        parser.add_argument("--es_username", help="user for basic auth (default $ES_USERNAME)")
        parser.add_argument(
            "--es_password_file", help="file holding the password (else $ES_PASSWORD)"
        )
        parser.add_argument("--es_api_key_file", help="file holding an API key (else $ES_API_KEY)")
        parser.add_argument(
            "--es_batch_size", type=int, default=500, help="documents per bulk request"
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


class OutputOptions(PipelineOptions):
    """Where dead letters go, and how the run reports itself."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--dead_letters",
            default=None,
            help="JSON-lines file for every record that failed "
            "(default deadletters/run-<UTC time>.jsonl)",
        )
        parser.add_argument(
            "--dead_letter_index",
            default=None,
            help="also index dead letters into this Elasticsearch index",
        )
        parser.add_argument(
            "--dedupe_horizon_hours",
            type=float,
            default=72.0,
            help="streaming: how long a story stays open for copies in memory",
        )
        parser.add_argument(
            "--dedupe_in_memory",
            choices=["auto", "true", "false"],
            default="auto",
            help="batch: cluster all articles in one worker instead of by keyed shuffles "
            "(auto: on the local runner only)",
        )

    def dedupe_in_one_worker(self, runner: object) -> bool:
        """Whether batch dedupe runs in one worker (``DedupeArticles(in_memory=True)``)."""
        if self.dedupe_in_memory == "auto":
            return runs_on_this_machine(runner)
        return bool(self.dedupe_in_memory == "true")

    def validate(self) -> list[str]:
        errors = []
        if self.dedupe_horizon_hours <= 0:
            errors.append(
                f"--dedupe_horizon_hours must be positive, got {self.dedupe_horizon_hours}"
            )
        return errors


def _read_secret(path: str) -> str:
    """A secret from a file on any filesystem Beam knows (local, gs://, s3://...)."""
    try:
        with FileSystems.open(path) as handle:
            return handle.read().decode().strip()  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - Beam wraps filesystem errors in its own types
        raise ValueError(f"cannot read secret file {path}: {exc}") from None


OPTION_CLASSES = (FeedOptions, FetchOptions, EsOptions, OutputOptions)


def validate_all(options: PipelineOptions) -> None:
    """Raise one ValueError naming every bad value across the option classes."""
    errors = [msg for cls in OPTION_CLASSES for msg in options.view_as(cls).validate()]
    if errors:
        raise ValueError("bad options:\n  " + "\n  ".join(errors))
