"""The small interfaces the core talks through. Adapters implement them.

Services depend on these Protocols only, each on the roles it uses, so tests wire
fakes and the composition root wires SQLite, HTTP, the console, Discord or Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import ParamSpec, Protocol, TypeVar

from bot.domain import (
    AnswerDraft,
    Article,
    Feed,
    FeedFollower,
    FetchedFeed,
    MatchMode,
    Message,
    ParsedEntry,
    Point,
    PostedStory,
    QATurn,
    Scope,
    SearchHit,
    Story,
    StorySummary,
    Subscription,
    ThreadContext,
    ThreadKind,
)
from bot.placement import PlacedArticle, StoredPrint
from bot.services.delivery import Delivery, OutboxCounts, OutboxPart, SentPart
from bot.services.ledgers import (
    ClaimTally,
    DayClaims,
    DayTokens,
    LlmCall,
    LlmStats,
    RecentDelivery,
    StoreHealth,
    StoreTotals,
)
from bot.services.url_trace import UrlTrace

P = ParamSpec("P")
T = TypeVar("T")

# --- ingest ------------------------------------------------------------------------


class EmbeddingsUnavailable(Exception):
    """The embeddings model gave no usable answer (down, refused, malformed): placing
    goes on by words alone."""


class Embedder(Protocol):
    """An embeddings model: what each text means, as a vector (one per text, in order).
    Raises EmbeddingsUnavailable when it cannot say."""

    @property
    def model(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


class Workers(Protocol):
    """Runs CPU-heavy pure functions (parsing a feed, fingerprinting its entries) away
    from the event loop: in a thread, or in worker processes on the machine's other
    cores (the function and its arguments must then be picklable)."""

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


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


class FeedStore(Protocol):
    """Feeds, who reads them, and how their last fetch went."""

    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]: ...
    async def add_feed(self, url: str) -> Feed: ...
    async def get_feed(self, url: str) -> Feed | None: ...
    async def polled_feeds(self) -> list[Feed]: ...
    async def read_feeds(self) -> list[Feed]:
        """Every feed someone reads, paused ones too."""
        ...

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
    async def feed_followers(self) -> list[FeedFollower]:
        """Each channel that added a feed, with what it was last told of the feed."""
        ...

    async def set_alerted(self, follower: FeedFollower, state: str | None) -> None: ...
    async def failing_feeds(self, since_before: datetime) -> list[Feed]:
        """Feeds read and polled (not paused), failing since before `since_before`."""
        ...

    async def pause_feed(self, feed: Feed, reason: str, *, at: datetime) -> bool:
        """Stop polling a failing feed, with a reason code; False if paused already or
        recovered meanwhile."""
        ...

    async def resume_feed(self, feed: Feed, *, at: datetime) -> bool:
        """Poll a paused feed again at once; its failing time starts again at `at` (so it
        is not paused again at once, and its channels hear it works once it does)."""
        ...


class ArticleStore(Protocol):
    """Articles as they come in: each stored once however many feeds carry it (a reprint
    of its wire text included), each in one story."""

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


class ArticleSearch(Protocol):
    """Stored articles as digests, briefs and answers read them: by id, the newest, or
    by the words they contain, each within a workspace's scope."""

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

    async def merge_stories(self, into: int, absorbed: Sequence[int]) -> None:
        """Move the absorbed stories' articles into `into` (its version grows) and drop
        them; a channel shown an absorbed story but not `into` keeps its thread for it.
        Held within `placing`."""
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

    async def renew_delivery(self, key: str, owner: str, *, until: datetime) -> bool:
        """Extend `owner`'s lease to `until` (a part is being sent); False if it no
        longer holds it."""
        ...

    async def release_delivery(
        self, key: str, owner: str, *, retry_at: datetime | None = None, error: str | None = None
    ) -> bool:
        """Give up the lease: tried again at `retry_at` (after an error), else when due;
        False if `owner` did not hold it (another worker took it meanwhile)."""
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


class TraceStore(Protocol):
    async def trace_url(self, url: str, canonical: str) -> UrlTrace:
        """What is stored of a URL (an article's, or a copy's folded into one): its
        feeds, story, and the posts that showed it. Empty when it was never stored."""
        ...


class HealthStore(Protocol):
    async def health(self, *, now: datetime, overdue_before: datetime) -> StoreHealth: ...

    async def totals(self) -> StoreTotals:
        """What has been stored and posted so far, for /metrics."""
        ...

    async def recent_deliveries(self, limit: int) -> list[RecentDelivery]:
        """The latest posts (digests, briefs, answers, notices), newest first."""
        ...


# --- summarizing and answering -------------------------------------------------------


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


class LlmLedger(Protocol):
    """Where model output is cached and model calls are counted."""

    async def cached_output(self, key: str) -> str | None: ...
    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None: ...
    async def record_call(self, call: LlmCall, at: datetime) -> None: ...
    async def tokens_used_since(self, since: datetime) -> int: ...
    async def llm_stats(self, since: datetime | None) -> LlmStats: ...
    async def tokens_by_day(self, since: datetime) -> list[DayTokens]:
        """Tokens read and written per UTC day since `since`, oldest first."""
        ...


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


class StorageEngine(
    HealthStore,
    TraceStore,
    FeedStore,
    ArticleStore,
    ArticleSearch,
    StoryStore,
    SubscriptionStore,
    DeliveryStore,
    OutboxStore,
    ThreadStore,
    LlmLedger,
    ClaimLedger,
    Protocol,
):
    """Every storage port in one engine (SQLite, PostgreSQL, or the in-memory one in
    tests), closable. `embedded`: only one bot process uses it (SQLite), so what a
    killed process held may be freed at start-up instead of waiting for it to expire."""

    embedded: bool

    async def claim_serving(self) -> None:
        """Be the one process serving an embedded database (held until `close`); raises
        StoreInUse, naming the database, when another process serves it already. Nothing
        to claim on a database meant for several processes."""
        ...

    async def close(self) -> None: ...
