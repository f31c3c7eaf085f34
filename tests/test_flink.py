"""The batch and the streaming job on a real Flink cluster give the stories the local runner gives.

One Flink session cluster serves the whole run (the ``flink_cluster`` fixture: a JobManager and
two TaskManagers in their own JVMs, Beam's job server and a Python worker pool, on loopback).
Each test runs ``newsflow ingest`` on it and on the local runner over the same loopback web, each
into its own alias (``flinktest-<id>`` and ``flinktest-<id>-local``: one alias a prefix of the
other, whose index templates must not collide), and compares the story documents. The first run
on a machine fetches Flink's and the job server's jars with Maven (a minute or two, cached in
``local.cache_dir()``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.stream import GrowingSite
from local.demosite import build_site
from local.flinkcluster import Cluster
from local.siteserver import SiteServer
from newsflow import es
from newsflow.commands.deadletters import load
from pipelines import launcher, runners
from pipelines.launcher import Summary

SETUP_TIMEOUT = 900  # seconds: a cold Maven fetch of the jars, the cluster's start, two runs

# Counters of the dedupe path rather than of its outcome (stories, copies merged).
DEDUPE_DIAGNOSTICS = ("pairs_candidate", "pairs_verified", "buckets_oversized", "labels_unsettled")


@pytest.fixture
def aliases(es_url: str) -> Iterator[tuple[es.EsConfig, es.EsConfig]]:
    """(Flink's alias, the local runner's): ``flinktest-<id>`` and ``flinktest-<id>-local``."""
    flink = es.EsConfig(url=es_url, index=f"flinktest-{uuid.uuid4().hex[:8]}")
    local = es.EsConfig(url=es_url, index=f"{flink.index}-local")
    yield flink, local
    for config in (flink, local):
        es.delete_index(config)


def on_cluster(cluster: Cluster) -> list[str]:
    """Flags submitting a job to the cluster's job server, its SDK workers from the pool."""
    return runners.flink_runner_args(job_endpoint=cluster.job_endpoint,
                                     worker_pool=cluster.worker_pool)


def finished_jobs(cluster: Cluster) -> list[str]:
    with urllib.request.urlopen(f"{cluster.rest_url}/jobs/overview", timeout=10) as resp:
        jobs = json.loads(resp.read())["jobs"]
    return sorted(job["jid"] for job in jobs if job["state"] == "FINISHED")


def stories(config: es.EsConfig, relative_paths: set[str] = frozenset()) -> dict[str, Any]:
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


def outcomes(counters: dict[str, int]) -> dict[str, int]:
    """What a run did, without how dedupe found its pairs (keyed shuffles on Flink, one worker
    on the local batch runner: different by design)."""
    return {k: v for k, v in counters.items() if k not in DEDUPE_DIAGNOSTICS}


BATCH_FLAGS = ["--feed_state", "false", "--per_host_concurrency", "8", "--per_host_delay", "0",
               "--http_timeout", "5", "--http_allow_hosts", "127.0.0.0/8"]


