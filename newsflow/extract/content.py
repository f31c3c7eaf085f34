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
import functools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
    "script", "style", "link", "noscript", "nav", "footer", "aside", "select",
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


# What a <head> may hold. Anything else found there is body content the parser misplaced: an
# unknown tag before <body> (``<mbox>``) opens the body inside the head, page and all.
HEAD_TAGS = frozenset("title meta link base style script noscript template object".split())


def prune_chrome(tree: _Element) -> None:
    """Remove what no extractor reads, in place: the ``<head>``, scripts, styles, comments,
    :data:`CHROME_TAGS` and widget forms (their tail text stays where it was).

    JSON-LD scripts are kept, in the head too: trafilatura falls back to a JSON-LD
    ``articleBody`` when a page has no text of its own. Body content that the parser put in
    the head is moved to the body, not removed. A ``<form>`` that holds most of the page's
    text, or more text than a widget has, is a layout wrapper (ASP.NET puts whole pages in
    one) and becomes a plain container; other forms (search, login, newsletter) go. Layout
    tables become plain blocks (:func:`unlayout_tables`), and story text left loose beside a
    container's paragraphs (a lede in bare text) becomes paragraphs (:func:`wrap_loose_text`).
    Read the page's metadata (dates, bylines) first: a ``<time>`` or byline often sits in a
    ``<footer>`` or ``<aside>``.
    """
    marked = [el for el in tree.iter("script")
              if (el.get("type") or "").strip().lower() != "application/ld+json"]
    head = tree.find("head")
    if head is not None:
        misplaced = [el for el in head if isinstance(el.tag, str) and el.tag not in HEAD_TAGS]
        if misplaced:
            body = tree.find("body")
            if body is None:
                body = etree.SubElement(tree, "body")
            for el in reversed(misplaced):
                body.insert(0, el)
        marked.extend(el for el in head if isinstance(el.tag, str) and el.tag != "script")
    for el in marked:
        el.tag = _DROP
    etree.strip_elements(tree, _DROP, *CHROME_TAGS, etree.Comment, etree.ProcessingInstruction,
                         with_tail=False)
    forms = list(tree.iter("form"))
    if forms:
        total = len(tree.text_content().split())
        for form in forms:
            form.tag = "div" if _holds_content(form, total) else _DROP
        etree.strip_elements(tree, _DROP, with_tail=False)
    unlayout_tables(tree)
    wrap_loose_text(tree)


_CELL_BLOCKS = ("table", "div", "p", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6",
                "blockquote", "pre", "article", "section", "center", "form")
_CELL_WORDS = 50  # a data table's cell holds a figure or a name, not a paragraph


def _layout_tables(tree: _Element) -> list[_Element]:
    """The tables that lay the page out rather than tabulate data: their cells hold block
    content (paragraphs, lists, another table) or a paragraph's worth of words."""
    # A table with a block inside is the nearest table around some block (that block, or a
    # table inside it that is): one search from each table, stopping at the first block.
    return [table for table in tree.iter("table")
            if next(table.iterdescendants(*_CELL_BLOCKS), None) is not None
            or any(len(cell.text_content().split()) >= _CELL_WORDS
                   for cell in table.iter("td", "th"))]


def unlayout_tables(tree: _Element) -> None:
    """Turn each layout table into a plain block, in place; data tables stay tables.

    trafilatura writes a table row as one line, so a cell that holds the story and the cell
    beside it that holds the navigation come out as a single paragraph that neither the
    combiner nor the cleanup can take apart. Without the ``<table>`` around them, each cell
    is a block of its own; the cells stay cells, which readability scores as paragraphs.
    """
    for table in _layout_tables(tree):
        table.tag = "div"


# What ends a run of loose text: an element that is, or holds, a block.
_RUN_BREAKS = BLOCK_TAGS | {"center"}
_LOOSE_WORDS = 10  # a lede is a sentence; a few loose words are a label, a number, a date


