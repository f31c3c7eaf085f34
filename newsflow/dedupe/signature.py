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

Hashes are computed with numpy on the UTF-8 bytes (each word's bytes read as little-endian
64-bit words, combined, then a splitmix64 finaliser), so they are the same on every worker, in
every run and on every platform, with no extra dependency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
SHORT_WORDS = textmod.SHORT_WORDS

_U64 = np.uint64
_EMPTY = _U64(0xFFFFFFFFFFFFFFFF)
_CHUNKS = 3  # a word's hash reads its first 24 bytes (and its length)
# _BYTE_MASKS[n] keeps the first n bytes of a little-endian 64-bit word.
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=_U64)
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
    """(64-bit hash per word, line index per word) of folded lines.

    A word is a run of ASCII letters and digits or of non-ASCII bytes; its hash mixes its first
    24 bytes, read eight at a time straight from the buffer, with its length. There is no
    per-byte pass beyond finding word edges, which keeps this fast on large batches.
    """
    raw = "\n".join(lines).encode("utf-8")
    if not raw:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    data = np.frombuffer(raw + bytes(_CHUNKS * 8), dtype=np.uint8)
    word = _WORD_BYTE[data[: len(raw)]]
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    if word[0]:
        edges = np.concatenate(([0], edges))
    if word[-1]:
        edges = np.concatenate((edges, [word.size]))
    if edges.size == 0:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    starts = edges[0::2]  # word edges alternate: a start, then the end after it
    lengths = edges[1::2] - starts
    words64 = np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))
    acc = lengths.astype(_U64) * _SHINGLE_MUL[7]
    acc += (words64[starts] & _BYTE_MASKS[np.minimum(lengths, 8)]) * _SHINGLE_MUL[0]
    for c in range(1, _CHUNKS):  # only the longer words have more bytes to read
        longer = np.flatnonzero(lengths > 8 * c)
        if longer.size == 0:
            break
        rest = np.minimum(lengths[longer] - 8 * c, 8)
        chunk = words64[starts[longer] + 8 * c] & _BYTE_MASKS[rest]
        acc[longer] += chunk * _SHINGLE_MUL[c]
    if len(raw) == sum(len(ln) for ln in lines) + len(lines) - 1:  # ASCII: chars are bytes
        newlines = np.cumsum(np.fromiter((len(ln) + 1 for ln in lines), np.int64, len(lines)))
        newlines = newlines[:-1] - 1
    else:
        newlines = np.flatnonzero(data[: len(raw)] == 10)
    return _mix(acc), np.searchsorted(newlines, starts)


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
    sentences; ``short`` says the body is short enough for those two to be recorded.
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
    short: bool = False  # numbers and names were recorded (a short body)

    def __reduce__(self) -> tuple[object, ...]:  # compact pickles: Beam ships these around
        return (
            Fingerprint,
            (self.shingles, self.line_starts, self.numbers, self.words, self.body_hash,
             self.complete, self.bands, self.credits, self.names, self.short),
        )

    @property
    def band_keys(self) -> list[str]:
        """The LSH band keys as strings (what Beam groups by and Elasticsearch stores)."""
        return band_key_strings(self.bands)

    def shingle_lines(self) -> np.ndarray:
        """The content line of each shingle."""
        return np.searchsorted(self.line_starts, np.arange(self.shingles.size), side="right") - 1


# Band key prefixes of columns 1 .. FIXED_BANDS-1: document bands, then lead bands.
_BAND_PREFIXES = ([f"d{b:02d}-" for b in range(DOC_BANDS)]
                  + [f"l{b:02d}-" for b in range(LEAD_BANDS)])


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a comparison: faster than ``np.unique`` here)."""
    ordered = np.sort(values)
    keep = np.ones(ordered.size, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def distinct_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the index of each one's first occurrence."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    keep = np.ones(ordered.size, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep], order[keep]


def isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which ``values`` occur in ``sorted_set`` (sorted, distinct)."""
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    idx = np.searchsorted(sorted_set, values)
    idx[idx == sorted_set.size] = 0
    found: np.ndarray = sorted_set[idx] == values
    return found


def band_key_strings(bands: np.ndarray) -> list[str]:
    """``h-`` body hash, ``dNN-``/``lNN-`` document and lead bands (0 means none), ``a-``
    anchors; the band hashes keep their top 48 bits."""
    values = bands.tolist()
    keys = [f"h-{values[0]:016x}"]
    keys += [f"{prefix}{h >> 16:012x}"
             for prefix, h in zip(_BAND_PREFIXES, values[1:FIXED_BANDS], strict=False) if h]
    keys += [f"a-{h >> 16:012x}" for h in values[FIXED_BANDS:]]
    return keys


