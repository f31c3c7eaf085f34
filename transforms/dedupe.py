"""Group copies of one story into one ``Story``: LSH band keys as Beam keys, no all-pairs step.

The pure logic lives in ``newsflow.dedupe`` (fingerprints, the containment check, canonical
choice, merging); this module only moves data between workers:

1. fingerprint each article and emit ``(band_key, ref)`` for each of its band keys;
2. group by band key: the members of a bucket are candidate pairs;
3. join each pair with both fingerprints and run the containment check: verified edges;
4. connected components by min-label propagation, a fixed number of rounds, each round one
   ``CoGroupByKey`` (no global step, no state in one worker);
5. group articles by component label and build one ``Story`` per component;
6. with an ``EsConfig``, look the story up in Elasticsearch by its band keys, verify against the
   stored body and merge into the stored story (its id kept).

Every grouping is a keyed ``GroupByKey``/``CoGroupByKey``, so running this in a streaming job
is a matter of windowing the input (sliding windows as long as the dedupe horizon), not of
rewriting the steps; the containment check already refuses pairs further apart than the
horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue

from newsflow.dedupe import DEFAULT_RULES, MatchRules, is_copy, same_story, url_key
from newsflow.dedupe.cluster import Stats, cluster, url_band_key
from newsflow.dedupe.match import within_horizon
from newsflow.dedupe.signature import Fingerprint, fingerprints
from newsflow.dedupe.story import (
    MICROSECOND,
    EntryTuple,
    Member,
    build_story,
    combine_versions,
    entry_from_tuple,
    entry_to_tuple,
    epoch_micros,
    member_of,
    merge_into,
    stored_entry,
)
from newsflow.es import EsConfig
from schemas.records import Article, Failure, Story

__all__ = ["DedupeArticles"]

LOG = logging.getLogger(__name__)
STEP = "dedupe"
DEAD_LETTER = "dead_letter"
LOOKUP_BATCH = 100  # stories looked up together
# The order of a story's candidates among stored stories: earliest first (the likeliest
# original), then by id, so that every lookup of the same story sees the same candidates.
CANDIDATE_ORDER = [{"published_at": {"order": "asc", "missing": "_last"}}, {"story_id": "asc"}]
MAX_TERMS = 60_000  # band keys in one search (Elasticsearch refuses more than 65,536)
MAX_HITS = 10_000  # hits in one answer (the index template's max_result_window)


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

    ``in_memory=True`` replaces steps 2-6 with one grouping of the whole input and the same
    steps in one worker (``newsflow.dedupe.cluster``, a union-find for the components; the
    lookups and merges of step 6 before any story leaves, so no shuffle follows): for a
    bounded input on one machine, where the keyed steps' twenty-odd shuffles only add work
    (about 2.5 s per 2,000 articles on the local runner, a third of the run's CPU outside
    extraction). Not for distributed runners, where one worker would hold every article.
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


def _failure(article: Any, exc: Exception) -> Failure:
    where = getattr(article, "url", "") or repr(article)[:200]
    return Failure(
        step=STEP,
        input=str(where),
        error_type=type(exc).__name__,
        message=str(exc)[:1000],
        at=datetime.now(UTC),
    )


class _FingerprintFn(beam.DoFn):
    """Article → (ref, Member), fingerprinting a batch of bodies at a time.

    Elements are buffered with their window and timestamp and emitted as ``WindowedValue``s,
    so batching changes nothing about windowing (a streaming job keeps its windows).
    """

    def __init__(self, batch_size: int) -> None:
        self._batch_size = batch_size
        self._buffer: list[tuple[Article, Any, Any]] = []
        self._seen = Metrics.counter(self.__class__, "articles_seen")
        self._failed = Metrics.counter(self.__class__, "articles_failed")

    def start_bundle(self) -> None:
        self._buffer = []

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
            yield TaggedOutput(DEAD_LETTER, _failure(article, exc))
            return
        if not isinstance(article.body, str) or not isinstance(article.url, str):
            self._failed.inc()
            exc = TypeError("article url and body must be strings")
            yield TaggedOutput(DEAD_LETTER, _failure(article, exc))
            return
        self._buffer.append((article, window, timestamp))
        if len(self._buffer) >= self._batch_size:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        batch, self._buffer = self._buffer, []
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
                failure = _failure(article, exc)
                yield TaggedOutput(DEAD_LETTER, WindowedValue(failure, timestamp, (window,)))
                continue
            yield WindowedValue((member.entry.key, member), timestamp, (window,))


def _entry_tuple(item: tuple[str, Member]) -> tuple[str, EntryTuple]:
    return item[0], entry_to_tuple(item[1].entry)


def _band_entries(item: tuple[str, Member]) -> Iterator[tuple[str, tuple[str, int | None]]]:
    """(band key, (ref, published_at in epoch microseconds)) per band key and URL key."""
    ref, member = item
    stamp = (ref, epoch_micros(member.entry.published_at))
    for key in member.entry.fingerprint.band_keys:
        yield key, stamp
    ukey = url_band_key(member.entry.url)
    if ukey:
        yield ukey, stamp


class _PairBucketFn(beam.DoFn):
    """Candidate pairs of one band bucket, within the time horizon, smaller ref first."""

    def __init__(self, max_bucket: int, rules: MatchRules) -> None:
        self._max_bucket = max_bucket
        self._horizon = rules.horizon // MICROSECOND  # exact: times are epoch microseconds
        self._candidates = Metrics.counter(self.__class__, "pairs_candidate")
        self._oversized = Metrics.counter(self.__class__, "buckets_oversized")

    def process(
        self, bucket: tuple[str, Iterable[tuple[str, int | None]]]
    ) -> Iterator[tuple[str, str]]:
        seen: dict[str, int | None] = {}
        for ref, stamp in bucket[1]:
            seen[ref] = stamp
            if len(seen) > self._max_bucket:  # a phrase every article shares: not a story
                self._oversized.inc()
                return
        members = sorted(seen.items())
        horizon = self._horizon
        for i, (ra, ta) in enumerate(members):
            for rb, tb in members[i + 1 :]:
                if ta is None or tb is None or abs(ta - tb) <= horizon:  # within_horizon
                    self._candidates.inc()
                    yield ra, rb


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
            | "Start labels" >> beam.CombinePerKey(min)
            | "Own ref counts" >> beam.Map(lambda kv: (kv[0], min(kv[0], kv[1])))
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


def _send_labels(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, tuple[str, str]]]:
    node, groups = joined
    label = min(groups["label"]) if groups["label"] else node
    yield node, (label, label)  # (own previous label, candidate)
    for neighbour in groups["adj"]:
        yield neighbour, ("", label)


class _LabelMin(beam.CombineFn):  # type: ignore[misc]
    """(previous label, smallest candidate) of one node."""

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
        self._new = Metrics.counter(self.__class__, "stories_new")
        self._merged = Metrics.counter(self.__class__, "copies_merged")

    def process(self, group: tuple[str, Iterable[Member]]) -> Iterator[tuple[Story, Member]]:
        members = sorted(group[1], key=lambda m: m.entry.key)
        story, canonical = build_story(members)
        if self._final:  # without Elasticsearch every story is new
            self._new.inc()
            self._merged.inc(story.copy_count - 1)
        yield story, canonical


class _StoredStories:
    """The stored story a new one copies, found by band keys and verified; both paths use it.

    ``lookup`` finds the candidates of many stories in one search; ``settle`` merges one story
    into what the lookup found and counts the outcome (``stories_new``, ``copies_merged``,
    ``lookups_failed``, under the calling DoFn's namespace).
    """

    def __init__(self, es: EsConfig, rules: MatchRules, candidates: int, owner: type) -> None:
        self._es_config = es
        self._rules = rules
        self._candidates = candidates
        self._client: Any = None
        self._new = Metrics.counter(owner, "stories_new")
        self._merged = Metrics.counter(owner, "copies_merged")
        self._lookup_failed = Metrics.counter(owner, "lookups_failed")

    def open(self) -> None:
        self._client = self._es_config.client()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def settle(
        self, story: Story, canonical: Member, stored: Story | Exception | None
    ) -> tuple[Story, Failure | None]:
        """The story to write (``story``, or the stored one with it merged in), and the dead
        letter of a failed lookup (the story is then kept as new, and the failure transient)."""
        failure = None
        if isinstance(stored, Exception):  # the cluster refused us: keep the story
            self._lookup_failed.inc()
            failure = _failure(story, stored)
            failure.transient = True
            failure.context = {"story_id": story.story_id}
            stored = None
        if stored is None:
            self._new.inc()
            self._merged.inc(max(story.copy_count - 1, 0))
            return story, failure
        known = {c.url for c in stored.copies}
        self._merged.inc(sum(1 for c in story.copies if c.url not in known))
        return merge_into(stored, story, canonical), failure

    def lookup(self, items: list[tuple[Story, Member]]) -> list[Story | Exception | None]:
        """The stored story each of ``items`` copies (None: a new story), in one search; an
        exception per item when the whole request failed."""
        try:
            return self._search(items)
        except Exception as exc:  # the whole request failed: every story of it did
            return [exc] * len(items)

    def _search(self, items: list[tuple[Story, Member]]) -> list[Story | Exception | None]:
        """One search for the stored stories sharing a band key with any of ``items``; each
        item's candidates are then its share of the hits, in the same order and number as a
        search of its own would give. When the hits do not all fit in one answer (a crowded
        index), one search per item (``_search_each``)."""
        keys = sorted({key for story, _ in items for key in story.band_keys})
        limit = self._candidates * len(items)
        if not keys or len(keys) > MAX_TERMS or limit > MAX_HITS:
            return self._search_each(items)
        response = self._client.search(
            index=self._es_config.index, query={"terms": {"band_keys": keys}}, size=limit,
            track_total_hits=limit + 1, seq_no_primary_term=True, sort=CANDIDATE_ORDER,
        )
        hits = response["hits"]["hits"]
        if response["hits"]["total"]["value"] > len(hits):
            return self._search_each(items)
        asked = set(keys)
        by_key: dict[str, list[int]] = {}  # band key asked for -> positions of the hits with it
        for position, hit in enumerate(hits):
            for key in asked.intersection(hit["_source"]["band_keys"]):
                by_key.setdefault(key, []).append(position)
        out: list[Story | Exception | None] = []
        for story, canonical in items:
            shared = sorted({p for key in story.band_keys for p in by_key.get(key, ())})
            candidates = [hits[p] for p in shared[: self._candidates]]
            out.append(self._first_match(candidates, story, canonical))
        return out

    def _search_each(self, items: list[tuple[Story, Member]]) -> list[Story | Exception | None]:
        """One search per item, in one ``msearch``: its own ``candidates`` best hits each."""
        searches: list[dict[str, Any]] = []
        for story, _ in items:
            searches.append({"index": self._es_config.index})
            searches.append(
                {
                    "query": {"terms": {"band_keys": story.band_keys}},
                    "size": self._candidates,
                    "seq_no_primary_term": True,
                    "sort": CANDIDATE_ORDER,
                }
            )
        responses = self._client.msearch(searches=searches)["responses"]
        out: list[Story | Exception | None] = []
        for (story, canonical), response in zip(items, responses, strict=True):
            if "error" in response:
                out.append(_LookupError.of(response))
                continue
            out.append(self._first_match(response["hits"]["hits"], story, canonical))
        return out

    def _first_match(
        self, hits: list[dict[str, Any]], story: Story, canonical: Member
    ) -> Story | None:
        for hit in hits:
            stored = Story.from_dict(hit["_source"])
            stored.seq_no, stored.primary_term = hit.get("_seq_no"), hit.get("_primary_term")
            stored.stored_index = hit.get("_index")
            if self._matches(stored, story, canonical):
                return stored
        return None

    def _matches(self, stored: Story, story: Story, canonical: Member) -> bool:
        if stored.story_id == story.story_id:
            return True
        newcomer = canonical.entry
        times = [c.published_at for c in stored.copies if c.published_at]
        if times and not any(
            within_horizon(t, newcomer.published_at, self._rules.horizon) for t in times
        ):
            return False
        stored_urls = {url_key(c.url) for c in stored.copies} - {None}
        if any(url_key(c.url) in stored_urls for c in story.copies):
            return True
        old = stored_entry(stored)
        return is_copy(old.fingerprint, newcomer.fingerprint, None, None, self._rules)


class _MergeStoredFn(beam.DoFn):
    """Looks each story up in Elasticsearch by band keys and merges it into a stored copy.

    Stories are buffered with their window and timestamp and looked up ``lookup_batch`` at a
    time (one search); results go out as ``WindowedValue``s, so batching changes nothing
    about windowing (a streaming job keeps its windows).
    """

    def __init__(
        self, es: EsConfig, rules: MatchRules, candidates: int, lookup_batch: int = LOOKUP_BATCH
    ) -> None:
        self._stored = _StoredStories(es, rules, candidates, self.__class__)
        self._lookup_batch = lookup_batch
        self._buffer: list[tuple[Story, Member, Any, Any]] = []

    def setup(self) -> None:
        self._stored.open()

    def teardown(self) -> None:
        self._stored.close()

    def start_bundle(self) -> None:
        self._buffer = []

    def process(
        self,
        item: tuple[Story, Member],
        window: Any = beam.DoFn.WindowParam,
        timestamp: Any = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        story, canonical = item
        self._buffer.append((story, canonical, window, timestamp))
        if len(self._buffer) >= self._lookup_batch:
            yield from self._flush()

    def finish_bundle(self) -> Iterator[Any]:
        yield from self._flush()

    def _flush(self) -> Iterator[Any]:
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        found = self._stored.lookup([(story, canonical) for story, canonical, _, _ in batch])
        for (story, canonical, window, timestamp), stored in zip(batch, found, strict=True):
            settled, failure = self._stored.settle(story, canonical, stored)
            if failure is not None:
                yield TaggedOutput(DEAD_LETTER, WindowedValue(failure, timestamp, (window,)))
            yield WindowedValue((settled, canonical), timestamp, (window,))


class _DedupeInMemoryFn(beam.DoFn):
    """The whole batch → its stories, in this one worker (``in_memory=True``).

    The same steps as the keyed path, with ``newsflow.dedupe.cluster`` for the first four: band
    keys and URL keys → candidate pairs → containment check → components (a union-find); then
    one story per component, each looked up and merged as ``_MergeStoredFn`` does, and the
    versions of one stored story combined. Everything happens in the one call that gets the
    batch, so no story is written before every lookup is done, and no shuffle follows. Its
    counters have the keyed path's names but count differently: each candidate pair once, and
    only the checks the union-find needed (``labels_unsettled`` does not apply).
    """

    def __init__(self, rules: MatchRules, max_bucket: int, es: EsConfig | None,
                 candidates: int, lookup_batch: int = LOOKUP_BATCH) -> None:
        self._rules = rules
        self._max_bucket = max_bucket
        self._stored = (_StoredStories(es, rules, candidates, self.__class__)
                        if es is not None else None)
        self._lookup_batch = lookup_batch
        self._candidates = Metrics.counter(self.__class__, "pairs_candidate")
        self._verified = Metrics.counter(self.__class__, "pairs_verified")
        self._oversized = Metrics.counter(self.__class__, "buckets_oversized")
        self._new = Metrics.counter(self.__class__, "stories_new")
        self._merged = Metrics.counter(self.__class__, "copies_merged")

    def setup(self) -> None:
        if self._stored is not None:
            self._stored.open()

    def teardown(self) -> None:
        if self._stored is not None:
            self._stored.close()

    def process(self, group: tuple[None, Iterable[Member]]) -> Iterator[Any]:
        members = list(group[1])
        stats = Stats()
        labels = cluster([m.entry for m in members], self._rules, stats, self._max_bucket)
        self._candidates.inc(stats.candidate_pairs)
        self._verified.inc(stats.verified_pairs)
        self._oversized.inc(stats.buckets_skipped)
        components: dict[int, list[Member]] = {}
        for member, label in zip(members, labels, strict=True):
            components.setdefault(label, []).append(member)
        built = [build_story(sorted(c, key=lambda m: m.entry.key)) for c in components.values()]
        if self._stored is None:  # without Elasticsearch every story is new
            for story, _ in built:
                self._new.inc()
                self._merged.inc(story.copy_count - 1)
                yield story
            return
        versions: dict[str, list[Story]] = {}
        for start in range(0, len(built), self._lookup_batch):
            batch = built[start : start + self._lookup_batch]
            for (story, canonical), stored in zip(batch, self._stored.lookup(batch), strict=True):
                settled, failure = self._stored.settle(story, canonical, stored)
                if failure is not None:
                    yield TaggedOutput(DEAD_LETTER, failure)
                versions.setdefault(settled.story_id, []).append(settled)
        for same in versions.values():
            yield same[0] if len(same) == 1 else combine_versions(same)


class _LookupError(Exception):
    """One search of an ``msearch`` that Elasticsearch answered with an error."""

    @classmethod
    def of(cls, response: dict[str, Any]) -> _LookupError:
        error = response.get("error") or {}
        if isinstance(error, dict):
            kind, reason = error.get("type", "error"), error.get("reason", "")
        else:
            kind, reason = "error", str(error)
        return cls(f"{response.get('status', '')} {kind}: {reason}".strip())


class _CombineVersionsFn(beam.DoFn):
    def process(self, group: tuple[str, Iterable[Story]]) -> Iterator[Story]:
        versions = list(group[1])
        yield versions[0] if len(versions) == 1 else combine_versions(versions)
