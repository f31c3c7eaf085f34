"""Main-content detection: trafilatura and readability-lxml, combined.

Neither extractor is right everywhere, and they go wrong in different ways: one keeps a
newsletter box or a "related stories" list at the end of the story, the other keeps the photo
captions or drops an embedded tweet. Where they agree, the story is almost certainly there;
where only one of them keeps something, its position tells us who is right: text that only one
extractor kept *inside* the span both agree on is usually story (a quote, an embed, a list the
other one skipped), text kept only at the *edges* is usually page furniture.

Running readability on every page would halve throughput, so it runs only when trafilatura's
output looks suspicious (too short for the page, or furniture-like lines at its edges).
"""

from __future__ import annotations

import copy
import difflib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree
from lxml.etree import _Element

__all__ = [
    "ContentResult",
    "block_texts",
    "extract_content",
    "merge_extractions",
    "prune_chrome",
    "readability_paragraphs",
    "trafilatura_paragraphs",
]

LOG = logging.getLogger(__name__)

# Elements that end a paragraph when walking HTML into text.
BLOCK_TAGS = frozenset(
    "address article aside blockquote body dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody "
    "td th thead tfoot tr ul br".split()
)
SKIP_TAGS = frozenset("script style noscript template svg iframe object button select".split())

_WORD = re.compile(r"\w+")
_LIST_MARK = re.compile(r"^[-*•]\s+")
_SENTENCE_END = frozenset(".!?…\"”’»)。！？」』")
# Class/id words of page furniture that readability keeps inside the story container.
_FURNITURE = re.compile(
    r"caption|credit|byline|author|share|social|related|newsletter|promo|subscribe|signup"
    r"|dateline|timestamp|meta-?data|toolbar|tags?\b",
    re.I,
)


# Elements readability never picks as the story; removing them first saves most of its time.
_NEVER_STORY = (
    "script", "style", "link", "noscript", "nav", "footer", "aside", "form", "select",
    "button", "svg", "iframe", "template", etree.Comment, etree.ProcessingInstruction,
)


# Elements that hold no story text. trafilatura's own cleaning deletes every one of them (its
# MANUALLY_CLEANED list, less what its options may keep: tables, figures, forms, math, <time>)
# and readability never picks them. Both extractors copy and walk the whole tree several times,
# so removing these once, in C, before either runs makes extraction about a quarter faster.
CHROME_TAGS = (
    "style", "link", "meta", "base", "title", "template", "noscript", "svg", "iframe", "frame",
    "frameset", "fencedframe", "embed", "object", "applet", "param", "audio", "video", "source",
    "track", "canvas", "map", "area", "picture", "use", "nav", "menu", "menuitem", "aside",
    "footer", "button", "input", "textarea", "select", "option", "optgroup", "datalist",
    "label", "fieldset", "legend", "output", "progress", "marquee", "blink", "noindex", "rp",
    "rt", "rtc",
)
_DROP = "newsflow-drop"


def prune_chrome(tree: _Element) -> None:
    """Remove what no extractor reads, in place: the ``<head>``, scripts, styles, comments and
    :data:`CHROME_TAGS` (their tail text stays where it was).

    JSON-LD scripts are kept, in the head too: trafilatura falls back to a JSON-LD
    ``articleBody`` when a page has no text of its own. Read the page's metadata (dates,
    bylines) first: a ``<time>`` or byline often sits in a ``<footer>`` or ``<aside>``.
    """
    marked = [el for el in tree.iter("script")
              if (el.get("type") or "").strip().lower() != "application/ld+json"]
    head = tree.find("head")
    if head is not None:
        marked.extend(el for el in head if isinstance(el.tag, str) and el.tag != "script")
    for el in marked:
        el.tag = _DROP
    etree.strip_elements(tree, _DROP, *CHROME_TAGS, etree.Comment, etree.ProcessingInstruction,
                         with_tail=False)


