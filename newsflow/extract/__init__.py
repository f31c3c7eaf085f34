"""From one article page (HTML) to a normalised :class:`~schemas.records.Article`.

Pure logic, no Beam and no network: ``NormaliseArticles`` and ``newsflow extract`` both call
:func:`extract_article`. The steps: decode (legacy encodings too) and parse once, bounded; read
the page's own declarations (:mod:`.metadata`); prune what no extractor reads (head, scripts,
navigation, widgets); find the story with trafilatura and readability (:mod:`.content`); remove
the furniture they leave (:mod:`.clean`); then the canonical URL (:mod:`.urls`), dates
(:mod:`.dates`), authors (:mod:`.authors`) and language (:mod:`.language`).
:func:`article_from_feed` builds the article from the feed entry alone when the page cannot be
fetched or yields no text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import datetime

import lxml.html
from lxml import etree
from lxml.etree import ParserError, _Element

from newsflow.extract.authors import find_authors, split_byline
from newsflow.extract.clean import clean_paragraphs, is_truncated, strip_title_suffix
from newsflow.extract.content import block_texts, extract_content, prune_chrome
from newsflow.extract.dates import find_dates
from newsflow.extract.encoding import decode_html
from newsflow.extract.language import detect_language, normalise_code
from newsflow.extract.metadata import PageMeta, read_bylines, read_meta
from newsflow.extract.urls import canonical_url, normalise_url, registered_domain
from schemas.records import Article, FeedEntry

__all__ = [
    "MAX_HTML_CHARS",
    "MAX_NODES",
    "MAX_PARSED_NODES",
    "article_from_feed",
    "extract_article",
    "extract_article_or_error",
    "parse_html",
    "warm_up",
]

MAX_HTML_CHARS = 2_000_000  # longer pages are cut: no article needs more, and time stays bounded
MAX_NODES = 10_000  # beyond this many elements only trafilatura runs (no second opinion)
MAX_PARSED_NODES = 20_000  # a page with more elements is cut to this many (about)
_SUMMARY_CHARS = 300
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.I)  # ends at ">", as in browsers
_THREAD = threading.local()  # this thread's HTML parser


def _html_parser() -> lxml.html.HTMLParser:
    """lxml's HTML parser with its element classes chosen in C, one per thread (lxml parsers
    must not be shared between threads).

    ``lxml.html`` picks the Python class of every element it hands out with a Python callback
    (forms and inputs get classes of their own); the extractors touch each element many times,
    and that callback was about a tenth of their time. Every element here is an ``HtmlElement``
    (``text_content``, ``drop_tree``...), which is all the extractors use.
    """
    parser: lxml.html.HTMLParser | None = getattr(_THREAD, "parser", None)
    if parser is None:
        # Comments and processing instructions are pruned before extraction anyway, and
        # nothing looks elements up by id: the parser skips building either.
        parser = _THREAD.parser = lxml.html.HTMLParser(
            remove_comments=True, remove_pis=True, collect_ids=False)
        parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
            element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
            pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity,
        ))
    return parser


_CODE_OPEN = re.compile(r"<(script|style)\b([^>]*)>", re.I)


def _without_code(text: str) -> str:
    """The page without the contents of its scripts and styles (JSON-LD kept), in linear time.

    Pages over the size bound are almost always big because of inline code (a framework's
    state, a megabyte of JSON): cutting the raw text would cut the story that follows it.
    """
    lower = text.lower()
    out: list[str] = []
    pos = 0
    for match in _CODE_OPEN.finditer(text):
        if match.start() < pos:
            continue  # inside the previous element (a "<script" in a string)
        tag = match.group(1).lower()
        end = lower.find(f"</{tag}", match.end())
        end = len(text) if end < 0 else end
        if tag == "script" and "ld+json" in match.group(2).lower():
            continue
        out.append(text[pos:match.end()])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def parse_html(html: str | bytes, headers: Mapping[str, str] | None = None) -> _Element | None:
    """Decode and parse a page, bounded in size; None when there is no document at all."""
    text = decode_html(html, headers)
    if len(text) > MAX_HTML_CHARS:
        text = _without_code(text)
    if len(text) > MAX_HTML_CHARS:
        text = text[:MAX_HTML_CHARS]
    text = _XML_DECLARATION.sub("", text, count=1).replace("\x00", "")
    if not text.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(text, parser=_html_parser())
        # Every element starts with a "<": most pages have too few of those to need counting.
        nodes = int(tree.xpath("count(//*)")) if text.count("<") > MAX_PARSED_NODES else 0
        if nodes > MAX_PARSED_NODES:
            # Markup this dense (hundreds of thousands of tiny elements) is not an article
            # page; keep the share of it that fits the element bound.
            tree = lxml.html.document_fromstring(text[: len(text) * MAX_PARSED_NODES // nodes],
                                                 parser=_html_parser())
        return tree
    except (ParserError, ValueError):
        return None


def _publisher(page: PageMeta, domain: str) -> str:
    """The site's name as it declares it, else as its <title> suffix names it."""
    name = page.first("og:site_name", "application-name", "publisher")
    if not name and page.article:
        publisher = page.article.get("publisher")
        if isinstance(publisher, list) and publisher:
            publisher = publisher[0]
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            name = publisher["name"]
    if not name and " | " in page.title:
        # "Headline | Site name": a short last part that is not the headline itself.
        suffix = page.title.rsplit(" | ", 1)[1].strip()
        if 0 < len(suffix.split()) <= 4 and (
            domain.split(".")[0] in suffix.lower().replace(" ", "") or len(suffix) <= 30
        ):
            name = suffix
    return " ".join(name.lstrip("@").split())


