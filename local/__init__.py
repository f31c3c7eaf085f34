"""This machine's set-up: what a run here needs and a job on a cluster does not.

The local Elasticsearch node (``esnode``), the runner binaries Beam cannot download here (Prism,
``prism``; the Flink job server, ``flink``), and the invented demo news web (``demosite``, its
stories in ``demo/``) with the loopback server that serves it (``siteserver``). Only the command
line and the launcher in ``pipelines/`` use this package; the transforms never do.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RunnerSetupError", "cache_dir", "locked"]


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
