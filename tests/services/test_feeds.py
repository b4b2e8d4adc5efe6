"""Adding and removing feeds by what people type."""

from __future__ import annotations

from bot.app import App
from bot.domain import CONSOLE_SCOPE


async def test_a_url_too_long_is_refused_by_its_length_without_being_echoed(app: App) -> None:
    """A 5,000-character URL: refused on add and remove, saying its length, not itself."""
    url = "https://news.example/" + "a" * 4_979
    added = await app.chat.feeds.add(CONSOLE_SCOPE, url, channel="console")
    removed = await app.chat.feeds.remove(CONSOLE_SCOPE, url)
    for change in (added, removed):
        assert not change.ok
        assert "5,000 characters" in change.text and "aaaa" not in change.text
    assert url not in [f.url for f in await app.store.feeds_for_scope(CONSOLE_SCOPE)]