def wrap_loose_text(tree: _Element) -> None:
    """Put the story text that sits loose beside a container's paragraphs in paragraphs of
    its own, in place.

    Older pages write the lede as bare text, or a ``<b>``, before the first ``<p>``
    (``<div>Lede.<p>Second paragraph.</div>``), let a paragraph go on after an ad box that
    closed it (``<p>Kobe <div>Ad</div>Bryant scored...<p>``), or put one paragraph in a
    ``<div>`` among ``<p>``s; trafilatura reads paragraphs and drops such text. A run of text
    and inline elements becomes a ``<p>`` when it opens the container (before its first
    ``<p>``) or runs into a ``<p>``; a ``<div>`` of text alone between two ``<p>``s becomes one.
    Each only when it is prose (a sentence, most of its words outside links). Loose text that
    ends elsewhere, after the last paragraph or before a rule or a line break, stays as it is:
    there it is more often comments, a signature or a list of links than story.
    """
    from newsflow.extract.clean import is_prose

    parents = dict.fromkeys(p.getparent() for p in tree.iter("p"))  # in document order
    parents.pop(None, None)
    for parent in parents:
        children = list(parent)
        at_p = [i for i, child in enumerate(children) if child.tag == "p"]
        runs: list[tuple[_Element | None, list[_Element]]] = [(None, [])]
        for i, child in enumerate(children[:at_p[-1] + 1]):
            if isinstance(child.tag, str) and child.tag not in _RUN_BREAKS and next(
                    child.iterdescendants(*_RUN_BREAKS), None) is None:
                runs[-1][1].append(child)
                continue
            before, inline = runs[-1]
            if i <= at_p[0] or child.tag == "p":
                lead = parent.text if before is None else before.tail
                if _loose_prose(lead or "", inline, is_prose):
                    _wrap(parent, before, lead, inline)
            if (at_p[0] < i < at_p[-1] and child.tag == "div"
                    and next(child.iterdescendants(*_RUN_BREAKS - {"br"}), None) is None
                    and _loose_prose(child.text or "", list(child), is_prose)):
                child.tag = "p"
            runs.append((child, []))


def _loose_prose(lead: str, inline: list[_Element], is_prose: Callable[[str], bool]) -> bool:
    """Whether ``lead`` and the ``inline`` elements after it are a paragraph's prose: a
    sentence of words, most of them outside links."""
    words = " ".join([lead, *(el.text_content() + (el.tail or "") for el in inline)]).split()
    linked = sum(len(a.text_content().split()) for el in inline for a in el.iter("a"))
    return len(words) >= _LOOSE_WORDS and 2 * linked <= len(words) and is_prose(" ".join(words))


def _wrap(parent: _Element, before: _Element | None, lead: str | None,
          inline: list[_Element]) -> None:
    """Wrap ``lead`` (the text after ``before``, or the parent's own text when None) and the
    ``inline`` elements that follow it in a new ``<p>``."""
    para = parent.makeelement("p", {})
    para.text = lead
    if before is None:
        parent.text = None
        parent.insert(0, para)
    else:
        before.tail = None
        before.addnext(para)
    for el in inline:
        para.append(el)


_WIDGET_WORDS = 150  # a search, login, poll or newsletter form has far fewer words of its own


def _holds_content(form: _Element, page_words: int) -> bool:
    """Whether a ``<form>`` is a container of page content rather than a widget: it holds
    half the page's words, or more words outside links than any widget has."""
    words = len(form.text_content().split())
    if 2 * words > page_words:
        return True
    linked = sum(len(a.text_content().split()) for a in form.iter("a"))
    return words - linked >= _WIDGET_WORDS


_SHORT_WORDS = 150  # an extraction shorter than this...
_SHORT_SHARE = 0.5  # ...and than this share of the page's text may have missed the story


@dataclass
class ContentResult:
    """The story paragraphs and which extractor(s) produced them."""

    paragraphs: list[str]
    method: str  # trafilatura | readability | combined | none


def _squash(text: str) -> str:
    return " ".join(text.split())


def _block_runs(root: _Element) -> Iterator[tuple[str, _Element]]:
    """The text of each block of ``root``, as written (white space not squashed), with the
    block-level element that holds it: one run per block-level element, inline text joined,
    :data:`SKIP_TAGS` left out. One pass in lxml's walker (no recursion in Python)."""
    buf: list[str] = []
    owners = [root]
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        if event == "start":
            tag = el.tag
            if tag in SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                if buf:
                    yield "".join(buf), owners[-1]
                    buf.clear()
                owners.append(el)
            if el.text:
                buf.append(el.text)
        elif event == "end":
            tag = el.tag
            if tag in BLOCK_TAGS:
                if buf:
                    yield "".join(buf), owners[-1]
                    buf.clear()
                owners.pop()
            if el.tail:
                buf.append(el.tail)
        elif el.tail:  # a comment or processing instruction: only its tail is page text
            buf.append(el.tail)
    if buf:
        yield "".join(buf), root


