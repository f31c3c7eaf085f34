"""Stories from clusters of articles, and the merge of a cluster into stories stored earlier.

Pure functions shared by the Beam transform and its tests: which copies a story lists (each with
its text, so a later copy can be checked against every place the story appeared, as a batch
would), which band keys it stores for later runs, and how stories found in Elasticsearch absorb
newcomers and each other: the id of the stored story whose canonical article ranks first is
kept, the canonical article is the one that ranks first among all, and the other stored stories
are absorbed. Merging the same articles twice gives the same story: copies are keyed by URL and
kept in a deterministic order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from newsflow.dedupe.canonical import Entry, canonical_ranks, story_id
from newsflow.dedupe.cluster import MAX_BUCKET, Stats, cluster, url_band_key
from newsflow.dedupe.match import DEFAULT_RULES, MatchRules
from newsflow.dedupe.signature import Fingerprint, band_key_strings, fingerprint, fingerprints
from schemas.records import Article, Copy, Story

# A story stores at most this many band keys (the canonical's first, then its copies').
MAX_STORY_KEYS = 512
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Member:
    """An article in the dedupe step: its ``Entry`` (fingerprint and metadata) and the record."""

    entry: Entry
    article: Article


def article_ref(article: Article, body_hash: str) -> str:
    """The dedupe step's id for one appearance: same URL and same body are one appearance."""
    return _ref(article.url, body_hash)


def member_of(article: Article, fp: Fingerprint | None = None) -> Member:
    """The dedupe step's view of an article (fingerprinted here unless ``fp`` is given)."""
    fp = fp or fingerprint(article.body)
    entry = Entry(
        key=article_ref(article, fp.body_hash),
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        fingerprint=fp,
        truncated=article.truncated,
    )
    return Member(entry, article)


