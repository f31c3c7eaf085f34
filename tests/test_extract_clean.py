"""Boilerplate cleanup, truncation, titles and the extractor combination."""

from __future__ import annotations

import pytest

from newsflow.extract.clean import (
    clean_paragraphs,
    is_furniture,
    is_truncated,
    strip_title_suffix,
)
from newsflow.extract.content import merge_extractions

STORY = [
    "The river rose by two metres overnight, flooding the lower streets of the old town and "
    "forcing dozens of families to leave their homes before dawn.",
    "Emergency crews worked through the night to build a temporary wall of sandbags along "
    "the quay, and the water began to fall shortly after midday.",
    "The mayor said the town would ask the national government for help with repairs.",
]


@pytest.mark.parametrize(
    "line",
    [
        "Share with:", "Share on:", "Share", "Tweet this", "Related Topics", "Related stories",
        "More on this story", "Category: News View 152", "1,204 views", "Comments (3)",
        "  • Published1 hour ago", "Updated 5:27 am CST, Wednesday, November 20, 2019",
        "3 hrs ago", "Yesterday", "Image caption,The river at its highest point on Sunday",
        "Photo: Jane Doe/Example Agency", "Caption: the quay at dusk",
        "2px presentational grey line",
        "Sign up for our daily newsletter", "Tags: floods, weather",
    ],
)
def test_furniture_lines(line: str) -> None:
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        STORY[0], "What happens next", "— Jane Doe (@janedoe) November 1, 2019",
        "“We share your pain,” the president told the group of mothers.",
        "The share price fell by 12 per cent on Monday after the results were published.",
    ],
)
def test_story_lines_are_not_furniture(line: str) -> None:
    assert not is_furniture(line)


def test_seed_structure_is_cleaned() -> None:
    title = "Flood waters fall in the old town"
    lines = [title, "Share with:", title, "  • Published1 hour ago", "Related Topics",
             "Flood water in the main square. Photo: 3 March 2024",
             "Image caption,Flood water in the main square on Sunday", "By Jane Doe",
             "Example News", *STORY, "Share with:", "Category: News View 152"]
    assert clean_paragraphs(lines, title=title) == STORY


def test_headline_repeated_without_furniture_block_is_dropped() -> None:
    title = "Flood waters fall in the old town"
    assert clean_paragraphs([title, "By Jane Doe", *STORY], title=title) == STORY


def test_story_opening_with_the_headline_sentence_is_kept() -> None:
    title = "The mayor said the town would ask the national government for help with repairs."
    lines = [title, "Share", "Image caption,Flood water", title, STORY[0]]
    assert clean_paragraphs(lines, title=title) == [title, STORY[0]]


def test_a_short_prose_opening_survives_a_widget_after_it() -> None:
    lines = ["The council approved the budget on Monday after a long debate.", "Share this:",
             STORY[0]]
    assert clean_paragraphs(lines) == [lines[0], STORY[0]]


def test_list_of_links_is_not_an_article() -> None:
    assert clean_paragraphs([f"Product {i}" for i in range(30)]) == []


def test_truncation() -> None:
    assert is_truncated(STORY[:2] + ["Especially for a mother, to whom we are all i"])
    assert is_truncated(STORY[:2] + ["The council said the plan would be ready by the end of..."])
    assert not is_truncated(STORY)
    assert not is_truncated(STORY + ["— Jane Doe (@janedoe) November 1, 2019"])
    assert not is_truncated([])


@pytest.mark.parametrize(
    ("title", "publisher", "domain", "expected"),
    [
        ("Flood waters fall | Example News", "Example News", "example.com", "Flood waters fall"),
        ("Flood waters fall - BBC News", "", "bbc.co.uk", "Flood waters fall"),
        ("Example News: Flood waters fall", "Example News", "", "Flood waters fall"),
        ("Flood waters fall | quicknewshub.example", "", "quicknewshub.example",
         "Flood waters fall"),
        ("Floods: what we know so far", "Example News", "example.com",
         "Floods: what we know so far"),
        ("Putin - a profile", "", "", "Putin - a profile"),
    ],
)
def test_strip_title_suffix(title: str, publisher: str, domain: str, expected: str) -> None:
    assert strip_title_suffix(title, publisher=publisher, domain=domain) == expected