def block_texts(root: _Element) -> list[str]:
    """The text of an element as paragraphs, one per block-level element (inline text joined)."""
    return [text for text in (_squash(run) for run, _ in _block_runs(root)) if text]


def _words(paragraph: str) -> list[str]:
    return _WORD.findall(paragraph.lower())


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    """A paragraph's runs of three words (the paragraph itself when it is shorter)."""
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:], strict=False))


def _ngram_pool(words: list[str], short: set[int]) -> set[tuple[str, ...]]:
    """Every run of three words of an extraction's word stream (read as one stream, so that two
    extractors that split the same text differently still share its runs), and of one and of
    two words where ``short`` (the lengths of the other extraction's paragraphs of fewer than
    three words) needs them."""
    pool: set[tuple[str, ...]] = set(zip(words, words[1:], words[2:], strict=False))
    if 1 in short:
        pool.update((w,) for w in words)
    if 2 in short:
        pool.update(zip(words, words[1:], strict=False))
    return pool


def _shared(runs: set[tuple[str, ...]], pool: set[tuple[str, ...]]) -> bool:
    """Whether the other extraction has this paragraph: half its three-word runs (all of its
    words, when it is shorter) occur there."""
    return bool(runs) and 2 * len(runs & pool) >= len(runs)


def _blocks_by_text(root: _Element) -> dict[str, _Element]:
    """The block element that holds each paragraph of the page (as :func:`block_texts` splits
    it), by the paragraph's words; where a text occurs twice, its first place."""
    from newsflow.extract.clean import word_key

    out: dict[str, _Element] = {}
    for text, owner in _block_runs(root):
        if not text.isspace():
            out.setdefault(word_key(text), owner)
    return out


def _container(elements: list[_Element]) -> _Element | None:
    """The innermost element that holds all of ``elements``."""
    if not elements:
        return None
    common = [elements[0], *elements[0].iterancestors()]
    for el in elements[1:]:
        line = {el, *el.iterancestors()}
        common = [c for c in common if c in line]
    return common[0] if common else None


def _span(sizes: list[int], shared: list[bool], places: list[_Element | None],
          container: _Element | None) -> tuple[int, int]:
    """First and last index of the story in one extraction (of paragraphs of ``sizes`` words):
    from the first to the last shared paragraph of four words or more (any shared one if there
    is none), widened over the paragraphs next to it that sit in the story's container, at
    its end up to a heading. A shared paragraph at either end that sits outside the container,
    far from the next one, is left out. (0, -1) when nothing is shared."""
    def inside(i: int) -> bool:
        place = places[i] if container is not None else None
        return place is not None and (place is container or container in place.iterancestors())

    anchors = [i for i, (n, s) in enumerate(zip(sizes, shared, strict=True))
               if s and n >= _ANCHOR_WORDS] or [i for i, s in enumerate(shared) if s]
    if not anchors:
        return 0, -1
    if container is not None:
        # A shared paragraph outside the story's container and far from the next one (its
        # headline as a link in a list of stories) does not stretch the span to it.
        anchors = _without_far_edges(anchors, lambda i: not inside(i))
    lo, hi = anchors[0], anchors[-1]

    def heading(i: int) -> bool:
        place = places[i]
        return place is not None and place.tag in _HEADINGS

    while lo > 0 and inside(lo - 1):
        lo -= 1
    # After the story, a heading opens another section of the container ("Reader views",
    # "Most popular"): the story does not run on past it.
    while hi < len(sizes) - 1 and inside(hi + 1) and not heading(hi + 1):
        hi += 1
    return lo, hi


def _without_far_edges(indices: list[int], may_drop: Callable[[int], bool]) -> list[int]:
    """``indices`` (ascending, of paragraphs) less those at either end that are more than
    :data:`_FAR` paragraphs from the next one in and that ``may_drop``; one is always kept."""
    lo, hi = 0, len(indices) - 1
    while lo < hi and indices[lo + 1] - indices[lo] > _FAR and may_drop(indices[lo]):
        lo += 1
    while lo < hi and indices[hi] - indices[hi - 1] > _FAR and may_drop(indices[hi]):
        hi -= 1
    return indices[lo:hi + 1]


