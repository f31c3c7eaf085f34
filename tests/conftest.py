"""Shared fixtures: the real Elasticsearch node, a fresh index alias per test, a Flink cluster.

With ``ES_URL`` set the tests use that cluster; otherwise they start (or reuse) the local node
that ``newsflow es start`` manages. Each test that asks for ``es_config`` gets its own alias,
deleted afterwards, so tests never see each other's documents. ``flink_cluster`` is one real
Flink session cluster for the whole run (``local.flinkcluster``, on free loopback ports),
started by the first test that asks for it and stopped at the end of the run.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from local import esnode
from newsflow import es
from newsflow.feedstate import state_index
from newsflow.netguard import ALLOW_HOSTS_ENV
from pipelines import runners
from tests.loopback import loopback  # noqa: F401  (the loopback HTTP server fixture)

if TYPE_CHECKING:
    from local.flinkcluster import Cluster

# Every TestPipeline() runs on the local batch runner newsflow uses. Beam's default DirectRunner
# would first try Prism by downloading it (no network here), and Beam then keeps that failed
# Prism job server for later pipelines in the process: a Prism test after it would fail.
# TestStream pipelines pass their own options (runner DirectRunner: Prism is skipped for them).
TestPipeline.pytest_test_pipeline_options = " ".join(runners.local_runner_args(streaming=False))
runners.quiet_runner_logs()

# The tests' servers are on loopback, which newsflow refuses unless allowed: every job and
# command a test runs allows it, as a user would for their own servers. Tests of the refusal
# itself remove this (monkeypatch.delenv).
os.environ[ALLOW_HOSTS_ENV] = "127.0.0.0/8,::1/128"


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("ES_URL")
    if url:
        return url.rstrip("/")
    return esnode.start().url


@pytest.fixture
def es_config(es_url: str) -> Iterator[es.EsConfig]:
    config = es.EsConfig(url=es_url, index=f"test-{uuid.uuid4().hex[:10]}")
    yield config
    es.delete_index(config)


@pytest.fixture
def state(es_config: es.EsConfig) -> Iterator[es.EsConfig]:
    """``es_config`` whose feed-state index (``<alias>_feeds``) is deleted afterwards too."""
    yield es_config
    client = es_config.client()
    try:
        client.indices.delete(index=state_index(es_config), ignore_unavailable=True)
    finally:
        client.close()


@pytest.fixture
def held_pool_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Extraction pools made meanwhile start their workers only once the event is set (and at
    the end of the test at the latest)."""
    from newsflow.extract.pool import ExtractionPool

    gate = threading.Event()
    start = ExtractionPool._start

    def held(self: ExtractionPool, workers: int) -> None:
        gate.wait(60)
        start(self, workers)

    monkeypatch.setattr(ExtractionPool, "_start", held)
    yield gate
    gate.set()


@pytest.fixture(scope="session")
def flink_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A JobManager, two TaskManagers, Beam's job server and a worker pool, for the whole run.

    Its processes get SIGTERM should this run die before the teardown (``tie_to_parent``).
    """
    from local import flinkcluster

    spec = flinkcluster.ClusterSpec.free_ports(tmp_path_factory.mktemp("flink-cluster"))
    cluster = flinkcluster.start(spec, tie_to_parent=True)
    try:
        yield cluster
    finally:
        flinkcluster.stop(spec.home)
