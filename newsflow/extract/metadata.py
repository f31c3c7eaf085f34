"""What a page says about itself: JSON-LD, ``<meta>`` tags, ``<link rel>``, ``<html lang>``,
``<time>`` elements and byline markup.

Dates, authors, the canonical URL, the publisher and the language all start from the same
declarations, so they are read once per page into a :class:`PageMeta` and each normaliser picks
what it trusts. They are read before the tree is pruned for content extraction (a byline or a
``<time>`` often sits in a ``<footer>`` or ``<aside>`` that the extractors never see). Reading
is defensive: broken JSON-LD, odd ``@graph`` nesting and repeated tags are the rule on real
pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml.etree import _Element

__all__ = ["PageMeta", "read_bylines", "read_meta"]

_ARTICLE_TYPES = re.compile(r"(?:Article|BlogPosting|Report|Posting)$", re.I)
_MAX_JSONLD = 200_000  # characters of one script block we are willing to parse
_MAX_BYLINES = 5
_MAX_BYLINE_CHARS = 120
# Candidates for byline markup (rel=author links, itemprop=author, author/byline classes),
# found through their attributes, which is twice as fast as testing every element;
# _is_byline() then applies the exact rule.
_BYLINE_CANDIDATES = etree.XPath(
    "//@class[contains(., 'byline') or contains(., 'author')]/.."
    " | //@rel[. = 'author']/.. | //@itemprop[. = 'author']/.."
)


@dataclass
class PageMeta:
    """Declarations found on the page (strings as written, nothing normalised yet)."""

    title: str = ""
    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name -> values
    canonical: list[str] = field(default_factory=list)  # rel=canonical, then og:url
    lang: str = ""  # <html lang>, else content-language meta
    article: dict[str, Any] = field(default_factory=dict)  # the JSON-LD article object
    jsonld: list[dict[str, Any]] = field(default_factory=list)  # every JSON-LD object
    # <time> elements: (datetime or content attribute, lower-cased class/itemprop marks of the
    # element and its parent), in document order
    times: list[tuple[str, str]] = field(default_factory=list)
    bylines: list[str] = field(default_factory=list)  # text of byline markup, first few

    def first(self, *names: str) -> str:
        """The first non-empty value of the first of ``names`` that the page declares."""
        for name in names:
            for value in self.meta.get(name, ()):
                if value and value.strip():
                    return value.strip()
        return ""


def _walk_jsonld(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in data:
                yield from _walk_jsonld(data[key], depth + 1)


def _types(obj: dict[str, Any]) -> list[str]:
    value = obj.get("@type", [])
    return [str(t) for t in (value if isinstance(value, list) else [value])]


def _parse_jsonld(text: str) -> Any:
    text = text.strip()
    if not text or len(text) > _MAX_JSONLD:
        return None
    text = re.sub(r"^\s*(?:<!--|//<!\[CDATA\[)|(?:-->|//\]\]>)\s*$", "", text)
    try:
        return json.loads(text)
    except ValueError:
        try:
            return json.loads(re.sub(r"[\x00-\x1f]", " ", text))
        except ValueError:
            return None


def _is_byline(el: _Element) -> bool:
    if el.get("rel") == "author" or el.get("itemprop") == "author":
        return True
    marks = el.get("class", "")
    return "byline" in marks or "author-name" in marks or "author" in marks.split()


def read_bylines(tree: _Element) -> list[str]:
    """The text of the page's byline markup (rel=author, itemprop=author, a byline or author
    class), the first few. A search of every attribute of the page: :func:`read_meta` leaves it
    to the caller when JSON-LD or a meta tag may name the authors already."""
    out = []
    for el in [el for el in _BYLINE_CANDIDATES(tree) if _is_byline(el)][:_MAX_BYLINES]:
        if hasattr(el, "text_content"):
            text = " ".join(el.text_content().split())
            if text and len(text) <= _MAX_BYLINE_CHARS:
                out.append(text)
    return out


def read_meta(tree: _Element, *, bylines: bool = True) -> PageMeta:
    """Read the declarations of a parsed HTML document (byline markup too, with ``bylines``)."""
    page = PageMeta()
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    page.lang = (root.get("lang") or root.get("xml:lang") or "").strip()
    found: dict[str, list[_Element]] = {"title": [], "meta": [], "link": [], "script": [],
                                        "time": []}
    for el in tree.iter(*found):  # one walk for the five kinds
        found[el.tag].append(el)
    title = found["title"][0] if found["title"] else None
    if title is not None:
        page.title = " ".join((title.text_content() if hasattr(title, "text_content")
                               else title.text or "").split())
    for el in found["meta"]:
        name = (el.get("property") or el.get("name") or el.get("itemprop")
                or el.get("http-equiv") or "").strip().lower()
        content = el.get("content")
        if name and content is not None:
            page.meta.setdefault(name, []).append(content)
    for el in found["link"]:
        rel = (el.get("rel") or "").lower().split()
        if "canonical" in rel and el.get("href"):
            page.canonical.append(el.get("href", ""))
    page.canonical.extend(page.meta.get("og:url", []))
    if not page.lang:
        page.lang = page.first("content-language", "og:locale", "language", "dc.language")
    for el in found["script"]:
        if (el.get("type") or "").strip().lower() != "application/ld+json":
            continue
        data = _parse_jsonld(el.text or "")
        for obj in _walk_jsonld(data):
            page.jsonld.append(obj)
            if not page.article and any(_ARTICLE_TYPES.search(t) for t in _types(obj)):
                page.article = obj
    if not page.article:
        for obj in page.jsonld:
            if "datePublished" in obj or "headline" in obj:
                page.article = obj
                break
    for el in found["time"]:
        value = (el.get("datetime") or el.get("content") or "").strip()
        if value:
            parent = el.getparent()
            parent_class = parent.get("class", "") if parent is not None else ""
            marks = f"{el.get('class', '')} {el.get('itemprop', '')} {parent_class}".lower()
            page.times.append((value, marks))
    if bylines:
        page.bylines = read_bylines(tree)
    return page
