"""The Beam Flink job server for ``--runner flink``, fetched once with Maven.

Beam starts the job server it is given (``--flink_job_server_jar``) with an embedded Flink
(``--flink_master=[local]``) or pointed at a real cluster; ``local.flinkcluster`` runs one
beside a local cluster. We fetch Beam's official ``beam-runners-flink-<flink>-job-server`` jar
with ``mvn`` when the registry has it. Where it does not (Maven Central, as this project reaches
it, serves no job server jar and ``beam-runners-flink-*`` only up to 2.70.0, for Flink 1.19), we
assemble the job server from ``beam-runners-flink-1.19:2.70.0`` (which holds
``FlinkJobServerDriver``) and its dependencies, behind a manifest-only jar whose ``Class-Path``
lists them. One of those, ``beam-runners-java-job-service``, is served up to 2.65.0 only: the
assembly pins it (with the expansion service and Java harness it brings) to that release; every
class the 2.70 runner calls in it links (``docs/design.md``). The portable job API lets the
Python 2.77 SDK submit to it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from local import RunnerSetupError, cache_dir, locked
from local.prism import beam_version

__all__ = [
    "FLINK_RELEASE", "FLINK_VERSION", "JVM_FLAGS", "ensure_flink_job_server", "find_flink_java",
]

# The Flink minor the job server embeds, and the Beam Java release of the assembled fallback,
# with the newest beam-runners-java-job-service the registry serves (2.70.0 is not served).
FLINK_VERSION = "1.19"
FLINK_FALLBACK_BEAM_JAVA = "2.70.0"
FLINK_FALLBACK_JOB_SERVICE = "2.65.0"
# The Flink release beam-runners-flink-1.19:2.70.0 is built against: what local clusters run.
FLINK_RELEASE = "1.19.0"
FLINK_JOB_SERVER_MAIN = "org.apache.beam.runners.flink.FlinkJobServerDriver"
# What Flink's own launch scripts open on Java 17 (its Kryo serialiser reflects into JDK classes).
JVM_FLAGS = [
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
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.apache.beam</groupId>
        <artifactId>beam-runners-java-job-service</artifactId>
        <version>{job_service}</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.beam</groupId>
      <artifactId>beam-runners-flink-{flink}</artifactId>
      <version>{beam}</version>
    </dependency>
    <dependency>
      <!-- the job server's log, through java.util.logging -->
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-jdk14</artifactId>
      <version>2.0.16</version>
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
    (work / "pom.xml").write_text(_ASSEMBLY_POM.format(
        flink=flink_version, beam=beam_java, job_service=FLINK_FALLBACK_JOB_SERVICE))
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
            f"dependencies (job service {FLINK_FALLBACK_JOB_SERVICE}) with mvn "
            f"(exit {process.returncode}):\n{process.stdout[-4000:]}"
        )
    # Beam's own jars of this release first: the older Java harness bundles copies of some
    # runners-core classes, which must not shadow the release's.
    class_path = [f"lib/{jar.name}" for jar in sorted(
        lib.glob("*.jar"), key=lambda jar: (not jar.name.endswith(f"-{beam_java}.jar"), jar.name))]
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
    with locked(cache / ".lock"):
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
