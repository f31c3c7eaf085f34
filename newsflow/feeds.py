"""Turning a fetched feed's bytes into ``FeedEntry`` records, losing nothing feedparser finds.

feedparser already copes with RSS 0.9x/1.0/2.0, Atom 0.3/1.0, RDF, declared, BOM-signalled and
undeclared legacy encodings, ``xml:base`` and malformed XML. What it leaves to us is deciding,
for every entry it finds, one absolute http(s) URL (relative links, ``tag:`` links, missing
links), one stable id, a UTC time or ``None`` with the reason (absent, unparseable, before 1990,
in the future), and plain-text titles and summaries; and telling "a feed with problems"
(``bozo``, kept) from "not a feed at all" (an HTML page, garbage: a :class:`FeedParseError`).
A feed's own polling hint (RSS ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``) is read
too, for the streaming job's schedule (:func:`poll_hint_seconds`).

Pure functions, no Beam and no network: ``ParseFeeds`` and ``newsflow feeds show`` both use
:func:`parse_feed`.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import html
import io
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import feedparser

from newsflow.schedule import feed_hint
from schemas.records import FeedEntry

__all__ = [
    "EARLIEST",
    "FUTURE_TOLERANCE",
    "MAX_POLL_HINT",
    "FeedParseError",
    "absolute_links",
    "ParsedFeed",
    "entry_time",
    "html_to_text",
    "parse_feed",
    "poll_hint_seconds",
]

log = logging.getLogger(__name__)

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=2)  # clock skew and time-zone mistakes, not scheduled posts
MAX_POLL_HINT = timedelta(days=30)  # a feed asking for longer is mistaken, not quiet

NOT_A_FEED = "not_a_feed"
UNPARSEABLE = "unparseable"


class FeedParseError(Exception):
    """The bytes are not a feed. ``kind`` is ``not_a_feed`` or ``unparseable``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class ParsedFeed:
    """A parsed feed: its entries plus what feedparser said about the document."""

    feed_url: str
    final_url: str
    version: str
    title: str
    entries: list[FeedEntry] = field(default_factory=list)
    bozo: bool = False
    bozo_reason: str | None = None
    encoding: str | None = None
    language: str | None = None
    poll_hint_seconds: float | None = None


# -- text --------------------------------------------------------------------------------------

