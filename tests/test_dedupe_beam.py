"""``DedupeArticles`` in a Beam pipeline: stories, dead letters and counters on fixture articles."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article, Failure, Story, utc
from transforms.dedupe import DedupeArticles

FIXTURES = Path(__file__).parent / "fixtures" / "dedupe"


def fixture_articles() -> tuple[list[Article], dict[str, str], dict[str, bool]]:
    """Articles (fixture id in ``guid``), gold cluster per url#id, and which ids are originals."""
    rows = [json.loads(x) for x in (FIXTURES / "articles.jsonl").read_text().splitlines() if x]
    gold_rows = (FIXTURES / "expected.jsonl").read_text().splitlines()
    gold = {g["id"]: g for g in map(json.loads, gold_rows)}
    articles = [
        Article(
            url=r["url"],
            title=r["title"],
            body=r["body"],
            source=r["source"],
            published_at=utc(r["published_at"]),
            fetched_url=r["url"],
            guid=r["id"],
        )
        for r in rows
    ]
    cluster = {r["url"] + "#" + r["id"]: gold[r["id"]]["cluster"] for r in rows}
    original = {r["id"]: gold[r["id"]]["original"] for r in rows}
    return articles, cluster, original


def expected_stories() -> list[tuple[frozenset[str], str]]:
    """(copy URLs, canonical URL) per gold story of the fixture."""
    articles, cluster, original = fixture_articles()
    urls: dict[str, set[str]] = defaultdict(set)
    canonical: dict[str, str] = {}
    for a in articles:
        c = cluster[a.url + "#" + a.guid]
        urls[c].add(a.url)
        if original[a.guid]:
            canonical[c] = a.url
    return [(frozenset(u), canonical[c]) for c, u in urls.items()]


def summary(story: Story) -> tuple[frozenset[str], str]:
    return frozenset(c.url for c in story.copies), story.url


def counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return sum(c.committed for c in found)


@pytest.mark.parametrize("in_memory", [False, True])
def test_fixture_articles_become_gold_stories(in_memory: bool) -> None:
    articles, _, _ = fixture_articles()
    p = TestPipeline()
    out = p | beam.Create(articles) | DedupeArticles(in_memory=in_memory)
    assert_that(out.stories | beam.Map(summary), equal_to(expected_stories()), label="stories")
    assert_that(out.dead_letter, equal_to([]), label="no dead letters")
    result = p.run()
    result.wait_until_finish()
    stories = expected_stories()
    assert counter(result, "stories_new") == len(stories)
    assert counter(result, "copies_merged") == sum(len(u) - 1 for u, _ in stories)
    if not in_memory:  # the in-memory path has no label propagation, hence no such counter
        assert counter(result, "labels_unsettled") == 0


def test_label_propagation_with_too_few_rounds_says_so() -> None:
    """The keyed path counts nodes whose label still changed in the last round: with a single
    round, the label of every article with a copy of smaller id changes in it (each takes its
    cluster's smallest), so the count is above 0; with the default rounds it is 0 (above)."""
    articles, _, _ = fixture_articles()
    p = TestPipeline()
    _ = p | beam.Create(articles) | DedupeArticles(label_rounds=1)
    result = p.run()
    result.wait_until_finish()
    assert counter(result, "labels_unsettled") > 0


@pytest.mark.parametrize("in_memory", [False, True])
def test_story_fields(in_memory: bool) -> None:
    articles, _, _ = fixture_articles()
    library = [a for a in articles if "library" in a.guid]
    with TestPipeline() as p:
        out = p | beam.Create(library) | DedupeArticles(in_memory=in_memory)
        checked = out.stories | beam.Map(
            lambda s: (
                s.url,
                s.copy_count,
                len(s.copies),
                bool(s.band_keys) and s.band_keys == sorted(s.band_keys),
                len(s.body_hash),
                len(s.story_id),
            )
        )
        assert_that(
            checked,
            equal_to([("https://westbury-times.test/2024/06/library-sundays", 2, 2, True, 16, 24)]),
            label="one story, two places (the same URL twice is one place)",
        )
        assert_that(out.dead_letter, equal_to([]), label="no dead letters")


