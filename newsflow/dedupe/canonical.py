"""Which appearance of a story is the original, and the story's stable id.

The canonical article is the one a reader should land on: the earliest credible
``published_at``, not an aggregator's re-post and not a truncated copy. "Credible" and
"aggregator" are read from the cluster itself, with no list of sites: a page that credits
another member's site in its furniture lines ("Read more at example.com") is a re-post; a body
that stops where another member goes on, or that another holds twice over, is a partial copy.
Those are only chosen when every member is one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from newsflow.dedupe.signature import SHINGLE_WORDS, Fingerprint, distinct, isin_sorted


@dataclass(frozen=True)
class Entry:
    """One appearance of a story as the dedupe logic sees it: metadata plus fingerprint."""

    key: str  # unique per appearance (CLI: the input id; Beam: derived from url and body)
    url: str
    source: str
    published_at: datetime | None
    fingerprint: Fingerprint
    truncated: bool = False


def is_repost(entry: Entry, members: Sequence[Entry]) -> bool:
    """True when the entry credits another member's site ("Read more at <their domain>")."""
    credited = entry.fingerprint.credits
    if not credited:
        return False
    own = entry.source.lower().removeprefix("www.")
    for m in members:
        other = m.source.lower().removeprefix("www.")
        if other and other != own and any(c == other or c.endswith("." + other) for c in credited):
            return True
    return False


def is_partial_of(a: Fingerprint, b: Fingerprint, *, cut: bool = False) -> bool:
    """True when ``a`` is a truncated copy or an excerpt of ``b``.

    Truncated: ``a`` stops mid-sentence (or ``cut``: the normaliser saw it stop short) where
    ``b`` goes on in the same paragraph (mid-word: its last shingle is not in ``b`` at all).
    Excerpt: ``b`` holds all of ``a`` and twice as much. A copy that merely adds a line (a
    correction note) does not make ``a`` partial, nor does a flag alone: a page that ends
    without a full stop ("Houston, TX", a credit line) is no truncated copy.
    """
    if a.shingles.size == 0 or b.shingles.size == 0:
        return False
    distinct_a = distinct(a.shingles)
    distinct_b = distinct(b.shingles)
    if float(isin_sorted(distinct_a, distinct_b).mean()) < 0.9:
        return False
    if distinct_b.size >= 2 * distinct_a.size:
        return True
    if (a.complete and not cut) or distinct_b.size <= distinct_a.size:
        return False
    where = np.flatnonzero(b.shingles == a.shingles[-1])
    if where.size == 0:
        return True  # cut mid-word
    after = int(where[0]) + SHINGLE_WORDS  # the first word of b after a's last word
    if after >= b.shingles.size:
        return False
    lines = b.shingle_lines()
    return bool(lines[after] == lines[after - 1])  # b's paragraph goes on


# Above this many members, only the longest few are checked as the full text of the others.
_MAX_PARTIAL_CHECKS = 8


def canonical_ranks(members: Sequence[Entry]) -> list[tuple[object, ...]]:
    """Sort key per member: the smallest is the canonical article."""
    if len(members) == 1:
        return [()]
    longest = sorted(members, key=lambda m: -m.fingerprint.shingles.size)[:_MAX_PARTIAL_CHECKS]
    ranks: list[tuple[object, ...]] = []
    for entry in members:
        partial = any(
            m is not entry and is_partial_of(entry.fingerprint, m.fingerprint,
                                             cut=entry.truncated)
            for m in longest
        )
        ranks.append(
            (
                entry.published_at is None,
                is_repost(entry, members),
                partial,
                entry.published_at or datetime.max.replace(tzinfo=UTC),
                -distinct(entry.fingerprint.shingles).size,
                entry.url,
                entry.key,
            )
        )
    return ranks


def choose_canonical(members: Sequence[Entry]) -> Entry:
    """The original among copies of one story."""
    if not members:
        raise ValueError("a story needs at least one member")
    ranks = canonical_ranks(members)
    return members[min(range(len(members)), key=ranks.__getitem__)]


def story_id(url: str, body_hash: str = "") -> str:
    """A stable story id from the canonical article's URL (the Elasticsearch ``_id``).

    A URL without a path (a site's front page) says little, so the body hash is added then.
    """
    path = url.split("://", 1)[-1].partition("/")[2].strip("/")
    seed = url if path else f"{url}\n{body_hash}"
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:24]