_DROP = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote|hr)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def html_to_text(value: str | None, keep_lines: bool = True) -> str:
    """Visible text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    if not value:
        return ""
    if "<" in value:
        value = _DROP.sub(" ", value)
        value = _COMMENT.sub(" ", value)
        value = _BREAK.sub("\n", value)
        value = _TAG.sub(" ", value)
    if "&" in value:
        value = html.unescape(value)
    value = _SPACES.sub(" ", value)
    if keep_lines:
        return _NEWLINES.sub("\n", value).strip()
    return " ".join(value.split())


# -- URLs --------------------------------------------------------------------------------------

_URL_SAFE = "/:?#[]@!$&'()*+,;=%~"


def _http_url(candidate: Any, base: str) -> str | None:
    """``candidate`` as an absolute http(s) URL (resolved against ``base``), or None."""
    if not isinstance(candidate, str):
        return None
    value = "".join(candidate.split())  # links wrapped over several lines
    if not value:
        return None
    try:
        parts = urlsplit(value)
        if not parts.scheme:
            value = urljoin(base, value)
            parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    scheme, netloc = parts.scheme.lower(), parts.netloc
    rest = value[len(parts.scheme) + 3 + len(netloc):]
    return f"{scheme}://{netloc}{quote(rest, safe=_URL_SAFE)}"


def _entry_url(entry: Mapping[str, Any], guid: str, base: str) -> str:
    candidates: list[Any] = [entry.get("feedburner_origlink"), entry.get("link")]
    links = entry.get("links") or []
    candidates += [link.get("href") for link in links
                   if link.get("rel", "alternate") == "alternate" and "html" in
                   (link.get("type") or "text/html")]
    candidates += [link.get("href") for link in links if link.get("rel", "alternate") in
                   ("alternate", "related", "via")]
    if entry.get("guidislink", False) or guid.lower().startswith(("http://", "https://")):
        candidates.append(guid)
    candidates += [link.get("href") for link in links if link.get("rel") == "enclosure"]
    for candidate in candidates:
        url = _http_url(candidate, base)
        if url:
            return url
    # Nothing addressable (no link, or only tag:/urn: ids): point into the feed itself so the
    # entry is kept with an absolute URL; the article step then falls back to its content.
    digest = hashlib.sha1(guid.encode("utf-8")).hexdigest()[:16]
    return f"{base.split('#', 1)[0]}#entry-{digest}"


# -- times -------------------------------------------------------------------------------------

def _struct_to_utc(value: time.struct_time) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _fallback_date(raw: str) -> datetime | None:
    """Formats feedparser gives up on: RFC 822 with odd zones, ISO-8601 variants."""
    text = raw.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def entry_time(entry: dict[str, Any], now: datetime) -> tuple[datetime | None, str | None]:
    """The entry's publication time in UTC and, when there is none, why (its note).

    ``published`` first, then ``updated``, then ``created``; a time before 1990 or more than
    :data:`FUTURE_TOLERANCE` after ``now`` is implausible and skipped.
    """
    notes: list[str] = []
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key)  # plain lookups: no feedparser updated->published alias
        parsed = dict.get(entry, f"{key}_parsed")
        if not raw and not parsed:
            continue
        when = _struct_to_utc(parsed) if parsed else None
        if when is None and isinstance(raw, str):
            when = _fallback_date(raw)
        if when is None:
            notes.append(f"unparseable {key} date {str(raw)[:80]!r}")
            continue
        if when < EARLIEST:
            notes.append(f"implausible {key} date {when.isoformat()} (before 1990)")
            continue
        if when > now + FUTURE_TOLERANCE:
            notes.append(f"implausible {key} date {when.isoformat()} (in the future)")
            continue
        return when, None
    return None, ("; ".join(notes) if notes else "no date in the entry")


# -- entries -----------------------------------------------------------------------------------

_EMAIL = r"(?:mailto:)?[^\s@()<>]+@[^\s@()<>]+"
_EMAIL_THEN_NAME = re.compile(rf"^\s*{_EMAIL}\s*\((.+)\)\s*$")
_EMAIL_ANYWHERE = re.compile(rf"[(<]\s*{_EMAIL}\s*[)>]|{_EMAIL}")


def _author_name(raw: str) -> str:
    """A display name from ``Name``, ``email (Name)``, ``Name (mailto:email)``, ``By Name``."""
    text = html_to_text(raw, keep_lines=False)
    match = _EMAIL_THEN_NAME.match(text)
    if match:
        text = match.group(1)
    text = _EMAIL_ANYWHERE.sub(" ", text)
    text = re.sub(r"^by\s+", "", " ".join(text.split()), flags=re.I)
    return text.strip(" ,;:-()")


def _mangled(name: str) -> bool:
    return name.count("(") != name.count(")") or "@" in name or "mailto:" in name


def _authors(entry: dict[str, Any]) -> list[str]:
    names = [author.get("name") or "" for author in entry.get("authors") or []]
    raw = dict.get(entry, "author")
    if isinstance(raw, str) and raw and (not names or (len(names) == 1 and _mangled(names[0]))):
        # feedparser cuts "email (Name)" forms with non-ASCII names short; use the raw text.
        names = [raw]
    out: list[str] = []
    for name in names:
        clean = _author_name(name)
        if clean and clean not in out:
            out.append(clean)
    return out


def _tags(entry: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for tag in entry.get("tags") or []:
        term = html_to_text(tag.get("term") or tag.get("label") or "", keep_lines=False)
        if term and term not in out:
            out.append(term)
    return out


_RELATIVE_REF = re.compile(
    r"""(\b(?:href|src|poster)\s*=\s*)(["'])(?!(?:[a-z][a-z0-9+.-]*:|#|//))([^"']*)\2""", re.I)


def absolute_links(fragment: str, base: str) -> str:
    """``href``/``src`` attributes of an HTML fragment resolved against ``base``."""
    if not base or ("href" not in fragment and "src" not in fragment and
                    "poster" not in fragment):
        return fragment

    def resolve(match: re.Match[str]) -> str:
        attr, quote_char, ref = match.groups()
        return f"{attr}{quote_char}{urljoin(base, html.unescape(ref))}{quote_char}"

    return _RELATIVE_REF.sub(resolve, fragment)


def _content(entry: Mapping[str, Any], base: str) -> str:
    parts = [absolute_links(c.get("value", ""), c.get("base") or base)
             for c in entry.get("content") or []
             if "html" in (c.get("type") or "text/html") or c.get("type") == "text/plain"]
    return "\n".join(p for p in parts if p).strip()


def _guid(entry: Mapping[str, Any], title: str, summary: str, published: str) -> str:
    guid = (entry.get("id") or "").strip()
    if guid:
        return guid
    link = "".join((entry.get("link") or "").split())
    if link:
        return link
    digest = hashlib.sha1(f"{title}\n{summary}\n{published}".encode()).hexdigest()
    return f"sha1:{digest}"


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


# -- polling hint ------------------------------------------------------------------------------

def poll_hint_seconds(meta: Mapping[str, Any]) -> float | None:
    """How long the feed asks readers to wait between polls, in seconds; ``None`` without a hint.

    ``meta`` is feedparser's ``feed`` dict: RSS ``<ttl>`` minutes is ``ttl``; the syndication
    module's ``sy:updatePeriod`` (hourly ... yearly) divided by ``sy:updateFrequency`` (default
    1) is ``sy_updateperiod``/``sy_updatefrequency``, whatever the namespace prefix. Both given:
    the longer. An unreadable or absurd value (not positive, over :data:`MAX_POLL_HINT`) counts
    as absent, so it cannot push the other one aside.
    """
    hints = [
        feed_hint(ttl_minutes=meta.get("ttl")),
        feed_hint(update_period=meta.get("sy_updateperiod"),
                  update_frequency=meta.get("sy_updatefrequency")),
    ]
    plausible = [h for h in hints if h is not None and timedelta(0) < h <= MAX_POLL_HINT]
    return max(plausible).total_seconds() if plausible else None


# -- documents ---------------------------------------------------------------------------------

_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)
_FEED_LINK = re.compile(
    r"<link\b[^>]*type=[\"']application/(?:rss|atom)\+xml[\"'][^>]*>", re.I
)
_HREF = re.compile(r"href=[\"']([^\"']+)[\"']", re.I)
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff)?\s*<", re.S)