_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# A paragraph of the story more than this many paragraphs from the rest of it is rare; a
# teaser or a headline in a list of stories is often that far. (Of 5 and 10, 5 also cut a
# WCEB page's story short; 10 changed only the pages it mended, on every set.)
_FAR = 10
_ANCHOR_WORDS = 4  # a shared paragraph this long marks the story (a shared word or two may not)
_AGREED_PROSE = 150  # agreeing on fewer words of prose than this may be agreeing on a fragment...
_FRAGMENT_EXTRA = 100  # ...when one of them has at least this much more prose (and twice as much)
_FRAGMENT_PARAGRAPHS = 3  # ...and they agree on fewer paragraphs of prose than this


@dataclass
class _Side:
    """One extraction, read once: each paragraph's words, prose word count and sharedness."""

    paragraphs: list[str]
    words: list[list[str]]
    prose: list[int]  # the paragraph's word count if it is prose, else 0
    shared: list[bool]
    runs: list[set[tuple[str, ...]]]  # each paragraph's runs of three words (see _runs)

    @classmethod
    def read(cls, paragraphs: list[str]) -> _Side:
        from newsflow.extract.clean import is_prose

        paragraphs = [p for p in paragraphs if _WORD.search(p)]
        words = [_words(p) for p in paragraphs]
        return cls(paragraphs, words,
                   [len(p.split()) if is_prose(p) else 0 for p in paragraphs],
                   [False] * len(paragraphs), [_runs(w) for w in words])

    def stream(self) -> list[str]:
        """All its words, in order."""
        return [w for ws in self.words for w in ws]

    def short(self) -> set[int]:
        """The lengths of its paragraphs of fewer than three words."""
        return {len(w) for w in self.words if len(w) < 3}

    def size(self, shared: bool | None = None) -> int:
        return sum(len(w) for w, s in zip(self.words, self.shared, strict=True)
                   if shared is None or s == shared)

    def prose_words(self, shared: bool | None = None) -> int:
        return sum(n for n, s in zip(self.prose, self.shared, strict=True)
                   if shared is None or s == shared)


def merge_extractions(first: list[str], second: list[str], tree: _Element | None = None,
                      ) -> tuple[list[str], str]:
    """Combine two extractions of one page (``first`` is preferred where they conflict).

    A paragraph is *shared* when the other extraction has most of its three-word runs. Then:

    - when ``second`` is empty (readability found nothing, yet ``first`` looked suspicious
      enough to ask it), ``first`` is cut to the span of its prose, as if its prose paragraphs
      were the shared ones: menus and teaser lists around the story go;
    - when little is shared (under half of the shorter extraction's words), they found
      different blocks: the one with more prose wins (a story is prose, a wrong block is
      usually a list of links, a gallery or a listing);
    - when they share only a little prose, in a paragraph or two, and one of them has far more
      prose of its own, the other found a fragment of the story (its headline, a caption): that
      one wins. Several shared paragraphs of prose are a short story, not a fragment: the
      other's extra prose may be readers' comments;
    - otherwise the story runs from the first to the last shared paragraph. Around that span
      we keep what sits in the same container of the page (``tree``: a lede, a caption, the
      last paragraph that one extractor dropped) and drop the rest (related links, comments,
      newsletter boxes); inside it we keep ``first``'s paragraphs and ``second``'s prose.
    """
    a, b = _Side.read(first), _Side.read(second)
    if not b.paragraphs:
        return _prose_span(a, tree), "trafilatura"
    if not a.paragraphs:
        return b.paragraphs, "readability"
    stream_a, stream_b = a.stream(), b.stream()
    if stream_a == stream_b:
        return a.paragraphs, "trafilatura"  # the same text (split alike or not)
    pool_a, pool_b = _ngram_pool(stream_a, b.short()), _ngram_pool(stream_b, a.short())
    a.shared = [_shared(runs, pool_b) for runs in a.runs]
    b.shared = [_shared(runs, pool_a) for runs in b.runs]
    if all(a.shared) and all(b.shared):
        return a.paragraphs, "trafilatura"  # the same text, give or take repeats
    if min(a.size(True), b.size(True)) < 0.5 * min(a.size(), b.size()):
        if a.prose_words() >= b.prose_words():
            return a.paragraphs, "trafilatura"
        return b.paragraphs, "readability"
    agreed = max(a.prose_words(True), b.prose_words(True))
    if agreed < _AGREED_PROSE and max(map(_shared_prose_paragraphs, (a, b))) < _FRAGMENT_PARAGRAPHS:
        own, whole, method = max((a.prose_words(False), a.paragraphs, "trafilatura"),
                                 (b.prose_words(False), b.paragraphs, "readability"),
                                 key=lambda x: x[0])
        if own >= max(_FRAGMENT_EXTRA, 2 * agreed):
            return whole, method
    return _merge_spans(a, b, tree), "combined"


