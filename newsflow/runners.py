"""Which Beam runner a newsflow job runs on, and the runner binaries it needs, set up on demand.

Beam 2.77's defaults do not fit this project, so the choice is made here, deliberately:

* **Local batch** runs on Beam's ``FnApiRunner`` in memory. ``--runner=DirectRunner`` would first
  try Prism, and Prism without ``--prism_location`` means downloading a binary from GitHub at run
  time (a network call that fails or hangs on machines without internet, then a silent fallback).
  Naming ``FnApiRunner`` skips that attempt. In-memory beats ``multi_processing`` here: measured on
  a 1,000-element job it starts in ~1 s instead of 4-7 s, keeps user exceptions as themselves
  instead of wrapping them in ``RuntimeError``, and prints no worker log noise (multi-processing
  workers log ~40 INFO lines and a ``No semi_persistent_directory`` warning per worker).
* **Local streaming** runs on Prism, because the FnApiRunner is batch underneath: after a
  ``PeriodicImpulse`` its ``GroupByKey`` emits nothing until the source ends, where Prism emits
  each window as the watermark passes it. We build Prism from Beam's Go module at the version
  matching the installed ``apache_beam`` (the Go module proxy is reachable where GitHub release
  downloads are not), cache the binary, and hand it to Beam with ``--prism_location``. Beam takes
  a local binary there as is (a zip would be unpacked); it checks no version, so the cache path
  carries the version instead.
* **Flink** runs through Beam's portable Flink job server (``FlinkRunner``); see
  :func:`flink_runner_args`.

Each ``*_args`` helper returns plain pipeline flags, so the same strings work on the command
line, in tests (``TestPipeline(argv=...)``) and in deploy files.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as _dist_version
from pathlib import Path

from newsflow.esnode import cache_dir

__all__ = [
    "PRISM_PACKAGE",
    "RunnerSetupError",
    "beam_version",
    "ensure_prism",
    "local_runner_args",
    "prism_runner_args",
    "quiet_runner_logs",
]

PRISM_PACKAGE = "github.com/apache/beam/sdks/v2/go/cmd/prism"

_log = logging.getLogger(__name__)


class RunnerSetupError(RuntimeError):
    """A runner's binary or jar could not be built or fetched; the message says what to do."""


def beam_version() -> str:
    """The installed apache-beam version, read without importing Beam (which is slow)."""
    return _dist_version("apache-beam")


def _go_module_version(version: str) -> str:
    """The Go module tag of a Beam Python release: ``2.77.0`` -> ``v2.77.0``, rc2 -> ``-RC2``."""
    match = re.fullmatch(r"(\d+\.\d+\.\d+)(?:rc(\d+))?", version)
    if not match:
        raise ValueError(
            f"cannot build Prism for apache-beam {version!r}: only release versions (2.77.0, "
            "2.77.0rc1) have a matching Go module; pass --prism_location yourself"
        )
    release, rc = match.groups()
    return f"v{release}-RC{rc}" if rc else f"v{release}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so that concurrent callers build only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prism_path(version: str | None = None) -> Path:
    """Where the Prism binary for ``version`` (default: the installed Beam) is cached."""
    return cache_dir() / "prism" / (version or beam_version()) / "prism"


def ensure_prism(version: str | None = None) -> Path:
    """The Prism binary matching apache-beam ``version``, built once with ``go install``.

    The first call builds ``PRISM_PACKAGE@v<version>`` through the Go module proxy (about 3.5
    minutes on 2 cores with a cold module cache) into the cache; later calls return the cached
    path at once.
    """
    version = version or beam_version()
    target = prism_path(version)
    if os.access(target, os.X_OK):
        return target
    module_version = _go_module_version(version)
    go = shutil.which("go")
    if go is None:
        raise RunnerSetupError(
            "Prism (Beam's local streaming runner) is built from source and needs the Go "
            "toolchain: install Go 1.24+ (https://go.dev/doc/install) and retry, or pass "
            "--prism_location=/path/to/prism"
        )
    with _locked(target.parent / ".lock"):
        if os.access(target, os.X_OK):  # built by another process while we waited
            return target
        _log.info("building Prism %s with go install (once; takes a few minutes)", module_version)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=target.parent) as gobin:
            env = {**os.environ, "GOBIN": gobin, "GOFLAGS": "-mod=mod"}
            process = subprocess.run(
                [go, "install", f"{PRISM_PACKAGE}@{module_version}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
            built = Path(gobin) / "prism"
            if process.returncode != 0 or not built.exists():
                raise RunnerSetupError(
                    f"go install {PRISM_PACKAGE}@{module_version} failed "
                    f"(exit {process.returncode}):\n{process.stdout[-4000:]}"
                )
            os.replace(built, target)
        _log.info("built Prism in %.0f s: %s", time.monotonic() - started, target)
    return target


def prism_runner_args(prism: Path | None = None) -> list[str]:
    """Flags running a pipeline on Prism with our binary (built on demand when not given).

    Prism's own log level is ``error``: at ``warn`` it reports every ``PeriodicImpulse`` with a
    harmless "empty transform" warning. The SDK workers run in this process (``LOOPBACK``, which is
    also PrismRunner's default) so that no Docker is needed.
    """
    binary = prism or ensure_prism()
    return [
        "--runner=PrismRunner",
        f"--prism_location={binary}",
        "--prism_log_level=error",
        "--environment_type=LOOPBACK",
    ]


def local_runner_args(streaming: bool) -> list[str]:
    """Flags for running on this machine: FnApiRunner for batch, Prism for streaming.

    See the module docstring for why. Streaming builds Prism on first use.
    """
    if streaming:
        return [*prism_runner_args(), "--streaming"]
    return ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _not_apitools_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("apitools not found")


def quiet_runner_logs() -> None:
    """Silence the warnings Beam logs on every run that tell a user nothing actionable.

    Beam's ``subprocess_server`` logs every start and stop of the Prism binary or the Flink job
    server at WARNING ("Really starting service at ..."), and ``import apache_beam`` warns through
    the root logger that ``apitools`` is missing (it is only needed for BigQuery, which newsflow
    does not use). Call once from an entry point, before importing Beam; errors stay visible.
    """
    logging.getLogger("apache_beam.utils.subprocess_server").setLevel(logging.ERROR)
    root = logging.getLogger()
    if _not_apitools_warning not in root.filters:
        root.addFilter(_not_apitools_warning)
