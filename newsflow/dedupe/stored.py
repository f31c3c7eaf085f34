"""Stories already in Elasticsearch that a new story copies: found by band keys, then verified.

A new story is looked up by the band keys it stores (its articles' and their URL keys); a stored
story sharing one is the same story when it has the same id, shares a URL key, or its stored
body and the newcomer's pass the pair check, within the horizon. Many stories are looked up in
one search, each taking the share of the hits a search of its own would give; when the hits
may not all fit in one answer, each story is searched on its own (one ``msearch``).
Both dedupe paths of ``transforms/dedupe.py`` use this, and ``settle`` decides what each writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow.dedupe.cluster import url_key
from newsflow.dedupe.match import MatchRules, is_copy, within_horizon
from newsflow.dedupe.story import Member, combine_versions, merge_into, stored_entry
from newsflow.es import EsConfig
from schemas.records import Failure, Story

__all__ = [
    "LOOKUP_BATCH",
    "STEP",
    "Settled",
    "StoredStories",
    "combine_by_id",
    "dead_letter",
    "matches_stored",
    "settle",
]

STEP = "dedupe"
LOOKUP_BATCH = 100  # stories looked up together
# The order of a story's candidates among stored stories: earliest first (the likeliest
# original), then by id, so that every lookup of the same story sees the same candidates.
CANDIDATE_ORDER = [{"published_at": {"order": "asc", "missing": "_last"}}, {"story_id": "asc"}]
MAX_TERMS = 60_000  # band keys in one search (Elasticsearch refuses more than 65,536)
MAX_HITS = 10_000  # hits in one answer (the index template's max_result_window)

# What a lookup found for one story: the stored story it copies, None (a new story), or the
# error that kept the lookup from answering.
Found = Story | Exception | None


@dataclass(frozen=True)
class Settled:
    """A story ready to write, and what it adds: the ``stories_new`` and ``copies_merged``
    counters of both dedupe paths, and the dead letter of a failed lookup."""

    story: Story
    new: bool
    copies_added: int
    failure: Failure | None = None


def dead_letter(item: Any, exc: Exception) -> Failure:
    """The dedupe step's dead letter for ``item`` (an article or a story)."""
    where = getattr(item, "url", "") or repr(item)[:200]
    return Failure(step=STEP, input=str(where), error_type=type(exc).__name__,
                   message=str(exc)[:1000], at=datetime.now(UTC))


def settle(story: Story, canonical: Member, stored: Found) -> Settled:
    """What to write for ``story`` given what its lookup found: the story itself when it is new
    (or the lookup failed: a transient dead letter then), else the stored story with it merged
    in (the stored id kept)."""
    failure = None
    if isinstance(stored, Exception):  # the cluster refused us: keep the story
        failure = dead_letter(story, stored)
        failure.transient = True
        failure.context = {"story_id": story.story_id}
        stored = None
    if stored is None:
        return Settled(story, new=True, copies_added=max(story.copy_count - 1, 0),
                       failure=failure)
    known = {c.url for c in stored.copies}
    added = sum(1 for c in story.copies if c.url not in known)
    return Settled(merge_into(stored, story, canonical), new=False, copies_added=added)


def combine_by_id(stories: Iterable[Story]) -> list[Story]:
    """One story per id: the versions of a stored story that several new ones merged into
    (two clusters of a run joined the same stored story) combined, first-seen order kept."""
    versions: dict[str, list[Story]] = {}
    for story in stories:
        versions.setdefault(story.story_id, []).append(story)
    return [same[0] if len(same) == 1 else combine_versions(same) for same in versions.values()]


def matches_stored(stored: Story, story: Story, canonical: Member, rules: MatchRules) -> bool:
    """Whether ``story`` (with its canonical member) is the same story as ``stored``."""
    if stored.story_id == story.story_id:
        return True
    newcomer = canonical.entry
    times = [c.published_at for c in stored.copies if c.published_at]
    if times and not any(within_horizon(t, newcomer.published_at, rules.horizon) for t in times):
        return False
    stored_urls = {url_key(c.url) for c in stored.copies} - {None}
    if any(url_key(c.url) in stored_urls for c in story.copies):
        return True
    old = stored_entry(stored)
    return is_copy(old.fingerprint, newcomer.fingerprint, None, None, rules)


