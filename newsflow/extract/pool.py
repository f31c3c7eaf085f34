"""Extraction in worker processes, with workers that start warm and a start that never blocks.

``transforms.normalise`` hands pages to an :class:`ExtractionPool` when ``extract_workers > 1``.
Two costs of a plain ``ProcessPoolExecutor`` are avoided:

- **Each worker warming up on its own.** A fresh process spends about a second of CPU importing
  trafilatura and loading the language model (:func:`newsflow.extract.warm_up`). Here the
  workers come from a fork server that has preloaded :mod:`newsflow.extract.warmed`: the
  warm-up is paid once, and the workers share its memory. Where there is no fork server
  (Windows), workers are spawned and warm up on their own. Not plain ``fork``: the caller
  has threads (the fetcher's, the runner's), and forking a threaded process can deadlock.
- **The caller waiting for the workers.** Starting a worker from the fork server waits for the
  server's warm-up, so the pool starts in a background thread; pages submitted meanwhile wait
  in a list, behind placeholder futures, and go to the workers once they are up.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from newsflow.extract import warm_up

__all__ = ["ExtractionPool", "pool_context", "prestart"]

_PRELOAD = "newsflow.extract.warmed"


def pool_context() -> Any:
    """The multiprocessing context that extraction workers come from (see the module doc)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The fork server is one per process: this takes effect when it starts, i.e. for the
    # first pool. Python 3.11's server preloads without the caller's sys.path (its workers
    # do get it): when newsflow is importable only through that path, the preload fails
    # quietly and each worker warms up on its own (the pool's initializer), as spawned ones do.
    context.set_forkserver_preload([_PRELOAD])
    return context


def prestart() -> None:
    """Start the fork server now (it warms up in its own process; this does not wait), so that
    the first pool, a second or so later, forks its workers at once. ``newsflow ingest`` calls
    it before building the pipeline. Nothing happens where there is no fork server."""
    if pool_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class ExtractionPool:
    """``workers`` processes for a picklable function; :meth:`submit` never waits for them.

    Thread-safe. A worker that dies breaks the pool (its futures and later submits raise
    ``BrokenProcessPool``): start a new one. ``shutdown`` does not wait for the workers.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._workers = workers
        self._executor = ProcessPoolExecutor(max_workers=workers, initializer=warm_up,
                                             mp_context=pool_context())
        self._lock = threading.Lock()
        # Submissions made before the workers are up; None once they are.
        self._waiting: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any],
                                  Future[Any]]] | None = []
        self._started = threading.Event()
        threading.Thread(target=self._start, args=(workers,), name="newsflow-extract-pool",
                         daemon=True).start()

    def _start(self, workers: int) -> None:
        try:
            # The executor starts a worker per task while none is idle: one task each.
            for future in [self._executor.submit(int) for _ in range(workers)]:
                future.result()
        except (BrokenProcessPool, CancelledError, RuntimeError):
            pass  # a worker died, or the pool was shut down: the waiting submissions fail below
        finally:
            with self._lock:
                waiting, self._waiting = self._waiting or [], None
                for fn, args, kwargs, placeholder in waiting:
                    _settle_from(self._submit_now(fn, args, kwargs), placeholder)
            self._started.set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """``fn(*args, **kwargs)`` in a worker; raises ``BrokenProcessPool`` if one died."""
        with self._lock:
            if self._waiting is not None:
                placeholder: Future[Any] = Future()
                self._waiting.append((fn, args, kwargs, placeholder))
                return placeholder
        return self._executor.submit(fn, *args, **kwargs)

    def submit_each(self, fn: Callable[..., Any],
                    calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Future[Any]]:
        """``fn(*args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``, all in one task: one
        round trip to a worker instead of one per call (each costs this process about half a
        millisecond of CPU). A future per call, settled when the task ends; an exception of one
        call is that call's. Raises ``BrokenProcessPool`` if a worker died; a worker dying
        during the task fails every call of it."""
        futures: list[Future[Any]] = [Future() for _ in calls]

        def settle(task: Future[Any]) -> None:
            if task.cancelled():
                for future in futures:
                    future.cancel()
                return
            error = task.exception()
            for future, (ok, value) in zip(futures, task.result() if error is None
                                           else [(False, error)] * len(futures), strict=True):
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        self.submit(_call_each, fn, calls).add_done_callback(settle)
        return futures

    # -- one pool per process ------------------------------------------------------------------

    _shared: dict[int, tuple[ExtractionPool, int]] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def acquire(cls, workers: int) -> ExtractionPool:
        """The process's pool of ``workers`` processes, made on first use, so that every DoFn
        instance of a worker (bundles run side by side) shares the cores; :meth:`release` it."""
        with cls._shared_lock:
            pool, users = cls._shared.get(workers, (None, 0))
            if pool is None:
                pool = cls(workers)
            cls._shared[workers] = (pool, users + 1)
            return pool

    def release(self) -> None:
        """One user fewer of the process's pool; the last one shuts it down."""
        with self._shared_lock:
            pool, users = self._shared.get(self._workers, (self, 1))
            if users > 1:
                self._shared[self._workers] = (pool, users - 1)
                return
            self._shared.pop(self._workers, None)
        pool.shutdown()

    def renewed(self) -> ExtractionPool:
        """The process's pool after this one broke (a worker died): a new one, made by whoever
        asks first; the others get the same."""
        with self._shared_lock:
            pool, users = self._shared.get(self._workers, (self, 1))
            if pool is self:
                self.shutdown()
                pool = ExtractionPool(self._workers)
                self._shared[self._workers] = (pool, users)
            return pool

    def wait_started(self, timeout: float | None = None) -> bool:
        """Whether the workers are up (or failed to start) within ``timeout`` seconds."""
        return self._started.wait(timeout)

    def shutdown(self) -> None:
        """Cancel what has not started; do not wait for the workers to exit."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _submit_now(self, fn: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Future[Any]:
        try:
            return self._executor.submit(fn, *args, **kwargs)
        except (BrokenProcessPool, RuntimeError) as exc:
            failed: Future[Any] = Future()
            failed.set_exception(exc)
            return failed


def _call_each(fn: Callable[..., Any], calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
               ) -> list[tuple[bool, Any]]:
    """In a worker: ``(True, result)`` or ``(False, exception)`` for each call, in order."""
    out: list[tuple[bool, Any]] = []
    for args, kwargs in calls:
        try:
            out.append((True, fn(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001 - it belongs to this call, not to the others
            out.append((False, exc))
    return out


def _settle_from(source: Future[Any], target: Future[Any]) -> None:
    """Give ``target`` the outcome of ``source`` when it has one."""

    def copy(done: Future[Any]) -> None:
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
