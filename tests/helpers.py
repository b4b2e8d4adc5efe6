"""Small helpers the tests share."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from bot.domain import Feed, NewArticle
from bot.services.dedupe import canonical_url, content_hash
from bot.services.ports import Store
from bot.timeutil import utcnow

REPO = Path(__file__).resolve().parents[1]
_OUR_SETTINGS = ("NEWSBRIEF_", "DISCORD_", "SLACK_", "OPENAI_")


def bot_env(**settings: str) -> dict[str, str]:
    """The environment for a `python -m bot` subprocess: none of the host's bot settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    env["PYTHONPATH"] = str(REPO)
    env.update(settings)
    return env


def new_article(
    url: str,
    title: str = "Title",
    text: str | None = None,
    *,
    guid: str | None = None,
    source: str = "Test Outlet",
    published_at: datetime | None = None,
    fetched_at: datetime | None = None,
    is_full_text: bool = False,
) -> NewArticle:
    """An entry as ingest hands it to the store; times default to now."""
    text = f"Text of {url}." if text is None else text
    now = utcnow()
    return NewArticle(
        guid=guid,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        source=source,
        published_at=published_at or now,
        fetched_at=fetched_at or now,
        text=text,
        is_full_text=is_full_text,
        content_hash=content_hash(title, text),
    )


async def add_article(
    store: Store,
    *,
    title: str,
    text: str,
    url: str,
    source: str = "Test Outlet",
    feed: Feed | None = None,
) -> int | None:
    """Store one article now, in `feed` (default: the first polled feed)."""
    feed = feed or (await store.polled_feeds())[0]
    article = new_article(
        url, title, text, guid=url, source=source, is_full_text=len(text.split()) >= 120
    )
    return await store.add_article(feed, article)
