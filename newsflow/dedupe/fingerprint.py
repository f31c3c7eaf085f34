"""Shingles, MinHash signatures and LSH band keys, vectorised with numpy.

Every article gets a fingerprint: the 64-bit hashes of its word 5-shingles in reading order
(what the exact containment check compares) and a few dozen *band keys*, strings that two
copies of one story very probably share and two different stories almost never do. The band
keys are the only thing the dedupe step groups by, so candidate pairs come without an
all-pairs step, and they are stored on the story so a copy arriving in a later run finds it.

Two signatures are banded, because Jaccard similarity alone misses truncated copies and
excerpts (a 100-word excerpt of a 1,000-word article has Jaccard 0.1 but containment 1.0):

* ``doc``: one-permutation MinHash of all shingles, 16 bands of 4 rows (Jaccard ≳ 0.5);
* ``lead``: MinHash of the first distinct shingles, 16 bands of 3 rows: a truncated copy, an
  excerpt, a re-titled or trimmed wire copy all keep the lead;
* ``anchor``: content-defined anchors (shingles whose hash is 0 modulo 16, so two texts
  sharing a passage pick the same anchors in it), keyed by two consecutive anchors: a copy
  with a rewritten lead, a long junk prefix or a middle excerpt still shares these;
* ``hash``: the exact body hash, so identical bodies too short to shingle still meet.

Hashes are computed with numpy on the UTF-8 bytes (a polynomial hash per token, then a
splitmix64 finaliser), so they are the same on every worker and in every run, with no extra
dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsflow.dedupe import text as textmod

SHINGLE_WORDS = 5
LEAD_SHINGLES = 40
DOC_BANDS, DOC_ROWS = 16, 4
LEAD_BANDS, LEAD_ROWS = 16, 3
ANCHOR_EVERY = 16  # about one shingle in this many is an anchor
MAX_ANCHOR_KEYS = 64
FIXED_BANDS = 1 + DOC_BANDS + LEAD_BANDS
SHORT_WORDS = 150  # bodies up to this long also record their names (template-item guard)

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_P = 1099511628211  # odd multiplier for the per-token polynomial hash
_MAX_TOKEN_BYTES = 4096
_POW = np.empty(_MAX_TOKEN_BYTES, dtype=_U64)
_acc = 1
for _i in range(_MAX_TOKEN_BYTES):
    _POW[_i] = _acc
    _acc = (_acc * _P) & _MASK64
del _i, _acc
# Per-position multipliers that make a shingle hash depend on word order.
_SHINGLE_MUL = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
    dtype=_U64,
)
# Byte classes: ASCII letters and digits and every byte of a multi-byte UTF-8 character are
# word bytes; ASCII punctuation, spaces and control characters separate words.
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True
del _c


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole 64-bit word."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def token_hashes(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash per word, line index per word) of folded content lines."""
    data = np.frombuffer("\n".join(lines).encode("utf-8"), dtype=np.uint8)
    if data.size == 0:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int32)
    word = _WORD_BYTE[data]
    prev = np.concatenate(([False], word[:-1]))
    starts = np.flatnonzero(word & ~prev)
    if starts.size == 0:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int32)
    token_of_byte = np.cumsum(word & ~prev) - 1
    positions = np.flatnonzero(word)
    offsets = positions - starts[token_of_byte[positions]]
    np.minimum(offsets, _MAX_TOKEN_BYTES - 1, out=offsets)
    values = (data[positions].astype(_U64) + _U64(1)) * _POW[offsets]
    segment_starts = np.searchsorted(positions, starts)
    hashes = _mix(np.add.reduceat(values, segment_starts))
    line_of_byte = np.cumsum(data == 10)
    return hashes, line_of_byte[starts].astype(np.int32)


def shingle_hashes(tokens: np.ndarray, k: int = SHINGLE_WORDS) -> np.ndarray:
    """Order-sensitive hashes of every run of ``k`` words (one hash if the text is shorter)."""
    n = tokens.size
    if n == 0:
        return np.empty(0, dtype=_U64)
    k = min(k, n)
    acc = tokens[: n - k + 1] * _SHINGLE_MUL[0]
    for j in range(1, k):
        acc = acc + tokens[j : n - k + 1 + j] * _SHINGLE_MUL[j]
    return _mix(acc + _U64(k))


def minhash(shingles: np.ndarray, bins: int) -> np.ndarray:
    """One-permutation MinHash with ``bins`` bins (a power of two), densified by rotation.

    The top bits of a shingle hash choose its bin; the smallest hash in each bin is the bin's
    value. Empty bins borrow the next non-empty bin's value, re-hashed with the bin number, so
    two similar sets still agree bin by bin (Shrivastava 2017, "optimal densification").
    """
    sig = np.zeros(bins, dtype=_U64)
    if shingles.size == 0:
        return sig
    shift = _U64(64 - int(bins).bit_length() + 1)
    ordered = np.sort(shingles)
    bounds = np.arange(bins, dtype=_U64) << shift
    idx = np.searchsorted(ordered, bounds)
    found = idx < ordered.size
    found[found] = (ordered[idx[found]] >> shift) == np.arange(bins, dtype=_U64)[found]
    sig[found] = ordered[idx[found]]
    if not found.all():
        full = np.flatnonzero(found)
        # For each empty bin, the next non-empty bin to the right (circularly).
        nxt = np.searchsorted(full, np.arange(bins), side="left") % full.size
        empty = ~found
        donor = full[nxt[empty]]
        sig[empty] = _mix(sig[donor] + np.flatnonzero(empty).astype(_U64) * _SHINGLE_MUL[1])
    return sig


