"""A Flink session cluster on this machine, on 127.0.0.1, from Maven Central's jars alone.

What an operator runs, each part its own process: a JobManager and TaskManagers (separate JVMs,
Flink ``FLINK_RELEASE``, the Flink the job server is built against), Beam's Flink job server
submitting to the JobManager's REST endpoint, and a Python worker pool (``local.workerpool``)
for the job's ``EXTERNAL`` environment. No Flink distribution is downloaded (the registry has
none): the JobManager's and TaskManagers' jars are fetched with ``mvn`` into the cache, and their
memory options are computed by Flink's own ``BashJavaUtils``, as Flink's launch scripts do.

A cluster lives in its ``home`` (config, logs, temporary files and ``cluster.json``, which names
the processes so that ``stop`` ends only ours). ``newsflow flink cluster start|stop|status``
manages one in the cache with Flink's usual ports; the tests start one per run on free ports.
A job goes to it with ``pipelines.runners.flink_runner_args(job_endpoint=cluster.job_endpoint,
worker_pool=cluster.worker_pool)``.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from local import RunnerSetupError, cache_dir, locked, stop_process_groups
from local.flink import FLINK_RELEASE, JVM_FLAGS, ensure_flink_job_server, find_flink_java

__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterSpec",
    "default_home",
    "ensure_flink_jars",
    "free_port",
    "start",
    "status",
    "stop",
]

LOG4J_VERSION = "2.17.1"  # what Flink 1.19's distribution ships
# The JobManager's and TaskManagers' classpath: what Flink's lib/ holds for a session cluster
# that runs DataStream and DataSet jobs (Beam's batch translation uses the DataSet API).
FLINK_MODULES = ("flink-runtime", "flink-rpc-akka-loader", "flink-clients",
                 "flink-streaming-java", "flink-java", "flink-optimizer")
JOBMANAGER_MAIN = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER_MAIN = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
JOB_SERVER_MAIN = "org.apache.beam.runners.flink.FlinkJobServerDriver"
_BASH_JAVA_UTILS = "org.apache.flink.runtime.util.bash.BashJavaUtils"
_RESULT_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:"
# What Flink's default configuration passes to every Flink JVM on Java 17, beyond JVM_FLAGS.
_FLINK_JVM_FLAGS = [
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
]
_PR_SET_PDEATHSIG = 1

_LOG4J_PROPERTIES = """\
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.pekko.name = org.apache.pekko
logger.pekko.level = WARN
logger.netty.name = org.apache.flink.shaded.netty4
logger.netty.level = WARN
"""

# The job server logs through java.util.logging (slf4j-jdk14): one line a record, without the
# runner's dump of every metric at the end of each job.
_JUL_PROPERTIES = """\
handlers = java.util.logging.ConsoleHandler
.level = INFO
java.util.logging.ConsoleHandler.level = INFO
java.util.logging.ConsoleHandler.formatter = java.util.logging.SimpleFormatter
java.util.logging.SimpleFormatter.format = %1$tF %1$tT %4$s %3$s - %5$s%6$s%n
org.apache.beam.runners.flink.FlinkPipelineRunner.level = WARNING
"""


class ClusterError(RuntimeError):
    """The cluster could not be fetched, started or stopped; the message says why."""


def default_home() -> Path:
    """Where ``newsflow flink cluster`` keeps its cluster: the cache's ``flink-cluster``."""
    return cache_dir() / "flink-cluster"


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster's shape and addresses, all on 127.0.0.1. ``free_ports`` gives every port a
    free one (tests, side by side with a user's cluster on the default ports)."""

    home: Path = field(default_factory=default_home)
    rest_port: int = 8081
    rpc_port: int = 6123
    job_port: int = 8099
    artifact_port: int = 8098
    expansion_port: int = 8097
    worker_pool_port: int = 50000
    taskmanagers: int = 2
    slots: int = 1
    taskmanager_memory: str = "2g"  # process size: heap, network buffers, managed memory
    jobmanager_memory: str = "1g"

    @classmethod
    def free_ports(cls, home: Path, **kwargs: Any) -> ClusterSpec:
        ports: dict[str, Any] = {name: free_port() for name in (
            "rest_port", "rpc_port", "job_port", "artifact_port", "expansion_port",
            "worker_pool_port")}
        return cls(home=home, **ports, **kwargs)

    @property
    def parallelism(self) -> int:
        return self.taskmanagers * self.slots


@dataclass
class Cluster:
    """A running cluster: its spec and the process ids of its parts."""

    spec: ClusterSpec
    pids: dict[str, int]
    started_in: float = 0.0  # seconds from start() to ready

    @property
    def rest_url(self) -> str:
        """The Flink REST API and web UI."""
        return f"http://127.0.0.1:{self.spec.rest_port}"

    @property
    def flink_master(self) -> str:
        return f"127.0.0.1:{self.spec.rest_port}"

    @property
    def job_endpoint(self) -> str:
        """Beam's job server: ``--runner PortableRunner --job_endpoint``."""
        return f"127.0.0.1:{self.spec.job_port}"

    @property
    def worker_pool(self) -> str:
        """The Python worker pool: ``--environment_type EXTERNAL --environment_config``."""
        return f"127.0.0.1:{self.spec.worker_pool_port}"

    @property
    def log_dir(self) -> Path:
        return self.spec.home / "log"


def ensure_flink_jars(release: str = FLINK_RELEASE) -> Path:
    """The JobManager's and TaskManagers' jars (``FLINK_MODULES`` and log4j), fetched once."""
    lib = cache_dir() / "flink" / f"flink-{release}" / "lib"
    done = lib.parent / ".complete"
    if done.exists():
        return lib
    with locked(lib.parent.parent / ".lock"):
        if done.exists():
            return lib
        lib.parent.mkdir(parents=True, exist_ok=True)
        deps = [("org.apache.flink", module, release) for module in FLINK_MODULES]
        deps += [("org.apache.logging.log4j", module, LOG4J_VERSION)
                 for module in ("log4j-slf4j-impl", "log4j-core", "log4j-api")]
        pom = lib.parent / "pom.xml"
        pom.write_text(_pom("flink-cluster", deps))
        with tempfile.TemporaryDirectory(dir=lib.parent) as out:
            process = subprocess.run(
                [_mvn(), "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                 f"-DoutputDirectory={out}", "-DincludeScope=runtime"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
            )
            if process.returncode != 0:
                raise ClusterError(f"could not fetch Flink {release}'s jars with mvn "
                                   f"(exit {process.returncode}):\n{process.stdout[-3000:]}")
            if lib.exists():
                for jar in lib.iterdir():
                    jar.unlink()
                lib.rmdir()
            os.replace(out, lib)
            lib.chmod(0o755)
        done.touch()
    return lib


def _pom(name: str, deps: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>" for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>newsflow</groupId><artifactId>{name}</artifactId><version>0</version>"
        f"<dependencies>{body}</dependencies></project>\n"
    )


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ClusterError("Maven (`mvn`) is needed once to fetch Flink's jars; install it "
                           "(Debian: maven)")
    return mvn


def _config(spec: ClusterSpec) -> str:
    """Flink's ``config.yaml``: every address and port on 127.0.0.1, files under ``home``."""
    home = spec.home
    settings: dict[str, Any] = {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": spec.rpc_port,
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.memory.process.size": spec.jobmanager_memory,
        "taskmanager.host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": spec.slots,
        "taskmanager.memory.process.size": spec.taskmanager_memory,
        # two TaskManagers of this size have too few network buffers for Flink's default
        # sort-shuffle minimum (512) in a batch job
        "taskmanager.network.sort-shuffle.min-buffers": 128,
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": spec.rest_port,
        "blob.server.port": "0",
        "parallelism.default": spec.parallelism,
        "io.tmp.dirs": str(home / "tmp"),
        "web.tmpdir": str(home / "tmp" / "web"),
        "blob.storage.directory": str(home / "tmp" / "blobs"),
        "high-availability.type": "NONE",
        "jobmanager.execution.failover-strategy": "region",
        "restart-strategy.type": "none",  # a failed job fails; the test or the user sees why
        "env.java.opts.all": " ".join([*JVM_FLAGS, *_FLINK_JVM_FLAGS]),
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def _resource_params(java: Path, lib: Path, conf: Path, command: str) -> tuple[list[str],
                                                                              list[str]]:
    """(JVM flags, ``-D`` options) for a JobManager or TaskManager, as Flink's scripts get them."""
    process = subprocess.run(
        [str(java), "-classpath", f"{lib}/*", _BASH_JAVA_UTILS, command, "--configDir", str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
    )
    results = [line[len(_RESULT_PREFIX):] for line in process.stdout.splitlines()
               if line.startswith(_RESULT_PREFIX)]
    if process.returncode != 0 or len(results) < 2:
        raise ClusterError(f"BashJavaUtils {command} failed (exit {process.returncode}):\n"
                           f"{process.stdout[-3000:]}")
    return results[-2].split(), results[-1].split()


def _tie_to_parent() -> None:
    """In the child: SIGTERM when the process that started it dies (a test run killed)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(name: str, argv: list[str], home: Path, tie_to_parent: bool) -> subprocess.Popen[bytes]:
    log = home / "log" / f"{name}.out"
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=home,
            start_new_session=True,
            preexec_fn=_tie_to_parent if tie_to_parent else None,
        )


def start(spec: ClusterSpec | None = None, *, timeout: float = 240.0,
          tie_to_parent: bool = False) -> Cluster:
    """Start the cluster ``spec`` describes and wait until every part answers.

    A cluster of ours already running in ``spec.home`` is returned as is. ``tie_to_parent``:
    each process gets SIGTERM when this process dies (a test run), so none is left behind.
    Raises ``ClusterError`` (with the failing part's log) when a part exits or the cluster is
    not ready within ``timeout`` seconds; whatever had started is stopped then.
    """
    spec = spec or ClusterSpec()
    running = _running(spec.home)
    if running is not None:
        return running
    began = time.monotonic()
    java = find_flink_java()
    try:
        flink_lib = ensure_flink_jars()
        job_server = ensure_flink_job_server()
    except RunnerSetupError as exc:
        raise ClusterError(str(exc)) from None
    home = spec.home
    for sub in ("conf", "log", "tmp/web", "tmp/blobs", "artifacts"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    conf = home / "conf"
    (conf / "config.yaml").write_text(_config(spec))
    (conf / "log4j.properties").write_text(_LOG4J_PROPERTIES)
    (conf / "logging.properties").write_text(_JUL_PROPERTIES)
    jm_jvm, jm_dynamic = _resource_params(java, flink_lib, conf, "GET_JM_RESOURCE_PARAMS")
    tm_jvm, tm_dynamic = _resource_params(java, flink_lib, conf, "GET_TM_RESOURCE_PARAMS")
    flags = [*JVM_FLAGS, *_FLINK_JVM_FLAGS]

    def flink(name: str, jvm: list[str], main: str, dynamic: list[str]) -> list[str]:
        return [
            str(java), *jvm, *flags, f"-Dlog.file={home / 'log' / (name + '.log')}",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            "-classpath", f"{flink_lib}/*", main, "--configDir", str(conf), *dynamic,
        ]

    commands = {"jobmanager": flink("jobmanager", jm_jvm, JOBMANAGER_MAIN,
                                    ["--executionMode", "cluster", *jm_dynamic])}
    for n in range(spec.taskmanagers):
        commands[f"taskmanager-{n + 1}"] = flink(f"taskmanager-{n + 1}", tm_jvm,
                                                 TASKMANAGER_MAIN, tm_dynamic)
    commands["jobserver"] = [
        str(java), "-Xmx512m", *flags,
        f"-Djava.util.logging.config.file={conf / 'logging.properties'}",
        "-jar", str(job_server),
        f"--flink-master=127.0.0.1:{spec.rest_port}", f"--flink-conf-dir={conf}",
        "--job-host=127.0.0.1", f"--job-port={spec.job_port}",
        f"--artifact-port={spec.artifact_port}", f"--expansion-port={spec.expansion_port}",
        f"--artifacts-dir={home / 'artifacts'}",
    ]
    commands["workerpool"] = [
        sys.executable, "-m", "local.workerpool", "--host", "127.0.0.1",
        "--port", str(spec.worker_pool_port), "--log", str(home / "log" / "sdk-workers.log"),
    ]
    processes: dict[str, subprocess.Popen[bytes]] = {}
    cluster = Cluster(spec, {})
    try:
        for name, argv in commands.items():
            processes[name] = _spawn(name, argv, home, tie_to_parent)
            cluster.pids[name] = processes[name].pid
        _write_state(cluster)
        _wait_ready(cluster, processes, began + timeout)
    except BaseException:
        stop(home)
        raise
    cluster.started_in = time.monotonic() - began
    _write_state(cluster)
    return cluster


def _wait_ready(cluster: Cluster, processes: dict[str, subprocess.Popen[bytes]],
                deadline: float) -> None:
    spec = cluster.spec
    checks: dict[str, Callable[[], bool]] = {
        "jobmanager": lambda: _taskmanagers_ready(cluster),
        "jobserver": lambda: _listening(spec.job_port),
        "workerpool": lambda: _listening(spec.worker_pool_port),
    }
    pending = dict(checks)
    while pending:
        for name, process in processes.items():
            if process.poll() is not None:
                raise ClusterError(f"{name} exited with {process.returncode} while starting; "
                                   f"its log:\n{_tail(cluster, name)}")
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if not pending:
            return
        if time.monotonic() > deadline:
            waiting = ", ".join(pending)
            raise ClusterError(f"the Flink cluster was not ready in time (waiting for "
                               f"{waiting}); logs in {cluster.log_dir}:\n"
                               f"{_tail(cluster, next(iter(pending)))}")
        time.sleep(0.5)


def _overview(cluster: Cluster) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{cluster.rest_url}/overview", timeout=2) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _taskmanagers_ready(cluster: Cluster) -> bool:
    overview = _overview(cluster) or {}
    spec = cluster.spec
    return bool(overview.get("taskmanagers") == spec.taskmanagers
                and overview.get("slots-total") == spec.parallelism)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _tail(cluster: Cluster, name: str, lines: int = 40) -> str:
    texts = []
    for path in (cluster.log_dir / f"{name}.log", cluster.log_dir / f"{name}.out"):
        if path.exists():
            texts += path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(texts[-lines:]) or "(no log)"


def _state_file(home: Path) -> Path:
    return home / "cluster.json"


def _write_state(cluster: Cluster) -> None:
    spec = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cluster.spec).items()}
    _state_file(cluster.spec.home).write_text(json.dumps(
        {"spec": spec, "pids": cluster.pids, "started_in": cluster.started_in}, indent=1))


def _read_state(home: Path) -> Cluster | None:
    try:
        state = json.loads(_state_file(home).read_text())
    except (OSError, ValueError):
        return None
    spec = ClusterSpec(**{**state["spec"], "home": Path(state["spec"]["home"])})
    return Cluster(spec, {k: int(v) for k, v in state["pids"].items()},
                   float(state.get("started_in", 0.0)))


def _ours(pid: int, home: Path) -> bool:
    """Whether ``pid`` is alive and one of this cluster's (its command line names ``home`` or
    its log directory), not a recycled pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return str(home) in cmdline


def _running(home: Path) -> Cluster | None:
    cluster = _read_state(home)
    if cluster is None or not cluster.pids:
        return None
    alive = [name for name, pid in cluster.pids.items() if _ours(pid, home)]
    if len(alive) == len(cluster.pids) and _taskmanagers_ready(cluster):
        return cluster
    return None


def status(home: Path | None = None) -> dict[str, Any]:
    """The cluster in ``home``: its addresses, which processes live, and Flink's overview."""
    home = home or default_home()
    cluster = _read_state(home)
    if cluster is None:
        return {"home": str(home), "running": False}
    alive = {name: _ours(pid, home) for name, pid in cluster.pids.items()}
    overview = _overview(cluster) or {}
    return {
        "home": str(home),
        "running": all(alive.values()) and bool(overview),
        "processes": alive,
        "rest_url": cluster.rest_url,
        "job_endpoint": cluster.job_endpoint,
        "worker_pool": cluster.worker_pool,
        "flink_version": overview.get("flink-version"),
        "taskmanagers": overview.get("taskmanagers", 0),
        "slots": overview.get("slots-total", 0),
        "jobs_running": overview.get("jobs-running", 0),
    }


def stop(home: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop this cluster's processes (each its own process group: the pool's workers go with
    it), SIGKILL after ``timeout``, and remove its scratch files (the logs stay); True when
    something was running."""
    home = home or default_home()
    cluster = _read_state(home)
    if cluster is None:
        return False
    ours = [pid for pid in cluster.pids.values() if _ours(pid, home)]
    stop_process_groups(ours, timeout)
    _state_file(home).unlink(missing_ok=True)
    for scratch in ("tmp", "artifacts"):  # jobs' jars and shuffle files: hundreds of MB
        shutil.rmtree(home / scratch, ignore_errors=True)
    return bool(ours)