@pytest.mark.parametrize("in_memory", [False, True])
def test_copies_joined_only_through_a_third_are_one_story(in_memory: bool) -> None:
    paragraphs = [
        " ".join(f"{word}{i}{j}" for j, word in enumerate(["alpha", "beta", "gamma", "delta"] * 8))
        + "."
        for i in range(6)
    ]
    full = Article(url="https://a.test/full", title="t", body="\n\n".join(paragraphs),
                   source="a.test", published_at=utc("2024-01-01T10:00:00Z"))
    head = Article(url="https://b.test/head", title="t", body="\n\n".join(paragraphs[:2]),
                   source="b.test", published_at=utc("2024-01-01T11:00:00Z"))
    tail = Article(url="https://c.test/tail", title="t", body="\n\n".join(paragraphs[4:]),
                   source="c.test", published_at=utc("2024-01-01T12:00:00Z"))
    with TestPipeline() as p:
        dedupe = DedupeArticles(label_rounds=1, in_memory=in_memory)
        out = p | beam.Create([tail, head, full]) | dedupe
        assert_that(
            out.stories | beam.Map(summary),
            equal_to([(frozenset({full.url, head.url, tail.url}), full.url)]),
            label="one story",
        )
        assert_that(out.dead_letter, equal_to([]), label="no dead letters")


@pytest.mark.parametrize("in_memory", [False, True])
def test_bad_input_goes_to_dead_letter(in_memory: bool) -> None:
    good = Article(url="https://a.test/x", title="t", body="Some words of a body here today.",
                   source="a.test")
    bad = Article(url="https://a.test/y", title="t", body=None, source="a.test")  # type: ignore[arg-type]
    with TestPipeline() as p:
        out = p | beam.Create([good, bad]) | DedupeArticles(in_memory=in_memory)
        assert_that(out.stories | beam.Map(lambda s: s.url), equal_to([good.url]), label="stories")
        assert_that(
            out.dead_letter | beam.Map(lambda f: (f.step, f.input, f.error_type)),
            equal_to([("dedupe", bad.url, "TypeError")]),
            label="dead letters",
        )


def test_dead_letters_are_failures() -> None:
    with TestPipeline() as p:
        out = p | beam.Create(["not an article"]) | DedupeArticles()
        assert_that(out.dead_letter | beam.Map(lambda f: isinstance(f, Failure)), equal_to([True]),
                    label="dead letters")
        assert_that(out.stories, equal_to([]), label="no stories")


@pytest.mark.parametrize("kwargs", [{"label_rounds": 0}, {"max_bucket": 1}, {"es_candidates": 0}])
def test_bad_arguments_fail_at_construction(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DedupeArticles(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("in_memory", [False, True])
def test_same_article_twice_in_a_batch_is_one_copy(in_memory: bool) -> None:
    articles, _, _ = fixture_articles()
    original = next(a for a in articles if a.guid == "bridge-original")
    with TestPipeline() as p:
        out = p | beam.Create([original, original]) | DedupeArticles(in_memory=in_memory)
        assert_that(
            out.stories | beam.Map(lambda s: (s.url, s.copy_count)),
            equal_to([(original.url, 1)]),
            label="one story, one copy",
        )
        assert_that(out.dead_letter, equal_to([]), label="no dead letters")


@pytest.mark.parametrize("in_memory", [False, True])
def test_oversized_buckets_yield_no_pairs(in_memory: bool) -> None:
    articles, _, _ = fixture_articles()
    body = next(a for a in articles if a.guid == "bridge-original").body
    same = [
        Article(url=f"https://site{i}.test/a", title="t", body=body, source=f"site{i}.test",
                published_at=utc("2024-05-07T08:00:00Z"))
        for i in range(3)
    ]
    p = TestPipeline()
    out = p | beam.Create(same) | DedupeArticles(max_bucket=2, in_memory=in_memory)
    assert_that(out.stories | beam.Map(lambda s: s.copy_count), equal_to([1, 1, 1]),
                label="every bucket was too big to pair")
    assert_that(out.dead_letter, equal_to([]), label="no dead letters")
    result = p.run()
    result.wait_until_finish()
    assert counter(result, "buckets_oversized") > 0
