"""What newsflow remembers about each feed between runs, kept in Elasticsearch.

A re-run should fetch only what changed (conditional GET with the last ``ETag`` and
``Last-Modified``), skip entries it already has (the ids seen before) and poll a feed that
keeps failing less often. That state lives in an index of its own next to the stories, so no
extra database is needed: ``<alias>_feeds`` for an :class:`~newsflow.es.EsConfig` whose alias is
``<alias>`` (``news`` → ``news_feeds``; an underscore, so the stories' template pattern
``news-0*`` does not claim it). One document per feed, ``_id`` = SHA-1 of the feed URL.

The fetch step and the parse step write different fields with partial updates (``doc`` +
``doc_as_upsert``), so neither overwrites the other's. The rules (what a success, a 304 or a
failure does to the state; when a feed is due; which entries are new) are pure functions here,
tested without a cluster. The parse step also keeps the feed's own polling hint
(``poll_hint_seconds``, see :func:`newsflow.feeds.poll_hint_seconds`) for the streaming job's
schedule; documents written before it existed simply lack the field.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from newsflow.es import EsConfig
from newsflow.http import FetchError, FetchResult, redact_url
from schemas.records import iso, utc

__all__ = [
    "FeedState",
    "FeedStateStore",
    "PollPolicy",
    "after_fetch",
    "after_parse",
    "after_parse_failure",
    "entry_key",
    "is_due",
    "remember_entries",
    "split_seen",
    "state_index",
]

log = logging.getLogger(__name__)

STATE_INDEX_SUFFIX = "_feeds"
_FETCH_FIELDS = ("feed_url", "etag", "last_modified", "last_fetched_at", "last_success_at",
                 "last_status", "consecutive_failures", "last_error", "next_poll_at")
PARSE_FIELDS = ("seen_ids", "consecutive_failures", "last_error", "next_poll_at",
                "poll_hint_seconds")
PARSE_FAILURE_FIELDS = ("consecutive_failures", "last_error", "next_poll_at", "etag",
                        "last_modified")
_TIME_FIELDS = ("last_fetched_at", "last_success_at", "next_poll_at")
_ALL_FIELDS = (*_FETCH_FIELDS, "seen_ids", "poll_hint_seconds")

MAPPING: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "feed_url": {"type": "keyword"},
        "etag": {"type": "keyword", "index": False},
        "last_modified": {"type": "keyword", "index": False},
        "last_fetched_at": {"type": "date"},
        "last_success_at": {"type": "date"},
        "last_status": {"type": "integer"},
        "consecutive_failures": {"type": "integer"},
        "last_error": {"type": "text"},
        "next_poll_at": {"type": "date"},
        "seen_ids": {"type": "keyword", "index": False, "doc_values": False},
        "poll_hint_seconds": {"type": "float"},
    },
}


def state_index(config: EsConfig) -> str:
    """The feed-state index for a stories alias: ``news`` → ``news_feeds``."""
    return f"{config.index}{STATE_INDEX_SUFFIX}"


def doc_id(feed_url: str) -> str:
    """A feed's state document id; a URL's credentials never reach the index, even hashed."""
    return hashlib.sha1(redact_url(feed_url).encode("utf-8")).hexdigest()


def entry_key(guid: str) -> str:
    """What is stored per seen entry: 16 hex chars of the SHA-1 of its guid (bounded size)."""
    return hashlib.sha1(guid.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class PollPolicy:
    """How failing feeds are polled less often, and how many seen ids are kept per feed.

    After ``failures_before_backoff`` consecutive failures a feed is next due after
    ``backoff_base * 2**(extra failures)``, at most ``backoff_max``.
    """

    backoff_base: timedelta = timedelta(minutes=15)
    backoff_max: timedelta = timedelta(days=1)
    failures_before_backoff: int = 2
    max_seen_ids: int = 5000

    def __post_init__(self) -> None:
        if self.backoff_base <= timedelta(0):
            raise ValueError(f"PollPolicy.backoff_base must be positive, got {self.backoff_base}")
        if self.backoff_max < self.backoff_base:
            raise ValueError(f"PollPolicy.backoff_max ({self.backoff_max}) is below "
                             f"backoff_base ({self.backoff_base})")
        if self.failures_before_backoff < 1:
            raise ValueError("PollPolicy.failures_before_backoff must be at least 1, got "
                             f"{self.failures_before_backoff}")
        if self.max_seen_ids < 1:
            raise ValueError(f"PollPolicy.max_seen_ids must be at least 1, got "
                             f"{self.max_seen_ids}")

    def next_poll(self, failures: int, now: datetime) -> datetime | None:
        extra = failures - self.failures_before_backoff
        if extra < 0:
            return None
        delay = min(self.backoff_base * (2 ** min(extra, 30)), self.backoff_max)
        return now + delay


@dataclass
class FeedState:
    """One feed's memory. ``seen_ids`` are :func:`entry_key` values, newest first."""

    feed_url: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    next_poll_at: datetime | None = None
    seen_ids: list[str] = field(default_factory=list)
    poll_hint_seconds: float | None = None  # the feed's own ttl / sy:updatePeriod, if any

    def to_doc(self, fields: Sequence[str] | None = None) -> dict[str, Any]:
        names = fields or _ALL_FIELDS
        doc = {name: getattr(self, name) for name in names}
        if "feed_url" in doc:
            doc["feed_url"] = redact_url(doc["feed_url"])
        for name in _TIME_FIELDS:
            if name in doc:
                doc[name] = iso(doc[name])
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FeedState:
        state = cls(feed_url=doc["feed_url"])
        for name in _ALL_FIELDS:
            if name in doc and doc[name] is not None:
                setattr(state, name, utc(doc[name]) if name in _TIME_FIELDS else doc[name])
        state.seen_ids = list(state.seen_ids)
        return state


