"""Dedupe across runs against the real Elasticsearch node: a later copy joins the stored story.

Each test gets a fresh alias (``es_config``). Run one indexes stories with ``IndexArticles``;
run two dedupes newcomers with ``DedupeArticles(es=...)``, which finds the stored story by its
band keys, checks containment against the stored body and merges. Every test runs on both
dedupe paths: the keyed one and the one in one worker (``in_memory=True``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from local.demosite import synthetic_story
from newsflow.dedupe import fingerprint, is_copy
from newsflow.dedupe.canonical import Entry
from newsflow.dedupe.match import MatchRules
from newsflow.dedupe.stored import Reconciler, StoredStories
from newsflow.dedupe.story import resolve_write_conflict
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
    return run_articles(es, [article(i) for i in ids], in_memory)


def run_articles(es: EsConfig, articles: list[Article], in_memory: bool) -> dict[str, int]:
    """Dedupe and index ``articles``; the run's counters."""
    p = TestPipeline()
    out = p | beam.Create(articles) | DedupeArticles(es=es, in_memory=in_memory)
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


def alone(ids: list[str]) -> list[tuple[Story, tuple[Entry, ...]]]:
    """(story, entries) of each fixture article on its own, as the lookup takes them."""
    from newsflow.dedupe.signature import fingerprints
    from newsflow.dedupe.story import build_story, member_of

    articles = [article(i) for i in ids]
    prints = fingerprints([a.body for a in articles])
    members = [member_of(a, fp) for a, fp in zip(articles, prints, strict=True)]
    return [(build_story([m])[0], (m.entry,)) for m in members]


def index(es: EsConfig, stories: list[Story]) -> None:
    p = TestPipeline()
    _ = p | beam.Create(stories) | IndexArticles(es, refresh=True)
    p.run().wait_until_finish()


# A story (harbour), a brief of its first paragraphs, an excerpt of its last ones (the two
# share no text), and an aggregator's brief that opens with two paragraphs of its own: a copy
# of the brief, too little of the story's own text to be a copy of the story.
_HARBOUR = synthetic_story(random.Random(4), "harbour")
_INTRO = [
    "In our morning roundup of news from the coast: a story readers asked us about all week, "
    "and what it means for the families who live near the harbour this summer.",
    "We have followed the council's plans since the spring, when the first drawings were "
    "shown at a packed public meeting in the old market hall on the quay.",
]
HARBOUR = {
    "original": ("https://harbour-post.test/news/1", 8, list(_HARBOUR.paragraphs)),
    "brief": ("https://briefs.test/b/7", 9,
              [*_HARBOUR.paragraphs[:2], "Read more at harbour-post.test"]),
    "excerpt": ("https://digest.test/e/3", 9,
                [*_HARBOUR.paragraphs[-3:], "Continue reading at harbour-post.test"]),
    "roundup": ("https://roundup.test/r/5", 10, [*_INTRO, *_HARBOUR.paragraphs[:2]]),
}


def harbour(name: str) -> Article:
    url, hour, paragraphs = HARBOUR[name]
    return Article(url=url, title=_HARBOUR.title, body="\n\n".join(paragraphs),
                   source=url.split("/")[2], published_at=utc(f"2024-06-03T{hour:02d}:00:00Z"))


def test_harbour_articles_are_what_the_tests_below_need() -> None:
    prints = {name: fingerprint(harbour(name).body) for name in HARBOUR}
    assert is_copy(prints["brief"], prints["original"])
    assert is_copy(prints["excerpt"], prints["original"])
    assert not is_copy(prints["brief"], prints["excerpt"])
    assert is_copy(prints["roundup"], prints["brief"])
    assert not is_copy(prints["roundup"], prints["original"])


def test_a_newcomer_that_copies_two_stored_stories_joins_them(
    es_config: EsConfig, in_memory: bool
) -> None:
    """The brief and the excerpt copy the original, not each other: stored before it (in two
    runs, or two windows) they are two stories. The original then bridges them, as it does in
    a batch: one story remains, under one of their ids, led by the original."""
    ensure_index(es_config)
    run_articles(es_config, [harbour("brief")], in_memory)
    run_articles(es_config, [harbour("excerpt")], in_memory)
    first = {d["story_id"] for d in stored(es_config)}
    assert len(first) == 2
    assert run_articles(es_config, [harbour("original")], in_memory) == {
        "stories_new": 0, "copies_merged": 1}
    [story] = stored(es_config)
    assert story["story_id"] in first
    assert story["url"] == harbour("original").url
    assert {c["url"] for c in story["copies"]} == {harbour(n).url
                                                   for n in ("original", "brief", "excerpt")}


def test_a_late_copy_is_checked_against_every_place_the_story_appeared(
    es_config: EsConfig, in_memory: bool
) -> None:
    """Stored: the original and its brief, one story led by the original. The roundup is a
    copy of the brief, not of the original: checked against the stored story's canonical text
    alone it made a story of its own; a batch of the three makes one."""
    ensure_index(es_config)
    run_articles(es_config, [harbour("original"), harbour("brief")], in_memory)
    [first] = stored(es_config)
    assert first["url"] == harbour("original").url
    assert run_articles(es_config, [harbour("roundup")], in_memory) == {
        "stories_new": 0, "copies_merged": 1}
    [story] = stored(es_config)
    assert story["story_id"] == first["story_id"]
    assert story["copy_count"] == 3