def _title(page: PageMeta, tree: _Element | None, publisher: str, domain: str) -> str:
    headline = page.article.get("headline") if page.article else None
    candidates = [
        page.first("og:title", "twitter:title"),
        headline if isinstance(headline, str) else "",
        page.title,
    ]
    if tree is not None:
        h1 = next(tree.iter("h1"), None)
        if h1 is not None:
            candidates.append(h1.text_content())
    for candidate in candidates:
        title = strip_title_suffix(candidate or "", publisher=publisher, domain=domain)
        if title:
            return title
    return ""


def _summary(page: PageMeta, body: list[str], entry: FeedEntry | None) -> str:
    text = page.first("og:description", "description", "twitter:description")
    if not text and entry is not None and entry.summary:
        text = " ".join(block_texts(lxml.html.fragment_fromstring(entry.summary,
                                                                  create_parent="div")))
    if not text and body:
        text = body[0]
    text = " ".join(text.split())
    if len(text) > _SUMMARY_CHARS:
        cut = text[:_SUMMARY_CHARS].rsplit(" ", 1)[0]
        text = cut.rstrip(",;:") + "…"
    return text


def _date_languages(*codes: str | None) -> list[str] | None:
    """The languages a page's date lines may be in: what the page and the feed declare (the
    site's template writes them), then the language of the text."""
    out: list[str] = []
    for code in map(normalise_code, codes):
        if code and code not in out:
            out.append(code)
    return out or None


def extract_article(
    html: str | bytes,
    url: str,
    *,
    fetched_at: datetime | None,
    headers: Mapping[str, str] | None = None,
    entry: FeedEntry | None = None,
    fetched_url: str = "",
) -> Article:
    """The normalised article of one page.

    ``url`` is the URL the page was finally served from (after redirects); ``fetched_url`` the
    one we asked for (defaults to the feed entry's link, else ``url``). The body is empty when
    the page has no story text: the caller decides whether to fall back to the feed.
    """
    tree = parse_html(html, headers)
    page = read_meta(tree, bylines=False) if tree is not None else PageMeta()
    canonical = canonical_url(url, page.canonical)
    domain = registered_domain(canonical)
    publisher = _publisher(page, domain)
    if tree is not None and not find_authors(page, publisher=publisher):
        # Byline markup is read (before pruning: it often sits in a header or an aside) only
        # when JSON-LD and meta tags name nobody: searching for it is a walk of the page.
        page.bylines = read_bylines(tree)
    title = _title(page, tree, publisher, domain)
    if not title and entry is not None:
        title = " ".join(entry.title.split())
    raw: list[str] = []
    if tree is not None:
        prune_chrome(tree)  # after everything above has read the page's declarations
        raw = extract_content(tree, url, max_nodes=MAX_NODES).paragraphs
    body = clean_paragraphs(raw, title=title, publisher=publisher)
    text = "\n\n".join(body)
    declared = page.lang or (entry.language if entry else None)
    language = detect_language(text, declared) if text else normalise_code(declared)
    dates = find_dates(
        page, url, fetched_at=fetched_at,
        feed_published=entry.published_at if entry else None, lines=raw,
        languages=_date_languages(page.lang, entry.language if entry else None, language),
    )
    authors = find_authors(page, publisher=publisher, lines=raw,
                           feed_authors=entry.authors if entry else None)
    return Article(
        url=canonical,
        title=title,
        body=text,
        fetched_url=fetched_url or (entry.url if entry else url),
        summary=_summary(page, body, entry),
        authors=authors,
        publisher=publisher,
        source=domain,
        published_at=dates.published_at,
        published_at_source=dates.published_at_source,
        modified_at=dates.modified_at,
        fetched_at=fetched_at,
        language=language if text else None,
        feed_url=entry.feed_url if entry else "",
        guid=entry.guid if entry else "",
        word_count=len(text.split()),
        truncated=is_truncated(body),
        body_source="page",
    )


