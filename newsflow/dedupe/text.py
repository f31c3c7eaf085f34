"""Text normalisation for fingerprints: what two copies of one story still have in common.

Syndicated copies restyle quotes, add a dateline, change case, re-wrap lines and keep bits of
the page around the story ("Share", "Related Topics", "Category: News View 541"). Fingerprints
should see none of that, so this module reduces a body to its *content lines* (lines long
enough to be prose), in lower case with ASCII punctuation, and splits scripts written without
spaces (Chinese, Japanese, Thai) into one token per character so they shingle like words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Lines shorter than this many words are page furniture ("Share with:", "Related Topics",
# "Read more at example.com") rather than prose; they do not take part in fingerprints.
MIN_LINE_WORDS = 6
# ... unless dropping them would leave less than this share of the words (a list-shaped item).
MIN_KEPT_SHARE = 0.5
# Lines of at least this many words are sentences (numbers in shorter lines may be furniture).
PROSE_WORDS = 12

_PUNCT = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2012": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": " ",
    "\u00b7": " ",
}
# One regex pass that replaces only what it finds: str.translate looks every character of a
# non-ASCII text up in its table (a tenth of the time on news bodies, same output).
_PUNCT_RE = re.compile("[" + re.escape("".join(_PUNCT)) + "]")
# Scripts written without spaces between words: each character is a token.
_NO_SPACE_SCRIPT = re.compile(
    "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff])"
)
# A dateline in front of a wire copy: "LOS ANGELES (AP) — ", "NEW DELHI: ",
# "London, March 3 (Reuters) -".
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Za-z.'\-]*(?:[ ,]+[A-Z][A-Za-z.'\-]*){0,4})"
    r"(?:,?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"\s*(?:\([A-Za-z .&\-]{1,30}\))?\s*(?::|\u2014|\u2013|--|-)\s+"
)
_AGENCY_ONLY = re.compile(
    r"^\s*\((?:AP|Reuters|AFP|Bloomberg|UPI|dpa|PA)\)\s*(?:\u2014|\u2013|--|-)\s*"
)
_WORD = re.compile(r"\w+")
_DOMAIN = re.compile(r"\b(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b")
_NAME = re.compile(r"(?<=[a-z0-9,;] )[A-Z][^\W\d_]+")
_SENTENCE_END = (".", "!", "?", '"', "'", ")", "]", ":", ";")
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")


def _punct(match: re.Match[str]) -> str:
    return _PUNCT[match.group()]


def fold(text: str) -> str:
    """Unicode-compatible, lower-case, ASCII-punctuated text with single spaces inside lines."""
    if text.isascii():  # the common case: nothing to normalise but case and backticks
        return text.lower().replace("`", "'")
    text = _PUNCT_RE.sub(_punct, unicodedata.normalize("NFKC", text)).lower()
    if _NO_SPACE_SCRIPT.search(text):
        text = _NO_SPACE_SCRIPT.sub(r" \1 ", text)
    return text


def strip_dateline(text: str) -> str:
    """The body without a leading wire dateline ("WASHINGTON (AP) — ")."""
    head = text[:120]
    m = _DATELINE.match(head) or _AGENCY_ONLY.match(head)
    if m and m.end() < len(text):
        before = head[: m.end()]
        # A dateline is a few words of place and agency, never a whole sentence.
        if len(before.split()) <= 8 and not before.rstrip().endswith((".", "?", "!")):
            return text[m.end() :]
    return text


@dataclass(frozen=True)
class Prepared:
    """A body made ready for fingerprinting: folded lines, which are prose, and side facts."""

    lines: list[str]  # folded, dateline stripped, every line (furniture included)
    prose: list[bool]  # per line: part of the fingerprint
    complete: bool  # the last prose line ends a sentence
    credits: frozenset[str]
    numbers: frozenset[str]  # only for short bodies (see SHORT_WORDS)
    names: frozenset[str]  # only for short bodies
    words: int


# Bodies up to this many words also record their numbers and names (template-item guard).
SHORT_WORDS = 300


def _words(line: str) -> int:
    """Words in a line, a domain or URL counting as one and punctuation as none."""
    return len(_WORD.findall(_DOMAIN.sub("x", line))) if line else 0


def _line_words(line: str) -> int:
    """``_words``, with a cheap count for lines that are clearly prose (the exact count of a
    long line does not matter)."""
    n = line.count(" ") + 1
    if n >= MIN_LINE_WORDS + 4 and n * 3 < len(line):
        return n
    return _words(line)


def prepare(body: str) -> Prepared:
    """Everything the fingerprint needs from the text of a body, in one pass."""
    raw = strip_dateline(body)
    lines = fold(raw).splitlines()
    counts = [
        n if (n := ln.count(" ") + 1) >= MIN_LINE_WORDS + 4 and n * 3 < len(ln) else _words(ln)
        for ln in lines
    ]
    prose = [n >= MIN_LINE_WORDS for n in counts]
    total = sum(counts)
    kept = sum(n for n, p in zip(counts, prose, strict=True) if p)
    if not kept or kept < MIN_KEPT_SHARE * total:
        prose = [n > 0 for n in counts]  # a list-shaped item: every line is content
    last = next((ln.rstrip() for ln, p in zip(lines[::-1], prose[::-1], strict=True) if p), "")
    complete = bool(last) and (last.endswith(_SENTENCE_END) or not last[-1:].isalpha())
    credited: set[str] = set()
    nonblank = [i for i, n in enumerate(counts) if n]
    for i in nonblank[-2:] + [i for i in nonblank if not prose[i]]:
        if lines[i].count(" ") > 30:
            continue  # a paragraph of the story, not a credit line
        for token in lines[i].split():
            if "." in token:
                credited.update(m.removeprefix("www.") for m in _DOMAIN.findall(token))
    short = total <= SHORT_WORDS
    content = [ln for ln, p in zip(lines, prose, strict=True) if p]
    return Prepared(
        lines=lines,
        prose=prose,
        complete=complete,
        credits=frozenset(credited),
        numbers=numbers(content) if short else frozenset(),
        names=names(raw) if short else frozenset(),
        words=total,
    )


def numbers(lines: list[str]) -> frozenset[str]:
    """The numbers stated in sentences (lines of a dozen words or more, not furniture)."""
    prose = " ".join(ln for ln in lines if ln.count(" ") >= PROSE_WORDS - 1)
    return frozenset(_NUMBER.findall(prose))


def content_lines(body: str) -> list[str]:
    """The prose lines of a body, folded; short furniture lines are dropped (see MIN_LINE_WORDS)."""
    prep = prepare(body)
    return [ln for ln, p in zip(prep.lines, prep.prose, strict=True) if p]


def names(body: str) -> frozenset[str]:
    """Capitalised words inside sentences (people, places, teams) of a body's prose lines.

    Items built from one template differ in these and in their numbers; copies keep them.
    """
    found: set[str] = set()
    for line in body.splitlines():
        if _line_words(line) >= MIN_LINE_WORDS:
            found.update(_NAME.findall(unicodedata.normalize("NFKC", line)))
    return frozenset(found)