def test_a_copy_is_found_among_more_stored_stories_sharing_a_paragraph_than_candidates(
    es_config: EsConfig,
) -> None:
    """Six stories published earlier end with the boilerplate paragraph the newcomer's
    original ends with. Candidates are ranked by the band keys they share (rare ones weigh
    more), not by date: the original is among the two candidates looked at."""
    from newsflow.dedupe.story import build_story, member_of

    ensure_index(es_config)
    rng = random.Random(3)
    boiler = ROWS["boiler-school"]["body"].split("\n\n")[-1]
    bodies = ["\n\n".join([*synthetic_story(rng, f"s{n}").paragraphs, boiler]) for n in range(8)]

    def member(n: int, url: str, day: int) -> Any:
        return member_of(Article(url=url, title=f"story {n}", body=bodies[n],
                                 source=url.split("/")[2],
                                 published_at=utc(f"2024-06-0{day}T09:00:00Z")))

    crowd = [member(n, f"https://crowd{n}.test/a", 1) for n in range(6)]
    original = member(7, "https://origin.test/a", 2)
    index(es_config, [build_story([m])[0] for m in [*crowd, original]])
    newcomer = member(7, "https://copy.test/b", 2)
    lookups = StoredStories(es_config, MatchRules(), candidates=2)
    lookups.open()
    try:
        [found] = lookups.lookup([(build_story([newcomer])[0], (newcomer.entry,))])
    finally:
        lookups.close()
    assert not isinstance(found, Exception)
    assert [s.url for s in found] == ["https://origin.test/a"]


def test_two_windows_that_each_made_a_story_of_the_same_copies_join_them(
    es_config: EsConfig,
) -> None:
    """Two windows race: each looked the index up before the other wrote, so each made a new
    story (the original in one, the wire copy in the other). Written with the re-check a
    streaming job uses, they become one story, led by the original; without it they stay two."""
    ensure_index(es_config)
    lookups = StoredStories(es_config, MatchRules(), candidates=10)
    lookups.open()
    try:
        items = alone(["bridge-original", "bridge-wire"])
        assert lookups.lookup(items) == [[], []]  # neither window sees the other's story
    finally:
        lookups.close()
    p = TestPipeline()
    written = p | beam.Create([story for story, _ in items]) | IndexArticles(
        es_config, refresh=True, batch_size=1, resolve_conflict=resolve_write_conflict,
        reconcile=Reconciler(es_config, MatchRules()), recheck_new=True)
    assert_that(written.dead_letter, equal_to([]), label="no dead letters")
    result = p.run()
    result.wait_until_finish()
    [story] = stored(es_config)
    assert story["url"] == ROWS["bridge-original"]["url"]
    assert {c["url"] for c in story["copies"]} == {ROWS[i]["url"]
                                                   for i in ("bridge-original", "bridge-wire")}
    counts = {name: sum(c.committed for c in result.metrics().query(
        MetricsFilter().with_name(name))["counters"])
        for name in ("docs_deleted", "stories_reconciled", "stories_unreconciled")}
    assert counts["docs_deleted"] == 1 and counts["stories_unreconciled"] == 0
    assert counts["stories_reconciled"] >= 1


def test_a_write_acknowledged_in_a_streaming_job_is_found_by_the_next_lookup(
    es_config: EsConfig,
) -> None:
    """The streaming job's sink makes a write searchable before it counts as done, so the next
    window's lookup finds it however soon it comes (the index refreshes every second: a
    lookup right after a plain write found nothing)."""
    ensure_index(es_config)
    [(story, _)] = alone(["bridge-original"])
    index(es_config, [story])  # IndexArticles(refresh=True), as the streaming job writes
    lookups = StoredStories(es_config, MatchRules(), candidates=10)
    lookups.open()
    try:
        [found] = lookups.lookup(alone(["bridge-wire"]))
    finally:
        lookups.close()
    assert not isinstance(found, Exception)
    assert [s.story_id for s in found] == [story.story_id]


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


def test_a_page_read_later_finds_the_stand_in_stored_under_its_link(es_config: EsConfig) -> None:
    """The page was down: the feed's one-line summary stood in, stored under the entry's
    link. Read now, redirected to its canonical address, its text shares no band key with
    the summary; the lookup still finds the stand-in, by the link both were fetched from."""
    from newsflow.dedupe.story import build_story, member_of

    ensure_index(es_config)
    link = "https://harbour-post.test/feed-item/7"
    when = utc("2024-06-03T08:00:00Z")
    stand_in = member_of(Article(url=link, title=_HARBOUR.title, source="harbour-post.test",
                                 body="Council backs the harbour plan.", fetched_url=link,
                                 body_source="feed", published_at=when))
    index(es_config, [build_story([stand_in])[0]])
    page = member_of(Article(url="https://harbour-post.test/news/1", title=_HARBOUR.title,
                             source="harbour-post.test", body=harbour("original").body,
                             fetched_url=link, published_at=when))
    assert not set(stand_in.entry.fingerprint.band_keys) & set(page.entry.fingerprint.band_keys)
    lookups = StoredStories(es_config, MatchRules(), candidates=10)
    lookups.open()
    try:
        [found] = lookups.lookup([(build_story([page])[0], (page.entry,))])
    finally:
        lookups.close()
    assert not isinstance(found, Exception)
    assert [s.url for s in found] == [link]
