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


class _Caller:
    """A gRPC call context as the pool sees it: who is asking."""

    def __init__(self, peer: str) -> None:
        self._peer = peer

    def peer(self) -> str:
        return self._peer


def test_the_worker_pool_stops_the_callers_worker_when_two_taskmanagers_share_an_id(
    tmp_path: Path,
) -> None:
    from apache_beam.portability.api import beam_fn_api_pb2, endpoints_pb2

    from local.workerpool import _WorkerPool

    pool = _WorkerPool(tmp_path / "workers.log", state_cache_size=0)
    nowhere = endpoints_pb2.ApiServiceDescriptor(url=f"127.0.0.1:{flinkcluster.free_port()}")
    start = beam_fn_api_pb2.StartWorkerRequest(worker_id="1-1", control_endpoint=nowhere)
    # Each TaskManager numbers its workers from 1: both ask for worker 1-1.
    for taskmanager in ("ipv4:127.0.0.1:40001", "ipv4:127.0.0.1:40002"):
        assert not pool.StartWorker(start, _Caller(taskmanager)).error
    (first, a), (second, b) = pool._workers["1-1"]
    try:
        assert (first, second) == ("ipv4:127.0.0.1:40001", "ipv4:127.0.0.1:40002")
        stop = beam_fn_api_pb2.StopWorkerRequest(worker_id="1-1")
        pool.StopWorker(stop, _Caller("ipv4:127.0.0.1:40002"))
        assert b.poll() is not None and a.poll() is None  # the caller's worker, not the other's
        pool.StopWorker(stop, _Caller("ipv4:127.0.0.1:49999"))  # a new connection: the only one
        assert a.poll() is not None
    finally:
        pool.stop_all()
