"""Dedupe across runs against the real Elasticsearch node: a later copy joins the stored story.

Each test gets a fresh alias (``es_config``). Run one indexes stories with ``IndexArticles``;
run two dedupes newcomers with ``DedupeArticles(es=...)``, which finds the stored story by its
band keys, checks containment against the stored body and merges. Every test runs on both
dedupe paths: the keyed one and the one in one worker (``in_memory=True``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from newsflow.dedupe.match import MatchRules
from newsflow.dedupe.stored import StoredStories
from newsflow.es import EsConfig, ensure_index
from schemas.records import Article, Story, utc
from transforms.dedupe import DedupeArticles
from transforms.index import IndexArticles

FIXTURES = Path(__file__).parent / "fixtures" / "dedupe"
ROWS = {
    r["id"]: r
    for r in map(json.loads, (FIXTURES / "articles.jsonl").read_text().splitlines())
}


def article(fixture_id: str) -> Article:
    r = ROWS[fixture_id]
    return Article(url=r["url"], title=r["title"], body=r["body"], source=r["source"],
                   published_at=utc(r["published_at"]))


@pytest.fixture(params=[False, True], ids=["keyed", "in_memory"])
def in_memory(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def run(es: EsConfig, ids: list[str], in_memory: bool) -> dict[str, int]:
    """Dedupe and index the fixture articles ``ids``; the run's counters."""
    p = TestPipeline()
    out = p | beam.Create([article(i) for i in ids]) | DedupeArticles(es=es, in_memory=in_memory)
    indexed = out.stories | IndexArticles(es, refresh=True)
    assert_that(out.dead_letter, equal_to([]), label="no dedupe dead letters")
    assert_that(indexed.dead_letter, equal_to([]), label="no index dead letters")
    result = p.run()
    result.wait_until_finish()
    counts = {}
    for name in ("stories_new", "copies_merged"):
        found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
        counts[name] = sum(c.committed for c in found)
    return counts


def stored(es: EsConfig) -> list[dict[str, Any]]:
    client = es.client()
    try:
        client.indices.refresh(index=es.index)
        hits = client.search(index=es.index, query={"match_all": {}}, size=100)["hits"]["hits"]
        return sorted((h["_source"] for h in hits), key=lambda s: s["story_id"])
    finally:
        client.close()


def test_copy_in_a_later_run_joins_the_stored_story(es_config: EsConfig, in_memory: bool) -> None:
    ensure_index(es_config)
    assert run(es_config, ["bridge-original", "bridge-wire"], in_memory) == {
        "stories_new": 1, "copies_merged": 1}
    [first] = stored(es_config)
    newcomers = ["bridge-aggregator", "bridge-excerpt", "ferry-original"]
    assert run(es_config, newcomers, in_memory) == {"stories_new": 1, "copies_merged": 2}
    docs = stored(es_config)
    assert len(docs) == 2
    [bridge] = [d for d in docs if d["story_id"] == first["story_id"]]
    assert bridge["url"] == ROWS["bridge-original"]["url"]
    assert bridge["copy_count"] == 4
    ids = ("bridge-original", "bridge-wire", "bridge-aggregator", "bridge-excerpt")
    assert {c["url"] for c in bridge["copies"]} == {ROWS[i]["url"] for i in ids}


def test_earlier_original_arriving_later_becomes_canonical(
    es_config: EsConfig, in_memory: bool
) -> None:
    ensure_index(es_config)
    run(es_config, ["bridge-wire"], in_memory)
    [first] = stored(es_config)
    assert first["url"] == ROWS["bridge-wire"]["url"]
    assert run(es_config, ["bridge-original"], in_memory) == {"stories_new": 0, "copies_merged": 1}
    [story] = stored(es_config)
    assert story["story_id"] == first["story_id"]  # the id is kept ...
    assert story["url"] == ROWS["bridge-original"]["url"]  # ... the canonical is the original
    assert story["body"] == ROWS["bridge-original"]["body"]
    assert story["copy_count"] == 2


def test_later_copy_keeps_the_stored_canonical(es_config: EsConfig, in_memory: bool) -> None:
    ensure_index(es_config)
    run(es_config, ["orchestra-original"], in_memory)
    # Dated earlier, but a re-post crediting the original:
    run(es_config, ["orchestra-repost"], in_memory)
    [story] = stored(es_config)
    assert story["url"] == ROWS["orchestra-original"]["url"]
    assert story["copy_count"] == 2


def test_newcomers_that_copy_one_stored_story_but_not_each_other_join_it_once(
    es_config: EsConfig, in_memory: bool
) -> None:
    # The wire copy and the aggregator's re-post are each a copy of the original, not of each
    # other: the batch makes two stories, both find the stored one, and their versions combine.
    ensure_index(es_config)
    run(es_config, ["bridge-original"], in_memory)
    [first] = stored(es_config)
    assert run(es_config, ["bridge-wire", "bridge-aggregator"], in_memory) == {
        "stories_new": 0, "copies_merged": 2}
    [story] = stored(es_config)
    assert story["story_id"] == first["story_id"]
    assert story["copy_count"] == 3
    ids = ("bridge-original", "bridge-wire", "bridge-aggregator")
    assert {c["url"] for c in story["copies"]} == {ROWS[i]["url"] for i in ids}


