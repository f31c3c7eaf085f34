"""Stories from clusters of articles, and the merge of a cluster into a story stored earlier.

Pure functions shared by the Beam transform and its tests: which copies a story lists, which
band keys it stores for later runs, and how a story found in Elasticsearch absorbs newcomers
while keeping its ``story_id`` (and its canonical article, unless a newcomer is the earlier
original). Merging the same articles twice gives the same story: copies are keyed by URL and
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
from newsflow.dedupe.signature import Fingerprint, band_key_strings, fingerprint
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
    return hashlib.sha1(f"{article.url}\n{body_hash}".encode()).hexdigest()[:20]


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
    )


def entry_from_tuple(t: EntryTuple) -> Entry:
    """The ``Entry`` ``entry_to_tuple`` was given (its arrays read-only views of the bytes)."""
    (key, url, source, published, truncated, shingles, line_starts, numbers, words, body_hash,
     complete, bands, credits, names, short) = t
    fp = Fingerprint(
        shingles=np.frombuffer(shingles, dtype=np.uint32),
        line_starts=np.frombuffer(line_starts, dtype=np.int32),
        numbers=frozenset(numbers), words=words, body_hash=body_hash, complete=complete,
        bands=np.frombuffer(bands, dtype=np.uint64),
        credits=frozenset(credits), names=frozenset(names), short=short,
    )
    return Entry(key=key, url=url, source=source, published_at=from_epoch_micros(published),
                 fingerprint=fp, truncated=truncated)


def copy_of(article: Article) -> Copy:
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
    )


def merge_copies(*groups: Sequence[Copy]) -> list[Copy]:
    """Copies keyed by URL (the first seen wins), ordered by time then URL. A copy that stood in
    with the feed's text goes once its page has been read: a copy from the page fetched from
    the same link (whose URL may differ: the page names its canonical one) takes its place."""
    copies = [c for group in groups for c in group]
    read = {c.fetched_url for c in copies if c.body_source == "page" and c.fetched_url}
    by_url: dict[str, Copy] = {}
    for c in copies:
        if c.body_source == "feed" and c.fetched_url in read:
            continue
        by_url.setdefault(c.url, c)
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
    story.copies = merge_copies([copy_of(m.article) for m in members])
    story.copy_count = len(story.copies)
    story.band_keys = story_keys(canonical, members)
    return story, canonical


def build_stories(
    members: Sequence[Member], rules: MatchRules = DEFAULT_RULES, stats: Stats | None = None,
    max_bucket: int = MAX_BUCKET,
) -> list[tuple[Story, Member]]:
    """The stories of a batch held in one process, with their canonical members: the batch
    clustered (``cluster``), one story per cluster, its members in key order (as the keyed
    path's grouping leaves them)."""
    labels = cluster([m.entry for m in members], rules, stats, max_bucket)
    components: dict[int, list[Member]] = {}
    for member, label in zip(members, labels, strict=True):
        components.setdefault(label, []).append(member)
    return [build_story(sorted(c, key=lambda m: m.entry.key)) for c in components.values()]


def stored_entry(story: Story) -> Entry:
    """An ``Entry`` for a stored story's canonical article, fingerprinted from its stored body."""
    fp = fingerprint(story.body)
    return Entry(
        key=f"stored:{story.story_id}",
        url=story.url,
        source=story.source,
        published_at=story.published_at,
        fingerprint=fp,
        truncated=story.truncated,
    )


def merge_into(existing: Story, new: Story, new_canonical: Member) -> Story:
    """``existing`` with ``new``'s copies added; its id kept, its canonical kept unless the
    newcomer's canonical is the earlier original, or the same article read from its page where
    the stored one stood in with the feed's text."""
    old = stored_entry(existing)
    ranks = canonical_ranks([old, new_canonical.entry])
    same = new_canonical.entry.url == existing.url
    newcomer_wins = (ranks[1] < ranks[0] and not same) or (
        existing.body_source == "feed" and new.body_source == "page"
        and new_canonical.article.fetched_url in _fetched_urls(existing, existing.url))
    if newcomer_wins:
        merged = replace(new, story_id=existing.story_id)
    else:
        merged = replace(existing)
    merged.copies = merge_copies(existing.copies, new.copies)
    merged.copy_count = len(merged.copies)
    merged.band_keys = sorted(set(existing.band_keys) | set(new.band_keys))[:MAX_STORY_KEYS]
    merged.seq_no, merged.primary_term = existing.seq_no, existing.primary_term
    merged.stored_index = existing.stored_index
    return merged


def _fetched_urls(story: Story, url: str) -> set[str]:
    """The links fetched for ``story``'s copies at ``url`` (a stand-in's: the entry's link)."""
    return {c.fetched_url or c.url for c in story.copies if c.url == url} | {url}


def combine_versions(versions: Sequence[Story]) -> Story:
    """Several versions of one story id (two clusters of a run joined the same stored story)."""
    entries = [stored_entry(v) for v in versions]
    ranks = canonical_ranks(entries)
    best = versions[min(range(len(versions)), key=ranks.__getitem__)]
    if best.body_source == "feed":  # the same article read from its page is better
        links = _fetched_urls(best, best.url)
        best = next((v for v in versions if v.body_source == "page"
                     and _fetched_urls(v, v.url) & links), best)
    merged = replace(best)
    merged.copies = merge_copies(*(v.copies for v in versions))
    merged.copy_count = len(merged.copies)
    keys = sorted({k for v in versions for k in v.band_keys})
    merged.band_keys = keys[:MAX_STORY_KEYS]
    stored = next((v for v in versions if v.seq_no is not None), None)
    merged.seq_no = stored.seq_no if stored else None
    merged.primary_term = stored.primary_term if stored else None
    merged.stored_index = stored.stored_index if stored else None
    return merged


def resolve_write_conflict(stored: Story, ours: Story) -> Story:
    """What to write when ``stored`` changed since ``ours`` was merged: both, as one story.

    The sink calls it on a version conflict; ``stored`` carries its current position.
    """
    return combine_versions([stored, ours])