def _prose_span(side: _Side, tree: _Element | None) -> list[str]:
    """An extraction cut to its story alone, when there is no second one to agree with: its
    prose paragraphs stand for the shared ones (see :func:`_span`)."""
    prose = [n > 0 for n in side.prose]
    if not any(prose) or all(prose):
        return side.paragraphs
    sizes = [len(w) for w in side.words]
    blocks = _blocks_by_text(tree) if tree is not None else {}
    places = [blocks.get(" ".join(w)) for w in side.words]
    # The story's container holds its prose, less a prose line far from the rest at either
    # edge (a teaser in the navigation).
    core = _without_far_edges([i for i, p in enumerate(prose) if p], lambda i: True)
    container = _container([places[i] for i in core if places[i] is not None])
    lo, hi = _span(sizes, prose, places, container)
    return side.paragraphs[lo:hi + 1]


def _shared_prose_paragraphs(side: _Side) -> int:
    """How many of an extraction's prose paragraphs the other one has too."""
    return sum(1 for n, s in zip(side.prose, side.shared, strict=True) if n and s)


def _merge_spans(a: _Side, b: _Side, tree: _Element | None) -> list[str]:
    """``a``'s story span, with ``b``'s own prose from its span put where ``b`` has it."""
    sizes_a, sizes_b = [len(w) for w in a.words], [len(w) for w in b.words]
    a0, a1 = _span(sizes_a, a.shared, [], None)
    b0, b1 = _span(sizes_b, b.shared, [], None)
    # Where the paragraphs are on the page matters only when a span leaves out something
    # that could be kept: any paragraph of a's, prose of b's.
    left_out = (a0 > 0 or a1 < len(sizes_a) - 1
                or any(b.prose[:b0]) or any(b.prose[b1 + 1:]))
    blocks = _blocks_by_text(tree) if tree is not None and left_out else {}
    places_a = [blocks.get(" ".join(w)) for w in a.words]
    places_b = [blocks.get(" ".join(w)) for w in b.words]
    # The story's container holds the surest of the shared paragraphs: prose, else four words
    # or more, else any. A headline both kept may be a link in a list far from the story.
    placed = [(place, 2 if prose else 1 if len(words) >= _ANCHOR_WORDS else 0)
              for side, places in ((a, places_a), (b, places_b))
              for place, words, prose, s in zip(places, side.words, side.prose, side.shared,
                                                 strict=True)
              if s and place is not None]
    surest = max((rank for _, rank in placed), default=0)
    container = _container([place for place, rank in placed if rank == surest])
    a0, a1 = _span(sizes_a, a.shared, places_a, container)
    b0, b1 = _span(sizes_b, b.shared, places_b, container)
    # Where each of a's three-word runs is, to put b's paragraphs after the text they follow.
    where: dict[tuple[str, ...], int] = {}
    for i in range(a1, a0 - 1, -1):
        where.update(dict.fromkeys(a.runs[i], i))
    inserts: dict[int, list[str]] = {}
    at = a0 - 1
    for i in range(b0, b1 + 1):
        if b.shared[i]:
            at = max((where[run] for run in b.runs[i] if run in where), default=at)
        elif b.prose[i]:
            inserts.setdefault(at, []).append(b.paragraphs[i])
    merged = list(inserts.get(a0 - 1, []))
    for i in range(a0, a1 + 1):
        merged.append(a.paragraphs[i])
        merged.extend(inserts.get(i, []))
    return merged


def _text_length(el: _Element) -> int:
    """The length of an element's text with each run of white space counted once."""
    return len(" ".join(el.text_content().split()))


_LONG_SPACE = re.compile(r"(?<!\s)\s{255,}")
_NEWLINE_SPACE = re.compile(r"(?<!\s)[^\S\n]*+\n\s*")
_TABS = re.compile(r"\t|[ \t]{2,}")


