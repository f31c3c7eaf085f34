"""When an article was published and last modified, in UTC, and how we know.

Sources in the order we trust them: the page's JSON-LD (``datePublished``), its Open Graph and
other ``<meta>`` tags, a ``<time>`` element, the feed entry, a relative date line on the page
("Published 1 hour ago", "vor 3 Stunden", "il y a 2 heures", "2時間前", resolved against the fetch
time), and the date in the URL (``/2019/11/20/``). ``published_at_source`` records which one
won, so a reader can tell a precise timestamp from a day guessed from a path. A date in the
future (beyond a day of clock skew) is rejected.

A time without a zone is read in the page's zone (the offset its other dates declare), else
the feed's zone when the caller knows it, else UTC. Relative dates are read by ``dateparser``
in the page's (or feed's) language: it is imported, and its language data loaded, only for a
page that has no absolute date to offer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from newsflow.extract.metadata import PageMeta

__all__ = ["DateInfo", "find_dates", "page_zone", "parse_date", "parse_relative"]

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
_RELATIVE_LINES = 20  # a date line sits near the top of the extracted text...
_RELATIVE_WORDS = 8  # ...and is short
_GLUED = re.compile(r"(?<=[^\W\d_])(?=\d)")  # "Published1 hour ago": spans joined without a space
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_OLDEST = timedelta(days=366)  # a publication date given as "ago" is recent
_LABEL_WORDS = 5  # the rest of a date line is a label ("Mis à jour", "Published", a byline)
_WIDEN = 3  # words before a found phrase that may hold its marker ("il y" of "il y a 2 h")


@dataclass
class DateInfo:
    """The publication and modification times and where the publication time came from."""

    published_at: datetime | None = None
    published_at_source: str | None = None  # jsonld | meta | time | feed | relative | url
    modified_at: datetime | None = None


def _parse_local(value: Any) -> datetime | None:
    """A datetime as the text says it: with its zone when it has one, naive otherwise."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        return _parse_text(value.strip()[:100])
    return None


def parse_date(value: Any, tz: tzinfo | None = None) -> datetime | None:
    """A UTC datetime from an ISO-8601, RFC 2822 or free-form date string (None if not one).

    A time without a zone is taken to be in ``tz`` (UTC when None)."""
    dt = _parse_local(value)
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz or UTC)
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
    from dateutil import parser as dateutil_parser

    try:
        return dateutil_parser.parse(text, tzinfos=_TZINFOS, fuzzy=False)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError):
        return None


def _jsonld_value(article: dict[str, Any], key: str) -> Any:
    value = article.get(key)
    if isinstance(value, dict):
        value = value.get("@value")
    return value


def page_zone(page: PageMeta) -> tzinfo | None:
    """The zone the page declares: the UTC offset of the first of its dates that has one."""
    values = [_jsonld_value(page.article, "datePublished"),
              _jsonld_value(page.article, "dateModified"),
              *(v for name in (*_PUBLISHED_META, *_MODIFIED_META) for v in page.meta.get(name, ())),
              *(value for value, _ in page.times)]
    for value in values:
        dt = _parse_local(value)
        offset = dt.utcoffset() if dt is not None else None
        if offset is not None:
            return timezone(offset)
    return None


def _maybe_date_line(text: str) -> bool:
    """Cheap test before asking dateparser: a short line with a figure in it ("3 hours ago",
    "vor 3 Stunden", "2時間前") or of a word or three ("yesterday", "gestern", "hier")."""
    words = len(text.split())
    if _UNSPACED.search(text):
        return len(text) <= 3 * _RELATIVE_WORDS
    return words <= _RELATIVE_WORDS and (words <= 3 or any(c.isdigit() for c in text))


@functools.lru_cache(maxsize=64)
def _pointers_back(languages: tuple[str, ...]) -> re.Pattern[str]:
    """What every relative date line of ``languages`` holds, as dateparser's own data for those
    languages says it: a word that points back in time ("ago", "vor", "il y a", "назад", "前"),
    a phrase that means a past time ("yesterday", "gestern", "heute"), one of its patterns of
    past times ("3d ago", "قبل 3 ساعة") or a shorthand it rewrites into one of those; or an
    explicitly signed quantity ("-3 hours"). Matched as dateparser matches its words: against
    the text with accents removed, ignoring case, never inside a longer word.

    :func:`parse_relative` only accepts what dateparser's relative-time parser reads the same
    preferring past or future dates, which takes one of these: a line without any is no
    relative date, and is not handed to dateparser (its search costs about a millisecond a
    line, and most pages have a dozen short lines near their top).
    """
    from dateparser.languages.loader import default_loader
    from dateparser.utils import normalize_unicode

    parts = [r"[+-]\s*\d"]
    for code in languages:
        try:
            info = default_loader.get_locale(code).info
        except ValueError:
            continue  # a language dateparser does not know: it reads no line of it either
        words = [*info.get("ago", ()),
                 *(v for key, values in info.get("relative-type", {}).items()
                   if "ago" in key for v in values)]
        patterns = [p for key, values in info.get("relative-type-regex", {}).items()
                    if "ago" in key for p in values]
        if info.get("no_word_spacing"):
            before = after = ""
        else:
            before, after = r"(?<![^\W\d_])", r"(?![^\W\d_])"
        own = [f"{before}(?:{'|'.join(re.escape(normalize_unicode(w)) for w in words)}){after}",
               *(f"{before}(?:{normalize_unicode(p)}){after}" for p in patterns)]
        marks = re.compile("|".join(own), re.I)
        shorthands = [key for rule in info.get("simplifications", ()) for key, value in rule.items()
                      if marks.search(normalize_unicode(str(value)))]
        parts.extend(own)
        parts.extend(f"{before}(?:{normalize_unicode(key)}){after}" for key in shorthands)
    return re.compile("|".join(parts), re.I)


