"""The one HTTP layer newsflow uses for feeds and article pages.

Feeds and pages are fetched from servers we do not control, so every request here is bounded
(connect and read timeouts, a maximum body size counted after gzip/deflate decompression, a
bounded number of redirects with loop detection) and polite (a descriptive User-Agent, a
per-host concurrency limit and minimum delay, robots.txt with its ``Crawl-delay``,
``Retry-After`` on 429/503, retries with exponential back-off on timeouts, connection errors
and 5xx). Conditional GET (``If-None-Match`` / ``If-Modified-Since``) turns an unchanged
resource into a cheap 304.

Nothing here raises for a bad response: a fetch ends in a :class:`FetchResult` (2xx or 304) or
a :class:`FetchError` whose ``kind`` says what went wrong, so callers route it to a dead letter.
Every exchange is scheduled by the process's :mod:`newsflow.frontier`, which serves many hosts
side by side, each within its limits: :meth:`Fetcher.submit` queues a request and returns a
future, :meth:`Fetcher.fetch_many` yields outcomes as they complete.

Built on urllib3 (connection pooling, streaming bounded decompression); no Beam in here.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import queue
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from newsflow import __version__
from newsflow.frontier import Frontier, Next, Task
from newsflow.netguard import AddressPolicy, AddressRefused, parse_allowlist

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchConfig",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "Fetcher",
    "host_key",
    "redact_url",
    "split_credentials",
]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    f"newsflow/{__version__} (news archive bot; +https://github.com/newsflow/newsflow)"
)
DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_CHUNK = 64 * 1024
_ROBOTS_MAX_BYTES = 512 * 1024

# Error kinds (FetchError.kind).
DNS = "dns"
CONNECT = "connect"
TIMEOUT = "timeout"
HTTP_STATUS = "http_status"
TOO_LARGE = "too_large"
REDIRECT_LOOP = "redirect_loop"
TOO_MANY_REDIRECTS = "too_many_redirects"
ROBOTS_DISALLOWED = "robots_disallowed"
BAD_URL = "bad_url"
PROTOCOL = "protocol"
TLS = "tls"
CANCELLED = "cancelled"
REFUSED_ADDRESS = "refused_address"


@dataclass(frozen=True)
class FetchConfig:
    """How to fetch: limits, politeness and concurrency. Picklable; validated on construction.

    ``max_bytes`` bounds the body *after* decompression. ``per_host_min_delay`` is the least time
    between the starts of two requests to the same host; ``per_host_concurrency`` how many may be
    in flight to one host at once. ``retries`` is the number of extra attempts after the first
    on timeouts, connection errors, 408/425/429 and 5xx; the wait before attempt *n* is
    ``min(backoff_base * 2**(n-1), backoff_max)``, or the server's ``Retry-After`` (capped at
    ``backoff_max``) on 429/503. A host's robots.txt ``Crawl-delay`` raises its delay, up to
    ``max_crawl_delay``. ``max_workers`` is the number of requests in flight at once, over all
    hosts (threads of the shared frontier). Connections go to public addresses only, and to
    the networks of ``allow_networks`` (CIDR strings; see :mod:`newsflow.netguard`).
    """

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    accept: str = DEFAULT_ACCEPT
    per_host_concurrency: int = 2
    per_host_min_delay: float = 0.25
    retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    respect_robots: bool = True
    max_workers: int = 32
    max_crawl_delay: float = 30.0
    allow_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow_networks", parse_allowlist(self.allow_networks))
        positive = ("connect_timeout", "read_timeout", "max_bytes", "per_host_concurrency",
                    "max_workers")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"FetchConfig.{name} must be a positive number, got {value!r}")
        for name in ("max_redirects", "retries", "per_host_min_delay", "backoff_base",
                     "backoff_max", "max_crawl_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"FetchConfig.{name} must be >= 0, got {value!r}")
        for name in ("max_bytes", "max_redirects", "retries", "per_host_concurrency",
                     "max_workers"):
            value = getattr(self, name)
            if not isinstance(value, int):
                raise ValueError(f"FetchConfig.{name} must be an integer, got {value!r}")
        if self.backoff_max < self.backoff_base:
            raise ValueError(
                f"FetchConfig.backoff_max ({self.backoff_max!r}) is below backoff_base "
                f"({self.backoff_base!r})"
            )
        if not self.user_agent.strip() or "\n" in self.user_agent or "\r" in self.user_agent:
            raise ValueError(f"FetchConfig.user_agent must be one non-empty line, got "
                             f"{self.user_agent!r}")
        if not self.accept.strip() or "\n" in self.accept or "\r" in self.accept:
            raise ValueError(f"FetchConfig.accept must be one non-empty line, got {self.accept!r}")


@dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch, with the validators of the previous response for a conditional GET
    and, optionally, an ``Accept`` header other than the config's."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    accept: str | None = None


@dataclass
class FetchResult:
    """A successful fetch: a 2xx with its (decompressed) body, or a 304 with an empty body.

    ``headers`` have lower-case names; ``redirects`` lists the URLs redirected from, in order.
    """

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    elapsed: float = 0.0
    attempts: int = 1
    redirects: list[str] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class FetchError(Exception):
    """A fetch that did not yield a usable response.

    ``kind`` is one of ``dns``, ``connect``, ``timeout``, ``tls``, ``protocol``, ``http_status``,
    ``too_large``, ``redirect_loop``, ``too_many_redirects``, ``robots_disallowed``,
    ``bad_url``, ``cancelled`` (the fetcher was closed first), ``refused_address`` (a
    non-public address that is not allowed, see :mod:`newsflow.netguard`); ``status`` is the
    HTTP status when there was one; ``transient`` says whether
    trying again later may succeed.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        url: str,
        status: int | None = None,
        transient: bool = False,
        attempts: int = 1,
    ) -> None:
        super().__init__(kind, message, url, status, transient, attempts)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.transient = transient
        self.attempts = attempts

    def __str__(self) -> str:
        return f"{self.kind}: {self.message} ({self.url})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FetchError, (self.kind, self.message, self.url, self.status, self.transient,
                             self.attempts))

    def __repr__(self) -> str:
        return (f"FetchError(kind={self.kind!r}, message={self.message!r}, url={self.url!r}, "
                f"status={self.status!r}, transient={self.transient!r})")

    def _key(self) -> tuple[Any, ...]:
        return (self.kind, self.message, self.url, self.status, self.transient, self.attempts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FetchError) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def redact_url(url: str) -> str:
    """``url`` with its user info (``user:secret@``) replaced by ``***@``: what logs, errors,
    dead letters, feed state and stored documents show of a feed URL with credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("@", 1)[-1] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its user info, and the (user, password) it held, if any."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))


def host_key(url: str) -> str:
    """The politeness unit of a URL: ``scheme://host:port`` in lower case."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _check_url(url: str) -> str | None:
    """Why ``url`` cannot be fetched, or None when it can."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"malformed URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"unsupported scheme {parts.scheme!r} (only http and https are fetched)"
    if not parts.hostname:
        return "URL has no host"
    if any(c.isspace() for c in url):
        return "URL contains whitespace"
    return None


class _Attempt(Exception):
    """Internal: one attempt failed; ``error`` says how, ``wait`` is a server-requested delay
    (``Retry-After``), ``defer_host`` how long the whole host should be left alone."""

    def __init__(self, error: FetchError, wait: float | None = None,
                 defer_host: float = 0.0) -> None:
        super().__init__(error)
        self.error = error
        self.wait = wait
        self.defer_host = defer_host


class _Robots:
    """A host's parsed robots.txt as the frontier consults it, for our user agent."""

    def __init__(self, parser: urllib.robotparser.RobotFileParser, user_agent: str) -> None:
        self._parser = parser
        self._agent = user_agent

    def allows(self, url: str) -> bool:
        return self._parser.can_fetch(self._agent, url)

    def crawl_delay(self) -> float | None:
        delay = self._parser.crawl_delay(self._agent)
        return float(delay) if delay is not None else None