def _readability_clean(text: str) -> str:
    """readability-lxml's ``clean`` (white space normalised before it measures text), in linear
    time. Its patterns ``\\s{255,}`` and ``\\s*\\n\\s*`` are tried from every position of a run
    of white space, which is quadratic in the run's length (pages indented with hundreds of
    spaces spend milliseconds there); both only ever match from the start of a run, where these
    are anchored, and give the same text."""
    text = _LONG_SPACE.sub(" " * 255, text)
    text = _NEWLINE_SPACE.sub("\n", text)
    return _TABS.sub(" ", text).strip()


@functools.cache
def _tree_document_class() -> Any:
    """readability's ``Document`` over a copy of our parsed tree (made once, on first use).

    readability re-parses its input for each of its passes and runs lxml's ``Cleaner``, whose
    link rewriting costs more than the scoring itself. We give it a copy of the tree we already
    parsed, with scripts, styles and comments stripped by lxml in C; it never needs to rewrite
    links because we only keep its text. Its link density normalises white space with three
    regular expressions per element, a third of its time; ours splits once and gives the same
    lengths (a run of white space counts as one character either way).
    (readability-lxml 0.9: ``Document._parse`` and ``get_link_density`` are the hooks.)
    readability's module-level ``clean`` is replaced, for the whole process, by
    :func:`_readability_clean` (the same result in linear time).
    """
    import readability.readability
    from readability import Document
    from readability.readability import REGEXES

    readability.readability.clean = _readability_clean

    class _TreeDocument(Document):  # type: ignore[misc]
        def _parse(self, input: _Element) -> _Element:
            doc = copy.deepcopy(input)
            self.encoding = "utf-8"
            hidden, styled = [], []
            for elem in doc.iter(etree.Element):  # one walk, faster than two XPath queries
                if elem.get("hidden") is not None:
                    hidden.append(elem)
                if elem.get("style") is not None:
                    styled.append(elem)
            for elem in hidden:
                elem.drop_tree()
            for elem in styled:  # one that went with a hidden ancestor has no parent now
                if elem.getparent() is not None and REGEXES["displayNoneRe"].search(
                        elem.get("style")):
                    elem.drop_tree()
            etree.strip_elements(doc, *_NEVER_STORY, with_tail=False)
            return doc

        def get_clean_html(self) -> str:
            # The story container itself, for readability_paragraphs to read without
            # parsing readability's HTML again. summary() only measures what this returns
            # (its retry test: at least retry_length characters of HTML); when the text alone
            # is that long, so is the HTML, and the text does without serialising the story.
            self.story = self.html
            text = str(self.html.text_content())
            if len(text) >= self.retry_length:
                return text
            return str(super().get_clean_html())

        def get_link_density(self, elem: _Element) -> float:
            links = sum(_text_length(a) for a in elem.iterdescendants("a"))
            return links / max(_text_length(elem), 1)

        def score_paragraphs(self) -> dict[_Element, dict[str, Any]]:
            # readability's scoring, with white space normalised by one split instead of three
            # regular expressions per paragraph, and no debug descriptions built.
            candidates: dict[_Element, dict[str, Any]] = {}
            ordered = []
            for elem in self.tags(self._html(), "p", "pre", "td", "blockquote"):
                parent = elem.getparent()
                if parent is None:
                    continue
                grandparent = parent.getparent()
                text = " ".join((elem.text_content() or "").split())
                if len(text) < self.min_text_length:
                    continue
                for node in (parent, grandparent):
                    if node is not None and node not in candidates:
                        candidates[node] = self.score_node(node)
                        ordered.append(node)
                # readability's 1 + len(text.split(",")), without making the list
                score = 2 + text.count(",") + min(len(text) / 100, 3)
                candidates[parent]["content_score"] += score
                if grandparent is not None:
                    candidates[grandparent]["content_score"] += score / 2.0
            # Link density, as get_link_density, with each link's length taken once (a link
            # counts for its parent's and grandparent's candidates alike).
            link_lengths: dict[_Element, int] = {}
            for node in ordered:
                links = 0
                for link in node.iterdescendants("a"):
                    length = link_lengths.get(link)
                    if length is None:
                        length = link_lengths[link] = _text_length(link)
                    links += length
                candidates[node]["content_score"] *= 1 - links / max(_text_length(node), 1)
            return candidates

        def remove_unlikely_candidates(self) -> None:
            # readability's rule, tested only on elements that have a class or an id. Pages
            # repeat a few class names on many elements: each is tested once. The elements to
            # remove are found first, then removed in document order, each unless it went with
            # an ancestor (removing it again would change nothing left).
            unlikely, maybe = REGEXES["unlikelyCandidatesRe"], REGEXES["okMaybeItsACandidateRe"]
            tested: dict[str, bool] = {}
            found = []
            for elem in self.html.iterdescendants(etree.Element):
                names, ident = elem.get("class"), elem.get("id")
                if names is None and ident is None:
                    continue
                marks = f"{names or ''} {ident or ''}"
                drop = tested.get(marks)
                if drop is None:
                    drop = tested[marks] = bool(len(marks) >= 2 and unlikely.search(marks)
                                                and not maybe.search(marks))
                if drop and elem.tag not in ("html", "body"):
                    found.append(elem)
            dropped: set[_Element] = set()
            for elem in found:
                ancestors = list(elem.iterancestors())
                if (dropped.isdisjoint(ancestors)
                        and all(el.tag not in ("pre", "code") for el in (elem, *ancestors))
                        and next(elem.iter("main", "article", "math"), None) is None):
                    dropped.add(elem)
                    elem.drop_tree()

        def transform_misused_divs_into_paragraphs(self) -> None:
            # readability's rule, with its test "the serialised children match
            # <(blockquote|dl|div|img|ol|p|pre|table|ul)" made on the element tags instead.
            for elem in list(self.html.iter("div")):
                if not _holds_blocks(elem):
                    elem.tag = "p"
            for elem in list(self.html.iter("div")):
                children = list(elem)
                paragraph = None
                if elem.text and elem.text.strip():
                    paragraph = elem.makeelement("p", {})
                    paragraph.text, elem.text = elem.text, None
                    elem.insert(0, paragraph)
                for child in children:
                    if child.tag == "br" or child.tag not in _INLINE_TAGS or _holds_blocks(
                            child, self_too=True):
                        paragraph = None
                        continue
                    if paragraph is None:
                        paragraph = elem.makeelement("p", {})
                        child.addprevious(paragraph)
                    paragraph.append(child)
                for pos, child in reversed(list(enumerate(elem))):
                    if child.tail and child.tail.strip():
                        paragraph = elem.makeelement("p", {})
                        paragraph.text, child.tail = child.tail, None
                        elem.insert(pos + 1, paragraph)
                    if child.tag == "br":
                        child.drop_tree()

    return _TreeDocument