def epoch_micros(t: datetime | None) -> int | None:
    """Microseconds since the epoch: exact, so differences compare as the datetimes' do."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - EPOCH) // MICROSECOND


def from_epoch_micros(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


# An ``Entry`` as a tuple of primitives (str, int, bool, bytes, tuples of str): what the Beam
# transform ships between workers for the pair check, cheap to code, no pickling.
EntryTuple = tuple[Any, ...]


def entry_to_tuple(entry: Entry) -> EntryTuple:
    fp = entry.fingerprint
    return (
        entry.key, entry.url, entry.source, epoch_micros(entry.published_at), entry.truncated,
        np.ascontiguousarray(fp.shingles, dtype=np.uint32).tobytes(),
        np.ascontiguousarray(fp.line_starts, dtype=np.int32).tobytes(),
        tuple(sorted(fp.numbers)), fp.words, fp.body_hash, fp.complete,
        np.ascontiguousarray(fp.bands, dtype=np.uint64).tobytes(),
        tuple(sorted(fp.credits)), tuple(sorted(fp.names)), fp.short,
        tuple(tuple(sorted(x)) for x in fp.line_numbers),
        tuple(tuple(sorted(x)) for x in fp.line_names), tuple(sorted(fp.caps)),
    )


def entry_from_tuple(t: EntryTuple) -> Entry:
    """The ``Entry`` ``entry_to_tuple`` was given (its arrays read-only views of the bytes)."""
    (key, url, source, published, truncated, shingles, line_starts, numbers, words, body_hash,
     complete, bands, credits, names, short, line_numbers, line_names, caps) = t
    fp = Fingerprint(
        shingles=np.frombuffer(shingles, dtype=np.uint32),
        line_starts=np.frombuffer(line_starts, dtype=np.int32),
        numbers=frozenset(numbers), words=words, body_hash=body_hash, complete=complete,
        bands=np.frombuffer(bands, dtype=np.uint64),
        credits=frozenset(credits), names=frozenset(names), short=short,
        line_numbers=tuple(frozenset(x) for x in line_numbers),
        line_names=tuple(frozenset(x) for x in line_names), caps=frozenset(caps),
    )
    return Entry(key=key, url=url, source=source, published_at=from_epoch_micros(published),
                 fingerprint=fp, truncated=truncated)


def copy_of(article: Article, *, text: bool = True) -> Copy:
    """Where ``article`` appeared, with its text unless ``text`` is False (the canonical
    article's text is the story's body)."""
    return Copy(
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        title=article.title,
        fetched_url=article.fetched_url,
        truncated=article.truncated,
        feed_url=article.feed_url,
        guid=article.guid,
        body_source=article.body_source,
        body=article.body if text else "",
    )


def merge_copies(*groups: Sequence[Copy]) -> list[Copy]:
    """Copies keyed by URL (the first seen wins, its text filled in from a later one if it
    had none), ordered by time then URL. A copy that stood in with the feed's text goes once
    its page has been read: a copy from the page fetched from the same link (whose URL may
    differ: the page names its canonical one) takes its place."""
    copies = [c for group in groups for c in group]
    read = {c.fetched_url for c in copies if c.body_source == "page" and c.fetched_url}
    by_url: dict[str, Copy] = {}
    for c in copies:
        if c.body_source == "feed" and c.fetched_url in read:
            continue
        seen = by_url.setdefault(c.url, c)
        if not seen.body and c.body:
            by_url[c.url] = replace(seen, body=c.body)
    return sorted(by_url.values(), key=lambda c: (c.published_at is None, _sort_time(c), c.url))


def _sort_time(c: Copy) -> str:
    return c.published_at.isoformat() if c.published_at else ""


def story_keys(canonical: Member, members: Sequence[Member]) -> list[str]:
    """Band keys stored on a story: the canonical's, then the copies', and their URL keys."""
    keys: dict[str, None] = {}
    for m in [canonical, *(m for m in members if m is not canonical)]:
        if len(keys) >= MAX_STORY_KEYS:
            break
        ukey = url_band_key(m.entry.url)
        keys.update(dict.fromkeys(band_key_strings(m.entry.fingerprint.bands)))
        if ukey:
            keys[ukey] = None
    return sorted(list(keys)[:MAX_STORY_KEYS])


def story_from_article(article: Article, sid: str, body_hash: str) -> Story:
    """A story whose canonical article is ``article`` (copies and keys filled in later)."""
    return Story(
        story_id=sid,
        url=article.url,
        title=article.title,
        body=article.body,
        summary=article.summary,
        authors=list(article.authors),
        publisher=article.publisher,
        source=article.source,
        published_at=article.published_at,
        published_at_source=article.published_at_source,
        modified_at=article.modified_at,
        fetched_at=article.fetched_at,
        language=article.language,
        feed_url=article.feed_url,
        word_count=article.word_count,
        truncated=article.truncated,
        body_source=article.body_source,
        body_hash=body_hash,
    )


def build_story(members: Sequence[Member]) -> tuple[Story, Member]:
    """The story of one cluster, and its canonical member."""
    ranks = canonical_ranks([m.entry for m in members])
    canonical = members[min(range(len(members)), key=ranks.__getitem__)]
    fp = canonical.entry.fingerprint
    sid = story_id(canonical.article.url, fp.body_hash)
    story = story_from_article(canonical.article, sid, fp.body_hash)
    story.copies = _with_texts(merge_copies([copy_of(m.article) for m in members]), story.url)
    story.copy_count = len(story.copies)
    story.band_keys = story_keys(canonical, members)
    return story, canonical


def build_stories(
    members: Sequence[Member], rules: MatchRules = DEFAULT_RULES, stats: Stats | None = None,
    max_bucket: int = MAX_BUCKET,
) -> list[tuple[Story, list[Member]]]:
    """The stories of a batch held in one process, with their members: the batch clustered
    (``cluster``), one story per cluster, its members in key order (as the keyed path's
    grouping leaves them)."""
    labels = cluster([m.entry for m in members], rules, stats, max_bucket)
    components: dict[int, list[Member]] = {}
    for member, label in zip(members, labels, strict=True):
        components.setdefault(label, []).append(member)
    out = []
    for component in components.values():
        ordered = sorted(component, key=lambda m: m.entry.key)
        out.append((build_story(ordered)[0], ordered))
    return out


def story_entries(story: Story) -> list[Entry]:
    """An ``Entry`` for every place ``story`` appeared whose text it holds (the canonical
    article's from the story's body, the others' from their copies), fingerprinted now."""
    texts: list[tuple[Copy, str]] = []
    for c in story.copies:
        text = story.body if c.url == story.url else c.body
        if text:
            texts.append((c, text))
    if not any(c.url == story.url for c, _ in texts):  # a story stored without its copy
        texts.insert(0, (Copy(url=story.url, source=story.source,
                              published_at=story.published_at, truncated=story.truncated),
                         story.body))
    prints = fingerprints([text for _, text in texts])
    return [
        Entry(key=_ref(c.url, fp.body_hash), url=c.url, source=c.source,
              published_at=c.published_at, fingerprint=fp, truncated=c.truncated)
        for (c, _), fp in zip(texts, prints, strict=True)
    ]


def _ref(url: str, body_hash: str) -> str:
    return hashlib.sha1(f"{url}\n{body_hash}".encode()).hexdigest()[:20]


def merge_stories(
    stored: Sequence[Story], new: Story | None = None, new_entries: Sequence[Entry] = (),
) -> Story:
    """Stored stories (one or more) and a newcomer (or none) that are one story, as one.

    It keeps the id of the stored story whose canonical article ranks first (so the same
    stories merged by two writers get the same id), and the canonical article that ranks first
    among all their canonical articles, ranked with every place any of them appeared; the
    other stored stories are ``absorbed`` (the sink deletes them). ``new_entries``: the
    newcomer's entries, when known (else they are fingerprinted from its copies).
    """
    if not stored:
        raise ValueError("merge_stories needs at least one stored story")
    stories = [*stored, *([new] if new is not None else [])]
    entries: list[list[Entry]] = [story_entries(s) for s in stored]
    if new is not None:
        entries.append(list(new_entries) or story_entries(new))
    survivor, best = _survivor_and_best(stories, entries, len(stored))
    return _merged(survivor, best, stories, stored)


def _fetched_urls(story: Story, url: str) -> set[str]:
    """The links fetched for ``story``'s copies at ``url`` (a stand-in's: the entry's link)."""
    return {c.fetched_url or c.url for c in story.copies if c.url == url} | {url}


def combine_versions(versions: Sequence[Story]) -> Story:
    """Several versions of one story id (two clusters of a run joined the same stored story,
    or a write met a newer stored version) as one: the stored version's position kept."""
    entries = [story_entries(v) for v in versions]
    stored = [v for v in versions if v.seq_no is not None] or [versions[0]]
    _, best = _survivor_and_best(list(versions), entries, len(versions))
    return _merged(stored[0], best, list(versions), stored)


def _survivor_and_best(
    stories: Sequence[Story], entries: Sequence[Sequence[Entry]], stored_count: int,
) -> tuple[Story, Story]:
    """The stored story whose canonical ranks first (its id survives) and the story whose
    canonical ranks first overall (its canonical article leads the merged story)."""
    everyone: dict[str, Entry] = {}
    for group in entries:
        for e in group:
            everyone.setdefault(e.key, e)
    pool = list(everyone.values())
    ranks = dict(zip((e.key for e in pool), canonical_ranks(pool), strict=True))

    def rank(i: int) -> tuple[object, ...]:
        own = [e for e in entries[i] if e.url == stories[i].url] or list(entries[i])
        best = min((ranks[e.key] for e in own), default=(True,))
        return (best, stories[i].story_id)

    order = sorted(range(len(stories)), key=rank)
    survivor = next(stories[i] for i in order if i < stored_count)
    best = stories[order[0]]
    if order[0] >= stored_count:  # a newcomer at a stored canonical URL does not replace it
        best = next((s for s in stories[:stored_count] if s.url == best.url
                     and not (s.body_source == "feed" and best.body_source == "page")), best)
    if best.body_source == "feed":  # the same article read from its page is better
        links = _fetched_urls(best, best.url)
        best = next((s for s in stories if s.body_source == "page"
                     and _fetched_urls(s, s.url) & links), best)
    return survivor, best


def _merged(survivor: Story, best: Story, stories: Sequence[Story],
            stored: Sequence[Story]) -> Story:
    merged = replace(best, story_id=survivor.story_id)
    texts = {s.url: s.body for s in stories}
    copies = merge_copies(*(s.copies for s in [best, *stories]))
    merged.copies = _with_texts(copies, merged.url, texts)
    merged.copy_count = len(merged.copies)
    merged.band_keys = sorted({k for s in stories for k in s.band_keys})[:MAX_STORY_KEYS]
    merged.seq_no, merged.primary_term = survivor.seq_no, survivor.primary_term
    merged.stored_index = survivor.stored_index
    absorbed: dict[str, Story] = {}
    for s in [*stored, *stories]:
        for gone in [s, *s.absorbed] if s.seq_no is not None else s.absorbed:
            if gone.story_id != survivor.story_id:
                absorbed.setdefault(gone.story_id, replace(gone, absorbed=[]))
    merged.absorbed = list(absorbed.values())
    return merged


def _with_texts(copies: Sequence[Copy], canonical_url: str,
                texts: dict[str, str] | None = None) -> list[Copy]:
    """``copies`` each with its text (from ``texts`` by URL when it has none), but the
    canonical article's, whose text is the story's body."""
    texts = texts or {}
    return [replace(c, body="" if c.url == canonical_url else c.body or texts.get(c.url, ""))
            for c in copies]


def resolve_write_conflict(stored: Story, ours: Story) -> Story:
    """What to write when ``stored`` changed since ``ours`` was merged: both, as one story.

    The sink calls it on a version conflict; ``stored`` carries its current position.
    """
    return combine_versions([stored, ours])
