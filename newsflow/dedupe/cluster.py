"""Deduplication of a batch held in one process: the CLI, the eval and the benchmark.

The same steps as the Beam transform (band keys → candidate pairs → containment check →
connected components → canonical per cluster), with dicts instead of GroupByKey and a
union-find instead of label propagation. Only fingerprints are kept, never bodies.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import numpy as np

from newsflow.dedupe.canonical import Entry, choose_canonical, story_id
from newsflow.dedupe.match import (
    DEFAULT_RULES,
    MatchRules,
    ShingleViews,
    is_copy,
    within_horizon,
)
from newsflow.dedupe.signature import FIXED_BANDS, distinct

# A band bucket with more members than this is a phrase every article of a site shares, not a
# story: it yields no pairs (the other bands still do). Counted in ``Stats.buckets_skipped``.
MAX_BUCKET = 500
# Query parameters that say where a reader came from, not which page they read.
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref=", "source=", "cmpid")


@dataclass
class Stats:
    articles: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    buckets_skipped: int = 0
    stories: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=1 << 16)
def url_key(url: str) -> str | None:
    """The key under which same-URL appearances meet; None for a site's front page."""
    parts = urlsplit(url)
    if not parts.netloc or (parts.path.strip("/") == "" and not parts.query):
        return None
    host = parts.netloc.lower().removeprefix("www.")
    query = "&".join(
        sorted(q for q in parts.query.split("&") if q and not q.lower().startswith(_TRACKING))
    )
    return f"{host}{parts.path.rstrip('/')}" + (f"?{query}" if query else "")


def url_band_key(url: str) -> str | None:
    """The URL as a band key (stored on stories, so a later update of the page finds them)."""
    key = url_key(url)
    if key is None:
        return None
    return f"u-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"


def candidate_keys(entry: Entry) -> list[str]:
    """The keys under which ``entry`` meets its candidate copies: its band keys and its URL's
    (``candidate_pairs`` uses the same keys, as numbers)."""
    ukey = url_band_key(entry.url)
    return [*entry.fingerprint.band_keys, *([ukey] if ukey else [])]


def bucket_pairs(
    members: Iterable[tuple[str, int | None]], horizon_micros: int, max_bucket: int = MAX_BUCKET
) -> list[tuple[str, str]] | None:
    """The candidate pairs of one key's bucket of (ref, published_at in epoch microseconds),
    smaller ref first, within the horizon; None when the bucket holds more than ``max_bucket``
    refs (a phrase every article of a site shares, not a story)."""
    seen: dict[str, int | None] = {}
    for ref, stamp in members:
        seen[ref] = stamp
        if len(seen) > max_bucket:
            return None
    ordered = sorted(seen.items())
    return [
        (ra, rb)
        for i, (ra, ta) in enumerate(ordered)
        for rb, tb in ordered[i + 1 :]
        if ta is None or tb is None or abs(ta - tb) <= horizon_micros  # within_horizon, exact
    ]


def same_story(a: Entry, b: Entry, rules: MatchRules = DEFAULT_RULES,
               views: ShingleViews | None = None) -> bool:
    """The pair check on two entries: same canonical URL, or one body a copy of the other."""
    ka = url_key(a.url)
    if ka is not None and ka == url_key(b.url):
        return within_horizon(a.published_at, b.published_at, rules.horizon)
    return is_copy(a.fingerprint, b.fingerprint, a.published_at, b.published_at, rules,
                   views=views)


