"""Which Beam runner a newsflow job runs on, as plain pipeline flags.

* Local batch: Beam's ``FnApiRunner`` in memory. ``--runner=DirectRunner`` would first try to
  download Prism (no internet here), and the in-memory mode starts faster than multi-processing,
  keeps user exceptions as they are and logs nothing per worker.
* Local streaming: Prism (``local/prism.py`` builds it), because the FnApiRunner is batch
  underneath: its ``GroupByKey`` emits nothing until an unbounded source ends.
* ``--runner flink``: Beam's portable Flink job server (``local/flink.py`` fetches it), with an
  embedded Flink and the SDK workers in this process, or a real cluster's JobManager.

Each ``*_args`` helper returns flags, so the same strings work on the command line, in tests
(``TestPipeline(options=PipelineOptions(args))``) and in deploy files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from local.flink import FLINK_VERSION, JVM_FLAGS, ensure_flink_job_server, find_flink_java
from local.prism import ensure_prism

__all__ = [
    "STREAMING_JOB_SERVER_TIMEOUT",
    "flink_runner_args",
    "is_local",
    "local_runner_args",
    "prism_runner_args",
    "quiet_runner_logs",
    "resolve_runner_args",
    "runs_on_this_machine",
]

# Beam's portable runners watch a job through a gRPC stream whose deadline is
# --job_server_timeout (default 300 s): a streaming job would lose its client after five minutes.
# A streaming job runs until stopped, so its client waits as long as it runs (ten years).
STREAMING_JOB_SERVER_TIMEOUT = 10 * 365 * 24 * 3600
# Beam runners that run a whole job in this process or its children, on this machine.
_LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner",
                  "SwitchingDirectRunner")


def prism_runner_args(prism: Path | None = None) -> list[str]:
    """Flags running a pipeline on Prism with our binary (built on demand when not given).

    Prism's own log level is ``error`` (``$NEWSFLOW_PRISM_LOG_LEVEL`` overrides it, e.g. ``debug``
    to see its stages and watermarks): at ``warn`` it reports every ``PeriodicImpulse`` with a
    harmless "empty transform" warning. The SDK workers run in this process (``LOOPBACK``), so no
    Docker is needed.
    """
    prism = prism or ensure_prism()
    return [
        "--runner=PrismRunner",
        f"--prism_location={prism}",
        f"--prism_log_level={os.environ.get('NEWSFLOW_PRISM_LOG_LEVEL', 'error')}",
        "--environment_type=LOOPBACK",
    ]


def local_runner_args(streaming: bool) -> list[str]:
    """Flags for running on this machine: FnApiRunner for batch, Prism for streaming."""
    if streaming:
        return [*prism_runner_args(), "--streaming"]
    return ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def flink_runner_args(
    flink_master: str | None = None,
    *,
    job_endpoint: str | None = None,
    worker_pool: str = "127.0.0.1:50000",
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
    args = [
        "--runner=FlinkRunner",
        f"--flink_version={FLINK_VERSION}",
        f"--flink_job_server_jar={ensure_flink_job_server()}",
        f"--job_server_java_launcher={find_flink_java()}",
        *(f"--job_server_jvm_property={flag}" for flag in JVM_FLAGS),
    ]
    if flink_master is None:
        return [*args, "--flink_master=[local]", "--environment_type=LOOPBACK"]
    return [*args, f"--flink_master={flink_master}", *remote]


def runs_on_this_machine(runner: object) -> bool:
    """Whether ``runner`` (a ``--runner`` value or a runner object) is one of Beam's local
    batch runners; no runner means Beam's default, the DirectRunner."""
    name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
    return name is None or name in _LOCAL_RUNNERS


def is_local(argv: list[str]) -> bool:
    """True when ``argv`` names no runner: the job runs on this machine."""
    return not any(arg == "--runner" or arg.startswith("--runner=") for arg in argv)


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
    server at WARNING, and through the root logger that it is still waiting for the job server's
    port; ``import apache_beam`` warns that ``apitools`` is missing (only BigQuery needs it).
    Call once from an entry point, before importing Beam. Errors stay visible.
    """
    logging.getLogger("apache_beam.utils.subprocess_server").setLevel(logging.ERROR)
    root = logging.getLogger()
    if _not_routine_warning not in root.filters:
        root.addFilter(_not_routine_warning)