_INLINE_TAGS = frozenset("a b cite code em font i small span strong sub sup u".split())
_BLOCK_PREFIXES = ("blockquote", "dl", "div", "img", "ol", "p", "pre", "table", "ul")


def _holds_blocks(elem: _Element, *, self_too: bool = False) -> bool:
    """Whether readability's ``divToPElementsRe`` would find a block tag in ``elem``'s
    serialised descendants (and ``elem`` itself with ``self_too``); the regular expression has
    no word boundary, so it is a prefix test (``<param``, ``<picture`` match ``<p``)."""
    nodes = elem.iter() if self_too else elem.iterdescendants()
    return any(isinstance(el.tag, str) and el.tag.startswith(_BLOCK_PREFIXES) for el in nodes)


def _readability_document(tree: _Element) -> Any:
    """A readability ``Document`` over a copy of ``tree`` (see :func:`_tree_document_class`)."""
    return _tree_document_class()(tree)


def readability_paragraphs(tree: _Element) -> list[str]:
    """readability-lxml's story container as paragraphs, figures and furniture removed."""
    try:
        document = _readability_document(tree)
        document.summary(html_partial=True)
        root = document.story
    except Exception as exc:  # noqa: BLE001 - readability raises its own Unparseable and more
        LOG.debug("readability failed: %s", exc)
        return []
    for el in list(root.iter("figure", "figcaption", "picture", "aside", "nav", "footer")):
        el.drop_tree()
    # Furniture is small: an element holding half the container's text is the story, whatever
    # its classes say (WordPress marks the article itself "tag-<topic> category-<topic>").
    total = len(root.text_content())
    for el in list(root.iter()):
        if el.getparent() is None or not isinstance(el.tag, str):
            continue
        marks = f"{el.get('class', '')} {el.get('id', '')}"
        if marks.strip() and _FURNITURE.search(marks) and 2 * len(el.text_content()) < total:
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


