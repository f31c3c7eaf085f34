"""Near-duplicate detection for news articles: pure logic, no Beam.

``fingerprint(body)`` gives shingles and LSH band keys; ``is_copy`` is the exact containment
check on a candidate pair; ``choose_canonical`` picks the original among a story's copies;
``dedupe`` runs the whole thing on a batch in one process (the CLI, eval and benchmark), and
``transforms/dedupe.py`` runs the same functions as a Beam pipeline.
"""

from newsflow.dedupe.canonical import Entry, canonical_ranks, choose_canonical, story_id
from newsflow.dedupe.cluster import Assignment, Stats, dedupe, same_story, url_key
from newsflow.dedupe.match import DEFAULT_RULES, HORIZON, MatchRules, containment, is_copy
from newsflow.dedupe.signature import Fingerprint, band_key_strings, body_hash, fingerprint

__all__ = [
    "DEFAULT_RULES",
    "HORIZON",
    "Assignment",
    "Entry",
    "Fingerprint",
    "MatchRules",
    "Stats",
    "band_key_strings",
    "body_hash",
    "canonical_ranks",
    "choose_canonical",
    "containment",
    "dedupe",
    "fingerprint",
    "is_copy",
    "same_story",
    "story_id",
    "url_key",
]