def _looks_like_html(body: bytes, content_type: str, version: str) -> bool:
    if version:
        return False
    head = body[:4096]
    return bool(_HTML_SNIFF.search(head)) or content_type.startswith(("text/html",
                                                                      "application/xhtml"))


def _advertised_feed(body: bytes, base: str) -> str | None:
    text = body[:65536].decode("utf-8", "replace")
    for tag in _FEED_LINK.findall(text):
        href = _HREF.search(tag)
        if href:
            url = _http_url(html.unescape(href.group(1)), base)
            if url:
                return url
    return None


_FEED_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml|<rss[\s>]|<feed[\s>]|<rdf:rdf[\s>]|<!--)", re.I)
_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\bencoding\s*=", re.I)
_LOOSE_TYPES = ("", "text/xml", "text/html", "text/plain", "application/octet-stream",
                "binary/octet-stream")


def _response_headers(headers: Mapping[str, str] | None, base: str,
                      body: bytes) -> dict[str, str]:
    out = {k.lower(): v for k, v in (headers or {}).items()}
    location = out.get("content-location")
    out["content-location"] = urljoin(base, location) if location else base
    if b"xml:base" not in body and b"\x00" not in body[:64]:  # (UTF-16/32 would hide it)
        # No base for feedparser, which would join it to itself at every element (a quarter
        # of its parse time): links come out as written, and _entry_url and _content resolve
        # them against this one. Only ids differ: a relative <guid> stays as written.
        out["x-newsflow-base"] = out.pop("content-location")
    # feedparser would re-decode: the HTTP layer already inflated the body.
    out.pop("content-encoding", None)
    out.pop("content-length", None)
    # Servers often label feeds text/html, text/plain or nothing, and text/xml without a
    # charset means US-ASCII only to RFC 3023 (obsoleted by RFC 7303). When the body is XML,
    # call it XML so that the XML declaration decides the encoding and bozo means malformed.
    mime, _, params = out.get("content-type", "").partition(";")
    mime = mime.strip().lower()
    looks_xml = bool(_FEED_START.match(body[:512])) or body.startswith((b"\xff\xfe",
                                                                        b"\xfe\xff"))
    if mime in _LOOSE_TYPES and looks_xml:
        charset = params if "charset" in params.lower() else ""
        if mime != "text/xml" and _DECLARED_ENCODING.match(body[:256]):
            charset = ""  # a server that calls XML text/html knows less than the document
        out["content-type"] = "application/xml" + (f";{charset}" if charset else "")
    return out


