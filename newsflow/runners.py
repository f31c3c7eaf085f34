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
* **Flink** runs through Beam's portable Flink job server (``FlinkRunner``), started by Beam
  with ``--flink_job_server_jar`` and ``--flink_master=[local]`` for an embedded Flink, or pointed
  at a real cluster's REST endpoint. The SDK workers run in this process (``LOOPBACK``) for the
  embedded cluster, in a Beam worker-pool sidecar (``EXTERNAL``) on a real one; neither needs
  Docker. The official job server jar (``beam-runners-flink-<flink>-job-server``) is fetched with
  ``mvn`` when the registry has it; the registry this project is developed against has none of
  them (and no Beam Java artifacts past 2.62.0 for any Flink runner), so we fall back to
  assembling the same job server from its parts: ``beam-runners-flink-1.19:2.62.0`` (which holds
  ``FlinkJobServerDriver``) and its dependencies, behind a manifest-only jar whose ``Class-Path``
  lists them. The portable job API lets a Python 2.77 SDK submit to that 2.62 job server.

Each ``*_args`` helper returns plain pipeline flags, so the same strings work on the command
line, in tests (``TestPipeline(options=PipelineOptions(args))``) and in deploy files.
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
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as _dist_version
from pathlib import Path

from newsflow.esnode import cache_dir

__all__ = [
    "PRISM_PACKAGE",
    "RunnerSetupError",
    "beam_version",
    "ensure_flink_job_server",
    "ensure_prism",
    "find_flink_java",
    "flink_runner_args",
    "local_runner_args",
    "prism_runner_args",
    "quiet_runner_logs",
]

PRISM_PACKAGE = "github.com/apache/beam/sdks/v2/go/cmd/prism"
# The Flink minor the job server embeds, and the Beam Java release of the assembled fallback.
FLINK_VERSION = "1.19"
FLINK_FALLBACK_BEAM_JAVA = "2.62.0"
FLINK_JOB_SERVER_MAIN = "org.apache.beam.runners.flink.FlinkJobServerDriver"
# What Flink's own launch scripts open on Java 17 (its Kryo serialiser reflects into JDK classes).
# Small pipelines ran without them; state-heavy jobs are where their absence would show.
_FLINK_JVM_FLAGS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
]

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

    Prism's own log level is ``error`` (``$NEWSFLOW_PRISM_LOG_LEVEL`` overrides it, e.g. ``debug``
    to see its stages and watermarks): at ``warn`` it reports every ``PeriodicImpulse`` with a
    harmless "empty transform" warning. The SDK workers run in this process (``LOOPBACK``, which is
    also PrismRunner's default) so that no Docker is needed.
    """
    binary = prism or ensure_prism()
    return [
        "--runner=PrismRunner",
        f"--prism_location={binary}",
        f"--prism_log_level={os.environ.get('NEWSFLOW_PRISM_LOG_LEVEL', 'error')}",
        "--environment_type=LOOPBACK",
    ]


def local_runner_args(streaming: bool) -> list[str]:
    """Flags for running on this machine: FnApiRunner for batch, Prism for streaming.

    See the module docstring for why. Streaming builds Prism on first use.
    """
    if streaming:
        return [*prism_runner_args(), "--streaming"]
    return ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]


# Beam runners that run a whole job in this process or its children, on this machine.
_LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner",
                  "SwitchingDirectRunner")


def runs_on_this_machine(runner: object) -> bool:
    """Whether ``runner`` (a ``--runner`` value or a runner object) is one of Beam's local
    batch runners; no runner means Beam's default, the DirectRunner."""
    name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
    return name is None or name in _LOCAL_RUNNERS


def is_local(argv: list[str]) -> bool:
    """True when ``argv`` names no runner: the job runs on this machine."""
    return not any(arg == "--runner" or arg.startswith("--runner=") for arg in argv)


# Beam's portable runners watch a job through a gRPC stream opened with --job_server_timeout
# (default 300 s) as its deadline: a streaming job on Prism or Flink would lose its client after
# five minutes (DEADLINE_EXCEEDED) and end. A streaming job runs until stopped, so its client
# waits as long as it runs (ten years).
STREAMING_JOB_SERVER_TIMEOUT = 10 * 365 * 24 * 3600


def resolve_runner_args(argv: list[str], *, streaming: bool) -> list[str]:
    """``argv`` with the runner flags filled in, as ``newsflow ingest`` understands them.

    No ``--runner``: the local runner (``local_runner_args``). ``--runner flink``: Flink through
    our job server, embedded unless ``--flink_master HOST:PORT`` names a real cluster. Any other
    ``--runner`` (``FlinkRunner``, ``DataflowRunner``, ...) is Beam's and passes through as given.
    A streaming job gets ``--job_server_timeout`` long enough to outlive five minutes, unless
    ``argv`` sets it.
    """
    if streaming and not any(a.startswith("--job_server_timeout") for a in argv):
        argv = [*argv, f"--job_server_timeout={STREAMING_JOB_SERVER_TIMEOUT}"]
    runner, master, rest = None, None, []
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in ("--runner", "--flink_master"):
            value = value if eq else next(args, "")
            if name == "--runner":
                runner = value
            else:
                master = value
            continue
        rest.append(arg)
    if runner is None:
        return [*rest, *([f"--flink_master={master}"] if master else []),
                *local_runner_args(streaming=streaming)]
    if runner.lower() == "flink":
        flink = flink_runner_args(master if master and master != "[local]" else None)
        return [*rest, *flink, *(["--streaming"] if streaming else [])]
    return [*rest, f"--runner={runner}", *([f"--flink_master={master}"] if master else [])]


_ROUTINE_ROOT_WARNINGS = (
    "apitools not found",  # import apache_beam without its GCP extras: only BigQuery needs it
    "Waiting for grpc channel to be ready",  # a job server JVM taking more than a second to start
)


def _not_routine_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_ROUTINE_ROOT_WARNINGS)


