"""The typed records that flow between newsflow's transforms.

One place says what a feed entry, an article, a story and a failure are. Every record is a plain
dataclass: picklable (Beam's default coder), serialisable with ``orjson.dumps`` (datetimes come
out as ISO-8601), and rebuilt from such a dict with ``from_dict``. Times are timezone-aware UTC
``datetime`` objects or ``None``; ``tests/test_schema.py`` keeps the Elasticsearch index template
in step with ``Story``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import orjson

T = TypeVar("T")


def utc(value: datetime | str | None) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime or an ISO-8601 string (naive means UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with a trailing ``Z`` (what Elasticsearch and our JSON lines carry)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class _Record:
    """Shared dict/JSON conversion for the dataclasses below."""

    _TIME_FIELDS: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, and for a story with its copies
        # and band keys that was a millisecond per document. Lists and dicts are copied one
        # level down (all our records hold), nested records converted.
        out: dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, list):
                value = [v.to_dict() if isinstance(v, _Record) else v for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, _Record):
                value = value.to_dict()
            out[name] = value
        for name in self._TIME_FIELDS:
            out[name] = iso(out[name])
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {k: v for k, v in data.items() if k in names}
        for name in cls._TIME_FIELDS:
            if name in kwargs:
                kwargs[name] = utc(kwargs[name])
        return cls(**kwargs)


@dataclass
class Failure(_Record):
    """A dead letter: what failed, where, and why. ``input`` is the URL or a short excerpt."""

    step: str
    input: str
    error_type: str
    message: str
    transient: bool = False
    at: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)

    _TIME_FIELDS = ("at",)


@dataclass
class FeedResponse(_Record):
    """A feed fetched over HTTP (``status`` 200) or found unchanged (``status`` 304)."""

    feed_url: str
    final_url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fetched_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None

    _TIME_FIELDS = ("fetched_at",)


@dataclass
class FeedEntry(_Record):
    """One entry of a parsed feed: absolute URL, UTC time (or None with the reason)."""

    feed_url: str
    url: str
    guid: str
    title: str = ""
    summary: str = ""
    content: str = ""
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    published_at_note: str | None = None
    feed_title: str = ""
    language: str | None = None
    fetched_at: datetime | None = None

    _TIME_FIELDS = ("published_at", "fetched_at")


@dataclass
class Article(_Record):
    """A normalised article: one page, one place it appeared."""

    url: str  # canonical URL
    title: str
    body: str
    fetched_url: str = ""  # the URL we fetched (the feed entry's link), before redirects
    summary: str = ""
    authors: list[str] = field(default_factory=list)
    publisher: str = ""
    source: str = ""  # registered domain of the canonical URL
    published_at: datetime | None = None
    published_at_source: str | None = None  # jsonld | meta | time | feed | url | relative | None
    modified_at: datetime | None = None
    fetched_at: datetime | None = None
    language: str | None = None
    feed_url: str = ""
    guid: str = ""
    word_count: int = 0
    truncated: bool = False
    body_source: str = "page"  # page | feed (fell back to the feed entry's content)

    _TIME_FIELDS = ("published_at", "modified_at", "fetched_at")


@dataclass
class Copy(_Record):
    """One place a story appeared."""

    url: str
    source: str
    published_at: datetime | None = None
    title: str = ""
    fetched_url: str = ""
    truncated: bool = False
    feed_url: str = ""  # the feed it came through (credentials redacted), and its id there
    guid: str = ""
    body_source: str = "page"  # page | feed (the page could not be read: the feed's text)

    _TIME_FIELDS = ("published_at",)


@dataclass
class Story(_Record):
    """One document per story: the canonical article plus every place it appeared.

    ``story_id`` is the Elasticsearch ``_id``; it is decided by the dedupe step and is stable,
    so indexing the same story twice overwrites. ``band_keys`` are the dedupe step's LSH band
    keys, stored so that a copy arriving in a later run can find the story again.
    """

    story_id: str
    url: str
    title: str
    body: str
    summary: str = ""
    authors: list[str] = field(default_factory=list)
    publisher: str = ""
    source: str = ""
    published_at: datetime | None = None
    published_at_source: str | None = None
    modified_at: datetime | None = None
    fetched_at: datetime | None = None
    language: str | None = None
    feed_url: str = ""
    word_count: int = 0
    truncated: bool = False
    body_source: str = "page"  # page | feed: the canonical's text is the feed's, for now
    copies: list[Copy] = field(default_factory=list)
    copy_count: int = 0
    band_keys: list[str] = field(default_factory=list)
    body_hash: str = ""
    # Where the stored version this story was merged into stood (Elasticsearch's optimistic
    # concurrency control): the sink writes only if nobody wrote in between, and writes to the
    # index that version is in (the alias may have rolled over to a newer one since). Not indexed.
    seq_no: int | None = None
    primary_term: int | None = None
    stored_index: str | None = None

    NOT_INDEXED = ("seq_no", "primary_term", "stored_index")

    _TIME_FIELDS = ("published_at", "modified_at", "fetched_at")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for name in self.NOT_INDEXED:
            out.pop(name, None)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        story = super().from_dict(data)
        story.copies = [c if isinstance(c, Copy) else Copy.from_dict(c) for c in story.copies]
        return story
