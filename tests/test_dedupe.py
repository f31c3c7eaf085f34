"""Dedupe's pure logic and the ``newsflow dedupe`` command on fixture articles we wrote.

``tests/fixtures/dedupe/articles.jsonl`` holds one story with every kind of copy (wire copy
re-titled with a dateline, restyled quotes and a paragraph cut; an aggregator re-post with page
furniture, truncated mid-word; an excerpt with "Continue reading at"; a correction), exact
copies (same body in other case and spacing; same URL), a re-post dated before its original,
and every must-not-merge kind (the same event written twice, a shared boilerplate paragraph,
template items, the same text months later). ``expected.jsonl`` is the gold partition.
"""

from __future__ import annotations

import io
import json
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from newsflow.cli import main
from newsflow.commands.dedupe import dedupe_lines
from newsflow.dedupe import (
    HORIZON,
    Entry,
    MatchRules,
    choose_canonical,
    containment,
    fingerprint,
    is_copy,
    same_story,
    url_key,
)
from newsflow.dedupe.signature import body_hash, minhash, shingle_hashes, token_hashes
from newsflow.dedupe.text import content_lines, strip_dateline
from schemas.records import utc

FIXTURES = Path(__file__).parent / "fixtures" / "dedupe"


def load(name: str) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line]
    return {row["id"]: row for row in rows}


ARTICLES = load("articles.jsonl")
EXPECTED = load("expected.jsonl")


def entry(article_id: str) -> Entry:
    a = ARTICLES[article_id]
    return Entry(
        key=a["id"],
        url=a["url"],
        source=a["source"],
        published_at=utc(a["published_at"]),
        fingerprint=fingerprint(a["body"]),
    )


