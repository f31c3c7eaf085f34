"""The batch job on embedded Flink indexes exactly what the local runner indexes.

Issue 7 asks for the same pipeline on Apache Flink through Beam's portable Flink job server. This
runs ``newsflow ingest`` twice over one demo site on loopback, once on the local runner and once
with ``runners.flink_runner_args()`` (embedded Flink, LOOPBACK SDK workers), each into its own
fresh alias, and compares the story documents. The first run on a machine fetches the job server
with Maven (about a minute, cached in ``local.cache_dir()``); after that the whole
test takes 35-50 s, most of it the Flink job server starting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.demosite import build_site
from local.siteserver import SiteServer
from newsflow import es
from newsflow.commands.deadletters import load
from pipelines import launcher, runners
from pipelines.launcher import Summary

SETUP_TIMEOUT = 600  # seconds: a cold Maven fetch of the job server, then two runs

# Beam's own per-transform metrics, which the portable runner reports beside ours
# (``metric:element_count:v1``, ``metric:pardo_execution_time:...``); the local runner does not.
SYSTEM_METRIC = "metric:"


@pytest.fixture
def flink_config(es_url: str) -> Iterator[es.EsConfig]:
    """A second fresh alias beside ``es_config``, deleted afterwards."""
    config = es.EsConfig(url=es_url, index=f"test-flink-{uuid.uuid4().hex[:10]}")
    yield config
    es.delete_index(config)


def run(site_feeds: Path, config: es.EsConfig, dead: Path, extra: list[str]) -> Summary:
    summary = launcher.run(
        [
            "--feeds",
            str(site_feeds),
            "--es_url",
            config.url,
            "--es_index",
            config.index,
            "--feed_state",
            "false",
            "--per_host_concurrency",
            "8",
            "--per_host_delay",
            "0",
            "--http_timeout",
            "5",
            "--dead_letters",
            str(dead),
            *extra,
        ],
        quiet=True,
    )
    assert summary is not None
    return summary


def stories(config: es.EsConfig, relative_paths: set[str]) -> dict[str, dict[str, Any]]:
    """The alias's story documents by ``story_id``, without what depends on fetch time.

    That is ``fetched_at``, and a ``published_at`` that may come from a page's "N hours ago"
    line (resolved against the fetch time, so two runs resolve it seconds apart): a story's
    when its ``published_at_source`` is ``relative``, a copy's when its page (one of
    ``relative_paths``) dates itself that way.
    """
    client = config.client()
    try:
        client.indices.refresh(index=config.index)
        hits = client.search(index=config.index, size=1000, query={"match_all": {}})
    finally:
        client.close()
    out = {}
    for hit in hits["hits"]["hits"]:
        doc = dict(hit["_source"])
        assert hit["_id"] == doc["story_id"]
        doc.pop("fetched_at")
        if doc["published_at_source"] == "relative":
            doc.pop("published_at")
        doc["copies"] = [dict(copy) for copy in doc["copies"]]
        for copy in doc["copies"]:
            if urlsplit(copy["fetched_url"]).path in relative_paths:
                copy.pop("published_at", None)
        out[doc["story_id"]] = doc
    return out


# Counters of the dedupe path rather than of its outcome (stories, copies merged).
DEDUPE_DIAGNOSTICS = ("pairs_candidate", "pairs_verified", "buckets_oversized", "labels_unsettled")


@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
def test_batch_job_on_embedded_flink_indexes_what_the_local_runner_does(
    es_config: es.EsConfig, flink_config: es.EsConfig, tmp_path: Path
) -> None:
    flink_args = runners.flink_runner_args()  # fetches the job server on first use
    site = build_site(tmp_path / "site", feeds=4, articles=20, seed=11)
    feeds = tmp_path / "feeds.txt"
    with SiteServer(site.root) as server:
        feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
        local = run(feeds, es_config, tmp_path / "local.jsonl", [])
        flink = run(feeds, flink_config, tmp_path / "flink.jsonl", flink_args)

    relative = {a["path"] for a in site.articles.values() if a["page_date"] == "relative"}
    on_local, on_flink = stories(es_config, relative), stories(flink_config, relative)
    assert len(on_local) == len(site.stories)
    assert any(doc["copy_count"] > 1 for doc in on_local.values())  # dedupe merged copies
    assert on_flink.keys() == on_local.keys()
    for story_id, doc in on_local.items():
        assert on_flink[story_id] == doc, story_id
    # It ran on Flink, the same work was counted (the summary keeps only newsflow's counters,
    # not the system metrics Flink adds), and the broken feed is the one dead letter on both.
    # How dedupe found its pairs differs by design: keyed shuffles on Flink, one worker locally.
    assert (local.runner, flink.runner) == ("FnApiRunner", "FlinkRunner")
    assert not any(name.startswith(SYSTEM_METRIC) for name in flink.counters)  # only ours

    def outcomes(counters: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in counters.items() if k not in DEDUPE_DIAGNOSTICS}

    assert outcomes(flink.counters) == outcomes(local.counters)
    assert flink.counters["pairs_verified"] >= local.counters["pairs_verified"] > 0
    assert local.counters["docs_indexed"] == len(on_local)
    assert flink.dead_letters == local.dead_letters == 1
    dead = [(d["step"], d["input"]) for d in load(tmp_path / "flink.jsonl")]
    assert dead == [(d["step"], d["input"]) for d in load(tmp_path / "local.jsonl")]