_SHORT_WORDS = 150  # an extraction shorter than this...
_SHORT_SHARE = 0.5  # ...and than this share of the page's text may have missed the story


@dataclass
class ContentResult:
    """The story paragraphs and which extractor(s) produced them."""

    paragraphs: list[str]
    method: str  # trafilatura | readability | combined | none


def _squash(text: str) -> str:
    return " ".join(text.split())


def block_texts(root: _Element) -> list[str]:
    """The text of an element as paragraphs, one per block-level element (inline text joined)."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        text = _squash("".join(buf))
        if text:
            out.append(text)
        buf.clear()

    def walk(el: _Element) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in SKIP_TAGS:
            if el.tail:
                buf.append(el.tail)
            return
        block = tag in BLOCK_TAGS
        if block:
            flush()
        if el.text and tag:
            buf.append(el.text)
        for child in el:
            walk(child)
        if block:
            flush()
        if el.tail:
            buf.append(el.tail)

    walk(root)
    flush()
    return out


def _key(paragraph: str) -> str:
    return " ".join(_WORD.findall(paragraph.lower()))


def _tokens(paragraphs: list[str]) -> Counter[str]:
    counter: Counter[str] = Counter()
    for p in paragraphs:
        counter.update(_WORD.findall(p.lower()))
    return counter


def _covered(paragraph: str, pool: Counter[str]) -> bool:
    words = Counter(_WORD.findall(paragraph.lower()))
    total = sum(words.values())
    return total > 0 and sum((words & pool).values()) >= 0.8 * total


def _prose(paragraph: str) -> bool:
    """A sentence-like paragraph (what a caption, byline or link list is not)."""
    from newsflow.extract.clean import is_prose

    return is_prose(paragraph) and paragraph.rstrip()[-1:] in _SENTENCE_END


def merge_extractions(first: list[str], second: list[str]) -> tuple[list[str], str]:
    """Combine two extractions of one page (``first`` is preferred where they conflict).

    Paragraphs both keep form the agreed span. Inside it we keep what either kept; at its edges
    we keep only text the other extractor also has (split differently, perhaps). When they
    hardly agree at all, one of them found the wrong block and ``first`` wins.
    """
    first = [p for p in first if _WORD.search(p)]
    second = [p for p in second if _WORD.search(p)]
    if not second:
        return first, "trafilatura"
    if not first:
        return second, "readability"
    ta, tb = _tokens(first), _tokens(second)
    shared = sum((ta & tb).values())
    if not shared or shared < 0.5 * min(sum(ta.values()), sum(tb.values())):
        return first, "trafilatura"
    ka = [_key(p) for p in first]
    kb = [_key(p) for p in second]
    ops = difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes()
    equal = [i for i, op in enumerate(ops) if op[0] == "equal"]
    lo, hi = (equal[0], equal[-1]) if equal else (len(ops), -1)
    out: list[str] = []
    seen: set[str] = set()

    def emit(paragraphs: list[str]) -> None:
        for p in paragraphs:
            k = _key(p)
            if k not in seen:
                seen.add(k)
                out.append(p)

    for i, (tag, a0, a1, b0, b1) in enumerate(ops):
        side_a, side_b = first[a0:a1], second[b0:b1]
        if tag == "equal":
            out.extend(side_a)
            seen.update(ka[a0:a1])
            continue
        pool_a, pool_b = _tokens(side_a), _tokens(side_b)
        if lo < i < hi:
            emit(side_a)
            emit([p for p in side_b if _prose(p) and not _covered(p, pool_a)])
        else:
            emit([p for p in side_a if _covered(p, pool_b)])
    return out, "combined"


def _readability_document(tree: _Element) -> Any:
    """A readability ``Document`` over a copy of our parsed tree.

    readability re-parses its input for each of its passes and runs lxml's ``Cleaner``, whose
    link rewriting costs more than the scoring itself. We give it a copy of the tree we already
    parsed, with scripts, styles and comments stripped by lxml in C; it never needs to rewrite
    links because we only keep its text. (readability-lxml 0.9: ``Document._parse`` is the hook.)
    """
    from readability import Document
    from readability.readability import REGEXES

    class _TreeDocument(Document):  # type: ignore[misc]
        def _parse(self, input: _Element) -> _Element:
            doc = copy.deepcopy(input)
            self.encoding = "utf-8"
            for elem in doc.xpath("//*[@hidden]"):
                elem.drop_tree()
            for elem in doc.xpath("//*[@style]"):
                if REGEXES["displayNoneRe"].search(elem.get("style")):
                    elem.drop_tree()
            etree.strip_elements(doc, *_NEVER_STORY, with_tail=False)
            return doc

    return _TreeDocument(tree)


def readability_paragraphs(tree: _Element) -> list[str]:
    """readability-lxml's story container as paragraphs, figures and furniture removed."""
    try:
        summary = _readability_document(tree).summary(html_partial=True)
        root = lxml.html.fragment_fromstring(summary, create_parent="div")
    except Exception as exc:  # noqa: BLE001 - readability raises its own Unparseable and more
        LOG.debug("readability failed: %s", exc)
        return []
    for el in list(root.iter("figure", "figcaption", "picture", "aside", "nav", "footer")):
        el.drop_tree()
    for el in list(root.iter()):
        if el.getparent() is None or not isinstance(el.tag, str):
            continue
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if marks.strip() and _FURNITURE.search(marks):
            el.drop_tree()
    return [p for p in block_texts(root) if _WORD.search(p)]


