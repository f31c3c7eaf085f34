"""The exact check on a candidate pair: is one body a copy of the other?

Band keys only say two articles *might* be copies. This check decides, with containment
rather than Jaccard: the share of the shorter body's shingles found in the longer one is near
1 for a truncated copy, an excerpt, a copy with a paragraph cut or page furniture left in,
while Jaccard drops with every word one side has and the other lacks. Short lines of the
shorter body that the longer lacks ("Email this article to a friend") are page furniture and
do not count against it, up to a quarter of its shingles. Three guards keep apart what
containment alone would join:

* a shared boilerplate paragraph (disclaimer, "about us"): the matched shingles of the shorter
  body must not all sit in one of its paragraphs other than the lead;
* items built from one template (scores, prices, police blotters): in the text both hold,
  each states numbers or names the other lacks, where a copy's are all in the text it copies,
  and short bodies need a higher containment;
* the time horizon: copies appear within days of each other; an article weeks later that
  reuses a text is a new item (this is also the bound on streaming state).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from newsflow.dedupe.signature import Fingerprint, distinct, distinct_first, isin_sorted

HORIZON = timedelta(hours=72)


@dataclass(frozen=True)
class MatchRules:
    """Thresholds of the pair check (defaults measured on the dev set, see eval/dedupe.py)."""

    min_containment: float = 0.7
    short_containment: float = 0.85  # for bodies with fewer than short_shingles shingles
    short_shingles: int = 40
    min_shared: int = 8  # shingles in common, below which only an identical body is a copy
    max_number_miss: float = 0.2  # share of the shorter body's numbers the longer may lack
    max_name_miss: float = 0.1  # and of its names (short bodies)
    correction_shingles: int = 100  # from this length one changed figure is a correction
    furniture_line_shingles: int = 20  # unmatched lines shorter than this are furniture ...
    max_furniture: float = 0.25  # ... up to this share of the shorter body
    one_paragraph_share: float = 0.9  # matched shingles within one paragraph: boilerplate ...
    excerpt_containment: float = 0.9  # ... unless that paragraph is nearly all of the body
    horizon: timedelta = HORIZON


DEFAULT_RULES = MatchRules()


class ShingleViews:
    """Each body's sorted distinct shingles and where each first occurs (``distinct_first``),
    computed once for a run of pair checks: a batch's bodies meet many candidates each. Holds
    at most ``size`` bodies (the most recently used), so memory stays bounded on any batch."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._views: OrderedDict[int, tuple[Fingerprint, tuple[np.ndarray, np.ndarray]]] = (
            OrderedDict())

    def __call__(self, fp: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
        held = self._views.get(id(fp))
        if held is not None and held[0] is fp:  # the id of a body still held, not a reused one
            self._views.move_to_end(id(fp))
            return held[1]
        view = distinct_first(fp.shingles)
        self._views[id(fp)] = (fp, view)
        if len(self._views) > self._size:
            self._views.popitem(last=False)
        return view


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Share of ``a``'s distinct shingles that occur in ``b``."""
    sa = distinct(a.shingles)
    if sa.size == 0:
        return 0.0
    return float(isin_sorted(sa, distinct(b.shingles)).sum()) / sa.size


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
    *,
    views: ShingleViews | None = None,
) -> bool:
    """True when the two bodies are the same story (one contains the other, up to edits).
    ``views``: a cache of the bodies' distinct shingles, for many checks on the same bodies."""
    if not within_horizon(a_time, b_time, rules.horizon):
        return False
    if a.body_hash == b.body_hash:
        return True
    if views is None:
        (va, fa), (vb, fb) = distinct_first(a.shingles), distinct_first(b.shingles)
    else:
        (va, fa), (vb, fb) = views(a), views(b)
    small, large, large_set, values, first = (
        (a, b, vb, va, fa) if va.size <= vb.size else (b, a, va, vb, fb))
    if values.size == 0:
        return False
    hit = isin_sorted(values, large_set)
    shared = int(hit.sum())
    if shared < rules.min_shared:
        return False
    score = shared / values.size
    short = values.size < rules.short_shingles
    needed = rules.short_containment if short else rules.min_containment
    if shared < needed * (values.size - int(rules.max_furniture * values.size)):
        return False  # short of it even with the most furniture set aside (most candidates)
    lines_of_values = small.shingle_lines()[first]
    if score < needed and small.line_starts.size > 1:
        # Short lines with nothing in common are page furniture the normaliser left
        # ("Email this article to a friend"): they do not count against a copy.
        per_line = np.bincount(lines_of_values)
        matched_lines = np.bincount(lines_of_values[hit], minlength=per_line.size)
        furniture = (matched_lines == 0) & (per_line < rules.furniture_line_shingles)
        ignored = min(int(per_line[furniture].sum()), int(rules.max_furniture * values.size))
        score = shared / (values.size - ignored)
    if score < needed:
        return False
    # Shared boilerplate: what they have in common is one paragraph of the shorter body,
    # and the rest of it is different.
    # When that paragraph is the lead, the shorter body is an excerpt or a truncated copy
    # with some furniture after it, not that case.
    if small.line_starts.size > 1 and shared < rules.excerpt_containment * values.size:
        counts = np.bincount(lines_of_values[hit])
        top = int(counts.argmax())
        if top != 0 and counts[top] >= rules.one_paragraph_share * shared:
            return False
    # Template items (short): in the text both hold, each states numbers or names the other
    # lacks. A copy does not: in that text its numbers and names are all in the other (a
    # number or name cut mid-way still counts; a name is there if the word is, capitalised,
    # wherever it stands), whatever lies beyond it (the rest of a truncated copy's original, a
    # line one extractor kept and the other dropped). One changed figure is a correction.
    if small.short and large.short:
        small_lines = np.unique(lines_of_values[hit])
        large_lines = np.unique(large.shingle_lines()[isin_sorted(large.shingles, values)])
        small_numbers = _in_lines(small.line_numbers, small_lines)
        large_numbers = _in_lines(large.line_numbers, large_lines)
        allowed = int(rules.max_number_miss * min(len(small_numbers), len(large_numbers)))
        if values.size >= rules.correction_shingles:
            allowed = max(allowed, 1)
        missed = min(_missing(small_numbers, large.numbers),
                     _missing(large_numbers, small.numbers))
        if missed > allowed:
            return False
        small_names = _in_lines(small.line_names, small_lines)
        large_names = _in_lines(large.line_names, large_lines)
        allowed = int(rules.max_name_miss * min(len(small_names), len(large_names)))
        if min(_missing(small_names, large.caps), _missing(large_names, small.caps)) > allowed:
            return False
    return True


def _in_lines(per_line: tuple[frozenset[str], ...], lines: np.ndarray) -> frozenset[str]:
    """What ``per_line`` records in ``lines``."""
    return frozenset().union(*(per_line[i] for i in lines.tolist() if i < len(per_line)))


def _missing(small: frozenset[str], large: frozenset[str]) -> int:
    """How many of ``small`` are neither in ``large`` nor the start of one of its members."""
    return sum(1 for x in small - large if not any(y.startswith(x) for y in large))
