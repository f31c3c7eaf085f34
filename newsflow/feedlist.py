"""Reading the list of feeds to ingest: a text file, URLs on the command line, or OPML.

Users keep their feeds in whatever their feed reader exports (OPML) or in a plain file, one
URL per line. A typo there should stop the run with the file and line it is on, not surface as
a dead letter an hour later, and a feed listed twice should be fetched once.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["FeedListError", "FeedSource", "dedupe", "load_feed_list", "parse_feed_list",
           "parse_opml", "parse_text", "validate_url"]


class FeedListError(ValueError):
    """A bad entry in a feed list; the message names the source and line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True)
class FeedSource:
    """A feed URL and where it was listed (``source:line``), for error messages."""

    url: str
    source: str = "<command line>"
    line: int | None = None
    title: str = ""


def validate_url(url: str) -> str | None:
    """Why ``url`` is not a feed URL we can fetch, or None when it is fine."""
    if any(c.isspace() for c in url):
        return f"not a URL (contains spaces): {url!r}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc}): {url!r}"
    if parts.scheme.lower() not in ("http", "https"):
        if not parts.scheme:
            return f"not an absolute http(s) URL: {url!r}"
        return f"unsupported scheme {parts.scheme!r} (use http or https): {url!r}"
    if not parts.hostname:
        return f"URL has no host: {url!r}"
    if port == 0:
        return f"URL has port 0: {url!r}"
    return None


def _key(url: str) -> str:
    """What makes two listed URLs the same feed: case of scheme and host, default port, fragment."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def dedupe(sources: Iterable[FeedSource]) -> list[FeedSource]:
    """The first occurrence of each feed, in order (``HTTP://X.org/f#a`` equals ``http://x.org/f``)."""
    seen: set[str] = set()
    out: list[FeedSource] = []
    for item in sources:
        key = _key(item.url)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def parse_text(text: str, source: str = "<text>") -> list[FeedSource]:
    """One URL per line; ``#`` starts a comment (whole-line or after whitespace); blanks skipped."""
    out: list[FeedSource] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().strip("\ufeff\u200b").strip()
        if not line or line.startswith("#"):
            continue
        for marker in (" #", "\t#"):
            if marker in line:
                line = line.split(marker, 1)[0].strip()
        problem = validate_url(line)
        if problem:
            raise FeedListError(source, number, problem)
        out.append(FeedSource(line, source, number))
    return out


def parse_opml(data: bytes, source: str = "<opml>") -> list[FeedSource]:
    """Every ``<outline xmlUrl=...>`` in an OPML document, nested folders included."""
    parser = xml.parsers.expat.ParserCreate()
    out: list[FeedSource] = []
    saw_opml = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal saw_opml
        if name.lower() == "opml":
            saw_opml = True
        if name.lower() != "outline":
            return
        attributes = {k.lower(): v for k, v in attrs.items()}
        url = attributes.get("xmlurl", "").strip()
        if not url:
            return
        line = parser.CurrentLineNumber
        problem = validate_url(url)
        if problem:
            raise FeedListError(source, line, f"bad xmlUrl: {problem}")
        title = attributes.get("title") or attributes.get("text") or ""
        out.append(FeedSource(url, source, line, title))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise FeedListError(source, exc.lineno, f"not well-formed OPML: "
                            f"{xml.parsers.expat.errors.messages[exc.code]}") from None
    if not saw_opml:
        raise FeedListError(source, None, "an XML file but not OPML (no <opml> element)")
    return out


def _looks_like_xml(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return head.startswith((b"<?xml", b"<opml", b"<!--"))


def parse_feed_list(data: bytes, source: str = "<list>") -> list[FeedSource]:
    """A feed list's bytes, OPML or plain text (told apart by content), not deduplicated."""
    if _looks_like_xml(data) or source.lower().endswith(".opml"):
        return parse_opml(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FeedListError(source, line, "not UTF-8 text") from None
    return parse_text(text, source)


def load_feed_list(
    urls: Iterable[str] = (), files: Iterable[str | Path] = ()
) -> list[FeedSource]:
    """URLs given directly plus every feed in ``files``, deduplicated, in order.

    Raises :class:`FeedListError` (a ``ValueError``) naming the file and line of a bad entry,
    or ``OSError`` when a file cannot be read.
    """
    sources: list[FeedSource] = []
    for position, url in enumerate(urls, start=1):
        url = url.strip()
        problem = validate_url(url)
        if problem:
            raise FeedListError("<command line>", None, f"argument {position}: {problem}")
        sources.append(FeedSource(url))
    for file in files:
        path = Path(file)
        sources.extend(parse_feed_list(path.read_bytes(), str(path)))
    return dedupe(sources)