def run_cli(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    src = io.BytesIO(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    out = io.BytesIO()
    dedupe_lines(src, out)
    return [json.loads(x) for x in out.getvalue().splitlines()]


def partition(assign: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for key, cluster in assign.items():
        groups[cluster].add(key)
    return {frozenset(g) for g in groups.values()}


# --- the golden file: every copy kind joins, every must-not-merge kind stays apart ----------


def test_fixture_partition_matches_gold() -> None:
    out = run_cli(list(ARTICLES.values()))
    assert [o["id"] for o in out] == list(ARTICLES)  # one output line per input line, in order
    got = partition({o["id"]: o["cluster_id"] for o in out})
    want = partition({i: e["cluster"] for i, e in EXPECTED.items()})
    assert got == want


def test_fixture_canonical_is_the_original() -> None:
    out = {o["id"]: o for o in run_cli(list(ARTICLES.values()))}
    canonical = {i for i, o in out.items() if o["canonical"]}
    assert canonical == {i for i, e in EXPECTED.items() if e["original"]}


def test_cli_reads_stdin_and_writes_stdout(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    data = (FIXTURES / "articles.jsonl").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["dedupe"]) == 0
    out = [json.loads(x) for x in capsysbinary.readouterr().out.splitlines()]
    assert len(out) == len(ARTICLES)
    assert set(out[0]) == {"id", "cluster_id", "canonical"}


def test_cli_keeps_a_line_for_bad_json() -> None:
    src = io.BytesIO(b'{"id": "a", "url": "https://x.test/a", "body": "one two three four five"}\n'
                     b"not json\n")
    out = io.BytesIO()
    assert dedupe_lines(src, out) == 1
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == ["a", "line-2"]
    assert all(r["canonical"] for r in rows)


# --- each copy kind, pair by pair -------------------------------------------------------------


@pytest.mark.parametrize(
    "copy_id",
    ["bridge-wire", "bridge-aggregator", "bridge-excerpt", "bridge-correction"],
)
def test_near_duplicate_copies_are_copies(copy_id: str) -> None:
    assert same_story(entry("bridge-original"), entry(copy_id))


def test_excerpt_has_low_jaccard_but_full_containment() -> None:
    original, excerpt = entry("bridge-original").fingerprint, entry("bridge-excerpt").fingerprint
    a, b = np.unique(original.shingles), np.unique(excerpt.shingles)
    jaccard = np.intersect1d(a, b).size / np.union1d(a, b).size
    assert jaccard < 0.5
    assert containment(excerpt, original) > 0.95


def test_same_body_in_other_case_quotes_and_spacing_is_an_exact_copy() -> None:
    a, b = ARTICLES["library-original"]["body"], ARTICLES["library-samebody"]["body"]
    assert a != b
    assert body_hash(a) == body_hash(b)


def test_same_canonical_url_is_the_same_story() -> None:
    a, b = entry("library-original"), entry("library-sameurl")
    assert url_key(a.url) == url_key(b.url)
    assert same_story(a, b)


def test_url_key_drops_tracking_parameters_and_front_pages() -> None:
    assert url_key("https://www.x.test/a/b/?utm_source=rss&id=3") == "x.test/a/b?id=3"
    assert url_key("https://x.test/") is None


def test_dateline_is_stripped() -> None:
    assert strip_dateline("LOS ANGELES (AP) — The team won.") == "The team won."
    assert strip_dateline("NEW DELHI: Prices rose.") == "Prices rose."
    assert strip_dateline("The mayor said: no.") == "The mayor said: no."


def test_furniture_lines_are_not_content() -> None:
    body = "Share this:\n\nThe council approved the budget on Monday evening.\n\nViews 12"
    lines = content_lines(body)
    assert lines == ["the council approved the budget on monday evening."]


# --- each must-not-merge kind -----------------------------------------------------------------


def test_same_event_written_independently_is_not_a_copy() -> None:
    assert not same_story(entry("ferry-original"), entry("ferry-other"))


def test_shared_boilerplate_paragraph_is_not_a_copy() -> None:
    a, b = entry("boiler-school"), entry("boiler-trees")
    loose = MatchRules(min_containment=0.3, short_containment=0.3)
    assert not is_copy(a.fingerprint, b.fingerprint, rules=loose)  # the paragraph guard
    no_guard = MatchRules(
        min_containment=0.3,
        short_containment=0.3,
        one_paragraph_share=2.0,
        max_name_miss=1.0,
        max_number_miss=1.0,
    )
    assert is_copy(a.fingerprint, b.fingerprint, rules=no_guard)


def test_template_items_are_not_copies() -> None:
    a, b = entry("template-0").fingerprint, entry("template-1").fingerprint
    assert containment(a, b) > 0.85  # the words are nearly all the same ...
    assert not is_copy(a, b)  # ... the numbers and names are not
    no_guard = MatchRules(max_number_miss=1.0, max_name_miss=1.0)
    assert is_copy(a, b, rules=no_guard)


def test_same_text_beyond_the_horizon_is_a_new_item() -> None:
    a, b = entry("bridge-original"), entry("bridge-anniversary")
    assert is_copy(a.fingerprint, b.fingerprint)  # same text ...
    assert not same_story(a, b)  # ... six months later


# --- canonical choice -------------------------------------------------------------------------


def test_canonical_is_earliest_complete_non_aggregator() -> None:
    members = [entry(i) for i in ARTICLES if EXPECTED[i]["cluster"] == "bridge"]
    assert choose_canonical(members).key == "bridge-original"


def test_repost_dated_before_its_original_is_not_canonical() -> None:
    repost, original = entry("orchestra-repost"), entry("orchestra-original")
    assert repost.published_at is not None and original.published_at is not None
    assert repost.published_at < original.published_at
    assert choose_canonical([repost, original]).key == "orchestra-original"


def test_truncated_copy_is_not_canonical_even_when_earlier() -> None:
    agg, original = entry("bridge-aggregator"), entry("bridge-original")
    early = Entry(agg.key, agg.url, agg.source, utc("2024-05-07T07:00:00Z"), agg.fingerprint)
    assert choose_canonical([early, original]).key == "bridge-original"


def test_canonical_falls_back_to_earliest_time() -> None:
    a, b = entry("bridge-original"), entry("bridge-wire")
    late = Entry(a.key, a.url, a.source, utc("2024-05-08T00:00:00Z"), a.fingerprint)
    assert choose_canonical([late, b]).key == "bridge-wire"


# --- fingerprints -----------------------------------------------------------------------------


def test_hashes_are_stable_across_processes() -> None:
    # Fixed expectations: band keys are stored in Elasticsearch and must never drift.
    tokens, lines = token_hashes(["abc def", "ghi"])
    assert lines.tolist() == [0, 0, 1]
    assert len(set(tokens.tolist())) == 3
    again, _ = token_hashes(["ghi abc"])
    assert again.tolist() == [tokens[2], tokens[0]]


def test_shingles_depend_on_word_order() -> None:
    a, _ = token_hashes(["one two three four five six"])
    b, _ = token_hashes(["six five four three two one"])
    assert not set(shingle_hashes(a).tolist()) & set(shingle_hashes(b).tolist())


def test_minhash_agrees_on_similar_sets() -> None:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**63, size=1000, dtype=np.uint64)
    other = base.copy()
    other[:100] = rng.integers(0, 2**63, size=100, dtype=np.uint64)
    agree = float((minhash(base, 64) == minhash(other, 64)).mean())
    assert 0.7 < agree < 0.95  # Jaccard 900/1100 ≈ 0.82


def test_copies_share_band_keys_and_strangers_do_not() -> None:
    keys = {i: set(fingerprint(a["body"]).band_keys) for i, a in ARTICLES.items()}
    for copy_id in ("bridge-wire", "bridge-aggregator", "bridge-excerpt", "bridge-correction"):
        assert keys["bridge-original"] & keys[copy_id], copy_id
    assert not keys["bridge-original"] & keys["ferry-original"]


def test_japanese_text_is_shingled_by_character() -> None:
    text = (
        "先日、不正に改造した電話を販売したとして男性が逮捕されました。"
        "報道によると今回販売されたのは改造品です。"
    )
    fp = fingerprint(text)
    assert fp.words > 20
    cut = fingerprint(text[:40])
    assert containment(cut, fp) > 0.9


def test_fingerprint_pickles_compactly() -> None:
    fp = fingerprint(" ".join(f"word{i}" for i in range(1000)))
    assert pickle.loads(pickle.dumps(fp)).band_keys == fp.band_keys
    assert len(pickle.dumps(fp)) < 8000


def test_furniture_lines_do_not_count_against_a_copy() -> None:
    original = entry("library-original")
    paragraphs = ARTICLES["library-original"]["body"].split("\n\n")
    junk = [
        "Sign up for our free newsletter to get the top stories in your inbox each morning",
        "Follow us on all the usual social networks for more news from around the region",
        "Email this article to a friend",
    ]
    body = "\n\n".join([paragraphs[0], junk[0], paragraphs[1], junk[1], junk[2]])
    copy = Entry("c", "https://agg.test/1", "agg.test", original.published_at, fingerprint(body))
    assert containment(copy.fingerprint, original.fingerprint) < 0.7  # raw share is low ...
    assert same_story(copy, original)  # ... but the unmatched short lines are furniture
    assert not same_story(copy, original, MatchRules(max_furniture=0.0))


def test_numbers_cut_off_by_truncation_do_not_split_a_copy() -> None:
    full = "The club sold 1,250 season tickets on Monday and expects to pass 4,000 by July."
    text = full + " Ticket prices start at 120 pounds for adults this year."
    junk = " ".join(["and", "more", "words", "of", "page", "furniture"] * 4)
    original = fingerprint(text)
    cut = fingerprint(text[:60] + "\n\n" + junk)  # longer than the original, yet cut short
    assert cut.shingles.size > original.shingles.size
    assert original.numbers - cut.numbers  # the copy lost a figure to the cut ...
    loose = MatchRules(min_containment=0.3, short_containment=0.3, max_furniture=0.0)
    assert is_copy(original, cut, rules=loose)  # ... which is no reason to split it


LIBRARY = ARTICLES["library-original"]["body"].split("\n\n")
SUBHEADS = ("A volunteer group raised the money for the extra staff hours",  # no full stops
            "Sunday opening was the wish of most visitors in every survey")


def test_a_wire_copy_with_paragraphs_run_together_and_its_end_cut_is_a_copy() -> None:
    """Run together, each subhead puts the word after it ("The", "Head") inside a sentence: a
    name the original, where that word opens a line, seems to lack. Cut, the copy lacks the
    names of the last paragraph. Neither is a disagreement in the text both hold."""
    original = fingerprint("\n\n".join([SUBHEADS[0], *LIBRARY[:2], SUBHEADS[1], *LIBRARY[2:]]))
    wire = fingerprint("\n\n".join([SUBHEADS[0] + " " + LIBRARY[0], LIBRARY[1],
                                     SUBHEADS[1] + " " + LIBRARY[2], LIBRARY[3]]))
    assert {"The", "Head"} <= wire.names - original.names
    assert {"Eastfield", "Carver"} <= original.names - wire.names
    assert is_copy(wire, original) and is_copy(original, wire)


def test_a_copy_cut_short_that_kept_a_line_its_original_lost_is_a_copy() -> None:
    """One extractor kept the product box above the story, the other dropped it; the copy is
    also cut off mid-story. Its names and numbers outside the text both hold do not count."""
    box = "Tested by: John Milbank RRP: 49.95 Euro (40 pounds) More info at earbooks.example +49 40"
    original = fingerprint("\n\n".join(LIBRARY))
    copy = fingerprint("\n\n".join([box, *LIBRARY[:3], LIBRARY[3][:60]]))
    assert copy.numbers - original.numbers and copy.names - original.names
    assert original.names - copy.names
    assert is_copy(copy, original)


def test_an_original_whose_page_ends_without_a_full_stop_stays_canonical() -> None:
    """The normaliser flags a body whose last line ends without a full stop ("Houston, TX", a
    credit line) as truncated; alone, that does not make the original a partial copy."""
    when = utc("2024-06-02T08:00:00Z")
    assert when is not None
    body = "\n\n".join([*LIBRARY, "Library opening hours: Eastfield and Carver Hill branches"])
    original = Entry("o", "https://westbury.test/a", "westbury.test", when, fingerprint(body),
                     truncated=True)
    wire = Entry("w", "https://wire.test/b", "wire.test", when + HORIZON / 24,
                 fingerprint("\n\n".join(LIBRARY[:-1])))
    update = Entry("u", "https://westbury.test/a?updated=1", "westbury.test", when + HORIZON / 12,
                   fingerprint(body + "\n\nCorrection: an earlier version misspelt a name."))
    assert choose_canonical([wire, update, original]).key == "o"


def test_entry_tuple_round_trip_keeps_what_the_pair_check_reads() -> None:
    from datetime import UTC, datetime, timedelta

    from newsflow.dedupe.story import (
        entry_from_tuple,
        entry_to_tuple,
        epoch_micros,
        from_epoch_micros,
    )

    body = ("Alpha beta gamma delta 12 epsilon Zeta and Omega rho sigma tau 7 upsilon phi.\n\n"
            "Eta theta iota kappa lambda mu nu xi.")
    when = datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
    entry = Entry("k", "https://a.test/x", "a.test", when, fingerprint(body), truncated=True)
    back = entry_from_tuple(entry_to_tuple(entry))
    assert (back.key, back.url, back.source, back.published_at, back.truncated) == (
        "k", "https://a.test/x", "a.test", when, True)
    fp, fb = entry.fingerprint, back.fingerprint
    for name in ("shingles", "line_starts", "bands"):
        assert getattr(fb, name).dtype == getattr(fp, name).dtype
        assert getattr(fb, name).tolist() == getattr(fp, name).tolist()
    for name in ("numbers", "words", "body_hash", "complete", "credits", "names", "short",
                 "line_numbers", "line_names", "caps"):
        assert getattr(fb, name) == getattr(fp, name)
    assert is_copy(fp, fb) and is_copy(fb, fp)
    # Exact microseconds: the 72-hour horizon compares as it does on datetimes.
    later = when + HORIZON
    start, end = epoch_micros(when), epoch_micros(later)
    assert start is not None and end is not None
    assert end - start == HORIZON // timedelta(microseconds=1)
    assert from_epoch_micros(epoch_micros(later)) == later
    assert epoch_micros(None) is None and from_epoch_micros(None) is None


def test_fold_makes_typography_plain_and_spaces_out_scripts_without_spaces() -> None:
    from newsflow.dedupe.text import fold

    assert fold("It’s “Done” – ‘Twice’ — at 5\u22123 … and\u00a0more • here · now ‚ok‛ „no«»") == (
        "it's \"done\" - 'twice' - at 5-3 ... and more   here   now 'ok' \"no\"\"")
    assert fold("Don`t SHOUT") == "don't shout"  # the ASCII path
    assert fold("東京で会議") == " 東  京  で  会  議 "


def test_the_shared_views_change_no_pair_check() -> None:
    # Every ordered pair of the fixtures, with and without the batch's cache of sorted
    # shingles: the same answers, whichever body of the pair is the shorter.
    from newsflow.dedupe.match import ShingleViews

    entries = [entry(aid) for aid in sorted(ARTICLES)]
    views = ShingleViews(size=3)  # smaller than the set: bodies leave it and come back
    answers = {True: 0, False: 0}
    timeless = MatchRules(horizon=HORIZON * 1e4)
    for a in entries:
        for b in entries:
            alone = is_copy(a.fingerprint, b.fingerprint, rules=timeless)
            shared = is_copy(a.fingerprint, b.fingerprint, rules=timeless, views=views)
            assert alone == shared, (a.key, b.key)
            answers[alone] += 1
    assert answers[True] > len(entries) and answers[False] > len(entries)
    assert len(views._views) == 3


def test_candidate_pairs_keep_the_horizon_as_the_keyed_path_does() -> None:
    from datetime import timedelta

    from newsflow.dedupe.cluster import candidate_pairs

    base = entry(sorted(ARTICLES)[0])

    def at(key: str, hours: float | None) -> Entry:
        when = None if hours is None else base.published_at + timedelta(hours=hours)
        return Entry(key, f"https://{key}.test/story", key, when, base.fingerprint)

    entries = [at("a", 0), at("b", 72), at("c", 72.001), at("d", None)]
    assert sorted(candidate_pairs(entries)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert sorted(candidate_pairs(entries, horizon=HORIZON)) == [
        (0, 1), (0, 3), (1, 2), (1, 3), (2, 3)]  # a-c: 72 h and 3.6 s apart