def trafilatura_paragraphs(tree: _Element, url: str | None = None) -> list[str]:
    """trafilatura's main text (fast mode, no comments) as paragraphs, list marks dropped."""
    import trafilatura

    try:
        text = trafilatura.extract(
            tree, url=url, fast=True, include_comments=False, include_tables=True
        )
    except Exception as exc:  # noqa: BLE001 - hostile markup must not fail the page
        LOG.debug("trafilatura failed on %s: %s", url, exc)
        return []
    if not text:
        return []
    out = []
    for line in text.split("\n"):
        line = _LIST_MARK.sub("", line).strip()
        if line and _WORD.search(line):
            out.append(line)
    return out


def _needs_second_opinion(paragraphs: list[str], tree: _Element) -> bool:
    """Whether trafilatura's result looks like it may hold furniture or miss the story.

    Cheap signals only: little text (under 150 words) that is also less than half of the
    page's text, so trafilatura may have missed the story (a short page is just short); or
    lines at its edges that are not prose (headline, newsletter box, "related" lists,
    copyright), which is where it goes wrong.
    """
    edges = paragraphs[:2] + paragraphs[-3:]
    if sum(1 for p in edges if not _prose(p)) >= 3:
        return True
    if sum(len(p.split()) for p in paragraphs) >= _SHORT_WORDS:
        return False
    body = tree.find("body")
    page_chars = len(" ".join((body if body is not None else tree).text_content().split()))
    return sum(len(p) for p in paragraphs) < _SHORT_SHARE * page_chars


def extract_content(
    tree: _Element, url: str | None = None, *, compare: bool | None = None,
    allow_compare: bool = True,
) -> ContentResult:
    """The story paragraphs of a parsed page (``tree`` is not modified).

    trafilatura runs first; readability runs too when trafilatura's result looks suspicious
    (``compare=None``), always (``compare=True``) or never (``compare=False`` or not
    ``allow_compare``, which bounds the time spent on huge pages), and the two are merged with
    :func:`merge_extractions`.
    """
    # No copy needed: trafilatura.extract copies an element input before it prunes anything.
    first = trafilatura_paragraphs(tree, url)
    run = _needs_second_opinion(first, tree) if compare is None else compare
    if not (run and allow_compare):
        return ContentResult(first, "trafilatura" if first else "none")
    second = readability_paragraphs(tree)
    paragraphs, method = merge_extractions(first, second)
    return ContentResult(paragraphs, method if paragraphs else "none")