def candidate_pairs(entries: Sequence[Entry], max_bucket: int = MAX_BUCKET,
                    stats: Stats | None = None,
                    horizon: timedelta | None = None) -> Iterator[tuple[int, int]]:
    """Index pairs that share a band key or a URL key, each once (smaller index first); with
    ``horizon``, only pairs published within it (or undated), as ``bucket_pairs`` keeps them."""
    if not entries:
        return
    keys = [e.fingerprint.bands for e in entries]
    url_hashes = np.array(
        [_stable64(k) if (k := url_key(e.url)) else 0 for e in entries], dtype=np.uint64
    )
    lengths = np.fromiter((k.size for k in keys), dtype=np.int64, count=len(keys))
    flat = np.concatenate(keys + [url_hashes])
    owner = np.concatenate([np.repeat(np.arange(len(entries)), lengths), np.arange(len(entries))])
    # Column number mixed into the key, so band 3 of one article never meets band 4 of another
    # (anchors share one column: any anchor may meet any other).
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    column = np.minimum(np.arange(offsets.size) - offsets, FIXED_BANDS)
    column = np.concatenate((column, np.full(len(entries), FIXED_BANDS + 1))).astype(np.uint64)
    keep = flat != 0
    flat = flat[keep] ^ (column[keep] * np.uint64(0x9E3779B97F4A7C15))
    owner = owner[keep]
    order = np.argsort(flat, kind="stable")  # stable: owners stay in order within a key
    flat, owner = flat[order], owner[order]
    repeated = np.zeros(flat.size, dtype=bool)  # one article naming a key twice
    repeated[1:] = (flat[1:] == flat[:-1]) & (owner[1:] == owner[:-1])
    flat, owner = flat[~repeated], owner[~repeated]
    boundaries = np.flatnonzero(np.diff(flat)) + 1
    starts = np.concatenate(([0], boundaries))
    sizes = np.diff(np.concatenate((starts, [flat.size])))
    n = np.int64(len(entries))
    # Buckets of two (nearly all of them) become pairs in one vectorised step ...
    two = starts[sizes == 2]
    first, second = owner[two].astype(np.int64), owner[two + 1].astype(np.int64)
    differ = first != second
    low, high = np.minimum(first, second)[differ], np.maximum(first, second)[differ]
    codes = [low * n + high]
    # ... larger ones pair every member with every other, unless the bucket is oversized.
    for s, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist(), strict=True):
        if size > max_bucket:
            if stats is not None:
                stats.buckets_skipped += 1
            continue
        members = owner[s : s + size].tolist()
        codes.append(
            np.array([x * int(n) + y for x, y in itertools.combinations(members, 2)], np.int64)
        )
    pairs = distinct(np.concatenate(codes))
    if horizon is not None and pairs.size:
        # Out of the horizon: most candidate pairs of a big batch (sites that share phrases),
        # dropped here in one step rather than pair by pair.
        stamps = np.array([_micros(e.published_at) for e in entries], dtype=np.int64)
        a, b = stamps[pairs // n], stamps[pairs % n]
        undated = (a == _UNDATED) | (b == _UNDATED)
        pairs = pairs[undated | (np.abs(a - b) <= horizon // timedelta(microseconds=1))]
    for code in pairs.tolist():
        yield divmod(code, int(n))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNDATED = np.iinfo(np.int64).min


def _micros(t: datetime | None) -> int:
    """Microseconds since the epoch, exactly (``within_horizon`` compares datetimes exactly)."""
    return _UNDATED if t is None else (t - _EPOCH) // timedelta(microseconds=1)


def _stable64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def cluster(entries: Sequence[Entry], rules: MatchRules = DEFAULT_RULES,
            stats: Stats | None = None, max_bucket: int = MAX_BUCKET) -> list[int]:
    """Component label (index of the component's smallest member) per entry."""
    parent = list(range(len(entries)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    views = ShingleViews()  # each body's distinct shingles, sorted once for all its pairs
    for i, j in candidate_pairs(entries, max_bucket, stats=stats, horizon=rules.horizon):
        if stats is not None:
            stats.candidate_pairs += 1
        ri, rj = find(i), find(j)
        if ri == rj:
            continue  # already joined through other copies: no need to check
        if same_story(entries[i], entries[j], rules, views):
            if stats is not None:
                stats.verified_pairs += 1
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(len(entries))]


@dataclass(frozen=True)
class Assignment:
    key: str
    cluster_id: str
    canonical: bool


def dedupe(entries: Iterable[Entry], rules: MatchRules = DEFAULT_RULES,
           stats: Stats | None = None) -> list[Assignment]:
    """Cluster id and canonical flag for every entry, in input order."""
    items = list(entries)
    labels = cluster(items, rules, stats)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    out: list[Assignment | None] = [None] * len(items)
    for members in groups.values():
        chosen = choose_canonical([items[i] for i in members])
        sid = story_id(chosen.url, chosen.fingerprint.body_hash)
        for i in members:
            out[i] = Assignment(items[i].key, sid, items[i] is chosen)
    if stats is not None:
        stats.articles = len(items)
        stats.stories = len(groups)
    return [a for a in out if a is not None]