@dataclass(frozen=True)
class Fingerprint:
    """What the dedupe step needs to know about one body, and nothing else.

    ``shingles`` are 32-bit shingle hashes in reading order (32 bits are plenty for comparing
    two bodies and halve the memory); ``line_starts`` holds the index of the first shingle of
    each content line; ``numbers`` are the numbers the text states; ``words`` counts content
    words; ``complete`` is False when the body stops mid-sentence (a truncated copy);
    ``bands`` are the band hashes behind ``band_keys``; ``credits`` the domains the body's
    furniture lines name ("Read more at example.com"); ``names`` the capitalised words inside
    sentences, for short bodies only.
    """

    shingles: np.ndarray
    line_starts: np.ndarray
    numbers: frozenset[str]
    words: int
    body_hash: str
    complete: bool
    bands: np.ndarray
    credits: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()

    def __reduce__(self) -> tuple[object, ...]:  # compact pickles: Beam ships these around
        return (
            Fingerprint,
            (self.shingles, self.line_starts, self.numbers, self.words, self.body_hash,
             self.complete, self.bands, self.credits, self.names),
        )

    @property
    def band_keys(self) -> list[str]:
        """The LSH band keys as strings (what Beam groups by and Elasticsearch stores)."""
        return band_key_strings(self.bands)

    def shingle_lines(self) -> np.ndarray:
        """The content line of each shingle."""
        return np.searchsorted(self.line_starts, np.arange(self.shingles.size), side="right") - 1


def band_key_strings(bands: np.ndarray) -> list[str]:
    keys: list[str] = []
    for i, h in enumerate(bands.tolist()):
        if i == 0:
            keys.append(f"h-{h:016x}")
        elif i >= FIXED_BANDS:
            keys.append(f"a-{h >> 16:012x}")
        elif h:
            kind, band = ("d", i - 1) if i <= DOC_BANDS else ("l", i - 1 - DOC_BANDS)
            keys.append(f"{kind}{band:02d}-{h >> 16:012x}")
    return keys


def _band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    rows_sig = sig[: bands * rows].reshape(bands, rows)
    out: np.ndarray = _mix((rows_sig * _SHINGLE_MUL[:rows]).sum(axis=1, dtype=_U64))
    out[out == 0] = _U64(1)
    return out


def _ends_complete(lines: list[str]) -> bool:
    if not lines:
        return False
    tail = lines[-1].rstrip()
    return tail.endswith((".", "!", "?", '"', "'", ")", "]", ":", ";")) or not tail[-1:].isalpha()


def fingerprint(body: str) -> Fingerprint:
    """The fingerprint of one article body."""
    lines = textmod.content_lines(body)
    tokens, token_lines = token_hashes(lines)
    shingles = shingle_hashes(tokens)
    bhash = textmod.body_hash(body)
    anchors = shingles[(shingles % _U64(ANCHOR_EVERY)) == 0]
    anchor_keys = _mix(anchors[:-1] * _SHINGLE_MUL[2] + anchors[1:] * _SHINGLE_MUL[3])
    anchor_keys = np.unique(anchor_keys[:MAX_ANCHOR_KEYS])
    bands = np.zeros(FIXED_BANDS + anchor_keys.size, dtype=_U64)
    bands[FIXED_BANDS:] = anchor_keys
    bands[0] = _U64(int(bhash[:16], 16))
    if shingles.size:
        doc_sig = minhash(shingles, DOC_BANDS * DOC_ROWS)
        bands[1 : 1 + DOC_BANDS] = _band_hashes(doc_sig, DOC_BANDS, DOC_ROWS)
        _, first = np.unique(shingles, return_index=True)
        lead = shingles[np.sort(first)[:LEAD_SHINGLES]]
        lead_bins = 1 << (LEAD_BANDS * LEAD_ROWS - 1).bit_length()
        lead_sig = minhash(lead, lead_bins)
        bands[1 + DOC_BANDS : FIXED_BANDS] = _band_hashes(lead_sig, LEAD_BANDS, LEAD_ROWS)
    shingle_lines = token_lines[: shingles.size]
    line_starts = np.flatnonzero(np.diff(shingle_lines, prepend=-1)).astype(np.int32)
    return Fingerprint(
        shingles=(shingles ^ (shingles >> _U64(32))).astype(np.uint32),
        line_starts=line_starts,
        numbers=textmod.numbers(lines),
        words=int(tokens.size),
        body_hash=bhash,
        complete=_ends_complete(lines),
        bands=bands,
        credits=textmod.credits(body),
        names=textmod.names(body) if tokens.size <= SHORT_WORDS else frozenset(),
    )