def extract_article_or_error(
    html: str | bytes,
    url: str,
    *,
    fetched_at: datetime | None,
    headers: Mapping[str, str] | None = None,
    entry: FeedEntry | None = None,
    fetched_url: str = "",
) -> Article | str:
    """:func:`extract_article`, with an error returned as its description (``"Type: message"``).

    The picklable entry point for a process pool (``NormaliseArticles(extract_workers=N)``): it
    imports no Beam, and the description travels back where an exception might not unpickle.
    """
    try:
        return extract_article(html, url, fetched_at=fetched_at, headers=headers, entry=entry,
                               fetched_url=fetched_url)
    except Exception as exc:  # noqa: BLE001 - the caller dead-letters the page with the reason
        return f"{type(exc).__name__}: {exc}"


# A short page that takes every lazy path of the first extraction (see ``warm_up``).
_WARM_UP_PAGE = (
    "<html lang='en'><head><title>Harbour ferry returns - The Ledger</title></head><body>"
    "<article><h1>Harbour ferry returns</h1><p class='byline'>By Ada Lind</p>"
    + "<p>The harbour ferry will run again from Monday after a winter of repairs to its hull, "
      "the operator said in a statement on Thursday evening.</p>" * 2
    + "</article></body></html>"
)


def warm_up() -> None:
    """Do now what a process's first extraction does lazily: import trafilatura and readability
    and load the language model (py3langid decompresses it: about 0.8 s of CPU in all). The
    extraction pool's fork server does it once (``newsflow.extract.warmed``), while the first
    feeds are still being fetched, and each worker again as it starts (a few milliseconds once
    the server is warm), instead of during its first page. Never raises: a worker that cannot
    extract says so on its first real page, as a dead letter."""
    try:
        import readability  # noqa: F401 - only short extractions reach it (content.py)
    except ImportError:
        pass
    extract_article_or_error(_WARM_UP_PAGE, "http://localhost/warm-up", fetched_at=None)


def _fragment_paragraphs(html: str) -> list[str]:
    if not html or not html.strip():
        return []
    if "<" not in html:
        return [p.strip() for p in re.split(r"\n\s*\n", html) if p.strip()]
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ParserError, ValueError):
        return [html.strip()]
    return block_texts(root)


def article_from_feed(entry: FeedEntry, *, fetched_at: datetime | None = None,
                      url: str = "") -> Article:
    """The article as the feed entry alone tells it (``body_source='feed'``).

    Used when the page cannot be fetched or has no story text. The body is the entry's content,
    else its summary; empty when it has neither (the caller dead-letters it).
    """
    title = " ".join(entry.title.split())
    raw = _fragment_paragraphs(entry.content) or _fragment_paragraphs(entry.summary)
    body = clean_paragraphs(raw, title=title)
    text = "\n\n".join(body)
    canonical = normalise_url(url or entry.url)
    language = detect_language(text, entry.language) if text else entry.language
    dates = find_dates(PageMeta(), canonical, fetched_at=fetched_at,
                       feed_published=entry.published_at, lines=raw,
                       languages=_date_languages(entry.language, language))
    authors: list[str] = []
    for author in entry.authors:
        authors.extend(n for n in split_byline(author) if n not in authors)
    summary = " ".join(_fragment_paragraphs(entry.summary)) or (body[0] if body else "")
    if len(summary) > _SUMMARY_CHARS:
        summary = summary[:_SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return Article(
        url=canonical,
        title=title,
        body=text,
        fetched_url=entry.url,
        summary=summary,
        authors=authors,
        publisher=entry.feed_title,
        source=registered_domain(canonical),
        published_at=dates.published_at,
        published_at_source=dates.published_at_source,
        modified_at=None,
        fetched_at=fetched_at or entry.fetched_at,
        language=language,
        feed_url=entry.feed_url,
        guid=entry.guid,
        word_count=len(text.split()),
        truncated=is_truncated(body),
        body_source="feed",
    )
