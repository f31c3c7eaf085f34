"""`newsflow run --demo` (what `make run` runs): the demo site → the real node → a summary.

It runs without any allowlist in the environment, as a new user's would: the demo allows the
loopback address it serves itself, and nothing else.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from newsflow import es
from newsflow.cli import main
from newsflow.netguard import ALLOW_HOSTS_ENV


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_demo_run_indexes_the_demo_site_and_shows_searches(
        es_config: es.EsConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    monkeypatch.setenv("ES_URL", es_config.url)
    monkeypatch.chdir(tmp_path)  # its dead letters go to ./deadletters
    status = main(["run", "--demo", "--demo_dir", str(tmp_path / "site"),
                   "--demo_port", str(_free_port()), "--es_index", es_config.index])
    out = capsys.readouterr().out
    assert status == 0
    lines = dict(line.rsplit(None, 1) for line in out.splitlines()
                 if line[:1].isalpha() and "dead letters" not in line and "$" not in line)
    assert lines["articles from pages"] == "100"
    assert lines["new stories"] == "50" and lines["copies merged"] == "50"
    assert "$ newsflow search" in out
