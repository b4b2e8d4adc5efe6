"""The feed list as a neutral message: each feed one self-contained section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Feed, ThreadKind
from bot.services.render import render_feeds

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_each_feed_section_has_its_url_first_then_its_status() -> None:
    """Under a feed's title come its URL, then its status and error; no URL twice."""
    titled = Feed(
        id=1,
        url="https://a.example/feed.xml",
        title="Alpha",
        consecutive_failures=2,
        last_error="HTTP 503",
        last_attempt_at=NOW - timedelta(minutes=5),
    )
    untitled = Feed(id=2, url="https://b.example/rss", last_attempt_at=NOW, last_success_at=NOW)
    message = render_feeds([titled, untitled], NOW)
    first, second = message.sections
    assert first.heading == "Alpha"
    assert [b.text for b in first.bullets][:3] == [
        "https://a.example/feed.xml",
        "Status: failing (2 in a row; never fetched successfully)",
        "Last error: HTTP 503",
    ]
    assert second.heading == "https://b.example/rss"
    assert [b.text for b in second.bullets] == ["Status: ok (last fetched 1 min ago)"]


def test_a_feed_list_is_its_own_kind_of_reply() -> None:
    """Listed or empty, feeds are a FEEDS message: shown without a title header, no thread."""
    listed = render_feeds([Feed(id=1, url="https://a.example/rss")], NOW)
    empty = render_feeds([], NOW)
    assert (listed.kind, empty.kind) == (ThreadKind.FEEDS, ThreadKind.FEEDS)
    assert not listed.headed and not listed.opens_thread
    assert not empty.found and not empty.headed
