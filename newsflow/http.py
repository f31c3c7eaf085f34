"""The one HTTP layer newsflow uses for feeds and article pages.

Feeds and pages are fetched from servers we do not control, so every request here is bounded
(connect and read timeouts, a maximum body size counted after gzip/deflate decompression, a
bounded number of redirects with loop detection) and polite (a descriptive User-Agent, a
per-host concurrency limit and minimum delay, robots.txt cached per host, ``Retry-After`` on
429/503, retries with exponential back-off on timeouts, connection errors and 5xx). Conditional
GET (``If-None-Match`` / ``If-Modified-Since``) turns an unchanged resource into a cheap 304.

Nothing here raises for a bad response: :meth:`Fetcher.fetch` returns a :class:`FetchResult`
(2xx or 304) or a :class:`FetchError` whose ``kind`` says what went wrong, so callers route it to
a dead letter. :meth:`Fetcher.fetch_many` keeps many requests in flight on a thread pool while a
scheduler keeps each host within its limits, because fetching is I/O-bound and one URL at a
time would leave a worker idle.

Built on urllib3 (connection pooling, streaming bounded decompression); no Beam in here.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
import urllib.robotparser
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import urllib3
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

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchConfig",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "Fetcher",
    "host_key",
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


@dataclass(frozen=True)
class FetchConfig:
    """How to fetch: limits, politeness and concurrency. Picklable; validated on construction.

    ``max_bytes`` bounds the body *after* decompression. ``per_host_min_delay`` is the least time
    between the starts of two requests to the same host; ``per_host_concurrency`` how many may be
    in flight to one host at once. ``retries`` is the number of extra attempts after the first
    on timeouts, connection errors, 408/425/429 and 5xx; the wait before attempt *n* is
    ``min(backoff_base * 2**(n-1), backoff_max)``, or the server's ``Retry-After`` (capped at
    ``backoff_max``) on 429/503. ``max_workers`` is the number of threads of :meth:`Fetcher.
    fetch_many`.
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

    def __post_init__(self) -> None:
        positive = ("connect_timeout", "read_timeout", "max_bytes", "per_host_concurrency",
                    "max_workers")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"FetchConfig.{name} must be a positive number, got {value!r}")
        for name in ("max_redirects", "retries", "per_host_min_delay", "backoff_base",
                     "backoff_max"):
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
    ``bad_url``; ``status`` is the HTTP status when there was one; ``transient`` says whether
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