def quiet_runner_logs() -> None:
    """Silence the warnings Beam logs on every run that tell a user nothing actionable.

    Beam's ``subprocess_server`` logs every start and stop of the Prism binary or the Flink job
    server at WARNING ("Really starting service at ..."), and through the root logger that it is
    still waiting for the job server's port; ``import apache_beam`` warns that ``apitools`` is
    missing (only BigQuery needs it; newsflow does not use BigQuery). Call once from an entry
    point, before importing Beam. Errors, including a job server that fails to start, stay visible.
    """
    logging.getLogger("apache_beam.utils.subprocess_server").setLevel(logging.ERROR)
    root = logging.getLogger()
    if _not_routine_warning not in root.filters:
        root.addFilter(_not_routine_warning)


def find_flink_java() -> Path:
    """A ``java`` that Flink 1.19 runs on: $FLINK_JAVA_HOME, else JDK 17 or 11 in /usr/lib/jvm.

    Newer JDKs are not used: Flink 1.19 supports Java 11 and 17 only.
    """
    homes: list[Path] = []
    if env := os.environ.get("FLINK_JAVA_HOME"):
        homes.append(Path(env))
    jvm = Path("/usr/lib/jvm")
    for major in (17, 11):
        if jvm.is_dir():
            homes += sorted(jvm.glob(f"*-{major}-*")) + sorted(jvm.glob(f"*{major}*"))
    for home in homes:
        if os.access(home / "bin" / "java", os.X_OK):
            return home / "bin" / "java"
    raise RunnerSetupError(
        "Flink 1.19 needs a Java 11 or 17 runtime: install one (Debian: openjdk-17-jre-headless) "
        "or set FLINK_JAVA_HOME"
    )


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RunnerSetupError(
            "Maven (`mvn`) is needed once to fetch the Flink job server; install it "
            "(Debian: maven) or pass --flink_job_server_jar"
        )
    return mvn


