"""`newsflow es start|stop|status` against a second real node on its own port."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from local import esnode
from newsflow.cli import main

PORT = 9217


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


@pytest.fixture
def second_node() -> esnode.LocalNode:
    node = esnode.LocalNode(port=PORT, heap="512m")
    yield node
    esnode.stop(node)


def test_start_twice_then_stop_leaves_nothing_running(
    second_node: esnode.LocalNode, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["es", "start", "--port", str(PORT), "--heap", "512m"]) == 0
    first_pid = second_node.pid_file.read_text()
    assert main(["es", "start", "--port", str(PORT), "--json"]) == 0  # harmless: already running
    assert second_node.pid_file.read_text() == first_pid
    status = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status["running"] is True
    assert status["version"] == esnode.ES_VERSION
    assert "x-pack-core" in status["modules"]
    assert processes_mentioning(str(second_node.home))

    assert main(["es", "stop", "--port", str(PORT)]) == 0
    assert processes_mentioning(str(second_node.home)) == []
    assert esnode.health(second_node.url) is None
    assert main(["es", "status", "--port", str(PORT)]) == 3


def test_java_home_is_21_or_newer() -> None:
    home = esnode.find_java_home()
    assert esnode._java_major(home) >= esnode.MIN_JAVA