class _HostGate:
    """Per-host politeness: at most ``limit`` requests in flight, starts ``delay`` apart."""

    def __init__(self, limit: int, delay: float) -> None:
        self.limit = limit
        self.delay = delay
        self.in_flight = 0
        self.next_start = 0.0
        self.cond = threading.Condition()

    def ready_in(self, now: float) -> float:
        """Seconds until a request could start (``inf`` while all slots are taken)."""
        with self.cond:
            if self.in_flight >= self.limit:
                return float("inf")
            return max(0.0, self.next_start - now)

    def acquire(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                if self.in_flight < self.limit and now >= self.next_start:
                    self.in_flight += 1
                    self.next_start = now + self.delay
                    return
                timeout = None if self.in_flight >= self.limit else self.next_start - now
                self.cond.wait(timeout)

    def release(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def defer(self, seconds: float) -> None:
        """Nobody starts a request to this host for ``seconds`` (a ``Retry-After``)."""
        with self.cond:
            self.next_start = max(self.next_start, time.monotonic() + seconds)


class _Attempt(Exception):
    """Internal: one attempt failed; ``error`` says how, ``wait`` is a server-requested delay."""

    def __init__(self, error: FetchError, wait: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.wait = wait


class Fetcher:
    """Fetches URLs within the limits of a :class:`FetchConfig`. Thread-safe; ``close()`` it.

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
        self._headers = {"User-Agent": c.user_agent, "Accept-Encoding": "gzip, deflate"}
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | FetchError | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the worker threads and release every pooled connection."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pool.clear()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult | FetchError:
        """GET ``url`` (following redirects) and return the result or the reason it failed."""
        started = time.monotonic()
        problem = _check_url(url)
        if problem:
            return FetchError(BAD_URL, problem, url)
        headers = {"Accept": accept or self.config.accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempts = 0
        while True:
            attempts += 1
            try:
                result = self._follow(url, headers)
            except _Attempt as failed:
                error = failed.error
                error.attempts = attempts
                if not error.transient or attempts > self.config.retries or self._closed:
                    return error
                delay = self._backoff(attempts, failed.wait)
                log.debug("retrying %s in %.2fs after %s", url, delay, error)
                time.sleep(delay)
                continue
            except FetchError as error:
                error.attempts = attempts
                return error
            result.attempts = attempts
            result.elapsed = time.monotonic() - started
            return result

    def fetch_many(
        self, requests: Iterable[FetchRequest | str]
    ) -> Iterator[tuple[FetchRequest | str, FetchResult | FetchError]]:
        """Fetch many URLs concurrently; yields ``(request, outcome)`` as each completes.

        Items are :class:`FetchRequest` or plain URL strings and come back unchanged. Requests
        are started only when their host has a free slot and its minimum delay has passed, so a
        slow or strict host does not hold up the others.
        """
        executor = self._pool_executor()
        source = iter(requests)
        exhausted = False
        waiting: dict[str, deque[FetchRequest | str]] = {}
        buffered = 0
        buffer_cap = max(1000, self.config.max_workers * 8)
        running: dict[Future[FetchResult | FetchError], tuple[str, FetchRequest | str]] = {}
        busy: dict[str, int] = {}  # requests handed to workers, per host
        next_start: dict[str, float] = {}  # earliest next hand-over, per host
        limit = self.config.per_host_concurrency
        delay = self.config.per_host_min_delay
        while True:
            while not exhausted and buffered < buffer_cap:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                url = item if isinstance(item, str) else item.url
                waiting.setdefault(host_key(url), deque()).append(item)
                buffered += 1
            now = time.monotonic()
            soonest = float("inf")
            for host in list(waiting):
                queue = waiting[host]
                while queue and len(running) < self.config.max_workers:
                    if busy.get(host, 0) >= limit:
                        break
                    ready_in = max(next_start.get(host, 0.0) - now,
                                   self._gate(host).ready_in(now))
                    if ready_in > 0:
                        soonest = min(soonest, ready_in)
                        break
                    item = queue.popleft()
                    buffered -= 1
                    busy[host] = busy.get(host, 0) + 1
                    next_start[host] = now + delay
                    running[executor.submit(self._fetch_item, item)] = (host, item)
                if not queue:
                    del waiting[host]
            if not running:
                if not waiting and exhausted:
                    return
                time.sleep(min(soonest, 0.05) if soonest != float("inf") else 0.005)
                continue
            timeout = None if not waiting else min(max(soonest, 0.001), 0.05)
            done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                host, item = running.pop(future)
                busy[host] -= 1
                yield item, future.result()

    # -- internals ---------------------------------------------------------------------------

    def _fetch_item(self, item: FetchRequest | str) -> FetchResult | FetchError:
        try:
            if isinstance(item, str):
                return self.fetch(item)
            return self.fetch(item.url, etag=item.etag, last_modified=item.last_modified,
                              accept=item.accept)
        except Exception as exc:  # a bug must not kill the pool: report it against the URL
            url = item if isinstance(item, str) else item.url
            log.exception("unexpected error fetching %s", url)
            return FetchError(PROTOCOL, f"unexpected {type(exc).__name__}: {exc}", url)

    def _pool_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.config.max_workers, thread_name_prefix="newsflow-fetch"
                )
            return self._executor

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = _HostGate(self.config.per_host_concurrency, self.config.per_host_min_delay)
                self._gates[host] = gate
            return gate

    def _backoff(self, attempt: int, server_wait: float | None) -> float:
        c = self.config
        if server_wait is not None:
            return min(server_wait, c.backoff_max)
        return float(min(c.backoff_base * 2 ** (attempt - 1), c.backoff_max))

    def _follow(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        """One attempt: GET ``url``, following redirects. Raises ``_Attempt``/``FetchError``."""
        seen = [url]
        current = url
        while True:
            if self.config.respect_robots:
                self._check_robots(current)
            outcome = self._request(current, headers)
            if isinstance(outcome, str):  # a redirect
                target = outcome
                problem = _check_url(target)
                if problem:
                    raise FetchError(BAD_URL, f"redirect to a bad URL {target!r}: {problem}",
                                     url)
                if _same_resource(target, seen):
                    chain = " -> ".join([*seen, target])
                    raise FetchError(REDIRECT_LOOP, f"redirect loop: {chain}", url)
                if len(seen) > self.config.max_redirects:
                    raise FetchError(
                        TOO_MANY_REDIRECTS,
                        f"more than {self.config.max_redirects} redirects (last {target})",
                        url,
                    )
                seen.append(target)
                current = target
                continue
            outcome.url = url
            outcome.redirects = seen[:-1]
            return outcome

    def _request(self, url: str, headers: Mapping[str, str]) -> FetchResult | str:
        """One HTTP exchange within the host's gate: a result, or the redirect target."""
        gate = self._gate(host_key(url))
        gate.acquire()
        try:
            return self._exchange(url, headers, gate)
        finally:
            gate.release()

    def _exchange(self, url: str, headers: Mapping[str, str], gate: _HostGate) -> FetchResult | str:
        try:
            response = self._pool.request(
                "GET", url, headers={**self._headers, **headers}, redirect=False,
                preload_content=False, decode_content=True,
            )
        except LocationParseError as exc:
            raise FetchError(BAD_URL, f"malformed URL: {exc}", url) from None
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
                if retry_after is not None and status in (429, 503):
                    gate.defer(min(retry_after, self.config.backoff_max))
                raise _Attempt(
                    FetchError(HTTP_STATUS, f"HTTP {status} {response.reason or ''}".strip(),
                               url, status=status, transient=True),
                    wait=retry_after,
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

    def _check_robots(self, url: str) -> None:
        host = host_key(url)
        with self._lock:
            lock = self._robots_locks.setdefault(host, threading.Lock())
        with lock:
            if host in self._robots:
                rules = self._robots[host]
            else:
                rules = self._load_robots(host)
                if not (isinstance(rules, FetchError) and rules.kind != ROBOTS_DISALLOWED):
                    self._robots[host] = rules  # network failures are not cached
        if isinstance(rules, FetchError):
            message = rules.message  # a network failure: the same for the URL itself
            if rules.kind == ROBOTS_DISALLOWED:
                message = f"robots.txt: {message}"
            raise _Attempt(FetchError(rules.kind, message, url, status=rules.status,
                                      transient=rules.transient))
        if rules is not None and not rules.can_fetch(self.config.user_agent, url):
            raise FetchError(ROBOTS_DISALLOWED, "robots.txt disallows this URL", url)

    def _load_robots(self, host: str) -> urllib.robotparser.RobotFileParser | FetchError | None:
        """The host's robots.txt rules; None allows everything. Errors are cached too.

        As RFC 9309 says: a 4xx means no rules; a 5xx means everything is disallowed for now.
        A network failure is reported against the URL (the host is unreachable anyway).
        """
        robots_url = f"{host}/robots.txt"
        gate = self._gate(host)
        gate.acquire()
        try:
            response = self._pool.request(
                "GET", robots_url, headers={**self._headers, "Accept": "text/plain, */*;q=0.5"},
                redirect=True, preload_content=False, decode_content=True,
            )
        except HTTPError as exc:
            return _network_error(exc, robots_url)
        finally:
            gate.release()
        try:
            if 400 <= response.status < 500:
                return None
            if response.status >= 500:
                return FetchError(ROBOTS_DISALLOWED, f"robots.txt answered HTTP "
                                  f"{response.status}: treating the host as disallowed",
                                  robots_url, status=response.status, transient=True)
            data = bytearray()
            for chunk in response.stream(_CHUNK, decode_content=True):
                data.extend(chunk)
                if len(data) > _ROBOTS_MAX_BYTES:
                    break
        except HTTPError as exc:
            return _network_error(exc, robots_url)
        finally:
            _discard(response)
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(bytes(data[:_ROBOTS_MAX_BYTES]).decode("utf-8", "replace").splitlines())
        return parser


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
