"""In-memory stores: every storage port as plain Python, for core tests without SQLite.

One small class per port, mirroring SqliteStore's semantics (its SQL is the
reference; tests/store/contract runs the same suites against both). InMemoryStore
combines them for services that take one `Store`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import snowballstemmer

from bot.domain import (
    Article,
    Feed,
    FeedFollower,
    MatchMode,
    PostedStory,
    QATurn,
    Reprint,
    Scope,
    SearchHit,
    Story,
    Subscription,
    ThreadContext,
    ThreadKind,
)
from bot.placement import PlacedArticle, PrintRecord, StoredPrint
from bot.services.delivery import Delivery, DeliveryStatus, OutboxCounts, SentPart
from bot.services.ledgers import (
    DayTokens,
    LlmCall,
    LlmStats,
    RecentDelivery,
    StoreHealth,
    StoreTotals,
)
from bot.services.ports import StoryStore, ThreadStore
from bot.services.url_trace import Copy, Showing, StoredArticle, StoryPost, UrlTrace
from bot.store.batch import Batch, check_batch_ids
from bot.timeutil import from_db, to_db, utcnow
from tests.fakes.claims import InMemoryClaimLedger

_TOKEN = re.compile(r"[^\W_]+")  # as fts_query splits words, and unicode61 text
_porter = snowballstemmer.stemmer("porter")


def _moment(at: datetime) -> datetime:
    """As SQLite gives it back: UTC, and naive datetimes refused."""
    return from_db(to_db(at))


def _terms(text: str) -> list[str]:
    """Roughly FTS5's 'porter unicode61 remove_diacritics 2': folded, stemmed word tokens.

    Snowball's Porter and SQLite's differ on a few words ('assembly'), but each side
    stems text and query alike, so matches agree.
    """
    folded = (
        "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
        for t in _TOKEN.findall(text.lower())
    )
    return [t if len(t) < 3 else _porter.stemWord(t) for t in folded]


class InMemoryFeedStore:
    """Feeds by id, and which workspace subscribed to which (workspace_feeds)."""

    def __init__(self) -> None:
        self.feeds: dict[int, Feed] = {}
        self.subscribed: set[tuple[Scope, int]] = set()
        # (scope, feed id) -> [the channel that added it, what it was last told]
        self.followers: dict[tuple[Scope, int], list[str | None]] = {}
        self.leases: dict[int, tuple[str, datetime]] = {}  # feed id -> (owner, until)

    def scope_feed_ids(self, scope: Scope) -> set[int]:
        """The feeds _FEED_IN_SCOPE admits: the defaults plus the scope's own feeds."""
        own = {feed_id for s, feed_id in self.subscribed if s == scope}
        return own | {f.id for f in self.feeds.values() if f.is_default}

    def _copies(self, feeds: list[Feed]) -> list[Feed]:
        """Feed is mutable: callers get snapshots, as they do from SQL rows."""
        return [dataclasses.replace(f) for f in feeds]

    async def sync_default_feeds(self, urls: Sequence[str]) -> list[Feed]:
        for feed in self.feeds.values():
            feed.is_default = False
        for url in urls:
            self._add(url).is_default = True
        return self._copies([f for f in self.feeds.values() if f.is_default])

    def _add(self, url: str) -> Feed:
        feed = next((f for f in self.feeds.values() if f.url == url), None)
        if feed is None:
            feed = Feed(id=len(self.feeds) + 1, url=url)
            self.feeds[feed.id] = feed
        return feed

    async def add_feed(self, url: str) -> Feed:
        return dataclasses.replace(self._add(url))

    async def get_feed(self, url: str) -> Feed | None:
        feed = next((f for f in self.feeds.values() if f.url == url), None)
        return dataclasses.replace(feed) if feed else None

    async def polled_feeds(self) -> list[Feed]:
        read = {feed_id for _, feed_id in self.subscribed}
        return self._copies(
            [f for f in self.feeds.values() if (f.is_default or f.id in read) and not f.paused]
        )

    async def read_feeds(self) -> list[Feed]:
        read = {feed_id for _, feed_id in self.subscribed}
        return self._copies([f for f in self.feeds.values() if f.is_default or f.id in read])

    async def feeds_for_scope(self, scope: Scope) -> list[Feed]:
        ids = self.scope_feed_ids(scope)
        feeds = [f for f in self.feeds.values() if f.id in ids]
        return self._copies(sorted(feeds, key=lambda f: (not f.is_default, f.id)))

    async def subscribe_feed(
        self, scope: Scope, feed: Feed, *, channel: str, added_by: str | None
    ) -> bool:
        new = (scope, feed.id) not in self.subscribed
        self.subscribed.add((scope, feed.id))
        if new:
            self.followers[(scope, feed.id)] = [channel, None]
        return new

    async def unsubscribe_feed(self, scope: Scope, feed: Feed) -> bool:
        old = (scope, feed.id) in self.subscribed
        self.subscribed.discard((scope, feed.id))
        self.followers.pop((scope, feed.id), None)
        return old

    async def feed_followers(self) -> list[FeedFollower]:
        found = [
            FeedFollower(dataclasses.replace(self.feeds[feed_id]), scope, str(channel), told)
            for (scope, feed_id), (channel, told) in self.followers.items()
            if channel
        ]
        return sorted(found, key=lambda f: f.feed.id)

    async def set_alerted(self, follower: FeedFollower, state: str | None) -> None:
        entry = self.followers.get((follower.scope, follower.feed.id))
        if entry is not None:
            entry[1] = state

    async def failing_feeds(self, since_before: datetime) -> list[Feed]:
        return [
            f
            for f in await self.polled_feeds()
            if f.consecutive_failures > 0 and f.failing_since and f.failing_since < since_before
        ]

    async def pause_feed(self, feed: Feed, reason: str, *, at: datetime) -> bool:
        stored = self.feeds.get(feed.id)
        if stored is None or stored.paused or stored.failing_since is None:
            return False
        stored.paused = reason
        self.leases.pop(feed.id, None)
        return True

    async def resume_feed(self, feed: Feed, *, at: datetime) -> bool:
        stored = self.feeds.get(feed.id)
        if stored is None or not stored.paused:
            return False
        stored.paused, stored.consecutive_failures = None, 0
        stored.failing_since, stored.next_poll_at = _moment(at), None
        return True

    async def lease_feeds(
        self, due: Sequence[Feed], owner: str, *, now: datetime, until: datetime
    ) -> list[Feed]:
        leased = []
        for feed in due:
            current = self.feeds.get(feed.id)
            seen = _moment(feed.next_poll_at) if feed.next_poll_at else None
            if current is None or current.next_poll_at != seen:
                continue  # polled by someone since it was read
            holder = self.leases.get(feed.id)
            if holder is not None and holder[0] != owner and holder[1] >= now:
                continue
            self.leases[feed.id] = (owner, until)
            leased.append(feed)
        return leased

    async def record_fetch_success(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
    ) -> None:
        self.leases.pop(feed.id, None)
        if stored := self.feeds.get(feed.id):
            stored.etag, stored.last_modified = etag, last_modified
            stored.title = stored.title if title is None else title
            stored.next_poll_at = _moment(next_poll_at)
            stored.consecutive_failures, stored.last_error, stored.blocked_by = 0, None, None
            stored.last_success_at = stored.last_attempt_at = _moment(at)
            stored.failing_since = None

    async def record_fetch_failure(
        self,
        feed: Feed,
        *,
        at: datetime,
        next_poll_at: datetime,
        error: str,
        blocked_by: str | None = None,
    ) -> None:
        self.leases.pop(feed.id, None)
        if stored := self.feeds.get(feed.id):
            stored.consecutive_failures += 1
            stored.last_error, stored.blocked_by = error[:500], blocked_by
            stored.next_poll_at, stored.last_attempt_at = _moment(next_poll_at), _moment(at)
            stored.failing_since = stored.failing_since or _moment(at)


