"""Group copies of one story into one ``Story``: LSH band keys as Beam keys, no all-pairs step.

The logic lives in ``newsflow.dedupe`` (fingerprints, candidate keys and pairs, the pair check,
stories, the lookup of stored stories); this module only moves data between workers:

1. fingerprint each article and emit ``(key, ref)`` for each of its candidate keys;
2. group by key: the members of a bucket within the horizon are candidate pairs;
3. join each pair with both fingerprints and run the pair check: verified edges;
4. connected components by min-label propagation, a fixed number of rounds, each round one
   ``CoGroupByKey`` (no global step, no state in one worker);
5. group articles by component label and build one ``Story`` per component;
6. with an ``EsConfig``, look the story up among stored stories and merge it into the one it
   copies (its id kept); the versions of one stored story are combined.

Every grouping is keyed, so a streaming job only windows the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from newsflow.dedupe import DEFAULT_RULES, MatchRules, same_story
from newsflow.dedupe.cluster import Stats, bucket_pairs, candidate_keys
from newsflow.dedupe.signature import Fingerprint, fingerprints
from newsflow.dedupe.stored import (
    LOOKUP_BATCH,
    Settled,
    StoredStories,
    combine_by_id,
    dead_letter,
    settle,
)
from newsflow.dedupe.story import (
    MICROSECOND,
    EntryTuple,
    Member,
    build_stories,
    build_story,
    combine_versions,
    entry_from_tuple,
    entry_to_tuple,
    epoch_micros,
    member_of,
)
from newsflow.es import EsConfig
from schemas.records import Article, Failure, Story
from transforms._windowed import WindowedBuffer, windowed

__all__ = ["DedupeArticles"]

DEAD_LETTER = "dead_letter"


class DedupeArticles(beam.PTransform):
    """Articles in, one ``Story`` per story out: the canonical article plus every copy.

    Input: ``PCollection[Article]``.
    Outputs (a tagged tuple):
      - ``stories`` (main): ``PCollection[Story]`` with ``copies`` (every appearance, the
        canonical included), ``copy_count``, ``band_keys`` and ``body_hash``; with ``es`` a
        story that copies one stored earlier carries that story's ``story_id`` and copies;
      - ``dead_letter``: ``PCollection[Failure]``, step ``dedupe``: articles that could not be
        fingerprinted, and Elasticsearch lookups that failed (the story is then emitted
        unmerged, with ``transient`` set on the failure).
    Counters: ``articles_seen``, ``stories_new``, ``copies_merged`` (places added to a story
    beyond its first: new copies), ``pairs_candidate`` (per bucket, before repeated pairs are
    dropped), ``pairs_verified``, ``buckets_oversized``, ``labels_unsettled`` (nodes whose
    label still changed in the last propagation round: raise ``label_rounds`` if not 0).

    ``in_memory=True`` replaces steps 2-6 with one grouping of the whole input (per window) and
    the same steps in one worker (``build_stories``: a union-find for the components; the
    lookups and merges before any story leaves, so no shuffle follows): for a bounded input on
    one machine, where the keyed steps' twenty-odd shuffles only add work. Not for distributed
    runners, where one worker would hold every article.
    """

    def __init__(
        self,
        es: EsConfig | None = None,
        *,
        rules: MatchRules = DEFAULT_RULES,
        label_rounds: int = 4,
        max_bucket: int = 500,
        in_memory: bool = False,
        es_candidates: int = 10,
        batch_size: int = 256,
    ) -> None:
        super().__init__()
        if label_rounds < 1:
            raise ValueError(f"label_rounds must be at least 1, got {label_rounds}")
        if max_bucket < 2:
            raise ValueError(f"max_bucket must be at least 2, got {max_bucket}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if es_candidates < 1:
            raise ValueError(f"es_candidates must be at least 1, got {es_candidates}")
        self._es = es
        self._rules = rules
        self._rounds = label_rounds
        self._max_bucket = max_bucket
        self._es_candidates = es_candidates
        self._batch_size = batch_size
        self._in_memory = in_memory

    def expand(self, articles: beam.PCollection[Article]) -> DedupeOutputs:
        fingerprinted = articles | "Fingerprint articles" >> beam.ParDo(
            _FingerprintFn(self._batch_size)
        ).with_outputs(DEAD_LETTER, main="members")
        members = fingerprinted.members  # (ref, Member)
        if self._in_memory:
            deduped = (
                members
                | "One group" >> beam.Map(lambda item: (None, item[1]))
                | "Gather articles" >> beam.GroupByKey()
                | "Dedupe in memory" >> beam.ParDo(_DedupeInMemoryFn(
                    self._rules, self._max_bucket, self._es, self._es_candidates)
                ).with_outputs(DEAD_LETTER, main="stories")
            )
            dead = ((fingerprinted[DEAD_LETTER], deduped[DEAD_LETTER])
                    | "Flatten dead letters" >> beam.Flatten())
            return DedupeOutputs(stories=deduped.stories, dead_letter=dead)
        # The pair check needs fingerprints, URLs and times only: those go through its joins,
        # as tuples of primitives (the article bodies and datetimes would be pickled).
        entries = members | "Keep fingerprints" >> beam.Map(_entry_tuple)

        edges = (
            members
            | "Emit band keys" >> beam.FlatMap(_band_entries)
            | "Group by band key" >> beam.GroupByKey()
            | "Pair bucket members"
            >> beam.ParDo(_PairBucketFn(self._max_bucket, self._rules))
            | "Drop repeated pairs" >> beam.Distinct()
            | "Verify pairs" >> _VerifyPairs(entries, self._rules)
        )
        labels = edges | "Connect components" >> _ConnectedComponents(self._rounds)
        groups = (
            {"member": members, "label": labels}
            | "Join labels" >> beam.CoGroupByKey()
            | "Key by component" >> beam.FlatMap(_by_label)
            | "Group components" >> beam.GroupByKey()
        )
        stories = groups | "Build stories" >> beam.ParDo(_BuildStoryFn(self._es is None))
        failures = [fingerprinted[DEAD_LETTER]]
        if self._es is not None:
            merged = stories | "Merge with stored stories" >> beam.ParDo(
                _MergeStoredFn(self._es, self._rules, self._es_candidates)
            ).with_outputs(DEAD_LETTER, main="stories")
            stories = (
                merged.stories
                | "Key by story id" >> beam.Map(lambda pair: (pair[0].story_id, pair[0]))
                | "Group story versions" >> beam.GroupByKey()
                | "Combine story versions" >> beam.ParDo(_CombineVersionsFn())
            )
            failures.append(merged[DEAD_LETTER])
        else:
            stories = stories | "Drop canonical" >> beam.Map(lambda pair: pair[0])
        dead = tuple(failures) | "Flatten dead letters" >> beam.Flatten()
        return DedupeOutputs(stories=stories, dead_letter=dead)


class DedupeOutputs(dict):  # type: ignore[type-arg]
    """The transform's outputs by name, also as attributes: ``result.stories``,
    ``result.dead_letter`` (a dict is what Beam accepts as a composite's named outputs)."""

    @property
    def stories(self) -> beam.PCollection[Story]:
        return self["stories"]

    @property
    def dead_letter(self) -> beam.PCollection[Failure]:
        return self[DEAD_LETTER]


class _StoryCounts:
    """``stories_new`` and ``copies_merged`` under the calling DoFn's name (both paths)."""

    def __init__(self, owner: type) -> None:
        self._new = Metrics.counter(owner, "stories_new")
        self._merged = Metrics.counter(owner, "copies_merged")

    def count(self, settled: Settled) -> Story:
        if settled.new:
            self._new.inc()
        self._merged.inc(settled.copies_added)
        return settled.story


class _FingerprintFn(beam.DoFn):
    """Article → (ref, Member), fingerprinting a batch of bodies at a time."""

    def __init__(self, batch_size: int) -> None:
        self._batch_size = batch_size
        self._seen = Metrics.counter(self.__class__, "articles_seen")
        self._failed = Metrics.counter(self.__class__, "articles_failed")

    def start_bundle(self) -> None:
        self._buffer: WindowedBuffer[Article] = WindowedBuffer(self._batch_size)

    def process(
        self,
        article: Article,
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        self._seen.inc()
        if not isinstance(article, Article):
            self._failed.inc()
            exc = TypeError(f"expected an Article, got {type(article).__name__}")
            yield TaggedOutput(DEAD_LETTER, dead_letter(article, exc))
            return
        if not isinstance(article.body, str) or not isinstance(article.url, str):
            self._failed.inc()
            exc = TypeError("article url and body must be strings")
            yield TaggedOutput(DEAD_LETTER, dead_letter(article, exc))
            return
        if self._buffer.add(article, window, timestamp):
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        batch = self._buffer.take()
        if not batch:
            return
        try:
            prints: list[Fingerprint | None] = list(fingerprints([a.body for a, _, _ in batch]))
        except Exception:  # find the culprit: one article at a time
            prints = [None] * len(batch)
        for (article, window, timestamp), fp in zip(batch, prints, strict=True):
            try:
                member = member_of(article, fp)
            except Exception as exc:  # one bad article must not stop the batch
                self._failed.inc()
                yield windowed(dead_letter(article, exc), window, timestamp, DEAD_LETTER)
                continue
            yield windowed((member.entry.key, member), window, timestamp)


def _entry_tuple(item: tuple[str, Member]) -> tuple[str, EntryTuple]:
    return item[0], entry_to_tuple(item[1].entry)


def _band_entries(item: tuple[str, Member]) -> Iterator[tuple[str, tuple[str, int | None]]]:
    """(candidate key, (ref, published_at in epoch microseconds)) per candidate key."""
    ref, member = item
    stamp = (ref, epoch_micros(member.entry.published_at))
    for key in candidate_keys(member.entry):
        yield key, stamp


class _PairBucketFn(beam.DoFn):
    """Candidate pairs of one key's bucket (``bucket_pairs``), smaller ref first."""

    def __init__(self, max_bucket: int, rules: MatchRules) -> None:
        self._max_bucket = max_bucket
        self._horizon = rules.horizon // MICROSECOND  # exact: times are epoch microseconds
        self._candidates = Metrics.counter(self.__class__, "pairs_candidate")
        self._oversized = Metrics.counter(self.__class__, "buckets_oversized")

    def process(
        self, bucket: tuple[str, Iterable[tuple[str, int | None]]]
    ) -> Iterator[tuple[str, str]]:
        pairs = bucket_pairs(bucket[1], self._horizon, self._max_bucket)
        if pairs is None:
            self._oversized.inc()
            return
        self._candidates.inc(len(pairs))
        yield from pairs


class _VerifyPairs(beam.PTransform):
    """(ref_a, ref_b) candidate pairs → (ref_a, ref_b) pairs that are copies of each other.

    ``entries`` are (ref, ``entry_to_tuple(entry)``) of every article.
    """

    def __init__(
        self, entries: beam.PCollection[tuple[str, EntryTuple]], rules: MatchRules
    ) -> None:
        super().__init__()
        self._members = entries
        self._rules = rules

    def expand(self, pairs: beam.PCollection[tuple[str, str]]) -> beam.PCollection[tuple[str, str]]:
        with_a = (
            {"pair": pairs, "member": self._members}
            | "Join first" >> beam.CoGroupByKey()
            | "Carry first" >> beam.FlatMap(_carry_first)
        )
        return (
            {"pair": with_a, "member": self._members}
            | "Join second" >> beam.CoGroupByKey()
            | "Check containment" >> beam.ParDo(_CheckPairFn(self._rules))
        )


def _carry_first(
    joined: tuple[str, dict[str, list[Any]]],
) -> Iterator[tuple[str, tuple[str, EntryTuple]]]:
    ref_a, groups = joined
    if not groups["member"]:
        return
    member_a = groups["member"][0]
    for ref_b in groups["pair"]:
        yield ref_b, (ref_a, member_a)


class _CheckPairFn(beam.DoFn):
    def __init__(self, rules: MatchRules) -> None:
        self._rules = rules
        self._verified = Metrics.counter(self.__class__, "pairs_verified")

    def process(self, joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, str]]:
        ref_b, groups = joined
        if not groups["member"]:
            return
        entry_b = entry_from_tuple(groups["member"][0])
        for ref_a, entry_a in groups["pair"]:
            if same_story(entry_from_tuple(entry_a), entry_b, self._rules):
                self._verified.inc()
                yield ref_a, ref_b


class _ConnectedComponents(beam.PTransform):
    """Verified edges → (ref, label) for every ref on an edge; label = smallest ref reached.

    Min-label propagation: each round, every node takes the smallest label among itself and
    its neighbours. Copy clusters are near-cliques, so a few rounds settle them; the counter
    ``labels_unsettled`` counts nodes that still changed in the last round.
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self._rounds = rounds

    def expand(self, edges: beam.PCollection[tuple[str, str]]) -> beam.PCollection[tuple[str, str]]:
        adjacency = edges | "Both directions" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
        labels = (
            adjacency
            | "Start labels" >> beam.CombinePerKey(_SmallestRef())
            | "Own ref counts" >> beam.MapTuple(lambda node, ref: (node, min(node, ref or node)))
        )
        for r in range(self._rounds):
            last = r == self._rounds - 1
            labels = (
                {"label": labels, "adj": adjacency}
                | f"Join labels round {r + 1}" >> beam.CoGroupByKey()
                | f"Send labels round {r + 1}" >> beam.FlatMap(_send_labels)
                | f"Smallest label round {r + 1}" >> beam.CombinePerKey(_LabelMin())
                | f"Settle round {r + 1}" >> beam.ParDo(_SettleFn(last))
            )
        return labels


class _SmallestRef(beam.CombineFn):  # type: ignore[misc]
    """The smallest of a node's neighbours; ``""`` for none. Empty-safe: a runner may extract
    or merge accumulators that saw no input (Flink did, where ``min`` raised on them)."""

    def create_accumulator(self) -> str:
        return ""

    def add_input(self, smallest: str, ref: str) -> str:
        return ref if not smallest or ref < smallest else smallest

    def merge_accumulators(self, accumulators: Iterable[str]) -> str:
        return min((a for a in accumulators if a), default="")

    def extract_output(self, smallest: str) -> str:
        return smallest


def _send_labels(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, tuple[str, str]]]:
    node, groups = joined
    label = min(groups["label"]) if groups["label"] else node
    yield node, (label, label)  # (own previous label, candidate)
    for neighbour in groups["adj"]:
        yield neighbour, ("", label)


class _LabelMin(beam.CombineFn):  # type: ignore[misc]
    """(previous label, smallest candidate) of one node; ``("", "")`` for no input."""

    def create_accumulator(self) -> tuple[str, str]:
        return ("", "")

    def add_input(self, acc: tuple[str, str], item: tuple[str, str]) -> tuple[str, str]:
        return _merge_label(acc, item)

    def merge_accumulators(self, accs: Iterable[tuple[str, str]]) -> tuple[str, str]:
        out = ("", "")
        for acc in accs:
            out = _merge_label(out, acc)
        return out

    def extract_output(self, acc: tuple[str, str]) -> tuple[str, str]:
        return acc


def _merge_label(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    prev = a[0] or b[0]
    cands = [x for x in (a[1], b[1]) if x]
    return prev, min(cands) if cands else ""


class _SettleFn(beam.DoFn):
    def __init__(self, last: bool) -> None:
        self._last = last
        self._unsettled = Metrics.counter(self.__class__, "labels_unsettled")

    def process(self, item: tuple[str, tuple[str, str]]) -> Iterator[tuple[str, str]]:
        node, (prev, best) = item
        label = min(x for x in (prev, best, node) if x)
        if self._last and label != prev:
            self._unsettled.inc()
        yield node, label


def _by_label(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, Member]]:
    ref, groups = joined
    if not groups["member"]:
        return
    label = min(groups["label"]) if groups["label"] else ref
    yield label, groups["member"][0]


class _BuildStoryFn(beam.DoFn):
    def __init__(self, final: bool) -> None:
        self._final = final
        self._counts = _StoryCounts(self.__class__)

    def process(self, group: tuple[str, Iterable[Member]]) -> Iterator[tuple[Story, Member]]:
        members = sorted(group[1], key=lambda m: m.entry.key)
        if not members:  # an empty pane (see _CombineVersionsFn)
            return
        story, canonical = build_story(members)
        if self._final:  # without Elasticsearch every story is new
            self._counts.count(settle(story, canonical, None))
        yield story, canonical


class _MergeStoredFn(beam.DoFn):
    """Looks stories up among stored ones (``StoredStories``), ``lookup_batch`` in one search,
    and merges each into the one it copies."""

    def __init__(
        self, es: EsConfig, rules: MatchRules, candidates: int, lookup_batch: int = LOOKUP_BATCH
    ) -> None:
        self._stored = StoredStories(es, rules, candidates)
        self._lookup_batch = lookup_batch
        self._counts = _StoryCounts(self.__class__)
        self._lookup_failed = Metrics.counter(self.__class__, "lookups_failed")

    def setup(self) -> None:
        self._stored.open()

    def teardown(self) -> None:
        self._stored.close()

    def start_bundle(self) -> None:
        self._buffer: WindowedBuffer[tuple[Story, Member]] = WindowedBuffer(self._lookup_batch)

    def process(
        self,
        item: tuple[Story, Member],
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        if self._buffer.add(item, window, timestamp):
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        batch = self._buffer.take()
        if not batch:
            return
        found = self._stored.lookup([item for item, _, _ in batch])
        for ((story, canonical), window, timestamp), stored in zip(batch, found, strict=True):
            settled = settle(story, canonical, stored)
            if settled.failure is not None:
                self._lookup_failed.inc()
                yield windowed(settled.failure, window, timestamp, DEAD_LETTER)
            yield windowed((self._counts.count(settled), canonical), window, timestamp)


class _DedupeInMemoryFn(beam.DoFn):
    """The whole batch → its stories, in this one worker (``in_memory=True``).

    The keyed path's steps as plain functions (``build_stories``; then each story looked up and
    merged as ``_MergeStoredFn`` does, and the versions of one stored story combined), all in
    the one call that gets the batch: no story leaves before every lookup is done. Its counters
    have the keyed path's names but count each candidate pair once, and only the checks the
    union-find needed (``labels_unsettled`` does not apply).
    """

    def __init__(self, rules: MatchRules, max_bucket: int, es: EsConfig | None,
                 candidates: int, lookup_batch: int = LOOKUP_BATCH) -> None:
        self._rules = rules
        self._max_bucket = max_bucket
        self._stored = StoredStories(es, rules, candidates) if es is not None else None
        self._lookup_batch = lookup_batch
        self._candidates = Metrics.counter(self.__class__, "pairs_candidate")
        self._verified = Metrics.counter(self.__class__, "pairs_verified")
        self._oversized = Metrics.counter(self.__class__, "buckets_oversized")
        self._lookup_failed = Metrics.counter(self.__class__, "lookups_failed")
        self._counts = _StoryCounts(self.__class__)

    def setup(self) -> None:
        if self._stored is not None:
            self._stored.open()

    def teardown(self) -> None:
        if self._stored is not None:
            self._stored.close()

    def process(self, group: tuple[None, Iterable[Member]]) -> Iterator[Any]:
        members = list(group[1])
        if not members:  # an empty pane (see _CombineVersionsFn)
            return
        stats = Stats()
        built = build_stories(members, self._rules, stats, self._max_bucket)
        self._candidates.inc(stats.candidate_pairs)
        self._verified.inc(stats.verified_pairs)
        self._oversized.inc(stats.buckets_skipped)
        if self._stored is None:  # without Elasticsearch every story is new
            for story, canonical in built:
                yield self._counts.count(settle(story, canonical, None))
            return
        settled: list[Story] = []
        for start in range(0, len(built), self._lookup_batch):
            batch = built[start : start + self._lookup_batch]
            for (story, canonical), stored in zip(batch, self._stored.lookup(batch), strict=True):
                outcome = settle(story, canonical, stored)
                if outcome.failure is not None:
                    self._lookup_failed.inc()
                    yield TaggedOutput(DEAD_LETTER, outcome.failure)
                settled.append(self._counts.count(outcome))
        yield from combine_by_id(settled)


class _CombineVersionsFn(beam.DoFn):
    """The versions of one story id → one story. Like every consumer of a grouping here, it
    takes an empty group: Beam's Python SDK asks for a window's on-time and closing panes even
    when empty (``FIRE_ALWAYS``, ``EMIT_ALWAYS``), and Flink's streaming GroupByKey emits them
    (seen at the drain, when the watermark jumps to the end of time)."""

    def process(self, group: tuple[str, Iterable[Story]]) -> Iterator[Story]:
        versions = list(group[1])
        if versions:
            yield versions[0] if len(versions) == 1 else combine_versions(versions)