def _band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Band hashes per row of signatures ``(docs, bins)`` → ``(docs, bands)``; never 0."""
    rows_sig = sig[:, : bands * rows].reshape(sig.shape[0], bands, rows)
    out: np.ndarray = _mix((rows_sig * _SHINGLE_MUL[:rows]).sum(axis=2, dtype=_U64))
    out[out == 0] = _U64(1)
    return out


def fingerprint(body: str) -> Fingerprint:
    """The fingerprint of one article body."""
    return fingerprints([body])[0]


def fingerprints(bodies: Sequence[str]) -> list[Fingerprint]:
    """Fingerprints of many bodies at once: the numpy work is done for the whole batch.

    Per body only the text pass runs in Python (``text.prepare``); tokens, shingles, MinHash
    signatures and anchors are computed on the concatenated batch, which is what makes a
    few thousand 1,000-word articles a second possible on one core.
    """
    preps = [textmod.prepare(b) for b in bodies]
    n_docs = len(preps)
    line_counts = np.array([len(p.lines) for p in preps], dtype=np.int64)
    all_lines = [ln for p in preps for ln in p.lines]
    prose = np.array([f for p in preps for f in p.prose], dtype=bool)
    doc_of_line = np.repeat(np.arange(n_docs), line_counts)

    tokens, token_line = token_hashes(all_lines)
    token_doc = doc_of_line[token_line] if tokens.size else np.empty(0, dtype=np.int64)
    doc_token_bounds = np.searchsorted(token_doc, np.arange(n_docs + 1))

    content = prose[token_line] if tokens.size else np.empty(0, dtype=bool)
    ctok, cdoc, cline = tokens[content], token_doc[content], token_line[content]
    sh, sdoc, sline = _batch_shingles(ctok, cdoc, cline, n_docs)
    shingle_bounds = np.searchsorted(sdoc, np.arange(n_docs + 1))

    bands = np.zeros((n_docs, FIXED_BANDS), dtype=_U64)
    doc_sig = _batch_minhash(sh, sdoc, n_docs, DOC_BANDS * DOC_ROWS)
    bands[:, 1 : 1 + DOC_BANDS] = _band_hashes(doc_sig, DOC_BANDS, DOC_ROWS)
    lead_sh, lead_doc = _lead(sh, sdoc, shingle_bounds)
    lead_bins = 1 << (LEAD_BANDS * LEAD_ROWS - 1).bit_length()
    lead_sig = _batch_minhash(lead_sh, lead_doc, n_docs, lead_bins)
    bands[:, 1 + DOC_BANDS :] = _band_hashes(lead_sig, LEAD_BANDS, LEAD_ROWS)
    anchor_keys, anchor_doc = _anchors(sh, sdoc)
    anchor_bounds = np.searchsorted(anchor_doc, np.arange(n_docs + 1))
    sh32 = (sh ^ (sh >> _U64(32))).astype(np.uint32)
    # Where each content line starts, as shingle indices (lines are numbered batch-wide).
    new_line = np.ones(sline.size, dtype=bool)
    new_line[1:] = sline[1:] != sline[:-1]
    line_heads = np.flatnonzero(new_line)
    line_bounds = np.searchsorted(line_heads, shingle_bounds)
    # The body hash covers every word, furniture lines included: identical bodies only.
    bounds = doc_token_bounds.tolist()
    body_digests = [
        int.from_bytes(hashlib.sha1(tokens[t0:t1].tobytes()).digest()[:8], "big")
        for t0, t1 in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    bands[:, 0] = np.array(body_digests, dtype=_U64)
    empty = shingle_bounds[1:] == shingle_bounds[:-1]
    bands[empty, 1:] = 0
    content_words = np.bincount(cdoc, minlength=n_docs) if cdoc.size else np.zeros(n_docs)

    out: list[Fingerprint] = []
    for d, prep in enumerate(preps):
        s0, s1 = int(shingle_bounds[d]), int(shingle_bounds[d + 1])
        a0, a1 = int(anchor_bounds[d]), int(anchor_bounds[d + 1])
        l0, l1 = int(line_bounds[d]), int(line_bounds[d + 1])
        out.append(
            Fingerprint(
                shingles=sh32[s0:s1].copy(),
                line_starts=(line_heads[l0:l1] - s0).astype(np.int32),
                numbers=prep.numbers,
                words=int(content_words[d]),
                body_hash=f"{body_digests[d]:016x}",
                complete=prep.complete,
                bands=np.concatenate((bands[d], anchor_keys[a0:a1])),
                credits=prep.credits,
                names=prep.names,
                short=prep.words <= SHORT_WORDS,
            )
        )
    return out


def _batch_shingles(
    tokens: np.ndarray, docs: np.ndarray, lines: np.ndarray, n_docs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle hashes of every document of a batch, with document and line per shingle."""
    k = SHINGLE_WORDS
    n = tokens.size
    if n >= k:
        acc = tokens[: n - k + 1] * _SHINGLE_MUL[0]
        for j in range(1, k):
            acc = acc + tokens[j : n - k + 1 + j] * _SHINGLE_MUL[j]
        inside = docs[: n - k + 1] == docs[k - 1 :]
        sh = _mix(acc + _U64(k))[inside]
        sdoc = docs[: n - k + 1][inside]
        sline = lines[: n - k + 1][inside]
    else:
        sh = np.empty(0, dtype=_U64)
        sdoc = np.empty(0, dtype=np.int64)
        sline = np.empty(0, dtype=np.int64)
    # Documents with fewer than k words get one shingle of all their words.
    counts = np.bincount(docs, minlength=n_docs) if n else np.zeros(n_docs, dtype=np.int64)
    short = np.flatnonzero((counts > 0) & (counts < k))
    if short.size:
        starts = np.searchsorted(docs, short)
        extra = [
            shingle_hashes(tokens[s : s + c]) for s, c in zip(starts, counts[short], strict=True)
        ]
        sh = np.concatenate([sh, *extra])
        sdoc = np.concatenate([sdoc, short])
        sline = np.concatenate([sline, lines[starts]])
        order = np.argsort(sdoc, kind="stable")
        sh, sdoc, sline = sh[order], sdoc[order], sline[order]
    return sh, sdoc, sline