def test_merge_keeps_agreed_span_and_inner_extras_drops_edge_extras() -> None:
    tweet = "— Jane Doe (@janedoe) November 1, 2019"
    first = ["Headline of the page", STORY[0], tweet, STORY[1], STORY[2],
             "Sign up for our newsletter", "Related: another story"]
    second = [STORY[0], STORY[1], STORY[2], "Photo: Jane Doe"]
    merged, method = merge_extractions(first, second)
    assert merged == [STORY[0], tweet, STORY[1], STORY[2]]
    assert method == "combined"


def test_merge_ignores_second_extractor_captions_inside_the_story() -> None:
    caption = "Flood water in the main square"
    merged, _ = merge_extractions(STORY, [STORY[0], caption, STORY[1], STORY[2]])
    assert merged == STORY


def test_merge_when_extractors_disagree_keeps_the_first() -> None:
    other = ["A completely different block of text about something else entirely, which "
             "one extractor picked as the main content of the page by mistake."]
    assert merge_extractions(STORY, other) == (STORY, "trafilatura")
    assert merge_extractions([], STORY) == (STORY, "readability")


@pytest.mark.parametrize(
    "line",
    [
        "On Friday, the president said he would veto the bill.",
        "Published in 1851, the novel sold poorly at first.",
        "Print journalism is dying.",
        "Follow the money.",
        "The company said it would send a newsletter to subscribers.",
        "He likes 3 dogs and two cats in his flat.",
    ],
)
def test_sentences_that_merely_start_like_furniture_stay(line: str) -> None:
    assert not is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        "Get the day's top stories in your inbox every weekday.", "Follow us on Twitter",
        "Download our app", "Advertisement", "Posted on 11/20/2019", "20 Nov 2019, 10:42",
        "Last updated 45 minutes ago", "Click here to read more", "Source: Example Wire",
    ],
)
def test_more_furniture_in_other_words(line: str) -> None:
    assert is_furniture(line)


def test_merge_agrees_on_text_split_differently() -> None:
    rows = ["| Team | Points |", "| Rovers | 41 |", "| United | 38 |"]
    cells = ["Team", "Points", "Rovers", "41", "United", "38"]
    assert merge_extractions(STORY + rows, STORY + cells)[0] == STORY + rows


def test_merge_prefers_prose_over_a_list_of_links_whichever_extractor_has_it() -> None:
    links = [f"Another headline about the town, number {i}" for i in range(40)]
    assert merge_extractions(links, STORY) == (STORY, "readability")
    assert merge_extractions(STORY, links) == (STORY, "trafilatura")


def test_merge_takes_the_whole_story_when_the_other_found_only_its_headline() -> None:
    story = STORY * 4  # enough prose of its own to outweigh a shared headline
    headline = "Flood waters fall in the old town"
    merged, method = merge_extractions([headline], [headline, *story])
    assert (merged, method) == ([headline, *story], "readability")


def test_merge_keeps_edges_in_the_story_container_and_drops_those_outside() -> None:
    import lxml.html

    lede = "Residents returned to the lower town on Monday as the water went down."
    related = "Council approves new flood wall for the quay"
    page = lxml.html.document_fromstring(
        "<html><body><article>" + f"<p>{lede}</p>" + "".join(f"<p>{p}</p>" for p in STORY)
        + "</article><aside><p>" + related + "</p></aside></body></html>")
    first = [lede, *STORY, related]  # one extractor keeps the lede and a related link
    second = list(STORY)
    merged, _ = merge_extractions(first, second, page)
    assert merged == [lede, *STORY]
    merged, _ = merge_extractions(first, second)  # without the page: only the agreed span
    assert merged == STORY
