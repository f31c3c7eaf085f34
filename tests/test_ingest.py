"""The batch job end to end: the demo site on loopback → the real Elasticsearch node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.demosite import SiteManifest, build_site
from local.siteserver import SiteServer
from newsflow import es
from newsflow.commands.deadletters import load, retry_feeds
from pipelines import launcher
from pipelines.launcher import Summary


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteManifest, SiteServer]]:
    site = build_site(tmp_path_factory.mktemp("site"), feeds=6, articles=40, copy_rate=0.4, seed=3)
    with SiteServer(site.root) as server:
        yield site, server


def run_demo(
    demo: tuple[SiteManifest, SiteServer], config: es.EsConfig, tmp: Path, name: str
) -> Summary:
    site, server = demo
    feeds = tmp / "feeds.txt"
    feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
    summary = launcher.run(
        [
            "--feeds",
            str(feeds),
            "--es_url",
            config.url,
            "--es_index",
            config.index,
            "--per_host_concurrency",
            "8",
            "--per_host_delay",
            "0",
            "--http_timeout",
            "5",
            "--dead_letters",
            str(tmp / f"{name}.jsonl"),
        ],
        quiet=True,
    )
    assert summary is not None
    return summary


def indexed(config: es.EsConfig) -> list[dict]:
    client = config.client()
    client.indices.refresh(index=config.index)
    hits = client.search(index=config.index, size=1000, query={"match_all": {}})["hits"]["hits"]
    client.close()
    return [h["_source"] for h in hits]


def test_demo_site_end_to_end(
    demo: tuple[SiteManifest, SiteServer], es_config: es.EsConfig, tmp_path: Path
) -> None:
    site, server = demo
    first = run_demo(demo, es_config, tmp_path, "first")
    stories = indexed(es_config)

    # Every article of the site is listed in the copies of exactly one story ...
    where: dict[str, str] = {}
    for story in stories:
        for copy in story["copies"]:
            path = copy["fetched_url"].replace(server.url, "").split("?")[0]
            assert path not in where, f"{path} in two stories"
            where[path] = story["story_id"]
        assert story["copy_count"] == len(story["copies"])
    assert set(where) == {a["path"] for a in site.articles.values()}
    # ... and the stories are the site's stories.
    got = {frozenset(p for p, s in where.items() if s == sid) for sid in set(where.values())}
    want = {frozenset(site.articles[a]["path"] for a in ids) for ids in site.stories.values()}
    assert got == want
    assert len(stories) == len(site.stories)

    # The broken feed is a dead letter, and the summary's numbers match the index.
    dead = load(tmp_path / "first.jsonl")
    broken = [f["url"].replace("{BASE}", server.url) for f in site.feeds if f["state"] == "broken"]
    assert [(d["step"], d["input"]) for d in dead] == [("fetch", broken[0])]
    assert retry_feeds(dead) == broken  # a 500 is transient: `deadletters retry` would refetch it
    assert first.dead_letters == 1
    assert first.counters["feeds_failed"] == 1
    assert first.counters["docs_indexed"] == len(stories)
    assert first.counters["stories_new"] == len(stories)
    assert first.counters["stories_new"] + first.counters["copies_merged"] == len(site.articles)
    assert first.articles == len(site.articles)
    assert first.ok()

    # Search finds a story by a phrase of its title and by its day.
    story = next(s for s in stories if s["copy_count"] > 1)
    phrase = " ".join(story["title"].split()[:5])
    assert story["story_id"] in [h["story_id"] for h in es.search(es_config, f'"{phrase}"')["hits"]]
    day = story["published_at"][:10]
    in_day = es.search(es_config, date_from=day, date_to=day, size=100)["hits"]
    assert story["story_id"] in [h["story_id"] for h in in_day]
    assert all(h["published_at"][:10] == day for h in in_day)

    # A re-run: every working feed answers 304, nothing new is indexed, the index is unchanged.
    requests_before = len(server.requests)
    second = run_demo(demo, es_config, tmp_path, "second")
    assert second.counters["feeds_not_modified"] == len(site.feeds) - 1
    assert second.counters.get("feeds_fetched", 0) == 0
    assert second.counters.get("docs_indexed", 0) == 0
    new_requests = server.requests[requests_before:]
    assert all(r.status in (304, 500) or r.path == "/robots.txt" for r in new_requests)
    assert json.dumps(
        sorted(indexed(es_config), key=lambda s: s["story_id"]), sort_keys=True
    ) == json.dumps(sorted(stories, key=lambda s: s["story_id"]), sort_keys=True)


def test_unreachable_elasticsearch_fails_the_run_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("http://127.0.0.1:9/feed.xml\n")
    argv = ["--feeds", str(feeds), "--es_url", "http://127.0.0.1:9"]
    assert launcher.run(argv, quiet=True) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "newsflow ingest: Elasticsearch at http://127.0.0.1:9 is unreachable: connection refused"
    ]


def test_bad_options_are_named_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        launcher.run(
            ["--feeds", str(tmp_path / "missing.txt"), "--per_host_concurrency", "0"], quiet=True
        )
        is None
    )
    err = capsys.readouterr().err
    assert "missing.txt: no such file" in err
    assert "per_host_concurrency" in err


@pytest.mark.parametrize(
    ("argv", "starts"),
    [
        ([], True),  # the local runner, one worker per core (this machine has several)
        (["--extract_workers", "2"], True),
        (["--extract_workers", "1"], False),  # extraction runs in the DoFn's thread
        (["--fetch_articles", "false"], False),  # no pages, nothing to extract
        (["--runner", "FlinkRunner"], False),  # the workers run elsewhere
    ],
)
def test_the_fork_server_is_started_early_only_for_a_local_job_that_extracts_in_a_pool(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], starts: bool
) -> None:
    from newsflow.extract import pool
    from pipelines import launcher as command

    calls: list[None] = []
    monkeypatch.setattr(pool, "prestart", lambda: calls.append(None))
    monkeypatch.setattr(command.os, "cpu_count", lambda: 2)
    command._prestart_extraction(argv)
    assert calls == ([None] if starts else [])
