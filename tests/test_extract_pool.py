"""``newsflow.extract.pool``: real worker processes, started from a warmed-up fork server."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from newsflow.extract import extract_article_or_error
from newsflow.extract.pool import ExtractionPool, pool_context, prestart

PAGE = ("<html lang='en'><head><title>Tram line opens - The Ledger</title></head><body><article>"
        "<h1>Tram line opens</h1>"
        + "<p>The new tram line between the station and the harbour opened on Saturday, a year "
          "later than planned, and carried its first passengers before noon.</p>" * 3
        + "</article></body></html>")


@pytest.fixture
def pool() -> ExtractionPool:
    pool = ExtractionPool(2)
    yield pool
    pool.shutdown()


def test_submissions_made_before_the_workers_are_up_are_all_answered(held_pool_start) -> None:
    pool = ExtractionPool(2)
    early = [pool.submit(extract_article_or_error, PAGE, f"https://ledger.example/{n}",
                         fetched_at=None) for n in range(5)]
    assert not pool.wait_started(0.1) and not any(f.done() for f in early)
    held_pool_start.set()
    assert pool.wait_started(60)
    late = pool.submit(extract_article_or_error, PAGE, "https://ledger.example/late",
                       fetched_at=None)
    urls = [f.result(timeout=60).url for f in [*early, late]]
    pool.shutdown()
    assert urls == [*(f"https://ledger.example/{n}" for n in range(5)),
                    "https://ledger.example/late"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_are_forked_from_a_server_that_loaded_the_extractors(pool) -> None:
    parent = pool.submit(os.getppid).result(timeout=60)
    assert parent != os.getpid()  # not spawned by us: forked by the server
    maps = Path(f"/proc/{parent}/maps").read_text()
    assert "lxml" in maps  # the server imported the extractors before forking


def test_a_worker_that_dies_breaks_the_pool_and_says_so(pool) -> None:
    assert pool.wait_started(60)
    died = pool.submit(os._exit, 3)
    with pytest.raises(BrokenProcessPool):
        died.result(timeout=60)
    with pytest.raises(BrokenProcessPool):
        pool.submit(int)


def test_a_pool_shut_down_while_starting_fails_what_waits_instead_of_hanging(
        held_pool_start) -> None:
    pool = ExtractionPool(1)
    waiting = pool.submit(int, "7")
    pool.shutdown()
    held_pool_start.set()
    assert pool.wait_started(60)
    with pytest.raises(RuntimeError, match="shutdown"):
        waiting.result(timeout=60)


def test_without_a_fork_server_workers_are_spawned(monkeypatch) -> None:
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert pool_context().get_start_method() == "spawn"
    monkeypatch.undo()
    assert pool_context().get_start_method() == "forkserver"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_prestart_starts_the_server_that_the_next_pool_forks_its_workers_from() -> None:
    from multiprocessing import forkserver

    server = forkserver._forkserver
    server._stop()  # a server left by an earlier test would hide a missing one
    assert server._forkserver_pid is None
    prestart()
    started = server._forkserver_pid  # set by the time prestart returns: it does not wait
    assert started is not None
    pool = ExtractionPool(1)
    try:
        # The pool's worker is a child of the server prestart started, not a new one.
        assert pool.submit(os.getppid).result(timeout=60) == started
    finally:
        pool.shutdown()
    # Forking a worker waits for the server's preload, so its memory now holds the extractors.
    assert "lxml" in Path(f"/proc/{started}/maps").read_text()


def _fails_on_seven(n: int) -> int:
    if n == 7:
        raise ValueError("seven")
    return n * 2


def test_calls_handed_over_together_each_get_their_own_outcome(held_pool_start) -> None:
    pool = ExtractionPool(2)
    try:
        early = pool.submit_each(_fails_on_seven, [((n,), {}) for n in (1, 7, 3)])
        held_pool_start.set()
        late = pool.submit_each(_fails_on_seven, [((4,), {})])
        assert early[0].result(timeout=60) == 2 and early[2].result(timeout=60) == 6
        with pytest.raises(ValueError, match="seven"):
            early[1].result(timeout=60)
        assert late[0].result(timeout=60) == 8
    finally:
        pool.shutdown()


def test_a_worker_that_dies_fails_every_call_of_its_task(pool) -> None:
    assert pool.wait_started(60)
    calls = pool.submit_each(os._exit, [((3,), {}), ((4,), {})])
    for call in calls:
        with pytest.raises(BrokenProcessPool):
            call.result(timeout=60)


def test_the_dofns_of_a_process_share_one_pool_and_renew_it_together() -> None:
    first, second = ExtractionPool.acquire(2), ExtractionPool.acquire(2)
    try:
        assert first is second
        assert first.wait_started(60)
        with pytest.raises(BrokenProcessPool):
            first.submit(os._exit, 3).result(timeout=60)
        renewed = first.renewed()
        assert renewed is not first and second.renewed() is renewed  # made once
        assert renewed.submit(int, "7").result(timeout=60) == 7
    finally:
        first.release()
        second.release()
    again = ExtractionPool.acquire(2)
    try:
        assert again is not renewed  # the last user shut that one down
    finally:
        again.release()
    assert ExtractionPool._shared == {}
