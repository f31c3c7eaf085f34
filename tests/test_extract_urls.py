"""Canonical URLs and registered domains (no network: the bundled Public Suffix List)."""

from __future__ import annotations

import pytest

from newsflow.extract.urls import canonical_url, normalise_url, registered_domain


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM:443/News/Story?id=3#comments",
         "https://www.example.com/News/Story?id=3"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7&fbclid=x&gclid=y",
         "https://example.com/a?id=7"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order kept
        ("https://example.com", "https://example.com/"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_canonical_link_wins_and_is_normalised() -> None:
    got = canonical_url("https://m.example.com/x?utm_campaign=a",
                        ["https://Example.com/story?utm_source=b#top", "https://og.example.com/"])
    assert got == "https://example.com/story"


def test_relative_canonical_is_resolved() -> None:
    assert canonical_url("https://example.com/a/b", ["/story"]) == "https://example.com/story"


def test_unusable_canonicals_fall_back_to_the_fetched_url() -> None:
    # a home page declared as canonical of an article, a javascript: link, nothing at all
    assert canonical_url("https://example.com/a?fbclid=1", ["https://example.com/"]) == (
        "https://example.com/a")
    assert canonical_url("https://example.com/a", ["javascript:void(0)", " "]) == (
        "https://example.com/a")
    assert canonical_url("https://example.com/a#x") == "https://example.com/a"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.bbc.co.uk/news/world-63763593", "bbc.co.uk"),
        ("https://news.example.com/a", "example.com"),
        ("https://foo.blogspot.com/a", "foo.blogspot.com"),
        ("http://127.0.0.1:8080/a", "127.0.0.1"),
        ("https://www.dailynewsfeed.example/a", "dailynewsfeed.example"),
        ("not a url", ""),
    ],
)
def test_registered_domain(url: str, expected: str) -> None:
    assert registered_domain(url) == expected