@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
def test_batch_job_on_a_flink_cluster_indexes_what_the_local_runner_does(
    flink_cluster: Cluster, aliases: tuple[es.EsConfig, es.EsConfig], tmp_path: Path
) -> None:
    on_flink, on_local = aliases
    site = build_site(tmp_path / "site", feeds=4, articles=20, seed=11)
    feeds = tmp_path / "feeds.txt"
    jobs_before = finished_jobs(flink_cluster)

    def run(config: es.EsConfig, dead: Path, extra: list[str]) -> Summary:
        summary = launcher.run(["--feeds", str(feeds), "--es_url", config.url, "--es_index",
                                config.index, *BATCH_FLAGS, "--dead_letters", str(dead), *extra],
                               quiet=True)
        assert summary is not None
        return summary

    with SiteServer(site.root) as server:
        feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
        local = run(on_local, tmp_path / "local.jsonl", [])
        flink = run(on_flink, tmp_path / "flink.jsonl", on_cluster(flink_cluster))

    relative = {a["path"] for a in site.articles.values() if a["page_date"] == "relative"}
    local_docs, flink_docs = stories(on_local, relative), stories(on_flink, relative)
    assert len(local_docs) == len(site.stories)
    assert any(doc["copy_count"] > 1 for doc in local_docs.values())  # dedupe merged copies
    assert flink_docs.keys() == local_docs.keys()
    for story_id, doc in local_docs.items():
        assert flink_docs[story_id] == doc, story_id
    # It ran as one more finished job of the cluster, the same work was counted (only
    # newsflow's counters, not the system metrics Flink adds), and the broken feed is the one
    # dead letter on both.
    assert (local.runner, flink.runner) == ("FnApiRunner", "PortableRunner")
    assert local.ok() and flink.ok()
    assert len(finished_jobs(flink_cluster)) == len(jobs_before) + 1
    assert not any(name.startswith("metric:") for name in flink.counters)
    assert outcomes(flink.counters) == outcomes(local.counters)
    assert flink.counters["pairs_verified"] >= local.counters["pairs_verified"] > 0
    assert local.counters["docs_indexed"] == len(local_docs)
    assert flink.dead_letters == local.dead_letters == 1
    dead = [(d["step"], d["input"]) for d in load(tmp_path / "flink.jsonl")]
    assert dead == [(d["step"], d["input"]) for d in load(tmp_path / "local.jsonl")]


@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
def test_streaming_job_on_a_flink_cluster_ends_after_its_duration_with_every_story(
    flink_cluster: Cluster, aliases: tuple[es.EsConfig, es.EsConfig], tmp_path: Path
) -> None:
    """``--duration``: the source stops polling, the job drains and ends by itself, and every
    story of the demo web is there as the local batch job indexes it."""
    on_flink, on_local = aliases
    site = build_site(tmp_path / "site", feeds=4, articles=20, seed=11)
    feeds = tmp_path / "feeds.txt"
    with SiteServer(site.root) as server:
        feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
        local = launcher.run(["--feeds", str(feeds), "--es_url", on_local.url, "--es_index",
                              on_local.index, *BATCH_FLAGS,
                              "--dead_letters", str(tmp_path / "local.jsonl")], quiet=True)
        flink = launcher.run([
            "--streaming", "--duration=10", "--poll_interval=2", "--min_poll_interval=2",
            "--feeds", str(feeds), "--es_url", on_flink.url, "--es_index", on_flink.index,
            *BATCH_FLAGS, "--dead_letters", str(tmp_path / "flink.jsonl"),
            *on_cluster(flink_cluster)], quiet=True)
    assert local is not None and flink is not None
    assert flink.done and flink.ok()  # ended by itself: what `newsflow ingest` exits 0 for
    relative = {a["path"] for a in site.articles.values() if a["page_date"] == "relative"}
    assert stories(on_flink, relative) == stories(on_local, relative)
    # Polled again and again, each entry went on once.
    assert flink.counters["entries_parsed"] > local.counters["entries_parsed"]
    assert flink.counters["articles_from_page"] == local.counters["articles_from_page"]


def _searchable(configs: tuple[es.EsConfig, ...], urls: list[str]) -> bool:
    """Whether every URL is a copy of some story in every alias."""
    for config in configs:
        client = config.client()
        try:
            found = client.search(index=config.index, size=0, query={"terms": {
                "copies.fetched_url": urls}}, aggs={"urls": {"terms": {
                    "field": "copies.fetched_url", "size": 1000}}})
        except Exception:  # noqa: BLE001 - the index may not exist yet
            return False
        finally:
            client.close()
        present = {b["key"] for b in found["aggregations"]["urls"]["buckets"]}
        if not set(urls) <= present:
            return False
    return True


def _wait(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)


