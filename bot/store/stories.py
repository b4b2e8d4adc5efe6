"""Stories as stored (the StoryStore port), on either engine: their articles, the
fingerprints that place new ones, and which version each channel was shown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from bot.domain import Article, PostedStory, Scope, Story
from bot.placement import PrintRecord, StoredPrint
from bot.store.articles import ARTICLE_COLUMNS, ArticleRecords
from bot.store.base import PLACING_LOCK, article_in_scope
from bot.store.sql import Queries, Row, moment
from bot.timeutil import utcnow

# Prints read at a time when catching up with what other processes stored.
CATCH_UP_CHUNK = 2_000


class StoryRecords(ArticleRecords):
    async def stories(self, scope: Scope, story_ids: Sequence[int]) -> list[Story]:
        """Each story with the articles of it the scope reads, oldest first; in the order
        asked, leaving out stories with none."""
        if not story_ids:
            return []
        rows = await self.db.fetch(
            f"SELECT {ARTICLE_COLUMNS}, s.version FROM articles a "
            "JOIN stories s ON s.id = a.story_id "
            f"WHERE a.story_id = ANY($1::bigint[]) AND {article_in_scope('$2', '$3')} "
            "ORDER BY a.published_at, a.id",
            list(story_ids),
            scope.platform,
            scope.workspace,
        )
        versions = {r["story_id"]: int(r["version"]) for r in rows}
        by_story: dict[int, list[Article]] = {}
        for article in await self.articles_of(rows):
            assert article.story_id is not None
            by_story.setdefault(article.story_id, []).append(article)
        return [
            Story(tuple(by_story[i]), id=i, version=versions[i])
            for i in dict.fromkeys(story_ids)
            if i in by_story
        ]

    async def story_prints(self, since: datetime, *, after_id: int = 0) -> list[StoredPrint]:
        """The fingerprints of articles published since `since`, oldest first; with
        `after_id`, only of articles stored after that one (by another process), in the
        order they were stored."""
        if after_id:
            rows = [
                r for r in await self._prints_after(after_id) if moment(r["published_at"]) >= since
            ]
        else:
            rows = await self.db.fetch(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles "
                "FROM article_prints p JOIN articles a ON a.id = p.article_id "
                "WHERE a.published_at >= $1 ORDER BY a.published_at, a.id",
                since,
            )
        return [
            StoredPrint(
                story_id=r["story_id"],
                article_id=r["id"],
                published_at=moment(r["published_at"]),
                record=PrintRecord(r["data"], bytes(r["shingles"])),
            )
            for r in rows
        ]

    async def _prints_after(self, after_id: int) -> list[Row]:
        """The prints of articles after `after_id` (a catch-up before every batch: mostly
        none or a few), walked along the primary key a chunk at a time. Asked with a date
        bound as well, PostgreSQL's generic plan for the prepared statement (it cannot
        see that the id bound leaves a handful of rows) scanned the window's every
        article, each batch: a quarter to half of what the database was doing in a first
        poll of 10,000 feeds (bench/bench_poll_pg.py)."""
        rows: list[Row] = []
        while True:
            chunk = await self.db.fetch(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles FROM ("
                " SELECT article_id, data, shingles FROM article_prints"
                " WHERE article_id > $1 ORDER BY article_id LIMIT $2) p "
                "JOIN articles a ON a.id = p.article_id ORDER BY a.id",
                after_id,
                CATCH_UP_CHUNK,
            )
            rows.extend(chunk)
            if len(chunk) < CATCH_UP_CHUNK:
                return rows
            after_id = int(chunk[-1]["id"])

    @asynccontextmanager
    async def placing(self) -> AsyncIterator[None]:
        """Held while a batch is placed and stored: processes sharing the database place
        one batch at a time, each seeing the stories the others stored before it."""
        async with self.db.held(PLACING_LOCK):
            yield

    async def forget_prints(self, before: datetime) -> int:
        """Drop the fingerprints of articles published before `before`; how many."""
        return await self.db.execute(
            "DELETE FROM article_prints WHERE article_id IN "
            "(SELECT id FROM articles WHERE published_at < $1)",
            before,
        )

    async def story_versions(self, story_ids: Sequence[int]) -> dict[int, int]:
        if not story_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT id, version FROM stories WHERE id = ANY($1::bigint[])", list(story_ids)
        )
        return {r["id"]: r["version"] for r in rows}

    async def merge_stories(self, into: int, absorbed: Sequence[int]) -> None:
        gone = [i for i in absorbed if i != into]
        if not gone:
            return
        async with self.db.transaction() as tx:
            # Another process may have merged either away already (its index was stale).
            if await tx.fetchrow("SELECT id FROM stories WHERE id = $1", into) is None:
                return
            await tx.execute(
                "UPDATE articles SET story_id = $1 WHERE story_id = ANY($2::bigint[])", into, gone
            )
            await tx.execute(
                "UPDATE stories SET version = version + 1, last_seen = greatest(last_seen, "
                "(SELECT max(last_seen) FROM stories WHERE id = ANY($2::bigint[]))) "
                "WHERE id = $1 AND EXISTS (SELECT 1 FROM stories WHERE id = ANY($2::bigint[]))",
                into,
                gone,
            )
            for story in gone:  # one at a time: two absorbed may have been in one channel
                await tx.execute(
                    "UPDATE story_posts SET story_id = $1 WHERE story_id = $2 AND NOT EXISTS "
                    "(SELECT 1 FROM story_posts p WHERE p.platform = story_posts.platform "
                    "AND p.workspace = story_posts.workspace "
                    "AND p.channel = story_posts.channel AND p.story_id = $1)",
                    into,
                    story,
                )
            await tx.execute("DELETE FROM story_posts WHERE story_id = ANY($1::bigint[])", gone)
            await tx.execute("DELETE FROM stories WHERE id = ANY($1::bigint[])", gone)

    async def posted_stories(
        self, scope: Scope, channel: str, story_ids: Sequence[int]
    ) -> dict[int, PostedStory]:
        if not story_ids:
            return {}
        rows = await self.db.fetch(
            "SELECT story_id, version, thread_key FROM story_posts WHERE platform = $1 "
            "AND workspace = $2 AND channel = $3 AND story_id = ANY($4::bigint[])",
            scope.platform,
            scope.workspace,
            channel,
            list(story_ids),
        )
        return {
            r["story_id"]: PostedStory(r["story_id"], r["version"], r["thread_key"]) for r in rows
        }

    async def record_posted_stories(
        self, scope: Scope, channel: str, posted: Sequence[PostedStory]
    ) -> None:
        if not posted:
            return
        async with self.db.transaction() as tx:
            await record_posted(tx, scope, channel, posted, at=utcnow())


async def record_posted(
    tx: Queries, scope: Scope, channel: str, posted: Sequence[PostedStory], *, at: datetime
) -> None:
    """The story versions a channel was shown (in the outbox's transaction too). One row
    at a time: a story listed twice is recorded twice, in order."""
    await tx.executemany(
        "INSERT INTO story_posts (platform, workspace, channel, story_id, version, "
        "thread_key, posted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (platform, workspace, channel, story_id) DO UPDATE SET "
        "version = greatest(story_posts.version, excluded.version), "
        "thread_key = excluded.thread_key, posted_at = excluded.posted_at",
        [
            (scope.platform, scope.workspace, channel, p.story_id, p.version, p.thread_key, at)
            for p in posted
        ],
    )
