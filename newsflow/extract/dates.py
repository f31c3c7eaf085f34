"""When an article was published and last modified, in UTC, and how we know.

Sources in the order we trust them: the page's JSON-LD (``datePublished``), its Open Graph and
other ``<meta>`` tags, a ``<time>`` element, the feed entry, a relative date line on the page
("Published 1 hour ago", "3 hrs ago", "yesterday", resolved against the fetch time), and the
date in the URL (``/2019/11/20/``). ``published_at_source`` records which one won, so a reader
can tell a precise timestamp from a day guessed from a path. Times without a zone are taken as
UTC; a date in the future (beyond a day of clock skew) is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from newsflow.extract.metadata import PageMeta

__all__ = ["DateInfo", "find_dates", "parse_date", "parse_relative"]

_PUBLISHED_META = (
    "article:published_time", "og:published_time", "article:published", "datepublished",
    "pubdate", "publishdate", "publish-date", "publish_date", "published_time", "date",
    "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date", "sailthru.date",
    "parsely-pub-date", "cxenseparse:recs:publishtime", "article.published",
    "originalpublicationdate", "citation_publication_date",
)
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "article:modified", "datemodified",
    "dcterms.modified", "last-modified", "lastmod", "dc.date.modified", "modified",
)
# Common zone abbreviations in page text ("Updated 5:27 am CST"), in seconds east of UTC.
_TZINFOS = {
    "UTC": 0, "GMT": 0, "Z": 0, "BST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200,
    "EEST": 10800, "WET": 0, "WEST": 3600, "MSK": 10800, "IST": 19800, "JST": 32400,
    "KST": 32400, "AEST": 36000, "AEDT": 39600, "EST": -18000, "EDT": -14400,
    "CST": -21600, "CDT": -18000, "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
}
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])(?:[/-](0?[1-9]|[12]\d|3[01]))?(?=[/-]|$)"
)
_URL_DATE_COMPACT = re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=/)")
_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours",
    "d": "days", "day": "days", "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks",
    "month": "months", "mo": "months", "mos": "months", "y": "years", "yr": "years",
    "yrs": "years", "year": "years",
}
_RELATIVE = re.compile(
    r"(?:(?<!\d)(\d{1,3})|\b(an?|one))\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?"
    r"|weeks?|mo|mos|months?|y|yrs?|years?)\s+ago\b",
    re.I,
)
_YESTERDAY = re.compile(
    r"^\W*(?:(?:published|posted|updated)\s*:?\s*)?(yesterday|today|just now)\b", re.I
)


@dataclass
class DateInfo:
    """The publication and modification times and where the publication time came from."""

    published_at: datetime | None = None
    published_at_source: str | None = None  # jsonld | meta | time | feed | relative | url
    modified_at: datetime | None = None


def parse_date(value: Any) -> datetime | None:
    """A UTC datetime from an ISO-8601, RFC 2822 or free-form date string (None if not one)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        dt_or_none = _parse_text(value.strip()[:100])
        if dt_or_none is None:
            return None
        dt = dt_or_none
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if not 1990 <= dt.year <= 2100:
        return None
    return dt


def _parse_text(text: str) -> datetime | None:
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    if re.fullmatch(r"\d{10}(?:\.\d+)?|\d{13}", text):  # epoch seconds or milliseconds
        seconds = float(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    if not re.search(r"\d", text):
        return None
    from dateutil import parser as dateparser

    try:
        return dateparser.parse(text, tzinfos=_TZINFOS, fuzzy=False)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError):
        return None


def parse_relative(text: str, now: datetime) -> datetime | None:
    """Resolve "1 hour ago", "3 hrs ago", "Published1 hour ago", "yesterday" against ``now``."""
    text = " ".join(text.split())
    match = _RELATIVE.search(text)
    if match:
        amount_text = (match.group(1) or match.group(2)).lower()
        unit = match.group(3).lower()
        amount = 1 if amount_text in ("a", "an", "one") else int(amount_text)
        name = _UNITS.get(unit) or _UNITS.get(unit.rstrip("s")) or "hours"
        if name == "months":
            delta = timedelta(days=30 * amount)
        elif name == "years":
            delta = timedelta(days=365 * amount)
        else:
            delta = timedelta(**{name: amount})
        return now - delta
    match = _YESTERDAY.search(text)
    if match:
        word = match.group(1).lower()
        return now - timedelta(days=1) if word == "yesterday" else now
    return None


def _jsonld_value(article: dict[str, Any], key: str) -> Any:
    value = article.get(key)
    if isinstance(value, dict):
        value = value.get("@value")
    return value


def _time_elements(page: PageMeta) -> tuple[datetime | None, datetime | None]:
    published = modified = None
    for value, marks in page.times:
        dt = parse_date(value)
        if dt is None:
            continue
        if "modif" in marks or "updat" in marks:
            modified = modified or dt
        elif published is None:
            published = dt
    return published, modified


def _url_date(url: str) -> datetime | None:
    match = _URL_DATE.search(url) or _URL_DATE_COMPACT.search(url)
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    day = int(match.group(3)) if match.group(3) else 1
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def find_dates(
    page: PageMeta,
    url: str,
    *,
    fetched_at: datetime | None,
    feed_published: datetime | None = None,
    lines: list[str] | None = None,
) -> DateInfo:
    """Publication and modification times from every source, the most trusted one winning.

    ``lines`` are text lines of the page (the extractor's paragraphs before cleanup), searched
    for a relative date line near the top.
    """
    now = fetched_at or datetime.now(UTC)
    latest = now + timedelta(days=1)

    def ok(dt: datetime | None) -> datetime | None:
        return dt if dt is not None and dt <= latest else None

    candidates: list[tuple[str, datetime | None]] = [
        ("jsonld", ok(parse_date(_jsonld_value(page.article, "datePublished")))),
        ("meta", ok(parse_date(page.first(*_PUBLISHED_META)))),
    ]
    time_published, time_modified = _time_elements(page)
    candidates.append(("time", ok(time_published)))
    candidates.append(("feed", ok(feed_published.astimezone(UTC) if feed_published else None)))
    relative = None
    for line in (lines or [])[:20]:
        if len(line.split()) <= 8:
            relative = parse_relative(line, now)
            if relative is not None:
                break
    candidates.append(("relative", ok(relative)))
    candidates.append(("url", ok(_url_date(url))))
    info = DateInfo()
    for source, dt in candidates:
        if dt is not None:
            info.published_at, info.published_at_source = dt, source
            break
    info.modified_at = (
        ok(parse_date(_jsonld_value(page.article, "dateModified")))
        or ok(parse_date(page.first(*_MODIFIED_META)))
        or ok(time_modified)
    )
    if info.modified_at and info.published_at and info.modified_at < info.published_at:
        info.modified_at = None
    return info
