"""canonical_url and content_hash: what makes two articles the same."""

from __future__ import annotations

import pytest

from bot.services.dedupe import canonical_url, content_hash, is_tracking_param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "https://news.example/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://news.example/a",
        ),
        ("https://news.example/a?fbclid=abc123", "https://news.example/a"),
        ("https://news.example/a?gclid=xyz&id=7", "https://news.example/a?id=7"),
        ("https://news.example/a?UTM_Source=rss", "https://news.example/a"),
        ("https://news.example/a#comments", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("https://news.example:8443/a", "https://news.example:8443/a"),
        ("http://news.example:443/a", "http://news.example:443/a"),
        ("HTTPS://News.EXAMPLE/Path/Case", "https://news.example/Path/Case"),
        ("https://news.example/a?b=2&a=1&c=3", "https://news.example/a?a=1&b=2&c=3"),
        ("https://news.example", "https://news.example/"),
        ("  https://news.example/a  ", "https://news.example/a"),
        ("https://news.example/a?empty=&b=1", "https://news.example/a?b=1&empty="),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    """canonical_url drops tracking, fragment, default port; lowercases host; sorts query."""
    assert canonical_url(raw) == expected


def test_canonical_url_equates_tracked_and_clean_links() -> None:
    """The same article linked with and without tracking parameters has one canonical URL."""
    clean = "https://harbour.example/world/story?id=42"
    tracked = "HTTPS://Harbour.Example:443/world/story?utm_source=rss&id=42&fbclid=1#top"
    assert canonical_url(clean) == canonical_url(tracked)


def test_canonical_url_keeps_meaningful_parameters() -> None:
    """Parameters that choose content (page, id) survive; differing values stay distinct."""
    assert canonical_url("https://n.example/s?id=1") != canonical_url("https://n.example/s?id=2")
    assert canonical_url("https://n.example/s?page=2&utm_term=x") == "https://n.example/s?page=2"


@pytest.mark.parametrize(
    ("name", "tracking"),
    [
        ("utm_source", True),
        ("utm_content", True),
        ("fbclid", True),
        ("gclid", True),
        ("mc_cid", True),
        ("id", False),
        ("page", False),
        ("q", False),
    ],
)
def test_is_tracking_param(name: str, tracking: bool) -> None:
    """Tracking parameters are recognised by exact name or prefix, case-insensitively."""
    assert is_tracking_param(name) is tracking
    assert is_tracking_param(name.upper()) is tracking


def test_content_hash_ignores_case_and_white_space() -> None:
    """Case and runs of white space do not change the hash; different words do."""
    text = "The council  voted on Tuesday\nto expand the tram network. " * 5
    same = " THE COUNCIL voted on tuesday to expand\tthe tram   network. " * 5
    assert content_hash("Title", text) == content_hash("Title", same)
    assert content_hash("Title", text) != content_hash("Title", text.replace("tram", "bus"))


def test_content_hash_of_short_text_includes_title() -> None:
    """Short texts are told apart by title; long texts hash on the text alone."""
    assert content_hash("Rates rise", "Short.") != content_hash("Rates fall", "Short.")
    assert content_hash("rates  RISE", "short.") == content_hash("Rates rise", "Short.")
    long_text = "word " * 100
    assert content_hash("One headline", long_text) == content_hash("Another", long_text)


def test_ipv6_literal_hosts_keep_their_brackets() -> None:
    """An IPv6 host stays a valid URL after canonicalisation."""
    assert canonical_url("http://[::1]:8080/a?utm_source=x") == "http://[::1]:8080/a"