def _batch_minhash(sh: np.ndarray, docs: np.ndarray, n_docs: int, bins: int) -> np.ndarray:
    """One-permutation MinHash per document (rows), densified like ``minhash``."""
    if sh.size == 0:
        return np.zeros((n_docs, bins), dtype=_U64)
    shift = _U64(64 - int(bins).bit_length() + 1)
    flat = np.full(n_docs * bins, _EMPTY, dtype=_U64)
    np.minimum.at(flat, docs.astype(np.int64) * bins + (sh >> shift).astype(np.int64), sh)
    sig = flat.reshape(n_docs, bins)
    found = sig != _EMPTY
    partial = np.flatnonzero(found.any(axis=1) & ~found.all(axis=1))
    if partial.size:
        sig[partial] = _densify_rows(sig[partial], found[partial])
    sig[~found.any(axis=1)] = 0
    return sig


def _densify_rows(sig: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Empty bins take the next non-empty bin's value (circularly), re-hashed with their index."""
    bins = sig.shape[1]
    cols = np.arange(bins)
    own = np.where(found, cols, 3 * bins)
    twice = np.concatenate((own, own + bins), axis=1)
    nearest = np.minimum.accumulate(twice[:, ::-1], axis=1)[:, ::-1][:, :bins] % bins
    donor = np.take_along_axis(sig, nearest, axis=1)
    salted = _mix(donor + cols.astype(_U64) * _SHINGLE_MUL[1])
    return np.where(found, sig, salted)


def _lead(sh: np.ndarray, docs: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first LEAD_SHINGLES distinct shingles of each document, in reading order."""
    if sh.size == 0:
        return sh, docs
    # Only the opening of each document can hold them: look at its first few times as many.
    position = np.arange(sh.size) - bounds[docs]
    head = np.flatnonzero(position < 3 * LEAD_SHINGLES)
    h_sh, h_doc = sh[head], docs[head]
    order = np.lexsort((h_sh, h_doc))  # stable: equal shingles keep reading order
    s_sh, s_doc = h_sh[order], h_doc[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = (s_sh[1:] != s_sh[:-1]) | (s_doc[1:] != s_doc[:-1])
    firsts = np.sort(order[new])
    f_doc = h_doc[firsts]
    rank = np.arange(firsts.size) - np.searchsorted(f_doc, f_doc)
    keep = firsts[rank < LEAD_SHINGLES]
    return h_sh[keep], h_doc[keep]


def _anchors(sh: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-pair keys per document (the first MAX_ANCHOR_KEYS of each), with their document."""
    chosen = (sh % _U64(ANCHOR_EVERY)) == 0
    a_sh, a_doc = sh[chosen], docs[chosen]
    if a_sh.size < 2:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    same = a_doc[:-1] == a_doc[1:]
    keys = _mix(a_sh[:-1] * _SHINGLE_MUL[2] + a_sh[1:] * _SHINGLE_MUL[3])[same]
    k_doc = a_doc[:-1][same]
    rank = np.arange(k_doc.size) - np.searchsorted(k_doc, k_doc)
    keep = rank < MAX_ANCHOR_KEYS
    return keys[keep], k_doc[keep]


def body_hash(body: str) -> str:
    """A hash of the whole body's words, blind to case, quote style, dateline and whitespace."""
    return fingerprint(body).body_hash
