"""The local Flink cluster's parts that need no cluster: its configuration, its state file, and
``newsflow flink cluster`` when none runs. The cluster itself is tested by ``test_flink.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local import flinkcluster
from local.flinkcluster import Cluster, ClusterSpec


def test_every_address_of_the_cluster_is_loopback(tmp_path: Path) -> None:
    spec = ClusterSpec.free_ports(tmp_path)
    config = dict(line.split(": ", 1) for line in flinkcluster._config(spec).splitlines())
    addresses = {k: json.loads(v) for k, v in config.items()
                 if k.endswith((".address", ".host", "bind-host", "bind-address"))}
    assert set(addresses) >= {"jobmanager.rpc.address", "jobmanager.bind-host",
                              "taskmanager.host", "taskmanager.bind-host", "rest.address",
                              "rest.bind-address"}
    assert set(addresses.values()) == {"127.0.0.1"}
    assert json.loads(config["rest.port"]) == spec.rest_port
    assert json.loads(config["parallelism.default"]) == spec.taskmanagers * spec.slots
    assert len({spec.rest_port, spec.rpc_port, spec.job_port, spec.artifact_port,
                spec.expansion_port, spec.worker_pool_port}) == 6


def test_stop_ends_only_processes_of_its_own_cluster(tmp_path: Path) -> None:
    # A state file naming a process that is not the cluster's (this test's own): left alone.
    flinkcluster._write_state(Cluster(ClusterSpec(home=tmp_path), {"jobmanager": os.getpid()}))
    assert flinkcluster.stop(tmp_path) is False
    assert not (tmp_path / "cluster.json").exists()
    assert flinkcluster.status(tmp_path) == {"home": str(tmp_path), "running": False}


def test_cluster_status_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "newsflow.cli", "flink", "cluster", "status"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NEWSFLOW_CACHE": str(tmp_path)})
    assert done.returncode == 3
    assert "newsflow flink cluster start" in done.stdout


@pytest.mark.parametrize("action", ["stop"])
def test_cluster_stop_without_a_cluster_stops_nothing(tmp_path: Path, action: str) -> None:
    done = subprocess.run([sys.executable, "-m", "newsflow.cli", "flink", "cluster", action],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NEWSFLOW_CACHE": str(tmp_path)})
    assert done.returncode == 0
    assert done.stdout.strip() == "no cluster of ours was running"