def test_unrelated_story_with_shared_keys_is_not_merged(
    es_config: EsConfig, in_memory: bool
) -> None:
    ensure_index(es_config)
    run(es_config, ["template-0"], in_memory)
    assert run(es_config, ["template-1"], in_memory) == {"stories_new": 1, "copies_merged": 0}
    assert len(stored(es_config)) == 2


def test_reingesting_the_same_articles_changes_nothing(
    es_config: EsConfig, in_memory: bool
) -> None:
    ensure_index(es_config)
    ids = [i for i in ROWS if i.startswith(("bridge-", "library-"))]
    run(es_config, ids, in_memory)
    before = stored(es_config)
    assert run(es_config, ids, in_memory) == {"stories_new": 0, "copies_merged": 0}
    after = stored(es_config)
    assert [Story.from_dict(d) for d in after] == [Story.from_dict(d) for d in before]


def test_failed_lookups_keep_the_stories_and_are_dead_letters(
    es_config: EsConfig, in_memory: bool
) -> None:
    # No index behind the alias: the lookup's search comes back with an error.
    ids = ["bridge-original", "bridge-wire", "ferry-original"]
    p = TestPipeline()
    out = p | beam.Create([article(i) for i in ids]) | DedupeArticles(es=es_config,
                                                                      in_memory=in_memory)
    assert_that(
        out.stories | beam.Map(lambda s: sorted(c.url for c in s.copies)),
        equal_to([sorted(ROWS[i]["url"] for i in ids[:2]), [ROWS["ferry-original"]["url"]]]),
        label="stories kept, unmerged",
    )
    assert_that(
        out.dead_letter | beam.Map(lambda f: (f.step, f.transient, "index_not_found" in f.message)),
        equal_to([("dedupe", True, True)] * 2),
        label="one transient failure per story",
    )
    result = p.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_name("lookups_failed"))["counters"]
    assert sum(c.committed for c in found) == 2


def alone(ids: list[str]) -> list[tuple[Story, Any]]:
    """(story, canonical member) of each fixture article on its own, copies included."""
    from newsflow.dedupe.signature import fingerprints
    from newsflow.dedupe.story import build_story, member_of

    articles = [article(i) for i in ids]
    prints = fingerprints([a.body for a in articles])
    return [build_story([member_of(a, fp)]) for a, fp in zip(articles, prints, strict=True)]


@pytest.mark.parametrize(
    ("newcomers", "candidates", "each_alone"),
    [(list(ROWS), 2, False), (["bridge-wire", "ferry-original"], 1, True),
     (list(ROWS), 600, True)],
    ids=["one search", "crowded: a search each", "more hits than one answer may hold"],
)
def test_looking_stories_up_together_finds_what_looking_each_up_finds(
    es_config: EsConfig, monkeypatch: pytest.MonkeyPatch, newcomers: list[str], candidates: int,
    each_alone: bool,
) -> None:
    # Every article stored as a story of its own: a bridge newcomer shares band keys with
    # several (more than one candidate each can hold in the crowded case), and a newcomer's
    # candidates are only the first two of those it shares keys with.
    ensure_index(es_config)
    p = TestPipeline()
    _ = p | beam.Create([story for story, _ in alone(list(ROWS))]) | IndexArticles(es_config,
                                                                                refresh=True)
    p.run().wait_until_finish()
    items = alone(newcomers)
    lookups = StoredStories(es_config, MatchRules(), candidates)
    lookups.open()
    try:
        expected = [found.story_id if isinstance(found, Story) else found
                    for found in lookups._search_each(items)]
        each = lookups._search_each
        searched_each: list[int] = []
        monkeypatch.setattr(lookups, "_search_each",
                            lambda batch: searched_each.append(len(batch)) or each(batch))
        found = [found.story_id if isinstance(found, Story) else found
                 for found in lookups.lookup(items)]
    finally:
        lookups.close()
    assert found == expected
    assert any(isinstance(f, str) for f in found)  # the lookups do find stored stories
    assert searched_each == ([len(items)] if each_alone else [])



def test_a_copy_after_a_rollover_joins_the_story_in_its_own_index(
    es_config: EsConfig, in_memory: bool
) -> None:
    """Where ILM rolls the alias over, a story stays in the index it was written to: a copy
    arriving afterwards updates it there, not as a second document in the new write index."""
    ensure_index(es_config)
    run(es_config, ["bridge-original"], in_memory)
    client = es_config.client()
    try:
        client.indices.rollover(alias=es_config.index)  # what the lifecycle policy does
        assert run(es_config, ["bridge-wire", "ferry-original"], in_memory) == {
            "stories_new": 1, "copies_merged": 1}
        client.indices.refresh(index=es_config.index)
        hits = client.search(index=es_config.index, size=10)["hits"]["hits"]
    finally:
        client.close()
    by_url = {h["_source"]["url"]: h for h in hits}
    assert len(hits) == 2
    bridge = by_url[ROWS["bridge-original"]["url"]]
    assert bridge["_index"] == es_config.first_index
    assert bridge["_source"]["copy_count"] == 2
    assert by_url[ROWS["ferry-original"]["url"]]["_index"] == f"{es_config.index}-000002"
