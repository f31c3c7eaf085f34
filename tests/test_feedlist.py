"""Feed lists: text files, command-line URLs and OPML; errors carry line numbers; dedup."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.feedlist import FeedListError, load_feed_list, parse_feed_list

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def test_text_list_with_comments_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text(
        "\ufeff# my feeds\n\nhttps://example.org/rss.xml\n   \n"
        "http://news.example.com/atom  # the news\n\u200b\n"
    )
    sources = load_feed_list(files=[path])
    assert [s.url for s in sources] == ["https://example.org/rss.xml",
                                        "http://news.example.com/atom"]
    assert [s.line for s in sources] == [3, 5]


@pytest.mark.parametrize(
    ("line", "message"),
    [("example.org/feed", "not an absolute"), ("ftp://example.org/f", "unsupported scheme"),
     ("http://exa mple.org/", "spaces"), ("https:///path", "no host"),
     ("http://example.org:99999/", "not a valid URL")],
)
def test_bad_line_names_its_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text(f"https://ok.example/feed\n# comment\n{line}\n")
    with pytest.raises(FeedListError, match=f"feeds.txt:3: .*{message}") as info:
        load_feed_list(files=[path])
    assert info.value.line == 3


def test_duplicates_are_fetched_once(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text("https://Example.org/feed\nhttps://example.org:443/feed#top\n"
                    "https://example.org/other\n")
    sources = load_feed_list(urls=["https://example.org/feed"], files=[path])
    assert [s.url for s in sources] == ["https://example.org/feed", "https://example.org/other"]


def test_command_line_url_errors() -> None:
    with pytest.raises(FeedListError, match="argument 2"):
        load_feed_list(urls=["https://a.example/f", "nonsense"])


def test_opml_with_nested_folders() -> None:
    sources = load_feed_list(files=[FIXTURES / "subscriptions.opml"])
    assert [s.url for s in sources] == [
        "https://news.example.com/world/rss.xml",
        "https://blog.example.net/atom.xml",
        "http://tech.example.org/feed",
    ]
    assert sources[0].title == "World news"


def test_opml_bad_url_names_its_line() -> None:
    data = (b'<?xml version="1.0"?>\n<opml version="2.0"><body>\n'
            b'<outline text="ok" xmlUrl="https://ok.example/f"/>\n'
            b'<outline text="bad" xmlUrl="feed.xml"/>\n</body></opml>\n')
    with pytest.raises(FeedListError, match="list.opml:4: bad xmlUrl"):
        parse_feed_list(data, "list.opml")


def test_malformed_opml_names_its_line() -> None:
    with pytest.raises(FeedListError, match="x.opml:3: not well-formed"):
        parse_feed_list(b"<opml>\n<body>\n<outline </body>", "x.opml")


def test_xml_that_is_not_opml() -> None:
    with pytest.raises(FeedListError, match="not OPML"):
        parse_feed_list(b"<?xml version='1.0'?><rss/>", "feeds.xml")
