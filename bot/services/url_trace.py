"""What the database knows of one URL, as the TraceStore port hands it to `why`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain import Feed, Scope


@dataclass(frozen=True)
class StoredArticle:
    id: int
    url: str
    title: str
    source: str
    published_at: datetime
    fetched_at: datetime
    story_id: int | None


@dataclass(frozen=True)
class Copy:
    """A copy of an article (the same wire text from another outlet), folded into it."""

    url: str
    source: str
    published_at: datetime


@dataclass(frozen=True)
class Showing:
    """A post whose thread shows the article: a digest or brief in a channel."""

    scope: Scope
    channel: str
    kind: str  # "digest", "brief"
    thread_key: str
    at: datetime
    delivery: str | None  # its delivery key, when the outbox still has it


@dataclass(frozen=True)
class StoryPost:
    """The article's story as a channel was last shown it."""

    scope: Scope
    channel: str
    version: int
    thread_key: str
    at: datetime


@dataclass(frozen=True)
class UrlTrace:
    """What the database knows of one URL."""

    article: StoredArticle | None = None
    copy: Copy | None = None  # the URL is this copy, folded into `article`
    feeds: tuple[Feed, ...] = ()  # the feeds that carried the article
    story_size: int = 0  # articles in its story
    story_version: int = 0
    showings: tuple[Showing, ...] = ()
    story_posts: tuple[StoryPost, ...] = ()