# A sentence and then a link away from it: "... victory over Reading. Read more" (a teaser).
_TEASER_END = re.compile(r"[.!?…\"”]\s+(?:read(?: more| on| the full story)?|more|full story)"
                         r"\W*$", re.I)
_ODD_SHARE = 0.1  # this share of an extraction's words outside prose makes it look twice
# On a page of more elements than this (after pruning), one sign alone does not justify a
# second opinion: readability's time grows with the page, a page of 9,000 elements takes 50 ms.
# Chosen on the dev halves (the smallest of 1,000, 1,500, 2,000, 3,000, 5,000 that loses no
# F1 there); on the held-out halves it loses none either.
_BIG_PAGE = 1500


def _needs_second_opinion(paragraphs: list[str], tree: _Element,
                          nodes: Callable[[], int] | None = None) -> bool:
    """Whether trafilatura's result looks like it may hold furniture or miss the story.

    Cheap signs only: lines at its edges that are not prose (headline, newsletter box,
    "related" lists, copyright), which is where it goes wrong; a tenth of its words in lines
    that are not prose (table rows of a layout, navigation, teasers); a line that is the text
    of a link on the page (a list of other stories), or that ends in a "Read more" (a teaser).
    One of them is enough on a page of up to :data:`_BIG_PAGE` elements, two on a bigger one.
    Nothing at all, or little text (under 150 words) that is also less than half of the page's
    text (trafilatura may have missed the story; a short page is just short), is always
    enough. ``nodes`` counts the tree's elements (when the caller counts them anyway).
    """
    from newsflow.extract.clean import is_prose, word_key

    if not paragraphs:
        return True
    words = sum(len(p.split()) for p in paragraphs)

    def edges() -> bool:
        return sum(1 for p in paragraphs[:2] + paragraphs[-3:] if not _prose(p)) >= 3

    def odd() -> bool:
        return sum(len(p.split()) for p in paragraphs if not is_prose(p)) >= _ODD_SHARE * words

    def link() -> bool:
        if any(_TEASER_END.search(p) for p in paragraphs):
            return True
        headlines = {word_key(p) for p in paragraphs if len(p.split()) >= 3}
        return any(word_key(a.text_content()) in headlines for a in tree.iter("a"))

    signs = 0
    for sign in (edges, odd, link):
        if sign():
            signs += 1
            if signs == 2 or (nodes or functools.partial(_count, tree))() <= _BIG_PAGE:
                return True
    if words >= _SHORT_WORDS:
        return False
    body = tree.find("body")
    page_chars = len(" ".join((body if body is not None else tree).text_content().split()))
    return sum(len(p) for p in paragraphs) < _SHORT_SHARE * page_chars


def _count(tree: _Element) -> int:
    """How many elements ``tree`` has."""
    return int(tree.xpath("count(//*)"))


def _prose(paragraph: str) -> bool:
    """A sentence-like paragraph (what a caption, byline or link list is not)."""
    from newsflow.extract.clean import is_prose

    return is_prose(paragraph) and paragraph.rstrip()[-1:] in _SENTENCE_END


def extract_content(
    tree: _Element, url: str | None = None, *, compare: bool | None = None,
    max_nodes: int | None = None,
) -> ContentResult:
    """The story paragraphs of a parsed page (``tree`` is not modified).

    trafilatura runs first; readability runs too when trafilatura's result looks suspicious
    (``compare=None``), always (``compare=True``) or never (``compare=False``, or a tree of
    more than ``max_nodes`` elements: that bounds the time spent on huge pages), and the two
    are merged with :func:`merge_extractions`.
    """
    # No copy needed: trafilatura.extract copies an element input before it prunes anything.
    first = trafilatura_paragraphs(tree, url)
    nodes = functools.cache(functools.partial(_count, tree))
    run = _needs_second_opinion(first, tree, nodes) if compare is None else compare
    if run and max_nodes is not None:
        run = nodes() <= max_nodes
    if not run:
        return ContentResult(first, "trafilatura" if first else "none")
    second = readability_paragraphs(tree)
    paragraphs, method = merge_extractions(first, second, tree)
    return ContentResult(paragraphs, method if paragraphs else "none")