class _RobotsError(Exception):
    """robots.txt could not be read: ``disallows`` (a 5xx: the host is off limits for a while)
    or a network failure (``error`` is then the failure of every URL that waited for it)."""

    def __init__(self, error: FetchError, disallows: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.disallows = disallows
        self.transient = error.transient


@dataclass(eq=False)
class _Job:
    """One fetch on its way: the request, the hop being fetched, attempts so far."""

    request: FetchRequest
    item: FetchRequest | str
    headers: dict[str, str]
    future: Future[FetchResult | FetchError]
    started: float
    shown: str = ""  # the requested URL as results and errors show it (credentials redacted)
    start: str = ""  # the requested URL without credentials: where each attempt starts
    url: str = ""  # the hop being fetched
    seen: list[str] = field(default_factory=list)
    attempts: int = 1
    origin: str = ""  # the host credentials may be sent to (the requested URL's)
    authorization: str | None = None

    def headers_for(self, url: str) -> dict[str, str]:
        """The request headers of a hop: credentials only to the host they were given for."""
        if self.authorization and host_key(url) == self.origin:
            return {**self.headers, "Authorization": self.authorization}
        return self.headers


class Fetcher:
    """Fetches URLs within the limits of a :class:`FetchConfig`. Thread-safe; ``close()`` it.

    Every request goes through the process's :class:`~newsflow.frontier.Frontier` for this
    config's politeness limits, shared with every other ``Fetcher`` of the same limits, so the
    limits hold per host across all of them. :meth:`submit` returns at once; :meth:`fetch` waits.

    >>> with Fetcher(FetchConfig()) as fetcher:               # doctest: +SKIP
    ...     result = fetcher.fetch("https://example.org/feed.xml", etag='"abc"')
    """

    def __init__(self, config: FetchConfig | None = None) -> None:
        self.config = config or FetchConfig()
        c = self.config
        self._pool = urllib3.PoolManager(
            num_pools=max(64, c.max_workers * 2),
            maxsize=max(c.per_host_concurrency, 1) + 2,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=c.connect_timeout, read=c.read_timeout),
        )
        self._pool.pool_classes_by_scheme = _guarded_pools(AddressPolicy(c.allow_networks))
        self._headers = {"User-Agent": c.user_agent, "Accept-Encoding": "gzip, deflate"}
        self._frontier: Frontier | None = Frontier.acquire(
            c.per_host_concurrency, c.per_host_min_delay, c.max_crawl_delay, c.max_workers)
        self._lock = threading.Lock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Drop this fetcher's queued requests (they end as ``cancelled`` errors), leave the
        frontier and release every pooled connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            frontier, self._frontier = self._frontier, None
        if frontier is not None:
            frontier.cancel(self)
            frontier.release()
        self._pool.clear()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def submit(self, item: FetchRequest | str) -> Future[FetchResult | FetchError]:
        """Queue a GET of ``item`` (a URL or a :class:`FetchRequest`); the future's value is the
        :class:`FetchResult` or the :class:`FetchError` (it never raises)."""
        request = FetchRequest(item) if isinstance(item, str) else item
        headers = {"Accept": request.accept or self.config.accept}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        bare, credentials = split_credentials(request.url)
        job = _Job(request, item, headers, Future(), time.monotonic(),
                   shown=redact_url(request.url), start=bare, url=bare, seen=[bare],
                   origin=host_key(bare))
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode("ascii")
            job.authorization = f"Basic {token}"
        problem = _check_url(bare)
        if problem:
            job.future.set_result(FetchError(BAD_URL, problem, job.shown))
        elif self._closed or self._frontier is None:
            job.future.set_result(FetchError(CANCELLED, "the fetcher is closed", job.shown,
                                             transient=True))
        else:
            self._frontier.submit(self._task(job))
        return job.future

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult | FetchError:
        """GET ``url`` (following redirects) and return the result or the reason it failed."""
        return self.submit(FetchRequest(url, etag, last_modified, accept)).result()

    def fetch_many(
        self, requests: Iterable[FetchRequest | str]
    ) -> Iterator[tuple[FetchRequest | str, FetchResult | FetchError]]:
        """Fetch many URLs concurrently; yields ``(request, outcome)`` as each completes.

        Items are :class:`FetchRequest` or plain URL strings and come back unchanged. Each host
        is served within its limits, side by side with the others, so a slow or strict host
        does not hold up the rest. At most ``max(1000, 8 * max_workers)`` requests are queued
        at once: a long iterable is read as its requests complete.
        """
        done: queue.SimpleQueue[Future[FetchResult | FetchError]] = queue.SimpleQueue()
        items: dict[Future[FetchResult | FetchError], FetchRequest | str] = {}
        source = iter(requests)
        cap = max(1000, self.config.max_workers * 8)
        exhausted = False
        while True:
            while not exhausted and len(items) < cap:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                future = self.submit(item)
                items[future] = item
                future.add_done_callback(done.put)
            if not items:
                return
            future = done.get()
            yield items.pop(future), future.result()

    @property
    def frontier(self) -> Frontier | None:
        """The frontier this fetcher's requests go through (``None`` once closed)."""
        return self._frontier

    # -- one exchange at a time, through the frontier ----------------------------------------

    def _task(self, job: _Job) -> Task:
        return Task(
            host=host_key(job.url),
            url=job.url,
            run=lambda: self._step(job),
            blocked=lambda reason: self._blocked(job, reason),
            cancel=lambda: self._finish(job, FetchError(
                CANCELLED, "the fetcher was closed before this was fetched", job.shown,
                transient=True, attempts=job.attempts)),
            robots=(lambda: self._load_robots(host_key(job.url)))
            if self.config.respect_robots else None,
            owner=self,
        )

    def _step(self, job: _Job) -> Next:
        """One exchange of ``job`` (in a frontier thread): finish it, or say what comes next."""
        try:
            outcome = self._exchange(job.url, job.headers_for(job.url))
        except _Attempt as failed:
            return self._retry(job, failed.error, failed.wait, failed.defer_host)
        except FetchError as error:
            return self._finish(job, error)
        except Exception as exc:  # a bug must not lose the request: report it against the URL
            log.exception("unexpected error fetching %s", job.url)
            return self._finish(job, FetchError(PROTOCOL, f"unexpected {type(exc).__name__}: "
                                                f"{exc}", job.shown))
        if isinstance(outcome, str):
            return self._redirect(job, outcome)
        outcome.redirects = job.seen[:-1]
        return self._finish(job, outcome)

    def _redirect(self, job: _Job, target: str) -> Next:
        url = job.shown
        target = split_credentials(target)[0]  # a Location's user info is not ours to send
        problem = _check_url(target)
        if problem:
            return self._finish(job, FetchError(BAD_URL, f"redirect to a bad URL {target!r}: "
                                                f"{problem}", url))
        if _same_resource(target, job.seen):
            chain = " -> ".join([*job.seen, target])
            return self._finish(job, FetchError(REDIRECT_LOOP, f"redirect loop: {chain}", url))
        if len(job.seen) > self.config.max_redirects:
            return self._finish(job, FetchError(
                TOO_MANY_REDIRECTS,
                f"more than {self.config.max_redirects} redirects (last {target})", url))
        job.seen.append(target)
        job.url = target
        return Next(self._task(job))

    def _blocked(self, job: _Job, reason: Any) -> Next:
        """The host's robots.txt forbids ``job`` (``reason`` a str), or could not be read."""
        if isinstance(reason, str):
            return self._finish(job, FetchError(ROBOTS_DISALLOWED, "robots.txt disallows "
                                                "this URL", job.shown))
        error: FetchError = reason.error
        message = f"robots.txt: {error.message}" if reason.disallows else error.message
        return self._retry(job, FetchError(error.kind, message, job.shown,
                                           status=error.status, transient=error.transient))

    def _retry(self, job: _Job, error: FetchError, wait: float | None = None,
               defer_host: float = 0.0) -> Next:
        """Try ``job`` again after a back-off from its first URL, or finish it with ``error``."""
        if not error.transient or job.attempts > self.config.retries or self._closed:
            step = self._finish(job, error)
            step.defer_host = defer_host
            return step
        delay = self._backoff(job.attempts, wait)
        log.debug("retrying %s in %.2fs after %s", job.shown, delay, error)
        job.attempts += 1
        job.url = job.start
        job.seen = [job.start]
        return Next(self._task(job), after=delay, defer_host=defer_host)

    def _finish(self, job: _Job, outcome: FetchResult | FetchError) -> Next:
        """Settle ``job``: results and errors name the URL asked for (credentials redacted)."""
        outcome.url = job.shown
        outcome.attempts = job.attempts
        if isinstance(outcome, FetchResult):
            outcome.elapsed = time.monotonic() - job.started
        if not job.future.done():
            job.future.set_result(outcome)
        return Next()

    def _backoff(self, attempt: int, server_wait: float | None) -> float:
        c = self.config
        if server_wait is not None:
            return min(server_wait, c.backoff_max)
        return float(min(c.backoff_base * 2 ** (attempt - 1), c.backoff_max))

    def _exchange(self, url: str, headers: Mapping[str, str]) -> FetchResult | str:
        """One HTTP exchange: a result, or the redirect target. Raises ``_Attempt`` (may be
        retried) or ``FetchError``."""
        try:
            response = self._pool.request(
                "GET", url, headers={**self._headers, **headers}, redirect=False,
                preload_content=False, decode_content=True,
            )
        except LocationParseError as exc:
            raise FetchError(BAD_URL, f"malformed URL: {exc}", url) from None
        except AddressRefused as exc:
            raise FetchError(REFUSED_ADDRESS, str(exc), url) from None
        except HTTPError as exc:
            raise _Attempt(_network_error(exc, url)) from None
        try:
            status = response.status
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            if status in _REDIRECT_STATUSES:
                location = response_headers.get("location")
                if not location:
                    raise FetchError(HTTP_STATUS, f"HTTP {status} without a Location", url,
                                     status=status)
                return urljoin(url, location.strip())
            if status == 304:
                return FetchResult(url, url, 304, response_headers, b"", datetime.now(UTC))
            if status in _RETRY_STATUSES:
                retry_after = parse_retry_after(response_headers.get("retry-after"))
                defer = 0.0
                if retry_after is not None and status in (429, 503):
                    defer = min(retry_after, self.config.backoff_max)
                raise _Attempt(
                    FetchError(HTTP_STATUS, f"HTTP {status} {response.reason or ''}".strip(),
                               url, status=status, transient=True),
                    wait=retry_after, defer_host=defer,
                )
            if not 200 <= status < 300:
                raise FetchError(HTTP_STATUS, f"HTTP {status} {response.reason or ''}".strip(),
                                 url, status=status, transient=False)
            body = self._read_body(response, url, response_headers)
            return FetchResult(url, url, status, response_headers, body, datetime.now(UTC))
        finally:
            _discard(response)

    def _read_body(
        self, response: Any, url: str, headers: Mapping[str, str]
    ) -> bytes:
        limit = self.config.max_bytes
        declared = headers.get("content-length", "")
        encoded = headers.get("content-encoding", "identity").lower() not in ("", "identity")
        if declared.isdigit() and int(declared) > limit and not encoded:
            raise FetchError(TOO_LARGE, f"Content-Length {declared} exceeds the limit of "
                             f"{limit} bytes", url)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.stream(_CHUNK, decode_content=True):
                size += len(chunk)
                if size > limit:
                    response.close()
                    what = "decompressed body" if encoded else "body"
                    raise FetchError(TOO_LARGE, f"{what} exceeds the limit of {limit} bytes",
                                     url)
                chunks.append(chunk)
        except DecodeError as exc:
            raise FetchError(PROTOCOL, f"cannot decode the {headers.get('content-encoding')} "
                             f"body: {exc}", url) from None
        except HTTPError as exc:
            raise _Attempt(_network_error(exc, url)) from None
        return b"".join(chunks)

    def _load_robots(self, host: str) -> _Robots | _RobotsError | None:
        """The host's robots.txt rules (run by the frontier, within a slot of the host); None
        allows everything. As RFC 9309 says: a 4xx means no rules, a 5xx disallows everything
        for now. A network failure is the failure of the URLs waiting for the rules."""
        robots_url = f"{host}/robots.txt"
        try:
            response = self._pool.request(
                "GET", robots_url, headers={**self._headers, "Accept": "text/plain, */*;q=0.5"},
                redirect=True, preload_content=False, decode_content=True,
            )
        except HTTPError as exc:
            return _RobotsError(_network_error(exc, robots_url), disallows=False)
        except AddressRefused as exc:
            return _RobotsError(FetchError(REFUSED_ADDRESS, str(exc), robots_url),
                                disallows=False)
        except Exception as exc:  # noqa: BLE001 - a bug must not hang the host's queue
            log.exception("unexpected error fetching %s", robots_url)
            return _RobotsError(FetchError(PROTOCOL, f"unexpected {type(exc).__name__}: {exc}",
                                           robots_url, transient=True), disallows=False)
        try:
            if 400 <= response.status < 500:
                return None
            if response.status >= 500:
                return _RobotsError(FetchError(
                    ROBOTS_DISALLOWED, f"robots.txt answered HTTP {response.status}: treating "
                    "the host as disallowed", robots_url, status=response.status,
                    transient=True), disallows=True)
            data = bytearray()
            for chunk in response.stream(_CHUNK, decode_content=True):
                data.extend(chunk)
                if len(data) > _ROBOTS_MAX_BYTES:
                    break
        except HTTPError as exc:
            return _RobotsError(_network_error(exc, robots_url), disallows=False)
        finally:
            _discard(response)
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(bytes(data[:_ROBOTS_MAX_BYTES]).decode("utf-8", "replace").splitlines())
        return _Robots(parser, self.config.user_agent)


