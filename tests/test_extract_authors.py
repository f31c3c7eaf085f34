"""Authors are person names: no "By", no reading time, no roles, no publisher."""

from __future__ import annotations

import lxml.html
import pytest

from newsflow.extract.authors import clean_author, find_authors, split_byline
from newsflow.extract.metadata import read_meta


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("By Jaroslav Lukiv", ["Jaroslav Lukiv"]),
        ("By JANE DOE and John Smith, Reuters", ["Jane Doe", "John Smith"]),
        ("Jane Doe | 3 Minute Read", ["Jane Doe"]),
        ("Written by: María José García", ["María José García"]),
        ("Robert Burns, AP National Security Writer", ["Robert Burns"]),
        ("Staff Reports", []),
        ("BBC News", []),
        ("By", []),
        ("https://example.com/staff/jane", []),
        ("Associated Press", []),
    ],
)
def test_split_byline(byline: str, expected: list[str]) -> None:
    assert split_byline(byline, publisher="BBC News") == expected


def test_publisher_is_not_an_author() -> None:
    assert clean_author("The Northern Ledger", publisher="The Northern Ledger") == ""


def _page(head: str = "", body: str = "") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_jsonld_people_not_organisations() -> None:
    tree = _page('<script type="application/ld+json">{"@type": "NewsArticle", "author": ['
                 '{"@type": "Person", "name": "Ann Lee"}, {"@type": "Organization", '
                 '"name": "Example News"}]}</script>')
    assert find_authors(read_meta(tree)) == ["Ann Lee"]


def test_meta_then_markup_then_byline_line_then_feed() -> None:
    tree = _page('<meta name="author" content="Ann Lee">')
    assert find_authors(read_meta(tree)) == ["Ann Lee"]
    tree = _page(body='<span class="byline">By <a rel="author">Bo Chen</a> · 5 min read</span>')
    assert find_authors(read_meta(tree)) == ["Bo Chen"]
    tree = _page()
    assert find_authors(read_meta(tree), lines=["Share", "By Cleo Park"]) == ["Cleo Park"]
    assert find_authors(read_meta(tree), feed_authors=["Dan Ruiz"]) == ["Dan Ruiz"]
    assert find_authors(read_meta(tree), feed_authors=["Example News Desk"]) == []
