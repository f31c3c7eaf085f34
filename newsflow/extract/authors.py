"""Authors as a list of person names.

Bylines arrive as "By Jaroslav Lukiv", "By JANE DOE and John Smith, Reuters", "Jane Doe |
3 Minute Read", "Staff", or an Organization object in JSON-LD. Readers search by person, so we
keep names of people only: no "By", no reading time, no roles, no publisher or agency standing
in for an author, no URLs or e-mail addresses.
"""

from __future__ import annotations

import re
from typing import Any

from newsflow.extract.metadata import PageMeta

__all__ = ["clean_author", "find_authors", "split_byline"]

_BY = re.compile(r"^\W*(?:written\s+by|posted\s+by|reported\s+by|words\s+by|by|von|par|por|di"
                 r"|door|av|af)\b[\s:]*", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\bwith\b|\||/|\n|•|·)\s*",
                    re.I)
_NOT_A_NAME = re.compile(
    r"\d|@|https?:|www\.|\.(?:com|net|org|co|uk|de|fr|br|in)\b|"
    r"\b(?:minutes?|min|read|reading|updated|published|posted|staff|"
    r"editor(?:ial)?s?|team|desk|news|newsroom|correspondent|reporter|writer|contributor|"
    r"associated press|reuters|agency|agencies|afp|wire|services?|admin|administrator|"
    r"guest|anonymous|unknown|photo|photos|image|video|follow|twitter|facebook|email|"
    r"contact|more|articles?|stories|bio|profile|senior|chief|deputy|political|sports|"
    r"business|health|science|technology|international|national|world|local|media|"
    r"about|sobre|über|propos|autor|author|redaktion|redacción|rédaction)\b",
    re.I,
)
_AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator")
_NAME_WORD = re.compile(r"^[^\W\d_][\w'’.\-]*$", re.UNICODE)


def clean_author(text: str, *, publisher: str = "") -> str:
    """One person's name from a byline fragment, or "" when it is not a person's name."""
    text = " ".join(text.split())
    text = _BY.sub("", text).strip(" ,.-–—:|")
    text = re.sub(r"\s*\(.*?\)\s*", " ", text).strip()
    if not text or len(text) > 60:
        return ""
    if publisher and text.lower() in {publisher.lower(), publisher.lower().split(".")[0]}:
        return ""
    if _NOT_A_NAME.search(text):
        return ""
    words = text.split()
    if not 1 < len(words) <= 5:
        return ""  # one word is a handle or a desk; more than five is a sentence
    if not all(_NAME_WORD.match(w) for w in words):
        return ""
    if text.isupper() or text.islower():
        text = text.title()
    return text


def split_byline(byline: str, *, publisher: str = "") -> list[str]:
    """Every person named in a byline ("By A, B and C, Reuters" -> ["A", "B", "C"])."""
    byline = _BY.sub("", " ".join(byline.split()))
    names: list[str] = []
    for part in _SPLIT.split(byline):
        name = clean_author(part, publisher=publisher)
        if name and name not in names:
            names.append(name)
    return names


def _jsonld_authors(value: Any) -> list[str]:
    out: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            kinds = item.get("@type", "")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(str(k).lower() == "organization" for k in kinds):
                continue
            name = item.get("name")
            if isinstance(name, str):
                out.append(name)
    return out


def find_authors(
    page: PageMeta,
    *,
    publisher: str = "",
    lines: list[str] | None = None,
    feed_authors: list[str] | None = None,
) -> list[str]:
    """Person names from JSON-LD, meta tags, byline markup, a "By ..." line, or the feed."""
    def jsonld() -> list[str]:
        return _jsonld_authors(page.article.get("author")) if page.article else []

    def meta() -> list[str]:
        return [value for name in _AUTHOR_META for value in page.meta.get(name, ())]

    def markup() -> list[str]:
        return page.bylines

    def byline_lines() -> list[str]:
        return [line for line in (lines or [])[:25] if len(line.split()) <= 10 and _BY.match(line)]

    def feed() -> list[str]:
        return list(feed_authors or [])

    # Sources in order of trust; later ones are only read when earlier ones name nobody.
    for source in (jsonld, meta, markup, byline_lines, feed):
        candidates = source()
        names: list[str] = []
        for candidate in candidates:
            if candidate.startswith(("http://", "https://")):
                continue
            for name in split_byline(candidate, publisher=publisher):
                if name not in names:
                    names.append(name)
        if names:
            return names
    return []
