"""The small interfaces the core talks through. Adapters implement them.

Services depend on these Protocols only, so tests wire fakes and the
composition root wires SQLite, HTTP, the console, Discord or Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, ParamSpec, Protocol, TypeVar

from bot.domain import (
    Article,
    Feed,
    Message,
    NewArticle,
    PostedStory,
    QATurn,
    Scope,
    Story,
    StoryVersion,
    Subscription,
    ThreadContext,
    ThreadKind,
)
from bot.services.story_index import Fingerprint

P = ParamSpec("P")
T = TypeVar("T")

# --- ingest ------------------------------------------------------------------------


class Workers(Protocol):
    """Runs CPU-heavy pure functions (parsing a feed, fingerprinting its entries) away
    from the event loop: in a thread, or in worker processes on the machine's other
    cores (the function and its arguments must then be picklable)."""

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


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


class FeedSource(Protocol):
    async def fetch(self, feed: Feed) -> FetchedFeed:
        """Fetch and parse one feed, conditionally; raise FeedError on failure."""
        ...

    async def complete(self, feed: Feed, entries: Sequence[ParsedEntry]) -> list[ParsedEntry]:
        """Fill excerpts in with full text where the source can; called for new entries only."""
        ...

    async def check_url(self, url: str, *, allow_local: bool = False) -> str:
        """Normalise a feed URL (or, where allowed, a path); raise FeedError if refused."""
        ...


# --- storage -----------------------------------------------------------------------

MatchMode = Literal["all", "any"]


@dataclass(frozen=True)
class SearchHit:
    article: Article
    relevance: float  # larger is better (negated bm25)


@dataclass
class DeliveryClaim:
    key: str
    granted: bool
    status: str = field(default="pending")


class FeedStore(Protocol):
    """Feeds, who reads them, and how their last fetch went."""

    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]: ...
    async def add_feed(self, url: str) -> Feed: ...
    async def get_feed(self, url: str) -> Feed | None: ...
    async def polled_feeds(self) -> list[Feed]: ...
    async def feeds_for_scope(self, scope: Scope) -> list[Feed]: ...
    async def subscribe_feed(
        self, scope: Scope, feed: Feed, *, channel: str, added_by: str | None
    ) -> bool: ...
    async def unsubscribe_feed(self, scope: Scope, feed: Feed) -> bool: ...
    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        """Of `due` (as `polled_feeds` read them), those `owner` may poll now, leased to it
        until `until`: not polled by anyone since they were read (their next poll time is
        unchanged), and not leased to another whose lease is live. Recording the poll's
        outcome ends the lease. Several bot processes on one database thus fetch each feed
        once per interval; a dead one's feeds are taken up when its leases expire."""
        ...

    async def record_fetch_success(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
    ) -> None: ...
    async def record_fetch_failure(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        error: str,
        blocked_by: str | None = None,
    ) -> None: ...


