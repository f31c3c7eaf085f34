"""Per-host politeness for every fetch of a worker process: many hosts side by side.

A news job fetches from many hosts. Each host gets a queue and limits of its own: at most
``limit`` requests in flight, starts at least ``delay`` seconds apart (or its robots.txt
``Crawl-delay``, up to ``max_crawl_delay``), and a pause after a ``Retry-After``. A dispatcher
thread starts whichever queued exchange's host is ready, on a shared pool of threads, so a
strict or slow host holds up only its own requests, whoever submitted them. Every ``Fetcher``
of a process with the same limits shares one frontier (:meth:`Frontier.acquire`): feeds and
pages, every bundle and every DoFn instance of a worker count against the same hosts.

A task is one HTTP exchange. Its ``run`` executes in a pool thread while it holds a slot of its
host, and returns what comes next (nothing, or another exchange to queue: a redirect hop, a
retry after back-off), so no thread ever sleeps waiting for a host. The host's robots.txt is
read once (kept for a day; an error for five minutes) by an exchange of its own, before the
first task that consults it; it can forbid a task or ask for a longer delay.

No HTTP in here: the caller's tasks do the exchanges (``newsflow.http``).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Frontier", "Next", "RobotsRules", "Task"]

ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a crawler should not use a robots.txt older than a day
ROBOTS_ERROR_TTL = 300.0  # a robots.txt that answered 5xx disallows the host this long


class RobotsRules(Protocol):
    """What a host's robots.txt says, for one user agent (``newsflow.http`` parses it)."""

    def allows(self, url: str) -> bool: ...

    def crawl_delay(self) -> float | None: ...


@dataclass(eq=False)
class Task:
    """One exchange for the frontier to start when ``host`` allows.

    ``run()`` does the exchange (in a pool thread, within a slot of the host) and returns the
    :class:`Next` step. With ``robots`` set, the host's robots.txt is consulted first:
    ``robots()`` reads and parses it (within a slot too) and returns the rules, ``None`` for
    "no rules", or an exception whose ``transient`` says whether it may be retried and whose
    ``disallows`` says whether it forbids the host meanwhile (a 5xx) rather than reports a
    network failure; ``blocked(reason)`` is then called instead of ``run`` (a ``str`` when the
    rules forbid the URL, else that exception) and returns the next step. ``cancel()`` is called
    for a task still queued when its owner leaves (:meth:`Frontier.cancel`).
    """

    host: str
    url: str
    run: Callable[[], Next]
    blocked: Callable[[Any], Next]
    cancel: Callable[[], Any]
    robots: Callable[[], Any] | None = None
    owner: object = None


@dataclass
class Next:
    """After an exchange: ``task`` to queue next (``None``: finished), ``after`` seconds from now
    (0: at the front of its host's queue); ``defer_host``: nobody starts a request to the host
    of the exchange just made for that many seconds (its ``Retry-After``)."""

    task: Task | None = None
    after: float = 0.0
    defer_host: float = 0.0


DONE = Next()


@dataclass(eq=False)
class _Host:
    key: str
    delay: float
    queue: deque[Task] = field(default_factory=deque)
    in_flight: int = 0
    next_start: float = 0.0
    scheduled: bool = False  # in the ready list or the timer heap
    rules: Any = None  # RobotsRules, None (no rules), or the exception robots() returned
    rules_until: float = -1.0  # rules are unknown before this reading and after it expires
    robots_loading: bool = False