# -- rules -------------------------------------------------------------------------------------

def is_due(state: FeedState | None, now: datetime) -> bool:
    """Whether a feed should be fetched now (it is not in a failure back-off)."""
    return state is None or state.next_poll_at is None or state.next_poll_at <= now


def after_fetch(
    state: FeedState, outcome: FetchResult | FetchError, now: datetime,
    policy: PollPolicy | None = None,
) -> FeedState:
    """The state after a fetch: validators kept on 200/304, failures counted and backed off.

    A 304 is a success (the body is the one parsed last time). A 200 clears the back-off but
    leaves the failure count to the parse step (:func:`after_parse`), because a body that is
    not a feed is a failure too.
    """
    policy = policy or PollPolicy()
    if isinstance(outcome, FetchResult):
        etag, last_modified = state.etag, state.last_modified
        if outcome.status != 304 or outcome.etag or outcome.last_modified:
            etag, last_modified = outcome.etag, outcome.last_modified
        fetched = replace(state, etag=etag, last_modified=last_modified, last_fetched_at=now,
                          last_success_at=now, last_status=outcome.status, next_poll_at=None)
        if outcome.status == 304:
            fetched = replace(fetched, consecutive_failures=0, last_error=None)
        return fetched
    failures = state.consecutive_failures + 1
    return replace(state, last_fetched_at=now, last_status=outcome.status,
                   consecutive_failures=failures, last_error=str(outcome)[:500],
                   next_poll_at=policy.next_poll(failures, now))


def after_parse(state: FeedState, guids: Iterable[str],
                policy: PollPolicy | None = None,
                poll_hint_seconds: float | None = None) -> FeedState:
    """A feed parsed: failures cleared, this run's entries remembered as seen, its polling
    hint as the document has it now (``None`` when it no longer gives one)."""
    return replace(state, consecutive_failures=0, last_error=None, next_poll_at=None,
                   seen_ids=remember_entries(state, guids, policy),
                   poll_hint_seconds=poll_hint_seconds)


