"""Text normalisation for fingerprints: what two copies of one story still have in common.

Syndicated copies restyle quotes, add a dateline, change case, re-wrap lines and keep bits of
the page around the story ("Share", "Related Topics", "Category: News View 541"). Fingerprints
should see none of that, so this module reduces a body to its *content lines* (lines long
enough to be prose), in lower case with ASCII punctuation, and splits scripts written without
spaces (Chinese, Japanese, Thai) into one token per character so they shingle like words.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Lines shorter than this many words are page furniture ("Share with:", "Related Topics",
# "Read more at example.com") rather than prose; they do not take part in fingerprints.
MIN_LINE_WORDS = 6
# ... unless dropping them would leave less than this share of the words (a list-shaped item).
MIN_KEPT_SHARE = 0.5

_PUNCT = str.maketrans(
    {
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
)
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
_NAME = re.compile(r"(?<=[a-z0-9,;] )[A-Z][a-z]+")
_WS = re.compile(r"\s+")
_NUMBER = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")


def fold(text: str) -> str:
    """Unicode-compatible, lower-case, ASCII-punctuated text with single spaces inside lines."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT).lower()
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


def content_lines(body: str) -> list[str]:
    """The prose lines of a body, folded; short furniture lines are dropped (see MIN_LINE_WORDS)."""
    lines = [ln for ln in (fold(x).strip() for x in strip_dateline(body).splitlines()) if ln]
    if not lines:
        return []
    counts = [len(_WORD.findall(ln)) for ln in lines]
    # A domain is one word here, so "Read more at news.example.com" stays a short line.
    prose = [len(_WORD.findall(_DOMAIN.sub("x", ln))) >= MIN_LINE_WORDS for ln in lines]
    kept_words = sum(n for n, p in zip(counts, prose, strict=True) if p)
    if kept_words and kept_words >= MIN_KEPT_SHARE * sum(counts):
        return [ln for ln, p in zip(lines, prose, strict=True) if p]
    return lines


def credits(body: str) -> frozenset[str]:
    """Domains named in a body's furniture lines ("Read more at example.com", "Source: x.org").

    A page that credits another site in its last lines or its short lines is a re-post of
    that site's article, which the canonical choice uses.
    """
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    found: set[str] = set()
    for i, ln in enumerate(lines):
        if i >= len(lines) - 2 or len(_WORD.findall(_DOMAIN.sub("x", ln))) < MIN_LINE_WORDS:
            found.update(m.lower().removeprefix("www.") for m in _DOMAIN.findall(ln))
    return frozenset(found)


def numbers(lines: list[str]) -> frozenset[str]:
    """The numbers a text states (prices, scores, dates): template items differ in these."""
    return frozenset(_NUMBER.findall(" ".join(lines)))


def names(body: str) -> frozenset[str]:
    """Capitalised words inside sentences (people, places, teams) of a body's prose lines.

    Items built from one template differ in these and in their numbers; copies keep them.
    """
    found: set[str] = set()
    for line in strip_dateline(body).splitlines():
        if len(_WORD.findall(_DOMAIN.sub("x", line))) >= MIN_LINE_WORDS:
            found.update(_NAME.findall(unicodedata.normalize("NFKC", line)))
    return frozenset(found)


def body_hash(body: str) -> str:
    """A hash of the whole body's words, blind to case, quote style, dateline and whitespace."""
    words = _WORD.findall(fold(strip_dateline(body)))
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def squash(text: str) -> str:
    """Whitespace collapsed to single spaces (titles, short excerpts for dead letters)."""
    return _WS.sub(" ", text).strip()