def parse_relative(text: str, now: datetime, *, languages: Sequence[str] | None = None,
                   tz: tzinfo | None = None) -> datetime | None:
    """The UTC time a relative date line means ("Published 1 hour ago", "vor 3 Stunden",
    "il y a 2 heures", "hace 3 horas", "há 2 horas", "3 часа назад", "2時間前", "gestern, 14:30"),
    read by ``dateparser`` in ``languages`` (English when None) against ``now``; a clock time
    in it is in ``tz`` (UTC when None). None when the line holds no relative date.

    dateparser's search finds candidate phrases; one counts when dateparser's relative-time
    parser reads it the same whether it is told to prefer past or future dates: "3 hours
    ago" and "gestern" say which way, a bare "2 min" (of "2 min read") does not, and names of
    weekdays and months are no relative time at all. The phrase must be most of its line
    ("now" in a sentence is not a date line) and within a year before ``now``.
    """
    if len(text.split()) > _RELATIVE_WORDS and not _UNSPACED.search(text):
        return None  # too long a line already, and gluing only adds words
    text = _GLUED.sub(" ", " ".join(text.split()))
    if not text or not _maybe_date_line(text):
        return None
    langs = list(languages or ["en"])
    from dateparser.utils import normalize_unicode

    if not _pointers_back(tuple(langs)).search(normalize_unicode(text)):
        return None
    from dateparser import parse
    from dateparser.search import search_dates

    zone = tz or UTC
    local_now = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(zone)
    base = local_now.replace(tzinfo=None)

    def read(phrase: str, prefer: str) -> datetime | None:
        settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": prefer,
                    "RETURN_AS_TIMEZONE_AWARE": False, "PARSERS": ["relative-time"]}
        return parse(phrase, languages=langs, settings=settings)  # type: ignore[arg-type]

    try:
        found = search_dates(text, languages=langs,
                             settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past",
                                       "RETURN_AS_TIMEZONE_AWARE": False}) or []
        for phrase, _ in found:
            before = text[:max(text.find(phrase), 0)].split()
            for widen in range(min(_WIDEN, len(before)) + 1):
                candidate = " ".join([*before[len(before) - widen:], phrase])
                if len(text.split()) - len(candidate.split()) > _LABEL_WORDS:
                    continue  # "now" in "News 24 is now on your phone"
                when = read(candidate, "past")
                if when is None or when != read(candidate, "future"):
                    continue  # not relative ("Friday", "Jan"), or no direction ("2 min")
                at = when.astimezone(zone) if when.tzinfo else when.replace(tzinfo=zone)
                if timedelta(0) <= local_now - at <= _OLDEST:
                    return at.astimezone(UTC)
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError):
        return None  # an unknown language code, or a phrase dateparser chokes on
    return None


def _time_elements(page: PageMeta, tz: tzinfo | None) -> tuple[datetime | None, datetime | None]:
    published = modified = None
    for value, marks in page.times:
        dt = parse_date(value, tz)
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
    languages: Sequence[str] | None = None,
    feed_zone: tzinfo | None = None,
) -> DateInfo:
    """Publication and modification times from every source, the most trusted one winning.

    ``lines`` are text lines of the page (the extractor's paragraphs before cleanup), searched
    for a relative date line near the top, in ``languages`` (the page's or feed's language),
    only when no source before it has a date. ``feed_zone`` is the feed's time zone, for
    times without one on a page that declares none.
    """
    now = fetched_at or datetime.now(UTC)
    latest = now + timedelta(days=1)
    zone = page_zone(page) or feed_zone

    def ok(dt: datetime | None) -> datetime | None:
        return dt if dt is not None and dt <= latest else None

    def relative() -> datetime | None:
        for line in (lines or [])[:_RELATIVE_LINES]:
            found = parse_relative(line, now, languages=languages, tz=zone)
            if found is not None:
                return found
        return None

    time_published, time_modified = _time_elements(page, zone)
    candidates = (
        ("jsonld", lambda: parse_date(_jsonld_value(page.article, "datePublished"), zone)),
        ("meta", lambda: parse_date(page.first(*_PUBLISHED_META), zone)),
        ("time", lambda: time_published),
        ("feed", lambda: feed_published.astimezone(UTC) if feed_published else None),
        ("relative", relative),
        ("url", lambda: _url_date(url)),
    )
    info = DateInfo()
    for source, read in candidates:
        dt = ok(read())
        if dt is not None:
            info.published_at, info.published_at_source = dt, source
            break
    info.modified_at = (
        ok(parse_date(_jsonld_value(page.article, "dateModified"), zone))
        or ok(parse_date(page.first(*_MODIFIED_META), zone))
        or ok(time_modified)
    )
    if info.modified_at and info.published_at and info.modified_at < info.published_at:
        info.modified_at = None
    return info