def _fetch_official_job_server(flink_version: str, version: str, target: Path) -> bool:
    """Copy ``beam-runners-flink-<flink>-job-server:<version>`` to ``target``; False if absent."""
    artifact = f"org.apache.beam:beam-runners-flink-{flink_version}-job-server:{version}:jar"
    with tempfile.TemporaryDirectory(dir=target.parent) as out:
        process = subprocess.run(
            [
                _mvn(),
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={artifact}",
                f"-DoutputDirectory={out}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        jars = list(Path(out).glob("*.jar"))
        if process.returncode != 0 or not jars:
            errors = [line for line in process.stdout.splitlines() if "ERROR" in line]
            _log.info("no official Flink job server %s: %s", artifact, errors[:1])
            return False
        os.replace(jars[0], target)
    return True


_ASSEMBLY_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>newsflow</groupId>
  <artifactId>flink-job-server</artifactId>
  <version>0</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.beam</groupId>
      <artifactId>beam-runners-flink-{flink}</artifactId>
      <version>{beam}</version>
    </dependency>
  </dependencies>
</project>
"""


def _manifest(main_class: str, class_path: list[str]) -> bytes:
    """A jar manifest; long values are wrapped at 72 bytes with a leading space, as jars require."""
    lines = []
    for name, value in (
        ("Manifest-Version", "1.0"),
        ("Main-Class", main_class),
        ("Class-Path", " ".join(class_path)),
    ):
        line = f"{name}: {value}".encode()
        lines.append(line[:72])
        lines += [b" " + line[i : i + 71] for i in range(72, len(line), 71)]
    return b"\r\n".join(lines) + b"\r\n"


def _assemble_job_server(flink_version: str, beam_java: str, target: Path) -> None:
    """Resolve the Flink runner and its dependencies into ``lib/`` beside a manifest-only jar."""
    work = target.parent
    (work / "pom.xml").write_text(_ASSEMBLY_POM.format(flink=flink_version, beam=beam_java))
    lib = work / "lib"
    process = subprocess.run(
        [
            _mvn(),
            "-q",
            "-B",
            "-f",
            str(work / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RunnerSetupError(
            f"could not fetch beam-runners-flink-{flink_version}:{beam_java} and its "
            f"dependencies with mvn (exit {process.returncode}):\n{process.stdout[-4000:]}"
        )
    class_path = sorted(f"lib/{jar.name}" for jar in lib.glob("*.jar"))
    partial = target.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", _manifest(FLINK_JOB_SERVER_MAIN, class_path))
    os.replace(partial, target)


def ensure_flink_job_server(flink_version: str = FLINK_VERSION) -> Path:
    """A runnable Beam Flink job server jar (``java -jar``), fetched once into the cache.

    Prefers Beam's official ``beam-runners-flink-<flink>-job-server`` at the installed Beam
    version; where the registry lacks it, assembles the job server from
    ``beam-runners-flink-<flink>:FLINK_FALLBACK_BEAM_JAVA`` (see the module docstring).
    """
    version = beam_version()
    cache = cache_dir() / "flink"
    official = cache / f"beam-runners-flink-{flink_version}-job-server-{version}.jar"
    assembled = cache / f"assembled-{flink_version}-{FLINK_FALLBACK_BEAM_JAVA}" / "job-server.jar"
    for jar in (official, assembled):
        if jar.exists():
            return jar
    with _locked(cache / ".lock"):
        for jar in (official, assembled):
            if jar.exists():
                return jar
        started = time.monotonic()
        if _fetch_official_job_server(flink_version, version, official):
            jar = official
        else:
            assembled.parent.mkdir(parents=True, exist_ok=True)
            _assemble_job_server(flink_version, FLINK_FALLBACK_BEAM_JAVA, assembled)
            jar = assembled
        _log.info("fetched the Flink job server in %.0f s: %s", time.monotonic() - started, jar)
    return jar


def flink_runner_args(
    flink_master: str | None = None,
    *,
    job_endpoint: str | None = None,
    worker_pool: str = "localhost:50000",
) -> list[str]:
    """Flags running a pipeline on Flink through Beam's job server.

    * Neither given: Beam starts our cached job server (fetched on demand) with an embedded Flink
      cluster (``[local]``) and the SDK workers run in this process (``LOOPBACK``).
    * ``flink_master=HOST:PORT`` (a JobManager's REST address): Beam starts the job server here
      and it submits to that cluster.
    * ``job_endpoint=HOST:PORT``: a job server already runs next to the cluster
      (``deploy/flink/``); nothing is started or fetched here (``PortableRunner``).

    On a real cluster the TaskManagers reach the SDK workers at ``worker_pool``: a Beam Python
    worker pool (``--worker_pool``) running beside each TaskManager (``EXTERNAL``).
    """
    remote = ["--environment_type=EXTERNAL", f"--environment_config={worker_pool}"]
    if job_endpoint is not None:
        return ["--runner=PortableRunner", f"--job_endpoint={job_endpoint}", *remote]
    jar = ensure_flink_job_server()
    args = [
        "--runner=FlinkRunner",
        f"--flink_version={FLINK_VERSION}",
        f"--flink_job_server_jar={jar}",
        f"--job_server_java_launcher={find_flink_java()}",
        *(f"--job_server_jvm_property={flag}" for flag in _FLINK_JVM_FLAGS),
    ]
    if flink_master is None:
        return [*args, "--flink_master=[local]", "--environment_type=LOOPBACK"]
    return [*args, f"--flink_master={flink_master}", *remote]