def share_hits(
    hits: Sequence[dict[str, Any]], keys: Sequence[Sequence[str]], candidates: int
) -> list[list[dict[str, Any]]]:
    """Each story's candidates among the ``hits`` of one search for all their ``keys``: the
    first ``candidates`` hits sharing one of its keys, in the hits' order (what a search of its
    own, sorted the same way, would return)."""
    asked = {key for story_keys in keys for key in story_keys}
    by_key: dict[str, list[int]] = {}  # band key asked for -> positions of the hits with it
    for position, hit in enumerate(hits):
        for key in asked.intersection(hit["_source"]["band_keys"]):
            by_key.setdefault(key, []).append(position)
    out = []
    for story_keys in keys:
        shared = sorted({p for key in story_keys for p in by_key.get(key, ())})
        out.append([hits[p] for p in shared[:candidates]])
    return out


class StoredStories:
    """Looks stories up among those stored in ``es.index`` (``open`` before, ``close`` after)."""

    def __init__(self, es: EsConfig, rules: MatchRules, candidates: int) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        self._es_config = es
        self._rules = rules
        self._candidates = candidates
        self._client: Any = None

    def open(self) -> None:
        self._client = self._es_config.client()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def lookup(self, items: Sequence[tuple[Story, Member]]) -> list[Found]:
        """The stored story each of ``items`` copies (None: a new story), in one search; the
        exception for every item when the whole request failed."""
        try:
            return self._search(items)
        except Exception as exc:  # the whole request failed: every story of it did
            return [exc] * len(items)

    def _search(self, items: Sequence[tuple[Story, Member]]) -> list[Found]:
        keys = sorted({key for story, _ in items for key in story.band_keys})
        limit = self._candidates * len(items)
        if not keys or len(keys) > MAX_TERMS or limit > MAX_HITS:
            return self._search_each(items)
        response = self._client.search(
            index=self._es_config.index, query={"terms": {"band_keys": keys}}, size=limit,
            track_total_hits=limit + 1, seq_no_primary_term=True, sort=CANDIDATE_ORDER,
        )
        hits = response["hits"]["hits"]
        if response["hits"]["total"]["value"] > len(hits):  # some hits did not fit
            return self._search_each(items)
        shares = share_hits(hits, [story.band_keys for story, _ in items], self._candidates)
        return [self._first_match(share, story, canonical)
                for (story, canonical), share in zip(items, shares, strict=True)]

    def _search_each(self, items: Sequence[tuple[Story, Member]]) -> list[Found]:
        """One search per item, in one ``msearch``: its own ``candidates`` best hits each."""
        searches: list[dict[str, Any]] = []
        for story, _ in items:
            searches.append({"index": self._es_config.index})
            searches.append({
                "query": {"terms": {"band_keys": story.band_keys}},
                "size": self._candidates,
                "seq_no_primary_term": True,
                "sort": CANDIDATE_ORDER,
            })
        responses = self._client.msearch(searches=searches)["responses"]
        out: list[Found] = []
        for (story, canonical), response in zip(items, responses, strict=True):
            if "error" in response:
                out.append(_LookupError.of(response))
                continue
            out.append(self._first_match(response["hits"]["hits"], story, canonical))
        return out

    def _first_match(
        self, hits: Sequence[dict[str, Any]], story: Story, canonical: Member
    ) -> Story | None:
        for hit in hits:
            stored = Story.from_dict(hit["_source"])
            stored.seq_no, stored.primary_term = hit.get("_seq_no"), hit.get("_primary_term")
            stored.stored_index = hit.get("_index")
            if matches_stored(stored, story, canonical, self._rules):
                return stored
        return None


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
