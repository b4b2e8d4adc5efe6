"""Plain data the whole bot speaks: feeds, articles, stories and what we post.

Nothing here imports a platform, a database or a network library, so every
service and adapter can share these types without pulling each other in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True)
class Scope:
    """A workspace: a Discord guild, a Slack team, or the local console.

    Every query that feeds a digest, brief or answer is filtered by it, so one
    workspace never sees another's feeds or questions.
    """

    platform: str
    workspace: str


CONSOLE_SCOPE = Scope(platform="console", workspace="local")


@dataclass
class Feed:
    id: int
    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    is_default: bool = False
    blocked_by: str | None = None  # "NAME=value" of the setting that made it fail
    failing_since: datetime | None = None  # the first failure since its last success
    paused: str | None = None  # why polling stopped (a PauseReason code), until resumed

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


@dataclass(frozen=True)
class FeedFollower:
    """A channel that added a feed, and what it was last told of it (None: nothing, or
    that it works again; "down"; "paused")."""

    feed: Feed
    scope: Scope
    channel: str
    alerted: str | None = None


class StartupError(Exception):
    """The bot cannot start: a setting it cannot start with (a refused token, a database
    it cannot open, a platform it cannot reach). The message names the setting and what
    to do; the CLI prints it as one line."""


class StoreUnavailable(Exception):
    """The database cannot be reached or written now (a server down or restarting, a
    full disk): the work is not lost but waits, and is tried again once it is back.
    Engines raise it in place of their drivers' errors, so the core can tell a bad day
    from a bug."""


class StoreInUse(Exception):
    """Another bot process serves this database, which is for one process (SQLite)."""


# --- feeds as read --------------------------------------------------------------


class FeedError(Exception):
    """A feed could not be fetched or read; the message is shown to admins as is."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        blocked_by: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        # The operator's setting that caused it, as "NAME=value": when that setting
        # changes, the feed is retried at once instead of waiting out a backoff.
        self.blocked_by = blocked_by


@dataclass(frozen=True)
class ParsedEntry:
    title: str
    url: str
    guid: str | None
    published_at: datetime | None
    text: str
    is_full_text: bool


@dataclass(frozen=True)
class FetchedFeed:
    """A feed as the source read it; `not_modified` means nothing changed (HTTP 304)."""

    not_modified: bool
    title: str | None = None
    entries: tuple[ParsedEntry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    warnings: tuple[str, ...] = ()


# --- articles and stories ---------------------------------------------------------


@dataclass(frozen=True)
class NewArticle:
    """An article as read from a feed, before the store has given it an id."""

    url: str
    canonical_url: str
    title: str
    source: str
    published_at: datetime
    fetched_at: datetime
    text: str
    is_full_text: bool
    content_hash: str
    guid: str | None = None


@dataclass(frozen=True)
class Reprint:
    """Another outlet's copy of an article's wire text: one more source, not one more article."""

    source: str
    url: str


@dataclass(frozen=True, kw_only=True)
class Article(NewArticle):
    """A stored article, in the story it reports on, with the outlets that reprinted it."""

    id: int
    story_id: int | None = None
    reprints: tuple[Reprint, ...] = ()


@dataclass(frozen=True)
class Story:
    """One event, told by one or more outlets; the lead article is the richest.

    A stored story has an id, and a version that grows when an article joins it.
    """

    articles: tuple[Article, ...]
    id: int | None = None
    version: int = 1

    @property
    def lead(self) -> Article:
        return self.articles[0]

    @property
    def latest(self) -> datetime:
        return max(a.published_at for a in self.articles)


MatchMode = Literal["all", "any"]


@dataclass(frozen=True)
class SearchHit:
    article: Article
    relevance: float  # larger is better; each engine ranks on its own scale


@dataclass(frozen=True)
class StoryVersion:
    story_id: int
    version: int


@dataclass(frozen=True)
class PostedStory:
    """A story as a channel last saw it: which version, under which post's thread."""

    story_id: int
    version: int
    thread_key: str


@dataclass(frozen=True)
class Subscription:
    """A channel's daily digest: when (local time) and on which topics."""

    id: int
    scope: Scope
    channel: str
    topics: tuple[str, ...]
    digest_time: str  # "HH:MM", local to `timezone`
    timezone: str
    last_digest_at: datetime | None = None
    enabled: bool = True


class Hint(StrEnum):
    """A pointer to a command, worded by each adapter in its own command names.

    The core never names a command: `/feeds` is a console command, Slack says
    `/newsbrief feeds`, and on Discord it is hidden from most members.
    """

    BRIEF_USAGE = "brief-usage"  # how to ask for a brief, with an example topic
    TRY_BRIEF = "try-brief"  # a brief shows what the sources do cover
    LIST_FEEDS = "list-feeds"  # where to see the feeds read and their health
    ASK_USAGE = "ask-usage"  # how to ask a question
    FIX_FEED = "fix-feed"  # how to resume a paused feed, or stop following it


class ThreadKind(StrEnum):
    """What a message is; a thread's record keeps it too (as "digest", "brief", "answer")."""

    DIGEST = "digest"
    BRIEF = "brief"
    ANSWER = "answer"
    FEEDS = "feeds"  # the feeds a workspace reads, with their health; never opens a thread
    UPDATE = "update"  # a posted story's new articles, as a reply in the post's thread
    NOTICE = "notice"  # the bot's word on its own posting (a digest that comes late)


@dataclass(frozen=True)
class ThreadContext:
    """What a thread under one of our posts is about: the articles behind it."""

    id: int
    scope: Scope
    channel: str
    thread_key: str
    kind: ThreadKind
    article_ids: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True)