# The waits name a slow step; they and this bound are for a hang, not for speed.
@pytest.mark.slow
@pytest.mark.timeout(SETUP_TIMEOUT)
def test_streaming_job_on_a_flink_cluster_drains_with_the_stories_of_the_local_runner(
    flink_cluster: Cluster, aliases: tuple[es.EsConfig, es.EsConfig], tmp_path: Path
) -> None:
    """Both streaming jobs, without feed state, poll one live web at the same time: stories
    appear, a copy of an early story is published elsewhere, a feed joins the list, then both
    drain. Every item is found once per job, in the same stories."""
    on_flink, on_local = aliases
    site = GrowingSite(tmp_path / "site", feeds=4)
    a_title, a_paras = site.new_story()
    added = [site.add("f0", a_title, a_paras), site.add("f2", *site.new_story())]
    added.append(site.add("f3", *site.new_story()))  # f3 joins the feed list later
    problems: list[str] = []
    summaries: dict[str, Summary | None] = {}
    stops = {name: tmp_path / f"stop-{name}" for name in ("flink", "local")}

    with SiteServer(site.root) as server:
        base = server.url
        feeds_txt = site.feed_list(base, tmp_path / "feeds.txt")
        f3 = f"{base}{site.feed_path('f3')}"
        feeds_txt.write_text(feeds_txt.read_text().replace(f"{f3}\n", ""))

        def urls(paths: list[str]) -> list[str]:
            return [f"{base}{path}" for path in paths]

        def job(name: str, config: es.EsConfig, extra: list[str]) -> None:
            try:
                summaries[name] = launcher.run([
                    "--streaming", f"--feeds={feeds_txt}", f"--es_url={config.url}",
                    f"--es_index={config.index}", "--feed_state=false",
                    "--poll_interval=2", "--min_poll_interval=2", "--max_poll_interval=4",
                    "--duration=600",  # a bound: the driver drains both jobs long before
                    "--fetch_articles=false", "--ignore_robots", "--per_host_delay=0",
                    "--http_allow_hosts=127.0.0.0/8",
                    f"--dead_letters={tmp_path / (name + '.jsonl')}", *extra,
                ], quiet=True, stop_file=str(stops[name]))
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                problems.append(f"{name}: {exc!r}")
                for stop in stops.values():
                    stop.touch()

        def driver() -> None:
            both = (on_flink, on_local)
            try:
                _wait("the first stories searchable in both",
                      lambda: _searchable(both, urls(added[:2])), 300)
                # A new story, and a copy of the first one on another outlet.
                added.append(site.add("f1", *site.new_story()))
                added.append(site.add("f1", a_title, a_paras))
                _wait("the new story and the copy", lambda: _searchable(both, urls(added)[3:]),
                      180)
                # The feed list edited while the jobs run: the new feed is polled.
                with feeds_txt.open("a") as listing:
                    listing.write(f"{f3}\n")
                added.append(site.add("f0", *site.new_story()))
                _wait("every item", lambda: _searchable(both, urls(added)), 180)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                problems.append(f"driver: {exc!r}")
            finally:
                for stop in stops.values():
                    stop.touch()  # both drain: polling stops, open windows flush

        threads = [threading.Thread(target=job, args=("flink", on_flink,
                                                      on_cluster(flink_cluster)), daemon=True),
                   threading.Thread(target=driver, daemon=True)]
        for thread in threads:
            thread.start()
        job("local", on_local, [])  # in the main thread: Beam starts Prism's job service there
        for thread in threads:
            thread.join(120)

    assert not problems, problems
    flink, local = summaries["flink"], summaries["local"]
    assert flink is not None and local is not None
    assert flink.done and local.done  # drained, not cancelled: the job ended by itself
    assert flink.ok() and local.ok()  # what launcher.main turns into exit status 0
    assert (flink.runner, local.runner) == ("PortableRunner", "PrismRunner")
    flink_docs, local_docs = stories(on_flink), stories(on_local)
    assert _searchable((on_flink, on_local), urls(added))  # every item of the web
    assert flink_docs == local_docs
    assert any(doc["copy_count"] == 2 for doc in flink_docs.values())  # the copy merged
    assert len(flink_docs) == len(added) - 1
    for summary in (flink, local):
        # Each item went on at most once (all are searchable), though every poll read every
        # feed in full; a streaming job's last bundle may miss its counters (seen once in five
        # runs), so the count is bounded, not equal.
        assert 0 < summary.counters["articles_from_feed"] <= len(added), summary.runner
        assert summary.counters["entries_skipped_seen"] > 0, summary.runner
        assert summary.counters.get("docs_failed", 0) == 0
