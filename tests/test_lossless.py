"""No article lost to a page that is down for a while: it stays due until read from its page.

The demo web on loopback, with one page in five answering 503 for a whole run: the run indexes
the feed's text in their place and says so in transient dead letters holding the entries. Once
the pages are back, one `newsflow deadletters retry` or one more run reads them, and every
article is then indexed from its page, in the story it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.demosite import SiteManifest, build_site
from local.siteserver import SiteServer
from newsflow import es
from newsflow.cli import main
from newsflow.commands.deadletters import load
from pipelines import launcher


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[SiteManifest, SiteServer]]:
    site = build_site(tmp_path / "site", feeds=6, articles=40, copy_rate=0.4, seed=3)
    with SiteServer(site.root) as server:
        yield site, server


def _argv(site: SiteManifest, server: SiteServer, config: es.EsConfig, dead: Path) -> list[str]:
    feeds = dead.with_suffix(".feeds.txt")
    feeds.write_text("\n".join(site.feed_urls(server.url)) + "\n")
    return ["--feeds", str(feeds), "--es_url", config.url, "--es_index", config.index,
            "--per_host_concurrency", "8", "--per_host_delay", "0", "--http_retries", "1",
            "--dead_letters", str(dead)]


def _stories(config: es.EsConfig) -> list[dict]:
    es.refresh(config)
    return [h for h in es.search(config, size=1000)["hits"]]


def _copies_by_path(stories: list[dict], base: str) -> dict[str, tuple[str, str]]:
    """Each article page: (its story, where its text came from)."""
    return {c["fetched_url"].replace(base, "").split("?")[0]: (s["story_id"], c["body_source"])
            for s in stories for c in s["copies"]}


def _first_run_with_pages_down(site: SiteManifest, server: SiteServer, config: es.EsConfig,
                               dead: Path) -> set[str]:
    pages = sorted(a["path"] for a in site.articles.values())
    down = set(pages[::5])
    server.down |= down
    summary = launcher.run(_argv(site, server, config, dead), quiet=True)
    assert summary is not None
    assert summary.counters["pages_due"] == len(down)
    held = [d for d in load(dead) if d["step"] == "normalise"]
    assert sorted(d["context"]["entry"]["url"].replace(server.url, "").split("?")[0]
                  for d in held) == sorted(down)
    assert all(d["transient"] for d in held)
    stood_in = {p for p, (_, source) in _copies_by_path(_stories(config), server.url).items()
                if source == "feed"}
    assert stood_in == down  # indexed meanwhile, from the feed's text
    server.down.clear()
    return down


def _all_from_their_pages_in_their_stories(site: SiteManifest, server: SiteServer,
                                           config: es.EsConfig) -> None:
    where = _copies_by_path(_stories(config), server.url)
    assert set(where) == {a["path"] for a in site.articles.values()}
    assert {source for _, source in where.values()} == {"page"}
    got = {frozenset(p for p, (s, _) in where.items() if s == sid)
           for sid in {s for s, _ in where.values()}}
    want = {frozenset(site.articles[a]["path"] for a in ids) for ids in site.stories.values()}
    assert got == want


def test_pages_down_for_a_run_are_read_by_one_retry(
        demo: tuple[SiteManifest, SiteServer], state: es.EsConfig, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    site, server = demo
    dead = tmp_path / "first.jsonl"
    down = _first_run_with_pages_down(site, server, state, dead)
    before = len(server.requests)
    monkeypatch.chdir(tmp_path)
    assert main(["deadletters", "retry", "--path", str(dead), "--es_url", state.url,
                 "--es_index", state.index, "--per_host_delay", "0"]) == 0
    fetched = {r.path.split("?")[0] for r in server.requests[before:] if r.path != "/robots.txt"}
    broken = {f["url"].replace("{BASE}", "") for f in site.feeds if f["state"] == "broken"}
    assert fetched == down | broken  # those pages and the feed that failed, nothing else
    _all_from_their_pages_in_their_stories(site, server, state)


def test_pages_down_for_a_run_are_read_by_the_next_run(
        demo: tuple[SiteManifest, SiteServer], state: es.EsConfig, tmp_path: Path) -> None:
    site, server = demo
    down = _first_run_with_pages_down(site, server, state, tmp_path / "first.jsonl")
    before = len(server.requests)
    second = launcher.run(_argv(site, server, state, tmp_path / "second.jsonl"),
                          quiet=True)
    assert second is not None and second.counters["articles_from_page"] == len(down)
    pages = {r.path.split("?")[0] for r in server.requests[before:]
             if r.path.startswith("/pages/")}
    assert pages == down  # only the pages still due
    _all_from_their_pages_in_their_stories(site, server, state)
