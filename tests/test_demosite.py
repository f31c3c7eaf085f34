"""The demo site generator: reproducible, internally consistent, and hard where it should be."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from local.demosite import BASE_TIME, build_site, build_synthetic_web, synthetic_story
from local.demostories import FINANCE_DISCLAIMER, SAME_EVENT, STORIES
from newsflow import cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("demo")
    build_site(root)
    return root, json.loads((root / "expected.json").read_text())


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def page(root: Path, article: dict[str, Any]) -> str:
    return (root / article["path"].lstrip("/")).read_text(encoding="utf-8")


def paragraphs(html: str) -> list[str]:
    """The article's own paragraphs (plain <p>; bylines, captions and widgets have a class)."""
    return re.findall(r"<p>(.*?)</p>", html.split("<main>")[1])


def words(text: str) -> list[str]:
    return re.findall(r"\w+", re.sub(r"<[^>]+>", " ", text).lower())


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def test_same_seed_same_bytes_other_seed_other_site(tmp_path: Path) -> None:
    build_site(tmp_path / "a", seed=3)
    build_site(tmp_path / "b", seed=3)
    build_site(tmp_path / "c", seed=4)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_default_site_counts(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    articles = expected["articles"]
    assert len(articles) == 100
    assert sum(not a["original"] for a in articles.values()) == 50
    assert len(expected["stories"]) == 50
    assert sorted(i for ids in expected["stories"].values() for i in ids) == sorted(articles)
    for ids in expected["stories"].values():
        assert sum(articles[i]["original"] for i in ids) == 1  # one original per story
    assert Counter(a["kind"] for a in articles.values()).keys() == {
        "original", "wire", "aggregator", "excerpt"}


def test_feeds_txt_lists_working_broken_but_not_slow_feeds(
    demo: tuple[Path, dict[str, Any]], tmp_path: Path,
) -> None:
    root, expected = demo
    lines = (root / "feeds.txt").read_text().splitlines()
    assert len(lines) == 10 and all(line.startswith("{BASE}/") for line in lines)
    assert [line for line in lines if line.startswith("{BASE}/error/")] == [
        "{BASE}/error/eveningstar.example.rss"]
    assert not any("/slow/" in line for line in lines)
    assert lines == [f["url"] for f in expected["feeds"]]

    slow = build_site(tmp_path, slow_feed=True)
    assert [f["url"] for f in slow.feeds if f["state"] == "slow"] == [
        "{BASE}/slow/latenight.example.rss"]
    assert len(slow.feed_urls("http://127.0.0.1:9")) == 11
    assert slow.feed_urls("http://127.0.0.1:9/")[0].startswith("http://127.0.0.1:9/feeds/")


def test_every_feed_parses_and_links_exactly_its_articles(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    root, expected = demo
    versions, undated, offsets = set(), 0, set()
    for feed in expected["feeds"]:
        if feed["state"] in ("broken", "slow"):
            assert feed["articles"] == []
            continue
        parsed = feedparser.parse(str(root / feed["url"].removeprefix("{BASE}/")))
        assert bool(parsed.bozo) == (feed["state"] == "malformed"), feed["url"]
        versions.add(parsed.version)
        links = sorted(e.link for e in parsed.entries)
        assert links == sorted(expected["articles"][i]["link"] for i in feed["articles"])
        undated += sum(not (e.get("published") or e.get("updated")) for e in parsed.entries)
        raw = (root / feed["url"].removeprefix("{BASE}/")).read_text()
        offsets |= set(re.findall(r"[+-]\d\d:?\d\d(?=<)", raw))
    assert {"rss20", "atom10", "rss10"} <= versions
    assert undated > 0
    assert len(offsets - {"+0000", "+00:00"}) >= 3  # dates in several time zones
    assert sum("utm_source=" in a["link"] for a in expected["articles"].values()) > 0


def test_pages_exist_and_name_their_outlet(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    on_disk = {"/" + str(p.relative_to(root)) for p in (root / "pages").rglob("*.html")}
    assert on_disk == {a["path"] for a in expected["articles"].values()}
    for a in expected["articles"].values():
        html = page(root, a)
        assert a["path"].startswith(f"/pages/{a['outlet']}/")
        assert a["link"].split("?")[0] == "{BASE}" + a["path"]
        assert 'property="og:site_name"' in html
        assert "cookie-banner" in html and "<footer>" in html and "<nav>" in html
        canonical = re.search(r'<link rel="canonical" href="([^"]+)"', html)
        if canonical:
            assert canonical.group(1) == a["url"]
            assert a["url"].startswith(f"https://{a['outlet']}/")
        else:
            assert a["url"] == "{BASE}" + a["path"]


def test_page_dates_agree_with_expected(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    seen: Counter[str] = Counter()
    for a in expected["articles"].values():
        html = page(root, a)
        published = datetime.fromisoformat(a["published_at"].replace("Z", "+00:00"))
        assert published < BASE_TIME
        pattern = {"time": r'<time datetime="([^"]+)"', "jsonld": r'"datePublished": "([^"]+)"',
                   "meta": r'article:published_time" content="([^"]+)"'}.get(a["page_date"])
        seen[a["page_date"]] += 1
        if pattern is None:
            assert a["page_date"] == "relative" and re.search(r"\d+ hours? ago", html)
            continue
        match = re.search(pattern, html)
        assert match, a["path"]
        assert datetime.fromisoformat(match.group(1)) == published
    assert set(seen) == {"time", "jsonld", "meta", "relative"}


def test_wire_copies_are_retitled_datelined_cut_and_restyled(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    root, expected = demo
    arts = expected["articles"]
    wires = [a for a in arts.values() if a["kind"] == "wire"]
    assert wires
    for copy in wires:
        original = next(arts[i] for i in expected["stories"][copy["story"]]
                        if arts[i]["original"])
        assert original["outlet"] == "cpa.example"
        assert copy["title"] != original["title"]
        copy_text, source_text = paragraphs(page(root, copy)), paragraphs(page(root, original))
        assert copy_text[0].startswith(f"{copy_text[0].split(' (CPA)')[0]} (CPA) \u2014 ")
        assert len(copy_text) == len(source_text) - 1  # one paragraph cut
        assert "\u201c" not in " ".join(copy_text)  # straight quotes on the copy
        a, b = shingles(" ".join(copy_text)), shingles(" ".join(source_text))
        assert len(a & b) / len(a | b) > 0.5
        assert "Continental Press Agency" in page(root, copy)
    quoted = [w for w in wires if '"' in " ".join(paragraphs(page(root, w)))]
    assert quoted  # the restyling is visible somewhere


def test_aggregator_copies_look_like_the_seed(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    reposts = [a for a in expected["articles"].values() if a["kind"] == "aggregator"]
    assert reposts
    for a in reposts:
        html = page(root, a)
        for marker in ("Share with:", "Image caption,", "Category: News", "View ", " ago<"):
            assert marker in html, marker
        body = html.split('<div class="source-block">')[1].split("</div><div")[0]
        last = re.findall(r"<p>([^<]*)</p>", body)[-1]
        assert re.search(r"\w$", last)  # cut in the middle of a word, no full stop


def test_excerpts_point_to_the_original_outlet(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    arts = expected["articles"]
    excerpts = [a for a in arts.values() if a["kind"] == "excerpt"]
    assert excerpts
    for a in excerpts:
        original = next(arts[i] for i in expected["stories"][a["story"]] if arts[i]["original"])
        assert f"Read more at <a href=\"https://{original['outlet']}/\">" in page(root, a)
        assert page(root, a).count("<p>") <= 4


def test_must_not_merge_cases(demo: tuple[Path, dict[str, Any]]) -> None:
    root, expected = demo
    arts = expected["articles"]
    pairs = expected["must_not_merge"]
    assert pairs
    for x, y in pairs:
        assert arts[x]["story"] != arts[y]["story"]
    fire_titles = {s.title for s in STORIES if s.key in SAME_EVENT}
    fire = [k for k, a in arts.items() if a["title"] in fire_titles and a["original"]]
    assert sorted(fire) in [sorted(p) for p in pairs]
    assert arts[fire[0]]["outlet"] != arts[fire[1]]["outlet"]
    disclaimed = [k for k, a in arts.items() if FINANCE_DISCLAIMER in page(root, a)]
    assert len(disclaimed) >= 2
    assert len({arts[k]["story"] for k in disclaimed}) == len(disclaimed)


def test_hand_written_stories_are_complete_and_distinct() -> None:
    assert len(STORIES) >= 35
    assert len({s.key for s in STORIES}) == len(STORIES)
    assert set(SAME_EVENT) <= {s.key for s in STORIES}
    for story in STORIES:
        assert 4 <= len(story.paragraphs) <= 8, story.key
        assert story.title != story.alt_title and story.byline and story.caption
    sets = [shingles(" ".join(s.paragraphs)) for s in STORIES]
    for a, b in itertools.combinations(sets, 2):
        assert len(a & b) / len(a | b) < 0.1


def test_synthetic_stories_do_not_look_like_each_other() -> None:
    rng = random.Random(5)
    stories = [synthetic_story(rng, f"s{n}") for n in range(300)]
    assert len({s.title for s in stories}) > 250
    sets = [shingles(" ".join(s.paragraphs)) for s in stories]
    worst = max(len(a & b) / len(a | b) for a, b in itertools.combinations(sets, 2))
    assert worst < 0.3
    for s in stories:
        assert 2 <= len(s.paragraphs) <= 6 and "{" not in " ".join(s.paragraphs)


def test_synthetic_web_is_large_balanced_and_has_copies(tmp_path: Path) -> None:
    manifest = build_synthetic_web(tmp_path, feeds=30, articles_per_feed=20, copy_rate=0.3)
    assert len(manifest.feeds) == 30 and all(f["state"] != "broken" for f in manifest.feeds)
    assert len(manifest.articles) == 600
    assert manifest.copy_count == 180
    per_feed = [len(f["articles"]) for f in manifest.feeds]
    assert min(per_feed) >= 15 and max(per_feed) <= 25
    assert len(list((tmp_path / "pages").rglob("*.html"))) == 600
    assert (tmp_path / "feeds.txt").read_text().count("{BASE}/feeds/") == 30


@pytest.mark.parametrize(("feeds", "articles", "copy_rate", "seed"), [
    (2, 10, 0.0, 1), (4, 20, 0.5, 2), (10, 100, 0.3, 3), (25, 300, 0.6, 4), (12, 150, 0.9, 5),
])
def test_invariants_hold_for_other_sizes_and_seeds(
    tmp_path: Path, feeds: int, articles: int, copy_rate: float, seed: int,
) -> None:
    manifest = build_site(tmp_path, feeds=feeds, articles=articles, copy_rate=copy_rate,
                          seed=seed)
    arts = manifest.articles
    assert len(manifest.feeds) == feeds
    assert len(arts) <= articles  # a tiny web may run out of places to put copies
    assert len(arts) == articles or copy_rate > 0.5
    for ids in manifest.stories.values():
        assert sum(arts[i]["original"] for i in ids) == 1
        assert len({arts[i]["outlet"] for i in ids}) == len(ids)  # one copy per outlet
    listed = sorted(i for f in manifest.feeds for i in f["articles"])
    assert listed == sorted(arts)
    assert all(a["published_at"] < "2024-06-14T18:00:00Z" for a in arts.values())
    for a in arts.values():
        if not a["original"]:
            original = next(arts[i] for i in manifest.stories[a["story"]] if arts[i]["original"])
            assert a["published_at"] >= original["published_at"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="copy_rate"):
        build_site(tmp_path, copy_rate=1.5)
    with pytest.raises(ValueError, match="feeds"):
        build_site(tmp_path, feeds=1)
    with pytest.raises(ValueError, match="articles_per_feed"):
        build_synthetic_web(tmp_path, articles_per_feed=0)


def test_demo_build_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["demo", "build", str(tmp_path), "--feeds", "5", "--articles", "30",
                       "--copy_rate", "0.2", "--seed", "9"])
    assert status == 0
    assert "wrote 30 articles (6 copies)" in capsys.readouterr().out
    assert len((tmp_path / "feeds.txt").read_text().splitlines()) == 5
    assert cli.main(["demo", "build", str(tmp_path), "--copy_rate", "2"]) == 2