def after_parse_failure(state: FeedState, message: str, now: datetime,
                        policy: PollPolicy | None = None) -> FeedState:
    """A fetched body that is not a feed counts as a failure and forgets the validators
    (so the next run fetches it in full instead of getting a 304 for the same bad body)."""
    policy = policy or PollPolicy()
    failures = state.consecutive_failures + 1
    return replace(state, etag=None, last_modified=None, consecutive_failures=failures,
                   last_error=message[:500], next_poll_at=policy.next_poll(failures, now))


def split_seen(guids: Iterable[str], state: FeedState | None) -> tuple[list[bool], int]:
    """For each guid, whether it is new; and how many were seen before."""
    seen = set(state.seen_ids) if state else set()
    flags = [entry_key(g) not in seen for g in guids]
    return flags, flags.count(False)


def remember_entries(state: FeedState, guids: Iterable[str],
                     policy: PollPolicy | None = None) -> list[str]:
    """The new ``seen_ids``: this feed's current entries first, then older ones, bounded."""
    policy = policy or PollPolicy()
    current = [entry_key(g) for g in guids]
    merged = list(dict.fromkeys([*current, *state.seen_ids]))
    return merged[: max(policy.max_seen_ids, len(current))]


# -- storage -----------------------------------------------------------------------------------

class FeedStateStore:
    """Reads and partially updates feed states in the ``<alias>_feeds`` index."""

    def __init__(self, client: Elasticsearch, index: str, owns_client: bool = False) -> None:
        self.client = client
        self.index = index
        self._owns_client = owns_client
        self._ensured = False

    @classmethod
    def from_config(cls, config: EsConfig) -> FeedStateStore:
        return cls(config.client(), state_index(config), owns_client=True)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def ensure(self) -> None:
        """Create the index with its mapping unless it exists (harmless when racing)."""
        if self._ensured:
            return
        if not self.client.indices.exists(index=self.index):
            try:
                self.client.indices.create(
                    index=self.index, mappings=MAPPING,
                    settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                )
            except ApiError as exc:
                if "resource_already_exists" not in str(exc):
                    raise
        self._ensured = True

    def get_many(self, feed_urls: Iterable[str]) -> dict[str, FeedState]:
        """The stored state of each feed; a fresh ``FeedState`` for feeds never seen."""
        urls = list(dict.fromkeys(feed_urls))
        if not urls:
            return {}
        self.ensure()
        response = self.client.mget(index=self.index, ids=[doc_id(u) for u in urls])
        out: dict[str, FeedState] = {}
        for url, doc in zip(urls, response["docs"], strict=True):
            if doc.get("found"):
                out[url] = FeedState.from_doc({**doc["_source"], "feed_url": url})
            else:
                out[url] = FeedState(feed_url=url)
        return out

    def update(self, states: Iterable[FeedState], fields: Sequence[str] | None = None,
               refresh: bool = False) -> None:
        """Write ``fields`` (default: the fetch fields) of each state, leaving the others."""
        names = tuple(fields or _FETCH_FIELDS)
        if "feed_url" not in names:
            names = ("feed_url", *names)
        operations: list[dict[str, Any]] = []
        for state in states:
            operations.append({"update": {"_index": self.index, "_id": doc_id(state.feed_url)}})
            operations.append({"doc": state.to_doc(names), "doc_as_upsert": True})
        if not operations:
            return
        self.ensure()
        response = self.client.bulk(operations=operations, refresh=refresh)
        if response.get("errors"):
            failed = [item["update"].get("error") for item in response["items"]
                      if item["update"].get("error")]
            raise RuntimeError(f"feed state update failed for {len(failed)} feeds: {failed[:3]}")

    def update_parsed(self, parsed: Iterable[FeedState], failed: Iterable[FeedState] = (),
                      refresh: bool = False) -> None:
        """Write what the parse step decides: seen ids, failure counts and the feed's polling
        hint; for bodies that were not feeds, the cleared validators too (the hint stays)."""
        self.update(parsed, fields=PARSE_FIELDS, refresh=refresh)
        self.update(failed, fields=PARSE_FAILURE_FIELDS, refresh=refresh)
