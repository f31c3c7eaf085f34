"""Dedupe's pure parts as both paths use them, and the keyed path's combiners on empty input.

On Flink a combiner met an accumulator that saw no input (``min() arg is an empty sequence`` in
'Dedupe articles/Connect components/Start labels'): every combiner of the transform is checked
here with no inputs and with empty accumulators merged, as a runner may call it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
import pytest
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.transforms.core import CombinePerKey

from newsflow.dedupe import fingerprint
from newsflow.dedupe.canonical import Entry
from newsflow.dedupe.cluster import bucket_pairs, candidate_keys, url_band_key
from newsflow.dedupe.match import DEFAULT_RULES
from newsflow.dedupe.stored import combine_by_id, matches_stored, settle
from newsflow.dedupe.story import build_stories, build_story, member_of
from schemas.records import Article
from transforms.dedupe import DedupeArticles

HOUR = 3600 * 10**6  # microseconds
BODY = ("The council voted on Tuesday to build a second road bridge over the river, ending "
        "eight years of argument over its cost.\n\nWork could begin next spring if the "
        "national transport fund confirms its share of the money, the council said.")


def article(url: str, body: str = BODY, hours: float = 0) -> Article:
    when = datetime(2024, 6, 1, 9, tzinfo=UTC) + timedelta(hours=hours)
    return Article(url=url, title="Bridge", body=body, source=url.split("/")[2],
                   fetched_url=url, published_at=when)


class _Combiners(PipelineVisitor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.found: dict[str, beam.CombineFn] = {}

    def enter_composite_transform(self, node: AppliedPTransform) -> None:
        self.visit_transform(node)

    def visit_transform(self, node: AppliedPTransform) -> None:
        if isinstance(node.transform, CombinePerKey):
            self.found[node.full_label] = beam.CombineFn.maybe_from_callable(node.transform.fn)


def dedupe_combiners() -> dict[str, beam.CombineFn]:
    p = beam.Pipeline()
    _ = p | beam.Create([article("https://a.test/news/1")]) | "Dedupe articles" >> DedupeArticles()
    visitor = _Combiners()
    p.visit(visitor)
    return visitor.found


def test_the_keyed_path_has_combiners_to_check() -> None:
    labels = dedupe_combiners()
    assert "Dedupe articles/Connect components/Start labels" in labels
    assert any("Smallest label round" in label for label in labels)


@pytest.mark.parametrize("label", sorted(dedupe_combiners()))
def test_every_dedupe_combiner_is_empty_safe(label: str) -> None:
    fn = dedupe_combiners()[label]
    fn.setup()
    fn.extract_output(fn.create_accumulator())  # no input at all
    merged = fn.merge_accumulators([fn.create_accumulator(), fn.create_accumulator()])
    fn.extract_output(fn.compact(merged))
    fn.extract_output(fn.merge_accumulators([]))


def test_the_start_labels_combiner_still_takes_the_smallest_neighbour() -> None:
    fn = dedupe_combiners()["Dedupe articles/Connect components/Start labels"]
    one = fn.add_input(fn.add_input(fn.create_accumulator(), "m"), "c")
    other = fn.add_input(fn.create_accumulator(), "k")
    merged = fn.merge_accumulators([fn.create_accumulator(), one, other, fn.create_accumulator()])
    assert fn.extract_output(merged) == "c"


def test_bucket_pairs_keep_the_horizon_and_refuse_oversized_buckets() -> None:
    members = [("b", 0), ("a", 10 * HOUR), ("c", None), ("d", 100 * HOUR), ("a", 10 * HOUR)]
    assert bucket_pairs(members, 72 * HOUR) == [
        ("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")]  # a-d 90 h, b-d 100 h apart
    assert bucket_pairs(members, 72 * HOUR, max_bucket=3) is None
    assert bucket_pairs([], 72 * HOUR) == []


def test_candidate_keys_are_the_band_keys_and_the_url_key() -> None:
    entry = member_of(article("https://www.a.test/news/1?utm_source=x")).entry
    assert candidate_keys(entry) == [*entry.fingerprint.band_keys,
                                     url_band_key("https://a.test/news/1")]
    front = Entry("k", "https://a.test/", "a.test", None, fingerprint(BODY))
    assert candidate_keys(front) == front.fingerprint.band_keys  # a front page has no URL key


def test_settled_stories_count_what_they_add() -> None:
    members = [member_of(article(u)) for u in ("https://a.test/n/1", "https://b.test/s/1")]
    story, _ = build_story(members)
    entries = [m.entry for m in members]
    new = settle(story, entries, [])
    assert (new.story, new.new, new.copies_added, new.failure) == (story, True, 1, None)
    failed = settle(story, entries, RuntimeError("503"))
    assert (failed.new, failed.copies_added, failed.failure is not None) == (True, 1, True)
    assert failed.failure is not None and failed.failure.transient
    stored, _ = build_story([member_of(article("https://a.test/n/1"))])
    merged = settle(story, entries, [stored])
    assert (merged.new, merged.copies_added) == (False, 1)
    assert merged.story.story_id == stored.story_id
    assert sorted(c.url for c in merged.story.copies) == ["https://a.test/n/1",
                                                          "https://b.test/s/1"]


def test_build_stories_and_combine_by_id_as_the_in_memory_path_uses_them() -> None:
    other = "A ferry service to the islands resumes after a winter of repairs to the pier."
    members = [member_of(a) for a in (
        article("https://a.test/n/1"), article("https://c.test/x/9", other * 3),
        article("https://b.test/s/1", hours=1))]
    built = build_stories(members)
    assert sorted(s.copy_count for s, _ in built) == [1, 2]
    first, second = built[0][0], built[1][0]
    same_id = [first, second.__class__(**{**vars(second), "story_id": first.story_id})]
    combined = combine_by_id([*same_id, second])
    assert [s.story_id for s in combined] == [first.story_id, second.story_id]
    assert combined[0].copy_count == 3


def test_an_empty_pane_builds_no_story() -> None:
    """Flink emits a window's empty panes (the SDK asks for them: FIRE_ALWAYS, EMIT_ALWAYS), at
    the latest as a streaming job drains: no story, no error."""
    from transforms.dedupe import _BuildStoryFn, _CombineVersionsFn

    assert list(_BuildStoryFn(final=True).process(("label", []))) == []
    assert list(_CombineVersionsFn().process(("story id", []))) == []


def test_a_page_read_later_matches_the_stand_in_stored_under_its_link() -> None:
    # The page was down: the feed's one-line summary stood in, stored under the entry's link.
    link = "https://a.test/feed-item/7"
    summary = "Council backs a second bridge."
    stand_in = Article(url=link, title="Bridge", body=summary, source="a.test",
                       fetched_url=link, body_source="feed",
                       published_at=datetime(2024, 6, 1, 9, tzinfo=UTC))
    stored, _ = build_story([member_of(stand_in)])
    # Read now: redirected to its canonical address, with the whole text.
    page = Article(url="https://a.test/news/2024/bridge", title="Bridge", body=BODY,
                   source="a.test", fetched_url=link,
                   published_at=datetime(2024, 6, 1, 9, tzinfo=UTC))
    story, member = build_story([member_of(page)])
    assert matches_stored(stored, story, [member.entry], DEFAULT_RULES)
    elsewhere = Article(**{**vars(page), "fetched_url": "https://a.test/feed-item/8",
                           "url": "https://a.test/news/2024/other"})
    other, other_member = build_story([member_of(elsewhere)])
    assert not matches_stored(stored, other, [other_member.entry], DEFAULT_RULES)
