"""This machine's set-up: what a run here needs and a job on a cluster does not.

The local Elasticsearch node (``esnode``), the runner binaries Beam cannot download here (Prism,
``prism``; the Flink job server, ``flink``), and the invented demo news web (``demosite``, its
stories in ``demo/``) with the loopback server that serves it (``siteserver``). Only the command
line and the launcher in ``pipelines/`` use this package; the transforms never do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RunnerSetupError", "cache_dir", "locked", "stop_process_groups"]


class RunnerSetupError(RuntimeError):
    """A runner's binary or jar could not be built or fetched; the message says what to do."""


def cache_dir() -> Path:
    """Where downloads and the node's data live: $NEWSFLOW_CACHE, else a per-machine cache.

    As root the default is ``/var/cache/newsflow``: the unprivileged user the node runs as must be
    able to read it, and root's home is usually closed to other users.
    """
    if env := os.environ.get("NEWSFLOW_CACHE"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/newsflow")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsflow"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so that concurrent callers build only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop_process_groups(pgids: Iterable[int], timeout: float) -> list[int]:
    """SIGTERM each process group, wait up to ``timeout`` for all of them to end (reaping the
    leaders that are our children), SIGKILL what is left; the groups that were running."""
    running = []
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
            running.append(pgid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_group_alive(pgid) for pgid in running):
        time.sleep(0.2)
    for pgid in running:
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        _reap(pgid)
    return running


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