# An article row's columns, as Batch collects them.
_ARTICLE_FIELDS = (
    "id",
    "guid",
    "url",
    "canonical_url",
    "title",
    "source",
    "published_at",
    "fetched_at",
    "text",
    "is_full_text",
    "content_hash",
    "story_id",
)


@dataclasses.dataclass
class _StoryRow:
    first_seen: datetime
    last_seen: datetime
    version: int = 1


class InMemoryArticleStore:
    """Articles and the stories they are in (ArticleStore and StoryStore, as in SQLite).

    Articles are scoped through the feeds that carry them, so it reads a feed store.
    """

    def __init__(self, feed_store: InMemoryFeedStore) -> None:
        self.feed_store = feed_store
        self.articles: dict[int, Article] = {}
        self.links: dict[tuple[int, int], str | None] = {}  # (article, feed) -> guid
        self.story_rows: dict[int, _StoryRow] = {}
        self.reprinted: dict[str, int] = {}  # a reprint's canonical URL -> the article
        # article -> its reprints, as (published, source, canonical URL, reprint)
        self.reprint_rows: dict[int, list[tuple[datetime, str, str, Reprint]]] = {}
        self.prints: dict[int, PrintRecord] = {}
        self.story_posts: dict[tuple[Scope, str, int], PostedStory] = {}

    def _by_guid(self, feed: Feed, guid: str | None) -> int | None:
        if not guid:
            return None
        return next((a for (a, f), g in self.links.items() if f == feed.id and g == guid), None)

    def _visible(
        self, scope: Scope, since: datetime | None, fetched_since: datetime | None
    ) -> list[Article]:
        feeds = self.feed_store.scope_feed_ids(scope)
        ids = {a for (a, f) in self.links if f in feeds}
        return [
            a
            for a in self.articles.values()
            if a.id in ids
            and (since is None or a.published_at >= since)
            and (fetched_since is None or a.fetched_at >= fetched_since)
        ]

    def _by_url(self, canonical_url: str) -> int | None:
        found = next(
            (a.id for a in self.articles.values() if a.canonical_url == canonical_url), None
        )
        return found if found is not None else self.reprinted.get(canonical_url)

    async def known_articles(
        self, feed: Feed, entries: Sequence[tuple[str | None, str]]
    ) -> list[int | None]:
        return [self._by_guid(feed, guid) or self._by_url(url) for guid, url in entries]

    async def link_articles(self, feed: Feed, links: Sequence[tuple[int, str | None]]) -> None:
        for article_id, guid in links:
            if self._by_guid(feed, guid) is None:
                self._link(feed, article_id, guid)

    def _link(self, feed: Feed, article_id: int, guid: str | None) -> None:
        """ON CONFLICT DO NOTHING: one link per (article, feed); callers have checked that
        no other article has the guid in this feed."""
        self.links.setdefault((article_id, feed.id), guid)

    async def add_articles(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[int | None]:
        """Placed by the engines' own `Batch`, on rows read from these dicts as the
        engines' one lookup statement reads them from tables."""
        check_batch_ids(placed)
        batch = Batch(
            feed.id, self._lookup(feed, placed), ids=itertools.count(len(self.articles) + 1)
        )
        outcomes = [batch.place(entry) for entry in placed]
        self._write(feed, batch)
        return [o.article_id if o.kind == "new" else None for o in outcomes]

    def _lookup(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[dict[str, Any]]:
        """The rows `Batch` reads (see bot/store/batch.py), as the engines' lookup gives them."""
        guids = {p.article.guid for p in placed if p.article.guid}
        urls = {p.article.canonical_url for p in placed}
        hashes = {p.article.content_hash for p in placed}
        reprinted = {p.reprint_of for p in placed if p.reprint_of and p.reprint_of > 0}
        joined = {p.story_id for p in placed if p.story_id and p.story_id > 0}

        def row(kind: str, key: str | None, article_id: int) -> dict[str, Any]:
            story = self.articles[article_id].story_id
            return {
                "kind": kind,
                "key": key,
                "id": article_id,
                "linked": (article_id, feed.id) in self.links,
                "story": story if story in self.story_rows else None,
            }

        rows = [
            row("g", guid, article_id)
            for (article_id, feed_id), guid in self.links.items()
            if feed_id == feed.id and guid in guids
        ]
        for article in self.articles.values():
            if article.canonical_url in urls:
                rows.append(row("u", article.canonical_url, article.id))
            if article.content_hash in hashes:
                rows.append(row("h", article.content_hash, article.id))
            if article.id in reprinted:
                rows.append(row("a", None, article.id))
        rows += [
            row("r", url, article_id) for url, article_id in self.reprinted.items() if url in urls
        ]
        rows += [
            {"kind": "s", "key": None, "id": i, "linked": False, "story": i}
            for i in joined
            if i in self.story_rows
        ]
        return rows

    def _write(self, feed: Feed, batch: Batch) -> None:
        """The batch's rows into the dicts, as the engines write them into tables."""
        for story_id, new in batch.new_stories.items():
            self.story_rows[story_id] = _StoryRow(
                _moment(new.first_seen), _moment(new.last_seen), new.version
            )
        for story_id, (joined, seen) in batch.bumps.items():
            stored = self.story_rows[story_id]
            stored.version += joined
            stored.last_seen = max(stored.last_seen, _moment(seen))
        for values in batch.article_rows:
            fields = dict(zip(_ARTICLE_FIELDS, values, strict=True))
            fields["published_at"] = _moment(fields["published_at"])
            fields["fetched_at"] = _moment(fields["fetched_at"])
            self.articles[fields["id"]] = Article(**fields)
        for article_id, canonical_url, url, source, published in batch.reprint_rows:
            self.reprinted[canonical_url] = article_id
            self.reprint_rows.setdefault(article_id, []).append(
                (_moment(published), source, canonical_url, Reprint(source, url))
            )
            ordered = sorted(self.reprint_rows[article_id], key=lambda r: r[:3])
            self.articles[article_id] = dataclasses.replace(
                self.articles[article_id], reprints=tuple(r[3] for r in ordered)
            )
        for article_id, feed_id, guid in batch.link_rows:
            self.links.setdefault((article_id, feed_id), guid)
        for article_id, data, sketch in batch.print_rows:
            self.prints[article_id] = PrintRecord(data, sketch)

    async def get_articles(self, ids: Sequence[int]) -> list[Article]:
        return [self.articles[i] for i in ids if i in self.articles]

    async def stories(self, scope: Scope, story_ids: Sequence[int]) -> list[Story]:
        visible = self._visible(scope, None, None)
        found = []
        for story_id in dict.fromkeys(story_ids):
            articles = sorted(
                (a for a in visible if a.story_id == story_id), key=lambda a: (a.published_at, a.id)
            )
            if articles:
                row = self.story_rows[story_id]
                found.append(Story(tuple(articles), id=story_id, version=row.version))
        return found

    async def story_prints(self, since: datetime, *, after_id: int = 0) -> list[StoredPrint]:
        found = [
            StoredPrint(a.story_id or a.id, a.id, a.published_at, self.prints[a.id])
            for a in self.articles.values()
            if a.id in self.prints and a.published_at >= since and a.id > after_id
        ]
        if after_id:
            return sorted(found, key=lambda p: p.article_id)
        return sorted(found, key=lambda p: (p.published_at, p.article_id))

    @contextlib.asynccontextmanager
    async def placing(self) -> AsyncIterator[None]:
        yield

    async def merge_stories(self, into: int, absorbed: Sequence[int]) -> None:
        gone = [i for i in absorbed if i != into and i in self.story_rows]
        if not gone or into not in self.story_rows:  # merged away by another process
            return
        for article in list(self.articles.values()):
            if article.story_id in gone:
                self.articles[article.id] = dataclasses.replace(article, story_id=into)
        row = self.story_rows[into]
        last = max([row.last_seen, *(self.story_rows[i].last_seen for i in gone)])
        self.story_rows[into] = dataclasses.replace(row, version=row.version + 1, last_seen=last)
        for story in gone:
            for scope, channel, posted in [k for k in self.story_posts if k[2] == story]:
                post = self.story_posts.pop((scope, channel, posted))
                if (scope, channel, into) not in self.story_posts:
                    self.story_posts[(scope, channel, into)] = dataclasses.replace(
                        post, story_id=into
                    )
            del self.story_rows[story]

    async def story_versions(self, story_ids: Sequence[int]) -> dict[int, int]:
        return {i: self.story_rows[i].version for i in story_ids if i in self.story_rows}

    async def posted_stories(
        self, scope: Scope, channel: str, story_ids: Sequence[int]
    ) -> dict[int, PostedStory]:
        return {
            i: self.story_posts[(scope, channel, i)]
            for i in story_ids
            if (scope, channel, i) in self.story_posts
        }

    async def record_posted_stories(
        self, scope: Scope, channel: str, posted: Sequence[PostedStory]
    ) -> None:
        for post in posted:
            old = self.story_posts.get((scope, channel, post.story_id))
            version = max(post.version, old.version) if old else post.version
            self.story_posts[(scope, channel, post.story_id)] = dataclasses.replace(
                post, version=version
            )

    async def forget_prints(self, before: datetime) -> int:
        gone = [i for i in self.prints if self.articles[i].published_at < before]
        for article_id in gone:
            del self.prints[article_id]
        return len(gone)

    async def recent_articles(
        self, scope: Scope, *, since: datetime, limit: int, fetched_since: datetime | None = None
    ) -> list[Article]:
        found = self._visible(scope, since, fetched_since)
        return sorted(found, key=lambda a: (a.published_at, a.id), reverse=True)[:limit]

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
        """Whole stemmed tokens; a term in the title counts 4, in the text 1 (as bm25's weights)."""
        query = set(_terms(" ".join(words)))
        if not query:
            return []
        hits = []
        for article in self._visible(scope, since, fetched_since):
            title, text = set(_terms(article.title)), set(_terms(article.text))
            found = query & (title | text)
            if found == query if mode == "all" else found:
                score = sum(4.0 * (t in title) + (t in text) for t in found)
                hits.append(SearchHit(article, score))
        return sorted(hits, key=lambda h: (-h.relevance, h.article.id))[:limit]


class InMemorySubscriptionStore:
    """Digests keyed by (scope, channel), the table's unique key."""

    def __init__(self) -> None:
        self.subscriptions: dict[tuple[Scope, str], Subscription] = {}

    async def upsert_subscription(
        self,
        scope: Scope,
        channel: str,
        *,
        digest_time: str,
        timezone: str,
        topics: Sequence[str],
    ) -> Subscription:
        """Setting a digest again updates it in place and turns it back on."""
        old = self.subscriptions.get((scope, channel))
        sub = Subscription(
            id=old.id if old else len(self.subscriptions) + 1,
            scope=scope,
            channel=channel,
            topics=tuple(topics),
            digest_time=digest_time,
            timezone=timezone,
            last_digest_at=old.last_digest_at if old else None,
        )
        self.subscriptions[(scope, channel)] = sub
        return sub

    async def get_subscription(self, scope: Scope, channel: str) -> Subscription | None:
        return self.subscriptions.get((scope, channel))

    async def disable_subscription(self, scope: Scope, channel: str) -> bool:
        sub = self.subscriptions.get((scope, channel))
        if sub is None or not sub.enabled:
            return False
        self.subscriptions[(scope, channel)] = dataclasses.replace(sub, enabled=False)
        return True

    async def list_subscriptions(self) -> list[Subscription]:
        return sorted((s for s in self.subscriptions.values() if s.enabled), key=lambda s: s.id)

    async def mark_digest_sent(self, subscription_id: int, at: datetime) -> None:
        for key, sub in self.subscriptions.items():
            if sub.id == subscription_id:
                self.subscriptions[key] = dataclasses.replace(sub, last_digest_at=_moment(at))


class InMemoryDeliveryStore:
    """Claimed keys: the row that makes an event handled at most once."""

    def __init__(self) -> None:
        self.claims: set[str] = set()

    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        if key in self.claims:
            return False
        self.claims.add(key)
        return True


@dataclasses.dataclass
class _Leased:
    delivery: Delivery
    owner: str | None = None
    until: datetime | None = None
    retry_at: datetime | None = None


class PostRecords(ThreadStore, StoryStore, Protocol):
    """Where what a post showed is remembered: its threads and its stories' versions."""


class InMemoryOutboxStore:
    """Deliveries with their parts and leases, as SqliteStore keeps them; a part sent
    records its thread and stories in `records` (the same store, in InMemoryStore)."""

    def __init__(self, records: PostRecords) -> None:
        self.outbox: dict[str, _Leased] = {}
        self._records = records

    async def enqueue(self, deliveries: Sequence[Delivery]) -> list[bool]:
        stored = []
        for d in deliveries:
            if d.key in self.outbox:
                stored.append(False)
                continue
            status: DeliveryStatus = "pending" if d.parts else "posted"
            self.outbox[d.key] = _Leased(dataclasses.replace(d, status=status))
            stored.append(True)
        return stored

    async def get_delivery(self, key: str) -> Delivery | None:
        leased = self.outbox.get(key)
        return leased.delivery if leased else None

    async def lease_delivery(
        self, key: str, owner: str, *, now: datetime, until: datetime
    ) -> Delivery | None:
        leased = self.outbox.get(key)
        if leased is None or leased.delivery.status != "pending":
            return None
        free = leased.owner in (None, owner) or (leased.until is not None and leased.until < now)
        if not free:
            return None
        leased.owner, leased.until = owner, until
        return leased.delivery

    async def due_deliveries(self, now: datetime) -> list[str]:
        return [
            key
            for key, leased in sorted(self.outbox.items(), key=lambda i: i[1].delivery.created_at)
            if leased.delivery.status == "pending"
            and (leased.retry_at is None or leased.retry_at <= now)
            and (leased.owner is None or (leased.until is not None and leased.until < now))
        ]

    def _held(self, key: str, owner: str) -> _Leased | None:
        leased = self.outbox.get(key)
        if leased is None or leased.owner != owner or leased.delivery.status != "pending":
            return None
        return leased

    def _set_part(self, leased: _Leased, index: int, **changes: object) -> None:
        parts = tuple(
            dataclasses.replace(p, **changes) if p.index == index else p  # type: ignore[arg-type]
            for p in leased.delivery.parts
        )
        leased.delivery = dataclasses.replace(leased.delivery, parts=parts)

    async def mark_part_sending(
        self, key: str, index: int, owner: str, *, at: datetime, lease_until: datetime
    ) -> bool:
        leased = self._held(key, owner)
        if leased is None:
            return False
        leased.until = lease_until
        part = next(p for p in leased.delivery.parts if p.index == index)
        self._set_part(leased, index, state="sending", sending_since=part.sending_since or at)
        return True

    async def mark_part_sent(
        self, key: str, index: int, owner: str, sent: SentPart, *, at: datetime
    ) -> bool:
        leased = self._held(key, owner)
        if leased is None:
            return False
        delivery = leased.delivery
        thread = delivery.thread_opened(index, sent)
        if thread is not None and delivery.shows is not None:
            shows = delivery.shows
            await self._records.save_thread(
                delivery.scope, delivery.channel, thread, shows.kind, shows.article_ids
            )
        posted = delivery.stories_posted(index, sent)
        if posted:
            await self._records.record_posted_stories(delivery.scope, delivery.channel, posted)
        self._set_part(
            leased, index, state="sent", message_id=sent.message_id, thread_key=sent.thread_key
        )
        if not leased.delivery.unsent:
            leased.delivery = dataclasses.replace(leased.delivery, status="posted")
            leased.owner = leased.until = None
        return True

    async def renew_delivery(self, key: str, owner: str, *, until: datetime) -> bool:
        leased = self._held(key, owner)
        if leased is None:
            return False
        leased.until = until
        return True

    async def release_delivery(
        self, key: str, owner: str, *, retry_at: datetime | None = None, error: str | None = None
    ) -> bool:
        leased = self._held(key, owner)
        if leased is None:
            return False
        leased.owner = leased.until = None
        leased.retry_at = retry_at
        if error:
            d = leased.delivery
            leased.delivery = dataclasses.replace(d, attempts=d.attempts + 1, error=error)
        return True

    async def mark_late_reported(self, key: str) -> None:
        leased = self.outbox.get(key)
        if leased is not None:
            leased.delivery = dataclasses.replace(leased.delivery, late_reported=True)

    async def abandon_delivery(self, key: str, owner: str, *, error: str) -> None:
        leased = self.outbox.get(key)
        if leased is None or leased.delivery.status != "pending":
            return
        if leased.owner not in (None, owner):
            return
        leased.owner = leased.until = None
        leased.delivery = dataclasses.replace(leased.delivery, status="abandoned", error=error)

    async def release_all_leases(self) -> int:
        held = [
            leased
            for leased in self.outbox.values()
            if leased.delivery.status == "pending" and leased.owner is not None
        ]
        for leased in held:
            leased.owner = leased.until = None
        return len(held)

    async def outbox_counts(self, now: datetime) -> OutboxCounts:
        ds = [leased.delivery for leased in self.outbox.values()]
        late = [
            d
            for d in ds
            if d.late_reported
            or (d.status == "pending" and d.late_after is not None and d.late_after < now)
        ]
        return OutboxCounts(
            pending=sum(d.status == "pending" for d in ds),
            late=len(late),
            abandoned=sum(d.status == "abandoned" for d in ds),
        )


class InMemoryThreadStore:
    """Threads keyed by (scope, channel, thread_key); turns listed per thread id."""

    def __init__(self) -> None:
        self.threads: dict[tuple[Scope, str, str], ThreadContext] = {}
        self.turns: dict[int, list[QATurn]] = {}

    async def save_thread(
        self,
        scope: Scope,
        channel: str,
        thread_key: str,
        kind: ThreadKind,
        article_ids: Sequence[int],
    ) -> ThreadContext:
        """Saving the same thread again replaces its kind and articles, keeping its id."""
        old = self.threads.get((scope, channel, thread_key))
        thread = ThreadContext(
            id=old.id if old else len(self.threads) + 1,
            scope=scope,
            channel=channel,
            thread_key=thread_key,
            kind=kind,
            article_ids=tuple(article_ids),
            created_at=old.created_at if old else _moment(utcnow()),
        )
        self.threads[(scope, channel, thread_key)] = thread
        return thread

    async def get_thread(self, scope: Scope, channel: str, thread_key: str) -> ThreadContext | None:
        return self.threads.get((scope, channel, thread_key))

    async def add_turn(
        self, thread: ThreadContext, question: str, answer: str, article_ids: Sequence[int]
    ) -> None:
        self.turns.setdefault(thread.id, []).append(QATurn(question, answer, _moment(utcnow())))

    async def recent_turns(self, thread: ThreadContext, limit: int) -> list[QATurn]:
        turns = self.turns.get(thread.id, [])
        return turns[max(len(turns) - limit, 0) :]


class InMemoryLlmLedger:
    """The model output cache and the call log that stats are counted from."""

    def __init__(self) -> None:
        self.cache: dict[str, str] = {}
        self.calls: list[tuple[datetime, LlmCall]] = []

    async def cached_output(self, key: str) -> str | None:
        return self.cache.get(key)

    async def cache_output(
        self, key: str, *, kind: str, model: str, prompt_version: str, output: str
    ) -> None:
        self.cache[key] = output

    async def record_call(self, call: LlmCall, at: datetime) -> None:
        """Errors are kept to 500 characters and an empty one is none, as in SQL."""
        error = (call.error or "")[:500] or None
        self.calls.append((_moment(at), dataclasses.replace(call, error=error)))

    def _since(self, since: datetime | None) -> list[LlmCall]:
        return [c for at, c in self.calls if since is None or at >= since]

    async def tokens_used_since(self, since: datetime) -> int:
        return sum(c.tokens_in + c.tokens_out for c in self._since(since))

    async def tokens_by_day(self, since: datetime) -> list[DayTokens]:
        days: dict[date, list[int]] = {}
        for at, call in self.calls:
            if at >= since:
                tally = days.setdefault(at.astimezone(UTC).date(), [0, 0])
                tally[0] += call.tokens_in
                tally[1] += call.tokens_out
        return [DayTokens(d, i, o) for d, (i, o) in sorted(days.items())]

    async def llm_stats(self, since: datetime | None) -> LlmStats:
        calls = self._since(since)
        status = Counter(c.status for c in calls)
        reasons = Counter(c.error for c in calls if c.status == "fallback")
        # ORDER BY n DESC, error: SQLite sorts NULL first, and str() of it says "None".
        top = sorted(reasons.items(), key=lambda r: (-r[1], r[0] is not None, r[0] or ""))[:5]
        return LlmStats(
            requests=status["ok"] + status["error"],
            ok=status["ok"],
            errors=status["error"],
            invalid=status["invalid"],
            fallbacks=status["fallback"],
            cache_hits=status["cache-hit"],
            tokens_in=sum(c.tokens_in for c in calls),
            tokens_out=sum(c.tokens_out for c in calls),
            fallback_reasons=tuple((str(error), n) for error, n in top),
        )


class InMemoryStore(
    InMemoryFeedStore,
    InMemoryArticleStore,
    InMemorySubscriptionStore,
    InMemoryDeliveryStore,
    InMemoryOutboxStore,
    InMemoryThreadStore,
    InMemoryLlmLedger,
    InMemoryClaimLedger,
):
    """Every role at once, as SqliteStore is: what services taking one `Store` get."""

    embedded = True

    async def claim_serving(self) -> None:
        """One process by nature: nothing to claim."""

    def __init__(self) -> None:
        InMemoryFeedStore.__init__(self)
        InMemoryArticleStore.__init__(self, feed_store=self)
        InMemorySubscriptionStore.__init__(self)
        InMemoryDeliveryStore.__init__(self)
        InMemoryOutboxStore.__init__(self, records=self)
        InMemoryThreadStore.__init__(self)
        InMemoryLlmLedger.__init__(self)
        InMemoryClaimLedger.__init__(self)

    async def health(self, *, now: datetime, overdue_before: datetime) -> StoreHealth:
        polled = await self.polled_feeds()
        pending = [d for d in self.outbox.values() if d.delivery.status == "pending"]
        return StoreHealth(
            "memory",
            0,
            len(polled),
            sum(1 for f in polled if f.next_poll_at and f.next_poll_at < overdue_before),
            sum(1 for _, until in self.leases.values() if until >= now),
            len(pending),
            sum(1 for d in pending if d.until is not None and d.until >= now),
        )

    async def totals(self) -> StoreTotals:
        polled = await self.polled_feeds()
        deliveries = [d.delivery for d in self.outbox.values()]
        posted = [d for d in deliveries if d.status == "posted"]
        return StoreTotals(
            feeds=len(polled),
            feeds_failing=sum(1 for f in polled if f.consecutive_failures > 0),
            articles=len(self.articles),
            stories=len(self.story_rows),
            digests_posted=sum(
                1
                for d in posted
                if d.key.startswith("digest:")
                and ":update:" not in d.key
                and not d.key.endswith(":late")
            ),
            deliveries_posted=len(posted),
            deliveries_pending=sum(1 for d in deliveries if d.status == "pending"),
            deliveries_late=sum(1 for d in deliveries if d.late_reported),
            deliveries_abandoned=sum(1 for d in deliveries if d.status == "abandoned"),
            parts_sent=sum(1 for d in deliveries for p in d.parts if p.state == "sent"),
        )

    async def recent_deliveries(self, limit: int) -> list[RecentDelivery]:
        rows = [
            RecentDelivery(
                d.key, d.scope.platform, d.channel, d.status, d.created_at, d.created_at,
                d.attempts, d.late_reported, d.error,
            )
            for d in (leased.delivery for leased in self.outbox.values())
        ]  # fmt: skip
        return sorted(rows, key=lambda r: (-r.created_at.timestamp(), r.key))[:limit]

    async def trace_url(self, url: str, canonical: str) -> UrlTrace:
        found = next(
            (a for a in self.articles.values() if url in (a.canonical_url, a.url)
             or a.canonical_url == canonical),
            None,
        )  # fmt: skip
        copy = None
        if found is None:
            article_id = self.reprinted.get(url) or self.reprinted.get(canonical)
            if article_id is None:
                return UrlTrace()
            found = self.articles[article_id]
            for published, source, canonical_url, reprint in self.reprint_rows[article_id]:
                if canonical_url in (url, canonical):
                    copy = Copy(reprint.url, source, published)
        story = self.story_rows.get(found.story_id) if found.story_id is not None else None
        return UrlTrace(
            article=StoredArticle(
                found.id,
                found.url,
                found.title,
                found.source,
                found.published_at,
                found.fetched_at,
                found.story_id,
            ),
            copy=copy,
            feeds=tuple(dataclasses.replace(self.feeds[f]) for a, f in self.links if a == found.id),
            story_size=sum(1 for a in self.articles.values() if a.story_id == found.story_id),
            story_version=story.version if story else 0,
            showings=tuple(
                Showing(t.scope, t.channel, t.kind.value, t.thread_key, t.created_at, None)
                for t in self.threads.values()
                if found.id in t.article_ids
            ),
            story_posts=tuple(
                StoryPost(scope, channel, p.version, p.thread_key, _moment(utcnow()))
                for (scope, channel, story_id), p in self.story_posts.items()
                if story_id == found.story_id
            ),
        )

    async def release_all_leases(self) -> int:
        """The outbox's leases and the feeds' (two roles, one engine, as in SQL)."""
        feeds = len(self.leases)
        self.leases.clear()
        return await InMemoryOutboxStore.release_all_leases(self) + feeds

    async def close(self) -> None:
        """Nothing to release; here so code that closes its store can be given this one."""
