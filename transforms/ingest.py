"""IngestFeeds: the ingest core that the batch and the streaming job both apply.

Feed URLs → ``FetchFeeds`` → ``ParseFeeds`` → ``NormaliseArticles`` → ``DedupeArticles`` →
``IndexArticles``, with every step's dead letters collected into one output; with feed state,
``KeepEntriesDue`` makes the entries those dead letters leave unstored due again. The jobs
differ only around it: the source of the URLs (a feed list read once, or ``PollFeeds``), the
windowing (none, or arrival windows) and where the dead letters go (``WriteDeadLetters``). A
flag that changes the core therefore changes both jobs.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from newsflow.dedupe import DEFAULT_RULES, MatchRules
from newsflow.dedupe.story import resolve_write_conflict
from newsflow.es import EsConfig
from newsflow.feedstate import PollPolicy
from newsflow.http import FetchConfig
from schemas.records import Failure
from transforms.dedupe import DedupeArticles
from transforms.due import KeepEntriesDue
from transforms.fetch import FetchFeeds
from transforms.freshness import MeasureFreshness
from transforms.index import IndexArticles
from transforms.normalise import NormaliseArticles
from transforms.parse import ParseFeeds
from transforms.progress import ShowProgress

__all__ = ["IngestFeeds", "IngestOutputs"]


class IngestFeeds(beam.PTransform):
    """Fetch feeds, turn their entries into articles, merge copies into stories, index them.

    Input: ``PCollection[str]`` of feed URLs, in any windowing (each window is deduplicated
    on its own and merged with what is stored); or, for a retry, a dict of PCollections:
    ``feeds`` (URLs), ``entries`` (``FeedEntry``: normalised with the parsed ones) and
    ``stories`` (``Story``: indexed with the deduplicated ones).
    Outputs (``IngestOutputs``):
      - ``indexed`` (main): ``PCollection[str]``, the ids of the stories indexed;
      - ``dead_letter``: ``PCollection[Failure]``, every step's failures (steps ``fetch``,
        ``parse``, ``normalise``, ``dedupe``, ``index``, ``feed_state``), in the input's
        windows.
    Counters: those of the five steps (see each transform).

    ``feed_state``: conditional requests and entries seen before, through ``es``' state index;
    without it, ``seen_in_run`` still skips the entries emitted earlier in this run (a streaming
    job, which reads every feed again at each poll; see ``ParseFeeds``).
    ``poll_policy``: how failing feeds back off. ``fetch_pages``, ``extract_workers``: see
    ``NormaliseArticles``; ``rules``, ``dedupe_in_memory``: see ``DedupeArticles``;
    ``reshuffle_before_index``, ``es_batch_size``: see ``IndexArticles`` (stories merged into
    stored ones are written with optimistic concurrency). ``freshness`` measures each story's
    time from fetch to index (``MeasureFreshness``); ``progress`` writes progress lines to
    standard error (feeds out of ``feed_count`` when known, articles, freshness).
    """

    def __init__(
        self,
        es: EsConfig,
        fetch: FetchConfig,
        *,
        feed_state: bool = True,
        seen_in_run: bool = False,
        poll_policy: PollPolicy | None = None,
        fetch_pages: bool = True,
        extract_workers: int = 1,
        rules: MatchRules = DEFAULT_RULES,
        dedupe_in_memory: bool = False,
        reshuffle_before_index: bool = True,
        es_batch_size: int = 500,
        freshness: bool = False,
        progress: bool = False,
        feed_count: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(es, EsConfig):
            raise ValueError(f"es must be an EsConfig, got {es!r}")
        if not isinstance(fetch, FetchConfig):
            raise ValueError(f"fetch must be a FetchConfig, got {fetch!r}")
        self._es = es
        self._state = es if feed_state else None
        self._fetch = FetchFeeds(fetch, state=self._state, poll_policy=poll_policy)
        self._parse = ParseFeeds(state=self._state, poll_policy=poll_policy,
                                 seen_in_run=seen_in_run and not feed_state)
        self._normalise = NormaliseArticles(fetch, fetch_pages=fetch_pages,
                                            extract_workers=extract_workers)
        self._dedupe = DedupeArticles(es=es, rules=rules, in_memory=dedupe_in_memory)
        self._index = IndexArticles(es, batch_size=es_batch_size,
                                    resolve_conflict=resolve_write_conflict,
                                    reshuffle=reshuffle_before_index)
        self._freshness = freshness
        self._progress = progress
        self._feed_count = feed_count

    def expand(self, inputs: Any) -> IngestOutputs:
        urls = inputs["feeds"] if isinstance(inputs, dict) else inputs
        fetched = urls | "Fetch feeds" >> self._fetch
        entries = fetched.responses | "Parse feeds" >> self._parse
        parsed = entries.entries
        if isinstance(inputs, dict):  # a retry: entries and stories from dead letters too
            parsed = (parsed, inputs["entries"]) | "With entries to retry" >> beam.Flatten()
        articles = parsed | "Normalise articles" >> self._normalise
        normalised = articles.articles
        if self._progress:
            _ = (
                (
                    fetched.responses | "Fetched feed URL" >> beam.Map(lambda r: r.feed_url),
                    fetched.dead_letter | "Failed feed URL" >> beam.Map(lambda f: f.input),
                )
                | "Feeds done" >> beam.Flatten()
                | "Feed progress" >> ShowProgress("feeds", total=self._feed_count)
            )
            normalised = normalised | "Article progress" >> ShowProgress("articles")
        stories = normalised | "Dedupe articles" >> self._dedupe
        written = stories.stories
        if self._freshness:
            written = written | "Measure freshness" >> MeasureFreshness(progress=self._progress)
        if isinstance(inputs, dict):
            written = (written, inputs["stories"]) | "With stories to retry" >> beam.Flatten()
        indexed = written | "Index stories" >> self._index
        dead = (
            fetched.dead_letter,
            entries.dead_letter,
            articles.dead_letter,
            stories.dead_letter,
            indexed.dead_letter,
        ) | "Collect dead letters" >> beam.Flatten()
        if self._state is not None:
            due = dead | "Keep entries due" >> KeepEntriesDue(self._state)
            dead = (dead, due) | "With feed state failures" >> beam.Flatten()
        return IngestOutputs(indexed=indexed.indexed, dead_letter=dead)


class IngestOutputs(dict):  # type: ignore[type-arg]
    """The outputs by name, also as attributes: ``result.indexed``, ``result.dead_letter``."""

    @property
    def indexed(self) -> beam.PCollection[str]:
        return self["indexed"]

    @property
    def dead_letter(self) -> beam.PCollection[Failure]:
        return self["dead_letter"]
