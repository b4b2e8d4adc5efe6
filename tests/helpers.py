"""Small helpers the tests share."""

from __future__ import annotations

import os
from pathlib import Path

from bot.domain import Feed
from bot.services.dedupe import canonical_url, content_hash
from bot.services.ports import NewArticle
from bot.store.sqlite import SqliteStore
from bot.timeutil import utcnow

REPO = Path(__file__).resolve().parents[1]
_OUR_SETTINGS = ("NEWSBRIEF_", "DISCORD_", "SLACK_", "OPENAI_")


def bot_env(**settings: str) -> dict[str, str]:
    """The environment for a `python -m bot` subprocess: none of the host's bot settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    env["PYTHONPATH"] = str(REPO)
    env.update(settings)
    return env


async def add_article(
    store: SqliteStore,
    *,
    title: str,
    text: str,
    url: str,
    source: str = "Test Outlet",
    feed: Feed | None = None,
) -> int | None:
    """Store one article now, in `feed` (default: the first polled feed)."""
    feed = feed or (await store.polled_feeds())[0]
    now = utcnow()
    article = NewArticle(
        guid=url,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        source=source,
        published_at=now,
        fetched_at=now,
        text=text,
        is_full_text=len(text.split()) >= 120,
        content_hash=content_hash(title, text),
    )
    return await store.add_article(feed, article)