def _guarded_pools(policy: AddressPolicy) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 connection pools whose connections check each address they are about to connect
    to against ``policy`` (after DNS resolution) and raise ``AddressRefused`` instead."""

    def new_conn(self: Any, connect: Any) -> Any:
        host = self._dns_host
        try:
            found = socket.getaddrinfo(host, self.port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        refused = [(a, why) for a in addresses if (why := policy.refusal(a)) is not None]
        allowed = [a for a in addresses if a not in dict(refused)]
        if not allowed:
            raise AddressRefused(self.host, refused)
        error: Exception | None = None
        for address in allowed:  # connect to exactly the address that was checked
            self._dns_host = address
            try:
                return connect(self)
            except (NewConnectionError, ConnectTimeoutError) as exc:
                error = exc
            finally:
                self._dns_host = host
        assert error is not None
        raise error

    class Guarded(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, HTTPConnection._new_conn)  # type: ignore[no-any-return]

    class GuardedTLS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, HTTPSConnection._new_conn)  # type: ignore[no-any-return]

    class Pool(HTTPConnectionPool):
        ConnectionCls = Guarded

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedTLS

    return {"http": Pool, "https": TLSPool}


def _discard(response: Any) -> None:
    """Give the connection back to the pool only when the unread rest of the body is small."""
    try:
        length = response.length_remaining
        if response.isclosed() or (length is not None and length <= _CHUNK):
            response.drain_conn()
            response.release_conn()
        else:
            response.close()
            response.release_conn()
    except (HTTPError, OSError):
        response.close()


def _same_resource(target: str, seen: list[str]) -> bool:
    def norm(u: str) -> str:
        p = urlsplit(u)
        return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, ""))

    key = norm(target)
    return any(norm(s) == key for s in seen)


def _network_error(exc: BaseException, url: str) -> FetchError:
    """Classify a urllib3 exception (after following ``reason``/``__context__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None
    for err in chain:
        if isinstance(err, NameResolutionError | socket.gaierror):
            return FetchError(DNS, f"cannot resolve host {urlsplit(url).hostname!r}", url,
                              transient=False)
    for err in chain:
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: look at it first.
        if isinstance(err, NewConnectionError | ConnectionRefusedError):
            return FetchError(CONNECT, f"cannot connect: {_reason(err)}", url, transient=True)
    for err in chain:
        if isinstance(err, ConnectTimeoutError):
            return FetchError(TIMEOUT, "connect timed out", url, transient=True)
        if isinstance(err, ReadTimeoutError | TimeoutError | socket.timeout):
            return FetchError(TIMEOUT, "read timed out", url, transient=True)
    for err in chain:
        if isinstance(err, SSLError):
            return FetchError(TLS, f"TLS error: {err}", url, transient=False)
        if isinstance(err, ProtocolError | ConnectionError):
            return FetchError(CONNECT, f"connection broken: {_reason(err)}", url,
                              transient=True)
    return FetchError(PROTOCOL, f"{type(exc).__name__}: {exc}", url, transient=True)


def _reason(err: BaseException) -> str:
    text = str(err)
    marker = "Failed to establish a new connection: "
    if marker in text:
        text = text.split(marker, 1)[1]
    return text
