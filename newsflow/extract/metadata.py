"""What a page says about itself: JSON-LD, ``<meta>`` tags, ``<link rel>``, ``<html lang>``.

Dates, authors, the canonical URL, the publisher and the language all start from the same
declarations, so they are read once per page into a :class:`PageMeta` and each normaliser picks
what it trusts. Reading is defensive: broken JSON-LD, odd ``@graph`` nesting and repeated tags
are the rule on real pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.etree import _Element

__all__ = ["PageMeta", "read_meta"]

_ARTICLE_TYPES = re.compile(r"(?:Article|BlogPosting|Report|Posting)$", re.I)
_MAX_JSONLD = 200_000  # characters of one script block we are willing to parse


@dataclass
class PageMeta:
    """Declarations found on the page (strings as written, nothing normalised yet)."""

    title: str = ""
    meta: dict[str, list[str]] = field(default_factory=dict)  # lower-cased name -> values
    canonical: list[str] = field(default_factory=list)  # rel=canonical, then og:url
    lang: str = ""  # <html lang>, else content-language meta
    article: dict[str, Any] = field(default_factory=dict)  # the JSON-LD article object
    jsonld: list[dict[str, Any]] = field(default_factory=list)  # every JSON-LD object

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


def read_meta(tree: _Element) -> PageMeta:
    """Read the declarations of a parsed HTML document."""
    page = PageMeta()
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    page.lang = (root.get("lang") or root.get("xml:lang") or "").strip()
    title = tree.find(".//title")
    if title is not None:
        page.title = " ".join((title.text_content() if hasattr(title, "text_content")
                               else title.text or "").split())
    for el in tree.iter("meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop")
                or el.get("http-equiv") or "").strip().lower()
        content = el.get("content")
        if name and content is not None:
            page.meta.setdefault(name, []).append(content)
    for el in tree.iter("link"):
        rel = (el.get("rel") or "").lower().split()
        if "canonical" in rel and el.get("href"):
            page.canonical.append(el.get("href", ""))
    page.canonical.extend(page.meta.get("og:url", []))
    if not page.lang:
        page.lang = page.first("content-language", "og:locale", "language", "dc.language")
    for el in tree.iter("script"):
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
    return page
