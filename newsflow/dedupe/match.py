"""The exact check on a candidate pair: is one body a copy of the other?

Band keys only say two articles *might* be copies. This check decides, with containment
rather than Jaccard: the share of the shorter body's shingles found in the longer one is near
1 for a truncated copy, an excerpt, a copy with a paragraph cut or page furniture left in,
while Jaccard drops with every word one side has and the other lacks. Three guards keep apart
what containment alone would join:

* a shared boilerplate paragraph (disclaimer, "about us"): the matched shingles of the shorter
  body must not all sit in one of its paragraphs other than the lead;
* items built from one template (scores, prices, police blotters): the numbers the shorter body
  states must be found in the longer one, and short bodies need a higher containment;
* the time horizon: copies appear within days of each other; an article months later that
  reuses a text is a new item (this is also the bound on streaming state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from newsflow.dedupe.fingerprint import Fingerprint

HORIZON = timedelta(hours=72)


@dataclass(frozen=True)
class MatchRules:
    """Thresholds of the pair check (defaults measured on the dev set, see eval/dedupe.py)."""

    min_containment: float = 0.7
    short_containment: float = 0.85  # for bodies with fewer than short_shingles shingles
    short_shingles: int = 40
    min_shared: int = 8  # shingles in common, below which only an identical body is a copy
    max_number_miss: float = 0.2  # share of the shorter body's numbers the longer may lack
    lead_paragraph_share: float = 0.9  # matched shingles within one non-lead paragraph
    horizon: timedelta = HORIZON


DEFAULT_RULES = MatchRules()


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Share of ``a``'s distinct shingles that occur in ``b``."""
    sa = np.unique(a.shingles)
    if sa.size == 0:
        return 0.0
    return float(np.isin(sa, b.shingles).sum()) / sa.size


def within_horizon(t1: datetime | None, t2: datetime | None, horizon: timedelta) -> bool:
    if t1 is None or t2 is None:
        return True
    return abs(t1 - t2) <= horizon


def is_copy(
    a: Fingerprint,
    b: Fingerprint,
    a_time: datetime | None = None,
    b_time: datetime | None = None,
    rules: MatchRules = DEFAULT_RULES,
) -> bool:
    """True when the two bodies are the same story (one contains the other, up to edits)."""
    if not within_horizon(a_time, b_time, rules.horizon):
        return False
    if a.body_hash == b.body_hash:
        return True
    small, large = (a, b) if np.unique(a.shingles).size <= np.unique(b.shingles).size else (b, a)
    distinct, first = np.unique(small.shingles, return_index=True)
    if distinct.size == 0:
        return False
    hit = np.isin(distinct, large.shingles)
    shared = int(hit.sum())
    if shared < rules.min_shared:
        return False
    score = shared / distinct.size
    short = distinct.size < rules.short_shingles
    needed = rules.short_containment if short else rules.min_containment
    if score < needed:
        return False
    # Shared boilerplate: everything in common sits in one paragraph that is not the lead.
    if small.line_starts.size > 1:
        counts = np.bincount(small.shingle_lines()[first[hit]])
        top = int(counts.argmax())
        if top != 0 and counts[top] >= rules.lead_paragraph_share * shared:
            return False
    # Template items: a copy states the same numbers as the text it copies.
    if small.numbers:
        missing = len(small.numbers - large.numbers) / len(small.numbers)
        if missing > rules.max_number_miss and len(small.numbers - large.numbers) > 1:
            return False
    return True
