"""extract_article end to end: golden pages, hostile pages, legacy encodings, the feed fallback."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest

from newsflow.extract import (
    MAX_HTML_CHARS,
    MAX_PARSED_NODES,
    _html_parser,
    article_from_feed,
    extract_article,
    parse_html,
)
from newsflow.extract.content import prune_chrome
from schemas.records import FeedEntry, utc

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["aggregator", "publisher", "table-layout", "aspnet-form"])
def test_golden_page(name: str) -> None:
    golden = json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    html = (FIXTURES / f"{name}.html").read_bytes()
    article = extract_article(html, golden["input"]["url"],
                              fetched_at=utc(golden["input"]["fetched_at"]))
    got = article.to_dict()
    assert {k: got[k] for k in golden["expected"]} == golden["expected"]


def test_seed_like_page_keeps_the_story_and_nothing_else() -> None:
    html = (FIXTURES / "aggregator.html").read_bytes()
    article = extract_article(html, "https://quicknewshub.example/news/ferry-vote", fetched_at=NOW)
    for furniture in ("Share with", "Published", "Related Topics", "Image caption", "Photo:",
                      "View 152", "Category", "By Elena", "Coastal Herald", "presentational"):
        assert furniture not in article.body
    assert article.body.startswith("Residents of Port Alder")
    assert article.body.count("Harbour town votes") == 0
    assert "What happens next" in article.body  # a subheading inside the story stays
    assert article.authors == ["Elena Marsh"]
    assert article.published_at == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    assert article.published_at_source == "relative"
    assert article.truncated is True


def test_publisher_page_metadata() -> None:
    html = (FIXTURES / "publisher.html").read_bytes()
    article = extract_article(html, "https://www.northernledger.example/b/123", fetched_at=NOW)
    assert article.publisher == "The Northern Ledger"
    assert article.authors == ["Tomasz Wilk", "Priya Raman"]
    assert article.modified_at == datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
    assert "Sign up" not in article.body and "Fares to rise" not in article.body
    assert "Photograph" not in article.body and "Share on" not in article.body
    assert article.truncated is False


def test_empty_page() -> None:
    for html in (b"", "   ", "<html></html>", "<html><body></body></html>"):
        article = extract_article(html, "https://example.org/a", fetched_at=NOW)
        assert article.body == ""
        assert article.word_count == 0
        assert article.url == "https://example.org/a"


def test_page_that_is_not_an_article_yields_little_or_nothing() -> None:
    links = "".join(f"<li><a href='/p/{i}'>Product {i}</a></li>" for i in range(200))
    html = f"<html><head><title>Shop</title></head><body><nav><ul>{links}</ul></nav></body></html>"
    article = extract_article(html, "https://shop.example.org/", fetched_at=NOW)
    assert "Product 1" not in article.body
    assert article.word_count < 20


def test_ten_megabyte_page_is_bounded() -> None:
    paragraph = "<p>" + "Words of a very long page that never seems to end at all. " * 20 + "</p>"
    html = ("<html><body><article>" + paragraph * (10_000_000 // len(paragraph) + 1)
            + "</article></body></html>").encode()
    assert len(html) > 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    article = extract_article(html, "https://example.org/huge", fetched_at=NOW)
    spent = time.process_time() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert article.body  # still an article, cut to the bound
    assert len(article.body) <= MAX_HTML_CHARS
    # Generous bounds that only an unbounded implementation would break.
    assert spent < 120
    assert grown_mb < 4096


def _legacy_page(text: str) -> str:
    sentence = f"<p>{text}</p>"
    body = f"<article>{sentence * 6}</article>"
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("encoding", "text", "headers", "meta"),
    [
        ("cp1251", "Городской совет утвердил новый бюджет на следующий год после долгих споров.",
         None, "windows-1251"),
        ("iso-8859-1", "Le conseil municipal a adopté le budget après un débat très animé hier.",
         {"Content-Type": "text/html; charset=ISO-8859-1"}, None),
        ("shift_jis", "市議会は長い議論の末に来年度の予算案を可決しました。", None, "shift_jis"),
        ("cp1252", "Der Stadtrat hat nach langer Diskussion den Haushalt für das Jahr beschlossen.",
         None, None),
    ],
)
def test_legacy_encodings(encoding: str, text: str, headers: dict[str, str] | None,
                          meta: str | None) -> None:
    page = _legacy_page(text)
    if meta:
        page = page.replace("<head>", f'<head><meta charset="{meta}">')
    article = extract_article(page.encode(encoding), "https://example.org/a", fetched_at=NOW,
                              headers=headers)
    assert text in article.body


def test_byte_order_mark_wins() -> None:
    page = _legacy_page("Ein Satz mit Umlauten: Grüße aus Köln, schöne Straßen überall.")
    data = b"\xef\xbb\xbf" + page.encode("utf-8")
    article = extract_article(data, "https://example.org/a", fetched_at=NOW,
                              headers={"Content-Type": "text/html; charset=iso-8859-1"})
    assert "Grüße aus Köln" in article.body


def test_feed_fallback_article() -> None:
    entry = FeedEntry(
        feed_url="https://example.org/feed.xml",
        url="https://example.org/story?utm_source=rss",
        guid="g1",
        title="Council approves budget",
        content="<p>The council approved the budget on Monday after a long debate.</p>"
                "<p>Share this:</p><p>The vote was close, with nine members in favour.</p>",
        authors=["By Ann Lee"],
        published_at=datetime(2024, 3, 4, 8, 0, tzinfo=UTC),
        feed_title="Example Daily",
    )
    article = article_from_feed(entry, fetched_at=NOW)
    assert article.body_source == "feed"
    assert article.body == ("The council approved the budget on Monday after a long debate.\n\n"
                            "The vote was close, with nine members in favour.")
    assert article.url == "https://example.org/story"
    assert article.authors == ["Ann Lee"]
    assert article.published_at_source == "feed"
    assert article.publisher == "Example Daily"


def test_feed_entry_date_used_when_page_has_none() -> None:
    entry = FeedEntry(feed_url="f", url="https://example.org/x", guid="g",
                      published_at=datetime(2024, 3, 1, 6, 0, tzinfo=UTC))
    page = _legacy_page("A plain page with a story but no date anywhere in its markup at all.")
    article = extract_article(page, "https://example.org/x", fetched_at=NOW, entry=entry)
    assert article.published_at == datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    assert article.published_at_source == "feed"
    assert article.guid == "g" and article.feed_url == "f"


def test_element_dense_page_is_cut_to_the_node_bound() -> None:
    story = "<p>" + "A real sentence of the story that matters to its readers. " * 20 + "</p>"
    filler = '<div><span>a</span><a href="/x">link</a></div>' * 300_000
    html = f"<html><body>{story}{filler}</body></html>"
    tree = parse_html(html)
    assert tree is not None
    assert int(tree.xpath("count(//*)")) <= MAX_PARSED_NODES * 1.05
    article = extract_article(html, "https://example.org/dense", fetched_at=NOW)
    assert article.body.startswith("A real sentence of the story")


def test_chrome_is_pruned_but_json_ld_tails_and_metadata_survive() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style><script>var a=1;</script>"
        '<script type="application/ld+json">{"articleBody": "kept"}</script></head><body>'
        "<nav>Home News</nav><!-- a comment --><p>Lead <button>Share</button>tail stays.</p>"
        "<aside>Related</aside><footer>Footer</footer></body></html>"
    )
    tree = lxml.html.document_fromstring(html)
    prune_chrome(tree)
    out = lxml.html.tostring(tree, encoding="unicode")
    assert "application/ld+json" in out and "kept" in out
    for gone in ("<title>", "<style>", "var a=1", "Home News", "a comment", "Share", "Related",
                 "Footer"):
        assert gone not in out
    assert "<p>Lead tail stays.</p>" in out


def test_byline_and_time_in_pruned_chrome_are_still_read() -> None:
    story = "".join(f"<p>Sentence number {i} of a story that goes on for a while.</p>"
                    for i in range(12))
    html = (
        f"<html><body><article><h1>Headline</h1>{story}</article>"
        '<aside><time datetime="2024-03-01T10:00:00Z">1 March</time></aside>'
        '<footer><span class="byline">By Ann Lee</span></footer></body></html>'
    )
    article = extract_article(html, "https://example.org/a", fetched_at=NOW)
    assert article.authors == ["Ann Lee"]
    assert article.published_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert article.published_at_source == "time"
    assert "Sentence number 11" in article.body and "By Ann Lee" not in article.body


def test_parsed_elements_are_html_elements_and_parsers_are_per_thread() -> None:
    tree = parse_html("<html><body><form><input name=q><label>L</label></form><!-- c --></body>"
                      "</html>")
    assert tree is not None
    assert all(isinstance(el, lxml.html.HtmlElement) for el in tree.iter() if
               isinstance(el.tag, str))
    assert tree.find(".//form").text_content() == "L"
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(_html_parser()))
    worker.start()
    worker.join()
    assert _html_parser() is _html_parser()
    assert other and other[0] is not _html_parser()


def test_second_opinion_for_short_extractions_only_when_the_page_has_more_text() -> None:
    from newsflow.extract.content import _needs_second_opinion

    story = ["A short story that is all the page has to say about the matter at hand."] * 3
    short_page = lxml.html.document_fromstring("<html><body>" + "".join(
        f"<p>{p}</p>" for p in story) + "</body></html>")
    assert not _needs_second_opinion(story, short_page)
    long_page = lxml.html.document_fromstring("<html><body>" + "".join(
        f"<p>{p}</p>" for p in story) + "<div>" + "More text the extractor left out. " * 60
        + "</div></body></html>")
    assert _needs_second_opinion(story, long_page)
    furniture_edges = ["Share", "Home", *story, "Related", "Newsletter", "Copyright"]
    assert _needs_second_opinion(furniture_edges, short_page)


def test_on_a_big_page_one_sign_is_not_enough_for_a_second_opinion() -> None:
    from newsflow.extract.content import _BIG_PAGE, _needs_second_opinion

    story = [f"Paragraph {i} of a story long enough to be prose on its own, as stories are."
             for i in range(30)]

    def page(links: int) -> lxml.html.HtmlElement:
        listing = "".join(f"<li><a href='/s/{i}'>Other story number {i} today</a></li>"
                          for i in range(links))
        return lxml.html.document_fromstring(
            "<html><body>" + "".join(f"<p>{p}</p>" for p in story)
            + f"<ul>{listing}</ul></body></html>")

    small_page, big_page = page(10), page(_BIG_PAGE)
    one_sign = [*story, "Other story number 7 today"]  # a link's text: one sign only
    assert _needs_second_opinion(one_sign, small_page)
    assert not _needs_second_opinion(one_sign, big_page)
    two_signs = ["Share", "Home", *story, "Related", "Newsletter", "Other story number 7 today"]
    assert _needs_second_opinion(two_signs, big_page)
    assert _needs_second_opinion([], big_page)


def test_warm_up_loads_what_a_first_extraction_would() -> None:
    # In a fresh interpreter: the extractors imported and the language model loaded.
    code = (
        "import sys\n"
        "from newsflow.extract import language, warm_up\n"
        "assert 'trafilatura' not in sys.modules\n"
        "assert language._identifier.cache_info().currsize == 0\n"
        "warm_up()\n"
        "assert {'trafilatura', 'readability'} <= set(sys.modules)\n"
        "assert language._identifier.cache_info().currsize == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


STORY_SENTENCES = [
    "The harbour board has approved plans for a new deep-water pier at Eastport, the biggest "
    "change to the port since the breakwater was rebuilt after the storms of 1953.",
    "The pier will let cargo ships twice the size of those that call today unload at any state "
    "of the tide, and the board expects it to bring three hundred jobs to the town.",
    "Work is due to start next spring, and the board said the first berth should open in the "
    "summer of 2011, with a second to follow if trade grows as it hopes.",
    "Fishermen had asked for the pier to be moved further east, away from the shellfish beds, "
    "and the board said it had changed the design to keep the dredging clear of them.",
]


def _pruned(html: str) -> lxml.html.HtmlElement:
    tree = parse_html(html)
    assert tree is not None
    prune_chrome(tree)
    return tree


def test_table_layout_page_keeps_its_story_when_trafilatura_finds_only_the_columns() -> None:
    from newsflow.extract.content import trafilatura_paragraphs

    html = (FIXTURES / "table-layout.html").read_bytes()
    found = " ".join(trafilatura_paragraphs(_pruned(html.decode("latin-1"))))
    assert "Councillors in Alder Mill" not in found  # what this page is here to show
    article = extract_article(html, "http://www.riversidecourier.example/news/4411.html",
                              fetched_at=NOW)
    assert article.body.startswith("Councillors in Alder Mill voted on Tuesday night")
    assert "the closure plan in the first place." in article.body
    for chrome in ("Local News", "Top stories", "Library hours", "Copyright", "Photo:",
                   "Print this story"):
        assert chrome not in article.body


def test_body_content_the_parser_put_in_the_head_is_moved_not_pruned() -> None:
    # An unknown tag before <body> makes the parser open the page inside <head>.
    html = ("<html><head><title>T</title><meta name=a content=b><banner>" + "".join(
        f"<p>{s}</p>" for s in STORY_SENTENCES) + "</head><body></body></html>")
    tree = _pruned(html)
    assert tree.find("head") is None or not tree.find("head").text_content().strip()
    assert STORY_SENTENCES[0] in " ".join(tree.find("body").text_content().split())
    article = extract_article(html, "https://example.org/a", fetched_at=NOW)
    assert all(s in article.body for s in STORY_SENTENCES)


def test_a_page_laid_out_in_one_form_keeps_it_and_widget_forms_go() -> None:
    from newsflow.extract.content import readability_paragraphs

    story = "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
    html = ("<html><body><form id='aspnetForm' action='story.aspx'>"
            "<form action='/search'><input name=q> Search the site</form>"
            f"<div class='story'>{story}</div>"
            "<div class='side'><form action='/signup'>Sign up for our newsletter "
            "<input name=email></form></div></form></body></html>")
    tree = _pruned(html)
    text = " ".join(tree.text_content().split())
    assert tree.find(".//form") is None
    assert STORY_SENTENCES[0] in text
    assert "Search the site" not in text and "newsletter" not in text
    assert readability_paragraphs(tree)[:4] == STORY_SENTENCES


def test_a_form_holding_more_than_a_widget_is_content() -> None:
    story = "".join(f"<p>{s}</p>" for s in STORY_SENTENCES * 2)  # 200-odd words, not half
    sidebar = "<div>" + " ".join(f"<a href='/{i}'>Other story {i}</a>" for i in range(150))
    html = f"<html><body><form>{story}</form>{sidebar}</div></body></html>"
    assert STORY_SENTENCES[3] in " ".join(_pruned(html).text_content().split())


def test_layout_tables_become_blocks_and_data_tables_stay() -> None:
    data = ("<table id='data'><tr><th>Team</th><th>Points</th></tr>"
            "<tr><td>Rovers</td><td>41</td></tr><tr><td>United</td><td>38</td></tr></table>")
    layout = ("<table id='layout'><tr><td><a href='/'>Home</a></td><td>"
              + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + data + "</td></tr></table>")
    wordy = ("<table id='wordy'><tr><td>" + " ".join(STORY_SENTENCES) + "</td></tr></table>")
    tree = _pruned(f"<html><body>{layout}{wordy}</body></html>")
    assert tree.find(".//*[@id='layout']").tag == "div"
    assert tree.find(".//*[@id='wordy']").tag == "div"
    assert tree.find(".//*[@id='data']").tag == "table"


def test_oversized_page_loses_its_inline_code_not_its_story() -> None:
    code = "<script>var state = '" + "x" * (MAX_HTML_CHARS + 500_000) + "';</script>"
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", '
          '"datePublished": "2024-03-05T08:00:00Z"}</script>')
    html = (f"<html><head>{ld}</head><body>{code}<article>"
            + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + "</article></body></html>")
    article = extract_article(html, "https://example.org/big", fetched_at=NOW)
    assert all(s in article.body for s in STORY_SENTENCES)
    assert article.published_at_source == "jsonld"  # JSON-LD is not code to drop


def test_a_broken_xml_declaration_does_not_lose_the_page() -> None:
    html = ('<?xml version="1.0" encoding="not, a real, encoding list" <html><body><article>'
            + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + "</article></body></html>")
    article = extract_article(html, "https://example.org/x", fetched_at=NOW)
    assert all(s in article.body for s in STORY_SENTENCES)


def test_when_readability_misses_the_story_trafilatura_s_is_kept() -> None:
    # readability drops a container whose class says "disqus": here it holds the story.
    story = "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
    links = "".join(f"<li><a href='/n/{i}'>Another headline number {i}</a></li>"
                    for i in range(30))
    html = ("<html><head><title>Pier approved</title></head><body>"
            f"<div class='story disqus-thread'>{story}</div>"
            f"<div class='more'><p>More from the Post</p><ul>{links}</ul></div></body></html>")
    article = extract_article(html, "https://example.org/pier", fetched_at=NOW)
    assert all(s in article.body for s in STORY_SENTENCES)
    assert "Another headline" not in article.body


def test_readability_keeps_an_article_whose_classes_name_its_topics() -> None:
    from newsflow.extract.content import readability_paragraphs

    story = "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
    html = ("<html><body><nav><a href='/'>Home</a></nav><article class='post tag-harbour "
            f"tag-jobs category-news'>{story}<div class='share-tools'>Share this</div>"
            "</article></body></html>")
    paragraphs = readability_paragraphs(_pruned(html))
    assert paragraphs == STORY_SENTENCES  # the share box goes, the tagged article stays


def test_readability_white_space_normalisation_is_its_own_in_linear_time() -> None:
    # readability's clean() as installed (loaded afresh: ours replaces it on first use).
    import importlib.util
    import random

    import readability.readability

    from newsflow.extract.content import _readability_clean

    spec = importlib.util.spec_from_file_location("readability._as_shipped",
                                                  readability.readability.__file__)
    assert spec is not None and spec.loader is not None
    shipped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shipped)
    pieces = ["a", "b.", " ", "  ", "\t", "\n", "\r\n", "\u00a0", " " * 254, " " * 255,
              " " * 300 + "\n", "\n" + "\t" * 260, "x y"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert _readability_clean(text) == shipped.clean(text), repr(text)
    # Runs of spaces without a newline: the shipped patterns retry from every space.
    indented = ("word" + " " * 250) * 400
    assert _readability_clean(indented) == shipped.clean(indented)


def test_the_parser_drops_comments_but_keeps_the_text_around_them() -> None:
    from newsflow.extract import parse_html

    tree = parse_html("<html><body><p>Before<!-- a hidden note -->after.</p>"
                      "<?php echo 1 ?><form><input name='q'></form></body></html>")
    assert tree is not None
    assert "a hidden note" not in lxml.html.tostring(tree, encoding="unicode")
    assert tree.xpath("string(//p)") == "Beforeafter."
    assert not tree.xpath("//comment()") and not tree.xpath("//processing-instruction()")
    # Every element is a plain HtmlElement (chosen in C), forms and inputs included.
    assert all(type(el) is lxml.html.HtmlElement for el in tree.iter(lxml.etree.Element))


def test_a_lede_written_as_bare_text_before_the_paragraphs_becomes_one() -> None:
    from newsflow.extract.content import trafilatura_paragraphs

    lede = ("The river ferry will run again from Monday, after a winter of repairs to its "
            "hull, the operator said.")
    html = ("<html><body><div><font size=2><table align=right><tr><td>A photo</td></tr></table>"
            f"<b>{lede}</b>" + "".join(f"<P>{s}" for s in STORY_SENTENCES)
            + "</font></div><div><a href='/a'>Ferry timetable for the spring season and "
              "the summer</a> <a href='/b'>More</a><p>Other news in brief.</p></div>"
              "</body></html>")
    tree = _pruned(html)
    wrapped = [" ".join(p.text_content().split()) for p in tree.iter("p")]
    assert lede in wrapped  # a paragraph of its own...
    assert not any(w.startswith("Ferry timetable") for w in wrapped)  # ...links are not
    found = trafilatura_paragraphs(tree)
    assert found.index(lede) == found.index(STORY_SENTENCES[0]) - 1


def test_loose_story_text_between_paragraphs_becomes_a_paragraph_and_comments_do_not() -> None:
    resumed = ("Bryant scored thirty points for the second night running, and the crowd stayed "
               "on its feet until the final whistle.")
    in_div = ("Writing in a newspaper on Sunday, the mayor said the pier would be finished "
              "before the summer season began.")
    comment = ("I have lived in this town for forty years and nobody ever asked us what we "
               "wanted from the harbour.")
    html = ("<html><body><div>" + f"<p>{STORY_SENTENCES[0]}<p>The winning streak is their "
            "longest in years. <div class=ad>Advertisement</div>" + resumed
            + f"<p>{STORY_SENTENCES[1]}</p><div>{in_div}<br></div><p>{STORY_SENTENCES[2]}</p>"
            f"<hr><b>Reader</b><br>{comment}<br><br><hr></div></body></html>")
    paragraphs = [" ".join(p.text_content().split()) for p in _pruned(html).iter("p")]
    assert resumed in paragraphs  # ran on after an ad box closed its paragraph
    assert in_div in paragraphs  # a paragraph in a <div> among <p>s
    assert not any(comment in p for p in paragraphs)  # after the last paragraph: left loose


def test_without_a_second_opinion_trafilatura_s_result_is_cut_to_its_prose() -> None:
    from newsflow.extract.content import block_texts, merge_extractions

    menu = [f"Section {name}" for name in ("Home", "News", "Sport", "Weather", "Games")]
    teasers = [f"Another headline number {i}" for i in range(8)]
    html = ("<html><body><div class=menu>" + "".join(f"<div>{m}</div>" for m in menu)
            + "</div><div class=story><h2>Pier approved</h2>"
            + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + "<p>Staff reporter</p></div>"
            + "<div class=more>" + "".join(f"<div>{t}</div>" for t in teasers)
            + "</div></body></html>")
    tree = _pruned(html)
    first = block_texts(tree.find("body"))  # what trafilatura gives on such a page
    kept, method = merge_extractions(first, [], tree)
    assert method == "trafilatura"
    # the story and what sits with it, not the menu or the teasers around it
    assert kept == ["Pier approved", *STORY_SENTENCES, "Staff reporter"]


def test_the_story_container_is_found_from_shared_prose_not_a_shared_headline() -> None:
    from newsflow.extract.content import merge_extractions

    headline = "Pier approved for Eastport harbour"
    others = [f"Another headline number {i} today" for i in range(10)]
    html = ("<html><body><div class=latest><ul>"
            + "".join(f"<li><a href='/n/{i}'>{t}</a></li>" for i, t in enumerate(others))
            + f"<li><a href='/pier'>{headline}</a></li></ul></div><div class=story>"
            + f"<h1>{headline}</h1>" + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
            + "</div></body></html>")
    # trafilatura kept the list of latest stories; readability the story and its headline
    first = [*others, headline, *STORY_SENTENCES]
    merged, method = merge_extractions(first, [headline, *STORY_SENTENCES], _pruned(html))
    assert method == "combined"
    assert merged == [headline, *STORY_SENTENCES]


def test_a_shared_headline_far_from_the_story_in_a_list_of_stories_does_not_stretch_it() -> None:
    from newsflow.extract.content import merge_extractions

    headline = "Pier approved for Eastport harbour"
    latest = [f"Another headline number {i} today" for i in range(5)] + [headline]
    sections = [f"Section {i} news ({i + 3})" for i in range(12)]
    html = ("<html><body><div class=latest><ul>"
            + "".join(f"<li><a href='/n/{i}'>{t}</a></li>" for i, t in enumerate(latest))
            + "</ul><ul>" + "".join(f"<li><a href='/s/{i}'>{t}</a></li>"
                                    for i, t in enumerate(sections))
            + f"</ul></div><div class=story><h1>{headline}</h1>"
            + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + "</div></body></html>")
    # trafilatura kept the lists of stories and sections above the story, not its <h1>;
    # readability kept the story and its headline
    first = [*latest, *sections, *STORY_SENTENCES]
    merged, method = merge_extractions(first, [headline, *STORY_SENTENCES], _pruned(html))
    assert method == "combined"
    assert merged == STORY_SENTENCES


def test_a_prose_teaser_in_the_navigation_does_not_stretch_trafilatura_s_result() -> None:
    from newsflow.extract.content import block_texts, merge_extractions

    teaser = "Preview: the studio showed us a first look at its new game this week..."
    menu = [f"Section {name}" for name in ("Home", "News", "Sport", "Weather", "Games", "Travel",
                                           "Money", "Video", "Forums", "Login", "Feeds")]
    html = ("<html><body><div class=nav><div>" + teaser + "</div>"
            + "".join(f"<div>{m}</div>" for m in menu) + "</div><div class=story>"
            + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES) + "</div></body></html>")
    tree = _pruned(html)
    first = block_texts(tree.find("body"))  # what trafilatura gives on such a page
    assert first[0] == teaser
    kept, method = merge_extractions(first, [], tree)  # readability found nothing
    assert method == "trafilatura"
    assert kept == STORY_SENTENCES


def test_teasers_that_end_in_a_read_more_link_ask_for_a_second_opinion() -> None:
    from newsflow.extract.content import _needs_second_opinion

    page = lxml.html.document_fromstring("<html><body>" + "".join(
        f"<p>{s}</p>" for s in STORY_SENTENCES) + "</body></html>")
    assert not _needs_second_opinion(STORY_SENTENCES, page)
    for more in ("Read", "Read more »", "More"):
        teaser = f"Another story from the coast ended in a famous win for the visitors. {more}"
        assert _needs_second_opinion([*STORY_SENTENCES, teaser], page)
    # a sentence that merely ends in the word is not a teaser
    assert not _needs_second_opinion(
        [*STORY_SENTENCES, "The board said it had nothing more to say. Nothing more."], page)


def test_the_story_does_not_run_on_past_a_heading_that_follows_it() -> None:
    from newsflow.extract.content import merge_extractions

    popular = [f"{i}. Another headline number {i} from today" for i in range(1, 6)]
    html = ("<html><body><div class=story>" + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
            + "<h3>Most popular</h3>" + "".join(f"<div>{t}</div>" for t in popular)
            + "</div></body></html>")
    first = [*STORY_SENTENCES, "Most popular", *popular]  # trafilatura: the whole container
    second = STORY_SENTENCES[:3]  # readability: the story, less its last paragraph
    merged, method = merge_extractions(first, second, _pruned(html))
    assert method == "combined"
    assert merged == STORY_SENTENCES  # the last paragraph sits in the container: kept


def test_several_agreed_paragraphs_are_a_story_not_a_fragment_of_one() -> None:
    from newsflow.extract.content import merge_extractions

    views = [f"Reader {i} writes that the harbour has been left to decline for years, that the "
             f"ferry timetable suits nobody who works in town, and that the council should "
             f"have asked the people who use the pier every day before it spent a penny." for i
             in range(6)]
    html = ("<html><body><div class=article>" + "".join(f"<p>{s}</p>" for s in STORY_SENTENCES)
            + "<div class=views><h2>Reader views</h2>" + "".join(f"<p>{v}</p>" for v in views)
            + "</div></div></body></html>")
    first = [*STORY_SENTENCES, "Reader views", *views]  # trafilatura kept the readers' views
    merged, method = merge_extractions(first, list(STORY_SENTENCES), _pruned(html))
    assert method == "combined"
    assert merged == STORY_SENTENCES


_READABILITY_PAGES = {
    "divs used as paragraphs": (
        "<html><body><div id='menu' class='sidebar'><a href='/a'>Home</a> <a href='/b'>World</a>"
        "</div><div class='story-body'><div>{0}<br><br>{1}</div><div><span>{2}</span> {3}"
        "</div><div style='display:none'>Hidden promotion text, never shown.</div>"
        "<div class='comment'>A reader, commenting: first!</div></div></body></html>"),
    "a table layout": (
        "<html><body><table><tr><td class='nav'><a href='/x'>Sport</a><br><a href='/y'>News"
        "</a></td><td><font size='2'>{0}<br>{1}</font><p>{2}</p><p>{3}</p></td></tr></table>"
        "</body></html>"),
    "paragraphs among link lists": (
        "<html><body><div class='related'><ul>" + "".join(
            f"<li><a href='/s/{i}'>Another headline, number {i}, with commas</a></li>"
            for i in range(8)) + "</ul></div><article><p>{0}</p><p>{1}</p><p hidden>Not this"
        "</p><p>{2}</p><p>{3}</p></article></body></html>"),
}


@pytest.mark.parametrize("name", sorted(_READABILITY_PAGES))
def test_our_readability_finds_what_the_shipped_one_does(name: str) -> None:
    # Our subclass of readability-lxml's Document (a parsed tree, its passes rewritten for
    # speed) against the library as shipped, on the same pruned page: the same story text.
    # An upgrade of readability-lxml that changes its internals fails here first.
    import importlib.util

    import readability.readability

    from newsflow.extract.content import _readability_document

    sentences = [f"{s} It went on, at some length, about the matter, with commas, and more."
                 for s in STORY_SENTENCES[:4]]
    tree = _pruned(_READABILITY_PAGES[name].format(*sentences))
    ours = _readability_document(tree)
    ours.summary(html_partial=True)
    spec = importlib.util.spec_from_file_location("readability._as_shipped_doc",
                                                  readability.readability.__file__)
    assert spec is not None and spec.loader is not None
    shipped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shipped)
    theirs = shipped.Document(lxml.html.tostring(tree, encoding="unicode")).summary(
        html_partial=True)
    their_text = " ".join(lxml.html.fragment_fromstring(theirs).text_content().split())
    our_text = " ".join(ours.story.text_content().split())
    assert our_text == their_text
    assert all(s in our_text for s in sentences)