class QATurn:
    question: str
    answer: str
    asked_at: datetime


# --- what a summarizer writes: sentences, each with the articles behind it ----------


@dataclass(frozen=True)
class Point:
    """A sentence and the articles that support it."""

    text: str
    article_ids: tuple[int, ...]


@dataclass(frozen=True)
class StorySummary:
    headline: str
    points: tuple[Point, ...]
    why_it_matters: str | None = None
    # Quoted by the offline summarizer: as the default, or because the model failed.
    extractive: bool = True
    fallback_reason: str | None = None


@dataclass(frozen=True)
class AnswerDraft:
    points: tuple[Point, ...]
    supported: bool
    extractive: bool = True
    fallback_reason: str | None = None
    # When the sources do not answer: sentences of theirs that came close, quoted.
    related: tuple[Point, ...] = ()


# --- the neutral message model that every adapter renders ---------------------


@dataclass(frozen=True)
class Citation:
    """A numbered source: `[number]` in the text links to `url`."""

    number: int
    title: str
    url: str
    source: str
    article_id: int
    also_in: tuple[str, ...] = ()  # outlets that reprinted the same wire text

    @property
    def outlets(self) -> str:
        """ "Northwind Wire", or "Northwind Wire, also in The Harbour Ledger and Meridian Daily"."""
        if not self.also_in:
            return self.source
        others = list(self.also_in)
        listed = others[0] if len(others) == 1 else f"{', '.join(others[:-1])} and {others[-1]}"
        return f"{self.source}, also in {listed}"


@dataclass(frozen=True)
class Bullet:
    text: str
    citations: tuple[int, ...] = ()


@dataclass(frozen=True)
class Section:
    """One story in a digest or brief, or the body of an answer."""

    heading: str | None
    bullets: tuple[Bullet, ...]
    url: str | None = None
    citations: tuple[int, ...] = ()
    note: str | None = None  # e.g. that this item is extractive because the model failed

    @property
    def cited_numbers(self) -> tuple[int, ...]:
        """Every number the section cites, its own first, then its bullets', each once."""
        return tuple(
            dict.fromkeys([*self.citations, *(n for b in self.bullets for n in b.citations)])
        )


@dataclass(frozen=True)
class Message:
    """What a service hands an adapter: structure only, no platform markup."""

    kind: ThreadKind
    title: str
    sections: tuple[Section, ...]
    citations: tuple[Citation, ...]
    notes: tuple[str, ...] = ()
    article_ids: tuple[int, ...] = ()
    found: bool = True  # False: nothing matched; adapters may show it privately
    hints: tuple[Hint, ...] = ()  # commands to point to, worded by the adapter
    stories: tuple[StoryVersion, ...] = ()  # the stored stories shown, as they were

    def citation(self, number: int) -> Citation | None:
        return next(iter(self.cited((number,))), None)

    def cited(self, numbers: Iterable[int]) -> tuple[Citation, ...]:
        """The citations behind `numbers`, in their order; a number with none is left out."""
        by_number = {c.number: c for c in self.citations}
        return tuple(by_number[n] for n in numbers if n in by_number)

    def cited_in(self, section: Section) -> tuple[Citation, ...]:
        """The citations a section cites, in the order it cites them."""
        return self.cited(section.cited_numbers)

    @property
    def bullet_texts(self) -> tuple[str, ...]:
        """Every bullet's text, section after section: the body as plain lines."""
        return tuple(b.text for s in self.sections for b in s.bullets)

    @property
    def headed(self) -> bool:
        """Whether the title heads the post: a digest's or a brief's does; an answer and a
        feed list are replies, shown without it."""
        return self.kind in (ThreadKind.DIGEST, ThreadKind.BRIEF, ThreadKind.UPDATE)

    @property
    def opens_thread(self) -> bool:
        """A digest or brief with stories: questions under it are answered from them."""
        return self.found and self.kind in (ThreadKind.DIGEST, ThreadKind.BRIEF)


@dataclass(frozen=True)
class FeedReport:
    """The outcome of polling one feed, for logs and `feeds list`."""

    url: str
    status: str  # "ok", "not-modified", "error", "skipped"
    new_articles: int = 0
    error: str | None = None
    details: dict[str, int] = field(default_factory=dict)