class Frontier:
    """Queues exchanges per host and starts them within each host's limits (thread-safe)."""

    _shared: dict[tuple[int, float, float, int], tuple[Frontier, int]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, limit: int, delay: float, max_crawl_delay: float, workers: int) -> None:
        self.limit, self.delay, self.max_crawl_delay = limit, delay, max_crawl_delay
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsflow-fetch")
        self._workers = workers
        self._cond = threading.Condition()
        self._hosts: dict[str, _Host] = {}
        self._ready: deque[_Host] = deque()
        self._timers: list[tuple[float, int, _Host]] = []  # hosts waiting for their next start
        self._later: list[tuple[float, int, Task]] = []  # tasks waiting out a back-off
        self._seq = itertools.count()
        self._running = 0
        self._closed = False
        self._thread = threading.Thread(target=self._dispatch, name="newsflow-frontier",
                                        daemon=True)
        self._thread.start()

    # -- sharing -----------------------------------------------------------------------------

    @classmethod
    def acquire(cls, limit: int, delay: float, max_crawl_delay: float, workers: int) -> Frontier:
        """The process's frontier for these limits, made on first use; :meth:`release` it."""
        key = (limit, delay, max_crawl_delay, workers)
        with cls._shared_lock:
            frontier, users = cls._shared.get(key, (None, 0))
            if frontier is None:
                frontier = cls(limit, delay, max_crawl_delay, workers)
            cls._shared[key] = (frontier, users + 1)
            return frontier

    def release(self) -> None:
        """One user fewer; the last one stops the dispatcher and the threads."""
        key = (self.limit, self.delay, self.max_crawl_delay, self._workers)
        with self._shared_lock:
            frontier, users = self._shared[key]
            if users > 1:
                self._shared[key] = (frontier, users - 1)
                return
            del self._shared[key]
        self.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- queueing ----------------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """Queue ``task`` at the back of its host's queue."""
        with self._cond:
            self._queue(task, front=False)

    def cancel(self, owner: object) -> None:
        """Drop every queued task of ``owner`` (their ``cancel()`` is called)."""
        dropped: list[Task] = []
        with self._cond:
            for host in self._hosts.values():
                keep = deque(t for t in host.queue if t.owner is not owner)
                dropped += [t for t in host.queue if t.owner is owner]
                host.queue = keep
            later = [item for item in self._later if item[2].owner is not owner]
            dropped += [item[2] for item in self._later if item[2].owner is owner]
            self._later = later
            heapq.heapify(self._later)
        for task in dropped:
            task.cancel()

    def host_delay(self, host: str) -> float:
        """The least time between two starts at ``host`` now (the configured delay, or its
        robots.txt ``Crawl-delay`` once read)."""
        with self._cond:
            found = self._hosts.get(host)
            return found.delay if found else self.delay

    # -- internals (the lock held) -----------------------------------------------------------

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(key, self.delay)
        return host

    def _queue(self, task: Task, front: bool) -> None:
        host = self._host(task.host)
        if front:
            host.queue.appendleft(task)
        else:
            host.queue.append(task)
        self._wake(host)

    def _wake(self, host: _Host) -> None:
        if not host.scheduled:
            host.scheduled = True
            self._ready.append(host)
            self._cond.notify()

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._later and self._later[0][0] <= now:
                    self._queue(heapq.heappop(self._later)[2], front=True)
                while self._timers and self._timers[0][0] <= now:
                    host = heapq.heappop(self._timers)[2]
                    host.scheduled = False
                    self._wake(host)
                while self._ready and self._running < self._workers:
                    self._consider(self._ready.popleft(), now)
                wake_at = min([at for at, _, _ in self._timers[:1] + self._later[:1]],
                              default=None)
                blocked = self._ready and self._running >= self._workers
                timeout = None if wake_at is None or blocked else max(0.0, wake_at - now)
                self._cond.wait(timeout)

    def _consider(self, host: _Host, now: float) -> None:
        """Start the next exchange of ``host`` if it may start now, else park the host: on the
        timer heap (its delay), or until an exchange of it ends (its slots are taken, or its
        robots.txt is being read) or a task arrives (its queue is empty)."""
        host.scheduled = False
        if not host.queue or host.in_flight >= self.limit or host.robots_loading:
            return
        if now < host.next_start:
            host.scheduled = True
            heapq.heappush(self._timers, (host.next_start, next(self._seq), host))
            return
        task = host.queue[0]
        if task.robots is not None and now >= host.rules_until:
            host.robots_loading = True
            self._start(host, task.robots, robots=True)
            return
        host.queue.popleft()
        if task.robots is not None and host.rules is not None:
            reason = host.rules if isinstance(host.rules, Exception) else (
                None if host.rules.allows(task.url) else "disallowed")
            if reason is not None:
                self._running += 1  # blocked() runs outside the lock, like run()
                self._pool.submit(self._finish_blocked, host, task, reason)
                self._wake(host)
                return
        self._start(host, task.run)
        if host.queue:
            self._wake(host)

    def _start(self, host: _Host, call: Callable[[], Any], robots: bool = False) -> None:
        host.in_flight += 1
        host.next_start = time.monotonic() + host.delay
        self._running += 1
        self._pool.submit(self._exchange, host, call, robots)

    # -- in pool threads ---------------------------------------------------------------------

    def _exchange(self, host: _Host, call: Callable[[], Any], robots: bool) -> None:
        outcome: Any = None
        try:
            outcome = call()
        finally:
            with self._cond:
                host.in_flight -= 1
                self._running -= 1
                if robots:
                    self._learn_robots(host, outcome)
                elif isinstance(outcome, Next):
                    self._follow(host, outcome)
                self._wake(host)
                self._cond.notify()  # a thread is free

    def _finish_blocked(self, host: _Host, task: Task, reason: Any) -> None:
        step = DONE
        try:
            step = task.blocked(reason)
        finally:
            with self._cond:
                self._running -= 1
                self._follow(host, step)
                self._cond.notify()  # a thread is free

    def _follow(self, host: _Host, step: Next) -> None:
        if step.defer_host > 0:
            host.next_start = max(host.next_start, time.monotonic() + step.defer_host)
        if step.task is None:
            return
        if step.after > 0:
            heapq.heappush(self._later, (time.monotonic() + step.after, next(self._seq),
                                         step.task))
            self._cond.notify()
        else:
            self._queue(step.task, front=True)

    def _learn_robots(self, host: _Host, rules: Any) -> None:
        host.robots_loading = False
        now = time.monotonic()
        if isinstance(rules, Exception) and not getattr(rules, "disallows", False):
            # A network failure: not kept. Every task waiting for the rules gets it now (each
            # decides whether to retry), so a host that is down costs one robots.txt request
            # per round of retries, not one per queued page.
            waiting = [t for t in host.queue if t.robots is not None]
            host.queue = deque(t for t in host.queue if t.robots is None)
            for task in waiting:
                self._running += 1
                self._pool.submit(self._finish_blocked, host, task, rules)
            return
        host.rules = rules
        host.rules_until = now + (ROBOTS_ERROR_TTL if isinstance(rules, Exception)
                                  else ROBOTS_TTL)
        crawl_delay = None if rules is None or isinstance(rules, Exception) else (
            rules.crawl_delay())
        host.delay = max(self.delay, min(crawl_delay or 0.0, self.max_crawl_delay))
