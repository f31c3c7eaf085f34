"""Stories already in Elasticsearch that a new story copies: found by band keys, then verified.

A new story is looked up by the band keys it stores (its articles' and their URL keys), among
the stored stories sharing the most of them (rare keys weigh more: a phrase every story of a
site shares does not crowd out the story's own copies). A stored story is the same story when
it has the same id, shares a URL key, or one of the places it appeared and one of the
newcomer's articles pass the pair check, within the horizon: the check a batch makes between
any two articles. Every stored story that matches is merged with the newcomer, so a newcomer
that bridges two stored stories joins them, as in a batch. Both dedupe paths of
``transforms/dedupe.py`` use this, and ``settle`` decides what each writes. ``Reconciler`` is the
same lookup after a write: two windows that each made a new story of the same copies (each
looked before the other had written) find each other once both are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow.dedupe.canonical import Entry
from newsflow.dedupe.cluster import url_key
from newsflow.dedupe.match import MatchRules, is_copy, within_horizon
from newsflow.dedupe.story import combine_versions, merge_stories, story_entries
from newsflow.es import EsConfig
from schemas.records import Failure, Story

__all__ = [
    "LOOKUP_BATCH",
    "STEP",
    "Reconciler",
    "Settled",
    "StoredStories",
    "combine_by_id",
    "dead_letter",
    "matches_stored",
    "settle",
]

STEP = "dedupe"
LOOKUP_BATCH = 100  # stories looked up together (one msearch)
# Ties among candidates equally close: earliest first (the likeliest original), then by id, so
# that every lookup of the same story sees the same candidates.
CANDIDATE_ORDER = [
    "_score",
    {"published_at": {"order": "asc", "missing": "_last"}},
    {"story_id": "asc"},
]

# What a lookup found for one story: the stored stories it copies (none: a new story), or the
# error that kept the lookup from answering.
Found = list[Story] | Exception


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


def settle(story: Story, entries: Sequence[Entry], stored: Found | None) -> Settled:
    """What to write for ``story`` (whose articles' entries are ``entries``) given what its
    lookup found: the story itself when it is new (or the lookup failed: a transient dead
    letter then), else the stored stories with it merged in (``merge_stories``)."""
    failure = None
    if isinstance(stored, Exception):  # the cluster refused us: keep the story
        failure = dead_letter(story, stored)
        failure.transient = True
        failure.context = {"story_id": story.story_id}
        stored = None
    if not stored:
        return Settled(story, new=True, copies_added=max(story.copy_count - 1, 0),
                       failure=failure)
    known = {c.url for s in stored for c in s.copies}
    added = sum(1 for c in story.copies if c.url not in known)
    return Settled(merge_stories(stored, story, entries), new=False, copies_added=added)


def combine_by_id(stories: Iterable[Story]) -> list[Story]:
    """One story per id: the versions of a stored story that several new ones merged into
    (two clusters of a run joined the same stored story) combined, first-seen order kept."""
    versions: dict[str, list[Story]] = {}
    for story in stories:
        versions.setdefault(story.story_id, []).append(story)
    return [same[0] if len(same) == 1 else combine_versions(same) for same in versions.values()]


def matches_stored(stored: Story, story: Story, entries: Sequence[Entry], rules: MatchRules,
                   stored_entries: Sequence[Entry] | None = None) -> bool:
    """Whether ``story`` (with its articles' ``entries``) is the same story as ``stored``: the
    same id, a shared URL key or fetched link, or a pair of their articles that are copies
    (within the horizon). ``stored_entries``: ``story_entries(stored)``, when already computed."""
    if stored.story_id == story.story_id:
        return True
    times = [c.published_at for c in stored.copies if c.published_at]
    if times and not any(within_horizon(t, e.published_at, rules.horizon)
                         for t in times for e in entries):
        return False
    stored_urls = {url_key(c.url) for c in stored.copies} - {None}
    if any(url_key(c.url) in stored_urls for c in story.copies):
        return True
    # The same link fetched: the same article (a page read now, where the feed's text stood in).
    stored_links = {c.fetched_url for c in stored.copies if c.fetched_url}
    if any(c.fetched_url in stored_links for c in story.copies if c.fetched_url):
        return True
    olds = stored_entries if stored_entries is not None else story_entries(stored)
    return any(is_copy(old.fingerprint, new.fingerprint, old.published_at, new.published_at,
                       rules)
               for old in olds for new in entries)


class StoredStories:
    """Looks stories up among those stored in ``es.index`` (``open`` before, ``close`` after;
    ``open(client)`` borrows a client its owner closes)."""

    def __init__(self, es: EsConfig, rules: MatchRules, candidates: int) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        self._es_config = es
        self._rules = rules
        self._candidates = candidates
        self._client: Any = None
        self._own = False

    def open(self, client: Any = None) -> None:
        self._own = client is None
        self._client = client or self._es_config.client()

    def close(self) -> None:
        if self._client is not None and self._own:
            self._client.close()
        self._client = None

    def lookup(
        self, items: Sequence[tuple[Story, Sequence[Entry]]], *, others_only: bool = False,
    ) -> list[Found]:
        """The stored stories each of ``items`` (a story and its articles' entries) copies, in
        one ``msearch``; the exception for every item when the whole request failed.
        ``others_only``: a story's own stored version does not count (after its write)."""
        try:
            return self._search(items, others_only)
        except Exception as exc:  # the whole request failed: every story of it did
            return [exc] * len(items)

    def _search(self, items: Sequence[tuple[Story, Sequence[Entry]]],
                others_only: bool) -> list[Found]:
        searches: list[dict[str, Any]] = []
        asked = [i for i, (story, _) in enumerate(items) if story.band_keys]
        for i in asked:
            story = items[i][0]
            searches.append({"index": self._es_config.index})
            # A story stored under a link this story's pages were fetched from ranks first:
            # there the feed's text stood in for a page that failed then.
            links = sorted({c.fetched_url for c in story.copies
                            if c.fetched_url and c.body_source == "page"})
            searches.append({
                "query": {"bool": {
                    "should": [{"term": {"band_keys": key}} for key in story.band_keys] + (
                        [{"terms": {"copies.fetched_url": links, "boost": 1000}}]
                        if links else []),
                    **({"must_not": [{"ids": {"values": [story.story_id]}}]}
                       if others_only else {}),
                }},
                "size": self._candidates,
                "seq_no_primary_term": True,
                "sort": CANDIDATE_ORDER,
                "track_total_hits": False,
            })
        out: list[Found] = [[] for _ in items]
        if not searches:
            return out
        responses = self._client.msearch(searches=searches)["responses"]
        cache: dict[str, list[Entry]] = {}
        for i, response in zip(asked, responses, strict=True):
            story, entries = items[i]
            if "error" in response:
                out[i] = _LookupError.of(response)
                continue
            out[i] = self._matches(response["hits"]["hits"], story, entries, cache)
        return out

    def _matches(self, hits: Sequence[dict[str, Any]], story: Story, entries: Sequence[Entry],
                 cache: dict[str, list[Entry]]) -> list[Story]:
        found = []
        for hit in hits:
            stored = Story.from_dict(hit["_source"])
            stored.seq_no, stored.primary_term = hit.get("_seq_no"), hit.get("_primary_term")
            stored.stored_index = hit.get("_index")
            if stored.story_id not in cache:
                cache[stored.story_id] = story_entries(stored)
            if matches_stored(stored, story, entries, self._rules, cache[stored.story_id]):
                found.append(stored)
        return found


class Reconciler:
    """After a write: the stored stories each written story copies, merged with it into one
    (``merge_stories``; None where it copies none). The index sink calls it on the stories it
    created in a streaming job, where two windows may each have made a new story of the same
    copies, and on stories whose absorbed versions changed meanwhile. Each written story must
    carry its stored position (``seq_no``, ``primary_term``, ``stored_index``)."""

    def __init__(self, es: EsConfig, rules: MatchRules, candidates: int = 10) -> None:
        self._stored = StoredStories(es, rules, candidates)

    def open(self, client: Any = None) -> None:
        self._stored.open(client)

    def close(self) -> None:
        self._stored.close()

    def __call__(self, written: Sequence[Story]) -> list[Story | None]:
        items = [(story, story_entries(story)) for story in written]
        found = self._stored.lookup(items, others_only=True)
        out: list[Story | None] = []
        for story, others in zip(written, found, strict=True):
            if isinstance(others, Exception):
                raise others
            out.append(merge_stories([*others, story]) if others else None)
        return out


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