class ArticleStore(Protocol):
    """Articles, each stored once however many feeds carry it (a reprint of its wire text
    included), each in one story, and searched by scope."""

    async def known_articles(
        self, feed: Feed, entries: Sequence[tuple[str | None, str]]
    ) -> list[int | None]:
        """For each (guid, canonical_url): the stored article it is (by guid in this feed or
        by URL, an article's or a reprint's), else None. One query for the lot."""
        ...

    async def link_articles(self, feed: Feed, links: Sequence[tuple[int, str | None]]) -> None:
        """Link stored articles to `feed` under the entry's guid (so a workspace reading only
        this feed sees them); already linked is fine."""
        ...

    async def add_articles(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[int | None]:
        """Store a feed's new entries in one transaction, in order. For each: the new
        article's id; None for a reprint (stored as a source of `reprint_of`) or for a
        copy already stored (same guid in this feed, URL, a reprint's URL, or same text;
        also an earlier entry of this batch) — a copy is linked to `feed` too."""
        ...

    async def add_article(
        self,
        feed: Feed,
        article: NewArticle,
        *,
        story_id: int | None = None,
        print_: Fingerprint | None = None,
    ) -> int | None:
        """Store an article in story `story_id` (whose version then grows), or, given
        none, in a new story named after it (the story's id is the article's). Returns
        the new id, or None for a copy already stored (it is linked to `feed` too).
        The same as `add_articles` with one entry."""
        ...

    async def add_reprint(self, feed: Feed, article_id: int, reprint: NewArticle) -> bool:
        """Another outlet's copy of an article: one more source of it, linked to `feed`;
        False when that copy is stored already. The same as `add_articles` with one
        entry whose `reprint_of` is `article_id`."""
        ...

    async def get_articles(self, ids: Sequence[int]) -> list[Article]: ...
    async def recent_articles(
        self, scope: Scope, *, since: datetime, limit: int, fetched_since: datetime | None = None
    ) -> list[Article]: ...
    async def search(
        self,
        scope: Scope,
        words: Sequence[str],
        *,
        mode: MatchMode,
        since: datetime | None,
        limit: int,
        fetched_since: datetime | None = None,
    ) -> list[SearchHit]:
        """Up to `limit` matches the scope sees in the window, most relevant first. An
        engine may rank a query with very many matches (tens of thousands) over only the
        newest thousands of them that the window and scope allow."""
        ...


@dataclass(frozen=True)
class PlacedArticle:
    """A new entry placed in its story, stored with the rest of its feed's batch.

    Ids below zero name this batch's own entries: -1 is the first entry's article
    (and, as `story_id`, the story that entry is in), -2 the second's, and so on.
    """

    article: NewArticle
    story_id: int | None = None  # None: it starts a story of its own, named after it
    reprint_of: int | None = None  # a syndicated copy: stored as another source of that article
    print_: Fingerprint | None = None


@dataclass(frozen=True)
class StoredPrint:
    story_id: int
    article_id: int
    published_at: datetime
    print_: Fingerprint


class StoryStore(Protocol):
    """Stories as stored: their articles, and the fingerprints that place new ones."""

    async def stories(self, scope: Scope, story_ids: Sequence[int]) -> list[Story]:
        """Each story with the articles of it the scope reads, oldest first; in the order
        asked, leaving out stories with none."""
        ...

    async def story_prints(self, since: datetime, *, after_id: int = 0) -> list[StoredPrint]:
        """The fingerprints of articles published since `since`, oldest first; with
        `after_id`, only of articles stored after that one (by another process), in the
        order they were stored."""
        ...

    def placing(self) -> AbstractAsyncContextManager[None]:
        """Held while a batch is placed and stored: processes sharing the database place
        one batch at a time, each seeing the stories the others stored before it."""
        ...

    async def forget_prints(self, before: datetime) -> int:
        """Drop the fingerprints of articles published before `before`; how many."""
        ...

    async def story_versions(self, story_ids: Sequence[int]) -> dict[int, int]:
        """Each stored story's version (how many articles have joined it)."""
        ...

    async def posted_stories(
        self, scope: Scope, channel: str, story_ids: Sequence[int]
    ) -> dict[int, PostedStory]:
        """Which of these stories the channel has been shown, as of which version."""
        ...

    async def record_posted_stories(
        self, scope: Scope, channel: str, posted: Sequence[PostedStory]
    ) -> None:
        """Remember the versions a channel was shown, and the thread each is under."""
        ...


class SubscriptionStore(Protocol):
    """Channels' daily digests."""

    async def upsert_subscription(
        self,
        scope: Scope,
        channel: str,
        *,
        digest_time: str,
        timezone: str,
        topics: Sequence[str],
    ) -> Subscription: ...
    async def get_subscription(self, scope: Scope, channel: str) -> Subscription | None: ...
    async def disable_subscription(self, scope: Scope, channel: str) -> bool: ...
    async def list_subscriptions(self) -> list[Subscription]: ...
    async def mark_digest_sent(self, subscription_id: int, at: datetime) -> None: ...


class DeliveryStore(Protocol):
    """At-most-once handling of an event the platform may send twice: claimed once."""

    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        """Claim `key` for good; False if it was claimed (or posted) before."""
        ...


# --- the outbox: what the bot posts, stored before it is posted ------------------------


@dataclass(frozen=True)
class OutboxPart:
    """One platform message of a delivery, rendered when the delivery was stored.

    "sending" means a send began and its outcome was not recorded (the bot stopped, or
    the platform did not answer): the part may or may not be on the platform, so it
    is looked up there before it is sent again.
    """

    index: int
    payload: str  # the platform's own message as JSON: only its adapter reads it
    state: Literal["pending", "sending", "sent"] = "pending"
    sending_since: datetime | None = None
    message_id: str | None = None
    thread_key: str | None = None  # the thread this part opened, if any


@dataclass(frozen=True)
class PostShows:
    """What a post shows: questions in the threads it opens are answered from these
    articles, and the story versions decide what a later digest posts as an update.
    Recorded with the part that opens a thread (or, for a post into a thread, with its
    first part)."""

    kind: ThreadKind
    article_ids: tuple[int, ...] = ()
    stories: tuple[StoryVersion, ...] = ()


DeliveryStatus = Literal["pending", "posted", "abandoned"]
# The kinds of post whose threads are answered from the articles they show.
THREAD_KINDS = frozenset({ThreadKind.DIGEST, ThreadKind.BRIEF})


@dataclass(frozen=True)
class Delivery:
    """Something the bot posts: its parts in order, under a key that makes it once."""

    key: str
    scope: Scope
    channel: str
    parts: tuple[OutboxPart, ...]
    created_at: datetime
    thread_key: str | None = None  # posted into this thread (an update), not the channel
    shows: PostShows | None = None
    due_at: datetime | None = None  # a scheduled post: when it fell due
    late_after: datetime | None = None  # finished after this, it is reported late
    status: DeliveryStatus = "pending"
    attempts: int = 0
    late_reported: bool = False
    error: str | None = None

    @property
    def unsent(self) -> list[OutboxPart]:
        return [p for p in self.parts if p.state != "sent"]

    @property
    def opens_threads(self) -> bool:
        """Whether its parts open threads (a digest or brief posted in the channel): the
        platform says which thread, and replies there are answered from what it shows."""
        return (
            self.shows is not None and self.shows.kind in THREAD_KINDS and self.thread_key is None
        )

    def thread_opened(self, index: int, sent: SentPart) -> str | None:
        """The thread to record once part `index` is sent, answered from what the post
        shows: the one the part opened, or, for a brief posted into a thread, that one."""
        if self.shows is None or self.shows.kind not in THREAD_KINDS:
            return None
        if sent.thread_key:
            return sent.thread_key
        if self.thread_key is not None and index == self.parts[0].index:
            return self.thread_key
        return None

    def stories_posted(self, index: int, sent: SentPart) -> list[PostedStory]:
        """The story versions to record as shown once part `index` is sent: with the
        first part posted into a thread (an update), or with the part that opened the
        post's first thread."""
        if self.shows is None or not self.shows.stories:
            return []
        if self.thread_key is not None:
            under = self.thread_key if index == self.parts[0].index else None
        else:
            opened_before = any(p.thread_key for p in self.parts if p.index < index)
            under = sent.thread_key if not opened_before else None
        if under is None:
            return []
        return [PostedStory(s.story_id, s.version, under) for s in self.shows.stories]


class PostRefused(Exception):
    """The platform refused a post for good (the bot is not in the channel, the channel is
    archived): trying again changes nothing. `reason` says so to the person who asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SentPart:
    """A part as the platform has it: its message id, and the thread it opened."""

    message_id: str
    thread_key: str | None = None


@dataclass(frozen=True)
class OutboxCounts:
    pending: int  # not finished yet
    late: int  # finished, or still unfinished, after their grace period
    abandoned: int  # given up: too old to post


class OutboxStore(Protocol):
    """Deliveries and their parts, with leases so one worker posts each at a time.

    Every change to a part names the lease's holder, and is refused (False) once the
    lease has passed to another: a worker that lost its lease stops.
    """

    async def enqueue(self, deliveries: Sequence[Delivery]) -> list[bool]:
        """Store new deliveries, every part pending, in one transaction; for each,
        False when its key was stored before (that one is left as it is)."""
        ...

    async def get_delivery(self, key: str) -> Delivery | None: ...

    async def lease_delivery(
        self, key: str, owner: str, *, now: datetime, until: datetime
    ) -> Delivery | None:
        """Take the lease of a pending delivery whose lease is free or has expired (or
        is `owner`'s already); None when it is not pending or another holds it."""
        ...

    async def due_deliveries(self, now: datetime) -> list[str]:
        """Keys of pending deliveries nobody holds whose next try has come."""
        ...

    async def mark_part_sending(
        self, key: str, index: int, owner: str, *, at: datetime, lease_until: datetime
    ) -> bool:
        """Record that a send of the part begins, and extend the lease."""
        ...

    async def mark_part_sent(
        self, key: str, index: int, owner: str, sent: SentPart, *, at: datetime
    ) -> bool:
        """Record the part as on the platform and, in the same transaction, the thread it
        opened with what the post shows (see `PostShows`); the delivery is posted when
        this was its last part."""
        ...

    async def release_delivery(
        self, key: str, owner: str, *, retry_at: datetime | None = None, error: str | None = None
    ) -> None:
        """Give up the lease: tried again at `retry_at` (after an error), else when due."""
        ...

    async def mark_late_reported(self, key: str) -> None:
        """The channel has been told the delivery comes late (counted by `stats`)."""
        ...

    async def abandon_delivery(self, key: str, owner: str, *, error: str) -> None: ...

    async def release_all_leases(self) -> int:
        """At start-up of the only process on an embedded database: leases held by a
        process that stopped (on deliveries and on feeds) are free at once, not when they
        expire; how many."""
        ...

    async def outbox_counts(self, now: datetime) -> OutboxCounts: ...


class ThreadStore(Protocol):
    """Which articles stand behind each post, and the questions asked under it."""

    async def save_thread(
        self,
        scope: Scope,
        channel: str,
        thread_key: str,
        kind: ThreadKind,
        article_ids: Sequence[int],
    ) -> ThreadContext: ...
    async def get_thread(
        self, scope: Scope, channel: str, thread_key: str
    ) -> ThreadContext | None: ...
    async def add_turn(
        self, thread: ThreadContext, question: str, answer: str, article_ids: Sequence[int]
    ) -> None: ...
    async def recent_turns(self, thread: ThreadContext, limit: int) -> list[QATurn]: ...


@dataclass(frozen=True)
class StoreHealth:
    """What `python -m bot health` reports of the database."""

    engine: str  # "sqlite" or "postgresql"
    schema_version: int
    feeds: int  # feeds someone reads
    feeds_overdue: int  # due before the moment asked about, and not polled since
    feeds_leased: int  # being polled now (a live lease)
    deliveries_pending: int  # unfinished posts
    deliveries_leased: int  # being posted now


class HealthStore(Protocol):
    async def health(self, *, now: datetime, overdue_before: datetime) -> StoreHealth: ...


class Store(
    HealthStore,
    FeedStore,
    ArticleStore,
    StoryStore,
    SubscriptionStore,
    DeliveryStore,
    OutboxStore,
    ThreadStore,
    Protocol,
):
    """All the roles at once, as SQLite implements them; services ask for the ones they use."""


# --- summarizing and answering -------------------------------------------------------


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


class Summarizer(Protocol):
    """The LLM port: the offline extractive one, or a model behind an API."""

    @property
    def label(self) -> str | None:
        """A note every post made with this summarizer carries, or None."""
        ...

    @property
    def name(self) -> str:
        """What the start-up banner calls this summarizer."""
        ...

    async def summarize(self, story: Story) -> StorySummary: ...

    async def overview(
        self, topic: str, items: Sequence[tuple[Story, StorySummary]]
    ) -> tuple[Point, ...]:
        """A few cited sentences across a brief's stories; () when it cannot write one."""
        ...

    async def answer(
        self, question: str, articles: Sequence[Article], turns: Sequence[QATurn]
    ) -> AnswerDraft: ...

    async def aclose(self) -> None:
        """Let go of what it holds open (an HTTP client); nothing for the offline one."""
        ...


@dataclass(frozen=True)
class LlmCall:
    kind: str
    model: str
    prompt_version: str
    # "ok", "error": a request and how it went; "invalid": output that failed validation;
    # "fallback": an item quoted the sources instead (error says why); "cache-hit", "budget"
    status: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    error: str | None = None


@dataclass(frozen=True)
class LlmStats:
    requests: int  # HTTP requests sent to the model server
    ok: int
    errors: int  # requests that failed (status, time-out, connection)
    invalid: int  # replies that failed validation (each one answered a request)
    fallbacks: int  # items that quoted the sources instead
    cache_hits: int
    tokens_in: int
    tokens_out: int
    fallback_reasons: tuple[tuple[str, int], ...] = ()


class LlmLedger(Protocol):
    """Where model output is cached and model calls are counted."""

    async def cached_output(self, key: str) -> str | None: ...
    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None: ...
    async def record_call(self, call: LlmCall, at: datetime) -> None: ...
    async def tokens_used_since(self, since: datetime) -> int: ...
    async def llm_stats(self, since: datetime | None) -> LlmStats: ...


@dataclass(frozen=True)
class ClaimTally:
    """What checking one model output against its sources did to its claims."""

    kind: str  # "digest_item", "brief_overview", "thread_answer"
    checked: int
    recited: int  # moved to another given source that supports them
    dropped: int  # not posted
    fallbacks: int = 0  # outputs left with no supported claim: quoted the sources instead


@dataclass(frozen=True)
class DayClaims:
    day: date  # UTC
    checked: int
    recited: int
    dropped: int
    fallbacks: int


class ClaimLedger(Protocol):
    """Where the claim checks are counted, for `stats`."""

    async def record_claims(self, tally: ClaimTally, at: datetime) -> None: ...
    async def claims_by_day(self, since: datetime | None) -> list[DayClaims]: ...


# --- posting -------------------------------------------------------------------------


class PartSender(Protocol):
    """How the outbox posts on one platform: a message rendered into parts once, when
    it is stored; one part sent at a time; and a part whose send may or may not have
    reached the platform looked up there before it is sent again."""

    platform: str

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        """The platform messages (and steps, such as opening a thread) that post
        `message`, in order, each as JSON; `in_thread`: posted into an existing thread;
        `replying_to`: the message it answers, where the platform shows replies as such."""
        ...

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        """Post one part (the parts before it are sent, with their ids)."""
        ...

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        """The part as the platform has it, if an earlier send of it got there."""
        ...

    def serves(self, scope: Scope) -> bool:
        """Whether this process posts for `scope`: on Discord spread over processes by
        shard, only its own shards' servers; everywhere else, all of them."""
        ...


class DigestSchedule(Protocol):
    """Where daily digests are timed (the scheduler): told at once when a channel's changes."""

    def schedule(self, subscription: Subscription) -> None: ...
    def unschedule(self, subscription_id: int) -> None: ...


class StorageEngine(Store, LlmLedger, ClaimLedger, Protocol):
    """Every storage port in one engine (SQLite, PostgreSQL, or the in-memory one in
    tests), closable. `embedded`: only one bot process uses it (SQLite), so what a
    killed process held may be freed at start-up instead of waiting for it to expire."""

    embedded: bool

    async def close(self) -> None: ...
