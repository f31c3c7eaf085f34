"""Prism, Beam's streaming-capable local runner, built once from Beam's Go module.

Beam downloads Prism from GitHub releases at run time unless ``--prism_location`` names a binary;
this machine reaches the Go module proxy but not GitHub downloads, so we build Prism with
``go install`` at the version matching the installed ``apache_beam`` and cache it. Beam takes a
local binary as is and checks no version, so the cache path carries the version instead.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from importlib.metadata import version as _dist_version
from pathlib import Path

from local import RunnerSetupError, cache_dir, locked

__all__ = ["PRISM_PACKAGE", "beam_version", "ensure_prism", "prism_path"]

PRISM_PACKAGE = "github.com/apache/beam/sdks/v2/go/cmd/prism"

_log = logging.getLogger(__name__)


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


def prism_path(version: str | None = None) -> Path:
    """Where the Prism binary for ``version`` (default: the installed Beam) is cached."""
    return cache_dir() / "prism" / (version or beam_version()) / "prism"


def ensure_prism(version: str | None = None) -> Path:
    """The Prism binary matching apache-beam ``version``, built once with ``go install``.

    The first call builds ``PRISM_PACKAGE@v<version>`` through the Go module proxy (a few
    minutes with a cold module cache) into the cache; later calls return the cached path at once.
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
    with locked(target.parent / ".lock"):
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