def parse_feed(
    body: bytes,
    headers: Mapping[str, str] | None = None,
    feed_url: str = "",
    final_url: str | None = None,
    fetched_at: datetime | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse a feed document; raise :class:`FeedParseError` when it is not a feed at all.

    ``headers`` are the HTTP response headers (their ``Content-Type`` charset counts);
    relative links resolve against ``xml:base``, then ``Content-Location``, then
    ``final_url`` (the URL after redirects, default ``feed_url``). A feed with entries is
    returned even when feedparser flags it ``bozo``; a well-formed feed with no entries is
    returned empty.
    """
    base = final_url or feed_url
    if not _http_url(base, ""):
        raise ValueError(f"parse_feed needs the absolute http(s) URL the feed came from, "
                         f"got {base!r}")
    now = now or datetime.now(UTC)
    response_headers = _response_headers(headers, base, body)
    content_type = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type", "")
    content_type = content_type.lower()
    if not body.strip():
        raise FeedParseError(UNPARSEABLE, "empty body")
    trimmed = _trim_prolog(body)
    parsed = _feedparse(trimmed, response_headers)
    if trimmed is not body:  # never find fewer entries than feedparser on the raw bytes
        raw = _feedparse(body, response_headers)
        if len(raw.get("entries") or []) > len(parsed.get("entries") or []):
            parsed = raw
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries") or []
    bozo = bool(parsed.get("bozo"))
    reason = _bozo_reason(parsed.get("bozo_exception")) if bozo else None
    if not raw_entries and not version:
        if _looks_like_html(body, content_type, version):
            message = "an HTML page, not a feed"
            advertised = _advertised_feed(body, base)
            if advertised:
                message += f" (the page links to the feed {advertised})"
            raise FeedParseError(NOT_A_FEED, message)
        if not _XML_START.match(body[:512]) and b"<" not in body[:512]:
            raise FeedParseError(NOT_A_FEED, f"not XML (Content-Type {content_type or 'none'})")
        raise FeedParseError(UNPARSEABLE, reason or "no RSS, Atom or RDF elements found")
    meta = parsed.get("feed") or {}
    feed_title = html_to_text(meta.get("title"), keep_lines=False)
    feed_language = _language(meta.get("language")) or _language(
        response_headers.get("content-language"))
    result = ParsedFeed(
        feed_url=feed_url or base,
        final_url=base,
        version=version,
        title=feed_title,
        bozo=bozo,
        bozo_reason=reason,
        encoding=parsed.get("encoding"),
        language=feed_language,
        poll_hint_seconds=poll_hint_seconds(meta),
    )
    base = response_headers.get("x-newsflow-base", base)  # what feedparser was not given
    for entry in raw_entries:
        title = html_to_text(entry.get("title"), keep_lines=False)
        summary = html_to_text(entry.get("summary"))
        guid = _guid(entry, title, summary, str(entry.get("published") or entry.get("updated")))
        published_at, note = entry_time(entry, now)
        result.entries.append(FeedEntry(
            feed_url=result.feed_url,
            url=_entry_url(entry, guid, base),
            guid=guid,
            title=title,
            summary=summary,
            content=_content(entry, base),
            authors=_authors(entry),
            tags=_tags(entry),
            published_at=published_at,
            published_at_note=note,
            feed_title=feed_title,
            language=_language((entry.get("title_detail") or {}).get("language"))
            or feed_language,
            fetched_at=fetched_at,
        ))
    if bozo and result.entries:
        log.warning("feed %s is not well-formed (%s); kept %d entries", base, reason,
                    len(result.entries))
    return result


_LEADING_SPACE = re.compile(rb"^(\xef\xbb\xbf)?[ \t\r\n]+(?=<\?xml)")


def _trim_prolog(body: bytes) -> bytes:
    """Drop whitespace before ``<?xml`` (a common CMS slip that makes expat give up)."""
    match = _LEADING_SPACE.match(body[:1024])
    if not match:
        return body
    return (match.group(1) or b"") + body[match.end():]


def _feedparse(body: bytes, headers: dict[str, str]) -> Any:
    """feedparser without its HTML sanitiser and content-link rewriting: together they cost
    ~40% of the parse. Summaries become plain text here and the article step extracts text
    from content HTML (never renders it); content links are resolved by
    :func:`absolute_links`, a regex pass against the ``xml:base`` feedparser reports."""
    try:
        return feedparser.parse(io.BytesIO(body), response_headers=headers,
                                sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser's own bug on odd input: a dead letter, not a crash
        log.warning("feedparser failed", exc_info=True)
        raise FeedParseError(UNPARSEABLE, f"feedparser failed: {type(exc).__name__}: {exc}"
                             ) from exc


def _bozo_reason(exc: Any) -> str:
    if exc is None:
        return "malformed"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
