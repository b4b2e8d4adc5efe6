"""Articles and stories on PostgreSQL: the ArticleStore and StoryStore ports with the
semantics of SQLite's (bot/store/sqlite.py), for several bot processes on one database.

What differs is how, not what:

- A feed's batch of new entries is placed in Python as SQLite places it, then each
  table is written with one statement over arrays (`unnest`). Batches are serialised
  by a transaction-level advisory lock, as SQLite's single writer serialises them, so
  what the batch read stays true until it commits, and a copy another process is
  storing at the same moment is found as a copy instead of breaking a unique index.
  New articles take their ids from the table's identity sequence.
- Search matches the stored `tsvector` (title weighted A, text B) against a tsquery of
  the user's words, each quoted, and ranks with `ts_rank_cd`, title matches weighted
  four times text matches as SQLite's bm25(4, 1) weighs them.
- Ranking needs each match's word positions. A GIN index has none, so every match's
  vector is read from the table: a word in a fifth of 100,000 articles costs ~150 ms
  (SQLite's FTS5 keeps positions in its index). Where the RUM index exists (schema.py,
  migration 3), the matches come from it in rank order and only the first few are
  read and ranked as above.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bot.domain import Article, Feed, PostedStory, Reprint, Scope, Story
from bot.services.ports import MatchMode, PlacedArticle, SearchHit, StoredPrint
from bot.services.story_index import print_from_record
from bot.store.batch import Batch, BatchWriter, Outcome, check_batch_ids
from bot.store.pg.base import ARTICLES_LOCK, PLACING_LOCK, PgBase, PgConn, to_pg
from bot.timeutil import utcnow

# Serialises article batches between processes (as SQLite's one writer does); the
# migration lock in base.py is another key.

# Search tokens: runs of letters and digits, as SQLite's fts_query splits words.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# The user's words as a tsquery ($1, from `ts_query`), in the configuration the stored
# vectors were made with (schema.py).
_TSQUERY = "to_tsquery('english', $1)"
# A query with more matches than this is common: only the newest of its matches that the
# window and scope allow are ranked, this many at least (as in SQLite's `search`).
_COMMON_MATCHES = 25_000
_NEWEST_RANKED = 4_000
# Prints read at a time when catching up with what other processes stored.
_CATCH_UP_CHUNK = 2_000
# With the RUM index: this many of its best (at least) are ranked with `_rank`.
_RUM_CANDIDATES = 100
# Ids for entries of a batch before the real ones are drawn: above any stored article's.
_PROVISIONAL_IDS = 2**62


def _rank(vector: str, query: str) -> str:
    """A match's rank: ts_rank_cd with weights {D, C, B, A}, so a title (A) match counts
    four times a text (B) match, as bm25(4, 1) does in SQLite; divided by 1 + log(the
    number of distinct words), as bm25 discounts long articles. Larger is better."""
    return f"ts_rank_cd('{{0.1, 0.1, 0.25, 1.0}}', {vector}, {query}, 1)"


def _feed_in_scope(platform: str, workspace: str) -> str:
    """A feed `f` the scope sees: a default, or one the workspace subscribed to; the
    arguments are the placeholders of the scope's platform and workspace."""
    return (
        "(f.is_default OR EXISTS (SELECT 1 FROM workspace_feeds w "
        f"WHERE w.feed_id = f.id AND w.platform = {platform} AND w.workspace = {workspace}))"
    )


def _article_in_scope(platform: str, workspace: str) -> str:
    """An article `a` the scope sees: carried by a feed it sees."""
    return (
        "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
        f"WHERE af.article_id = a.id AND {_feed_in_scope(platform, workspace)})"
    )


def _in_window_and_scope(since: str, fetched_since: str, platform: str, workspace: str) -> str:
    """An article `a` in its window (a NULL bound is no bound) and its scope."""
    return (
        f"a.published_at >= coalesce({since}::timestamptz, '-infinity') "
        f"AND a.fetched_at >= coalesce({fetched_since}::timestamptz, '-infinity') "
        f"AND {_article_in_scope(platform, workspace)}"
    )


# An article row with its reprints (oldest first), as `_article` reads it.
_ARTICLE_COLUMNS = (
    "a.id, a.guid, a.url, a.canonical_url, a.title, a.source, a.published_at, a.fetched_at, "
    "a.text, a.is_full_text, a.content_hash, a.story_id, rp.sources, rp.urls"
)
_WITH_REPRINTS = (
    "LEFT JOIN LATERAL (SELECT "
    "array_agg(r.source ORDER BY r.published_at, r.source, r.canonical_url) AS sources, "
    "array_agg(r.url ORDER BY r.published_at, r.source, r.canonical_url) AS urls "
    "FROM reprints r WHERE r.article_id = a.id) rp ON TRUE"
)

# Entries stored already: by guid in this feed (g), by URL as an article's (u) or as a
# reprint's (r). $1 feed, $2 guids, $3 URLs.
_KNOWN_ENTRIES = (
    "SELECT 'g' AS kind, guid AS key, article_id AS id FROM article_feeds "
    "WHERE feed_id = $1 AND guid = ANY($2::text[]) "
    "UNION ALL SELECT 'u', canonical_url, id FROM articles WHERE canonical_url = ANY($3::text[]) "
    "UNION ALL SELECT 'r', canonical_url, article_id FROM reprints "
    "WHERE canonical_url = ANY($3::text[])"
)


def _linked(article: str) -> str:
    """Whether the batch's feed ($1) carries the article already."""
    return (
        f"EXISTS (SELECT 1 FROM article_feeds l WHERE l.article_id = {article} AND l.feed_id = $1)"
    )


# All a batch of new entries needs to know, in one statement: the stored articles they
# may copy (as _KNOWN_ENTRIES, plus by text: h), the articles reprinted (a) and the
# stories joined (s); for each article, whether the feed carries it and its story (a
# stored one: articles.story_id references stories). $1 feed, $2 guids, $3 URLs,
# $4 content hashes, $5 articles reprinted, $6 stories joined.
_BATCH_LOOKUP = (
    "SELECT 'g' AS kind, af.guid AS key, af.article_id AS id, TRUE AS linked, "
    "x.story_id AS story FROM article_feeds af JOIN articles x ON x.id = af.article_id "
    "WHERE af.feed_id = $1 AND af.guid = ANY($2::text[]) "
    f"UNION ALL SELECT 'u', a.canonical_url, a.id, {_linked('a.id')}, a.story_id "
    "FROM articles a WHERE a.canonical_url = ANY($3::text[]) "
    f"UNION ALL SELECT 'r', r.canonical_url, r.article_id, {_linked('r.article_id')}, "
    "x.story_id FROM reprints r JOIN articles x ON x.id = r.article_id "
    "WHERE r.canonical_url = ANY($3::text[]) "
    f"UNION ALL SELECT 'h', a.content_hash, a.id, {_linked('a.id')}, a.story_id "
    "FROM articles a WHERE a.content_hash = ANY($4::text[]) "
    f"UNION ALL SELECT 'a', NULL, a.id, {_linked('a.id')}, a.story_id "
    "FROM articles a WHERE a.id = ANY($5::bigint[]) "
    "UNION ALL SELECT 's', NULL, s.id, FALSE, s.id FROM stories s WHERE s.id = ANY($6::bigint[])"
)

# A batch's writes, one statement per table over arrays, in an order the foreign keys
# accept.
_INSERT_STORIES = (
    "INSERT INTO stories (id, first_seen, last_seen, version) "
    "SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::integer[])"
)
_BUMP_STORIES = (
    "UPDATE stories s SET version = s.version + u.joined, "
    "last_seen = greatest(s.last_seen, u.seen) "
    "FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[]) AS u(id, joined, seen) "
    "WHERE s.id = u.id"
)
_INSERT_ARTICLES = (
    "INSERT INTO articles (id, guid, url, canonical_url, title, source, published_at, "
    "fetched_at, text, is_full_text, content_hash, story_id) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::boolean[], "
    "$11::text[], $12::bigint[])"
)
_INSERT_REPRINTS = (
    "INSERT INTO reprints (article_id, canonical_url, url, source, published_at) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
    "$5::timestamptz[])"
)
_INSERT_LINKS = (
    "INSERT INTO article_feeds (article_id, feed_id, guid) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING"
)
_INSERT_PRINTS = (
    "INSERT INTO article_prints (article_id, data, shingles) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])"
)


def ts_query(words: Sequence[str], mode: MatchMode) -> str | None:
    """User words -> to_tsquery input: every token quoted (stemmed, not a prefix), joined
    with & or |; no operator of the user's leaks in. None when there is no token."""
    tokens = [t for w in words for t in _TOKEN.findall(w.lower())]
    if not tokens:
        return None
    joiner = " & " if mode == "all" else " | "
    return joiner.join(_term(t) for t in dict.fromkeys(tokens))


def _term(token: str) -> str:
    """A token as a tsquery term. A number also matches itself signed: PostgreSQL's parser
    reads "covid-19" as 'covid' and '-19', where SQLite's tokenizer reads 19."""
    if token.isascii() and token.isdigit():
        return f"({_quoted(token)} | {_quoted('-' + token)})"
    return _quoted(token)


def _quoted(token: str) -> str:
    """A tsquery quoted lexeme (tokens hold no quote or backslash; escaped all the same)."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


class PgArticles(BatchWriter, PgBase):
    """Articles, their feeds, reprints and fingerprints, and the stories they make up."""

    # --- articles ------------------------------------------------------------------

    async def known_articles(
        self, feed: Feed, entries: Sequence[tuple[str | None, str]]
    ) -> list[int | None]:
        if not entries:
            return []
        rows = await self._fetch(
            _KNOWN_ENTRIES,
            feed.id,
            sorted({g for g, _ in entries if g}),
            sorted({u for _, u in entries}),
        )
        by_guid = {r["key"]: int(r["id"]) for r in rows if r["kind"] == "g"}
        by_url: dict[str, int] = {}
        for row in sorted(rows, key=lambda r: r["kind"] != "u"):  # an article's URL first
            if row["kind"] != "g":
                by_url.setdefault(row["key"], int(row["id"]))
        return [(by_guid.get(guid) if guid else None) or by_url.get(url) for guid, url in entries]

    async def link_articles(self, feed: Feed, links: Sequence[tuple[int, str | None]]) -> None:
        if not links:
            return
        await self._execute(
            _INSERT_LINKS,
            [article_id for article_id, _ in links],
            [feed.id] * len(links),
            [guid for _, guid in links],
        )

    async def _add_batch(self, feed: Feed, placed: Sequence[PlacedArticle]) -> list[Outcome]:
        """add_articles, saying what became of each entry: one statement reads all that
        the placing depends on, the entries are placed here in order, and each table is
        written with one statement."""
        if not placed:
            return []
        check_batch_ids(placed)
        async with self._tx() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", ARTICLES_LOCK)
            lookup = await conn.fetch(
                _BATCH_LOOKUP,
                feed.id,
                sorted({p.article.guid for p in placed if p.article.guid}),
                sorted({p.article.canonical_url for p in placed}),
                sorted({p.article.content_hash for p in placed}),
                sorted({p.reprint_of for p in placed if p.reprint_of and p.reprint_of > 0}),
                sorted({p.story_id for p in placed if p.story_id and p.story_id > 0}),
            )
            # Placed once to count the new articles (on ids no stored article has), then
            # again on as many ids drawn from the sequence: placing is the same either way.
            trial = _batch(feed.id, lookup, itertools.count(_PROVISIONAL_IDS))
            new = sum(trial.place(entry).kind == "new" for entry in placed)
            ids: list[int] = []
            if new:
                ids = sorted(
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT nextval(pg_get_serial_sequence('articles', 'id')) AS id "
                        "FROM generate_series(1, $1)",
                        new,
                    )
                )
            batch = _batch(feed.id, lookup, iter(ids))
            outcomes = [batch.place(entry) for entry in placed]
            for sql, rows in _batch_writes(batch):
                if rows:
                    await conn.execute(sql, *(list(column) for column in zip(*rows, strict=True)))
        return outcomes

    async def get_articles(self, ids: Sequence[int]) -> list[Article]:
        if not ids:
            return []
        rows = await self._fetch(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a {_WITH_REPRINTS} "
            "WHERE a.id = ANY($1::bigint[])",
            list(ids),
        )
        by_id = {a.id: a for a in map(_article, rows)}
        return [by_id[i] for i in ids if i in by_id]

    async def recent_articles(
        self, scope: Scope, *, since: datetime, limit: int, fetched_since: datetime | None = None
    ) -> list[Article]:
        rows = await self._fetch(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a {_WITH_REPRINTS} "
            f"WHERE {_in_window_and_scope('$1', '$2', '$3', '$4')} "
            "ORDER BY a.published_at DESC, a.id DESC LIMIT $5",
            to_pg(since),
            _optional(fetched_since),
            scope.platform,
            scope.workspace,
            limit,
        )
        return [_article(r) for r in rows]

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
        query = ts_query(words, mode)
        if query is None:
            return []
        params = (
            query,
            _optional(since),
            _optional(fetched_since),
            scope.platform,
            scope.workspace,
        )
        # A query matching more than _COMMON_MATCHES articles ranks only its newest
        # matches the window and scope allow (see SQLite's `search` for why): ranking
        # reads every match's vector from the table, which is the time a common word
        # costs. When no more pass than are ranked, it is the same as ranking all.
        if self.ranked_index:
            ranked = (
                "SELECT c.id, "
                + _rank("c.search", _TSQUERY)
                + " AS rank FROM (SELECT a.id, a.search FROM articles a "
                f"WHERE a.search @@ {_TSQUERY} "
                f"AND {_in_window_and_scope('$2', '$3', '$4', '$5')} "
                f"ORDER BY a.search <=> {_TSQUERY} LIMIT $7) c "
                "ORDER BY rank DESC, c.id DESC LIMIT $6"
            )
            extra: tuple[int, ...] = (limit, max(_RUM_CANDIDATES, 4 * limit))
        elif await self._matches_more_than(query, _COMMON_MATCHES):
            ranked = (
                "SELECT n.id, "
                + _rank("n.search", "n.q")
                + " AS rank FROM (SELECT a.id, a.search, q "
                f"FROM articles a, {_TSQUERY} q "
                f"WHERE a.search @@ q AND {_in_window_and_scope('$2', '$3', '$4', '$5')} "
                "ORDER BY a.id DESC LIMIT $7) n ORDER BY rank DESC, n.id DESC LIMIT $6"
            )
            extra = (limit, max(_NEWEST_RANKED, 10 * limit))
        else:
            ranked = (
                "SELECT a.id, "
                + _rank("a.search", "q")
                + f" AS rank FROM articles a, {_TSQUERY} q "
                f"WHERE a.search @@ q AND {_in_window_and_scope('$2', '$3', '$4', '$5')} "
                "ORDER BY rank DESC, a.id DESC LIMIT $6"
            )
            extra = (limit,)
        # Only ids and ranks are sorted; the top ones are read whole afterwards.
        rows = await self._fetch(
            f"WITH ranked AS ({ranked}) SELECT {_ARTICLE_COLUMNS}, ranked.rank "
            f"FROM ranked JOIN articles a ON a.id = ranked.id {_WITH_REPRINTS} "
            "ORDER BY ranked.rank DESC, a.id DESC",
            *params,
            *extra,
        )
        return [SearchHit(article=_article(r), relevance=float(r["rank"])) for r in rows]

    async def _matches_more_than(self, query: str, count: int) -> bool:
        """Whether the tsquery has more than `count` matches; reads `count` + 1 at most."""
        row = await self._fetchrow(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM articles a, {_TSQUERY} q "
            "WHERE a.search @@ q LIMIT $2) m",
            query,
            count + 1,
        )
        return row is not None and row["n"] > count

    # --- stories ---------------------------------------------------------------------

    async def stories(self, scope: Scope, story_ids: Sequence[int]) -> list[Story]:
        if not story_ids:
            return []
        rows = await self._fetch(
            f"SELECT {_ARTICLE_COLUMNS}, s.version FROM articles a "
            f"JOIN stories s ON s.id = a.story_id {_WITH_REPRINTS} "
            f"WHERE a.story_id = ANY($1::bigint[]) AND {_article_in_scope('$2', '$3')} "
            "ORDER BY a.published_at, a.id",
            list(story_ids),
            scope.platform,
            scope.workspace,
        )
        by_story: dict[int, list[Article]] = {}
        versions: dict[int, int] = {}
        for row in rows:
            article = _article(row)
            assert article.story_id is not None
            by_story.setdefault(article.story_id, []).append(article)
            versions[article.story_id] = row["version"]
        return [
            Story(tuple(by_story[i]), id=i, version=versions[i])
            for i in dict.fromkeys(story_ids)
            if i in by_story
        ]

    async def story_prints(self, since: datetime, *, after_id: int = 0) -> list[StoredPrint]:
        if after_id:
            rows = await self._prints_after(after_id)
            rows = [r for r in rows if r["published_at"] >= since]
        else:
            rows = await self._fetch(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles "
                "FROM article_prints p JOIN articles a ON a.id = p.article_id "
                "WHERE a.published_at >= $1 ORDER BY a.published_at, a.id",
                to_pg(since),
            )
        return [
            StoredPrint(
                story_id=r["story_id"],
                article_id=r["id"],
                published_at=_utc(r["published_at"]),
                print_=print_from_record(r["data"], bytes(r["shingles"])),
            )
            for r in rows
        ]

    async def _prints_after(self, after_id: int) -> list[asyncpg.Record]:
        """The prints of articles after `after_id` (a catch-up before every batch: mostly
        none or a few), walked along the primary key a chunk at a time. Asked with a
        date bound as well, PostgreSQL's generic plan for the prepared statement (it
        cannot see that the id bound leaves a handful of rows) scanned the window's
        every article, each batch: a quarter to half of what the database was doing in
        a first poll of 10,000 feeds (bench/bench_poll_pg.py)."""
        rows: list[asyncpg.Record] = []
        while True:
            chunk = await self._fetch(
                "SELECT a.id, a.story_id, a.published_at, p.data, p.shingles FROM ("
                " SELECT article_id, data, shingles FROM article_prints"
                " WHERE article_id > $1 ORDER BY article_id LIMIT $2) p "
                "JOIN articles a ON a.id = p.article_id ORDER BY a.id",
                after_id,
                _CATCH_UP_CHUNK,
            )
            rows.extend(chunk)
            if len(chunk) < _CATCH_UP_CHUNK:
                return rows
            after_id = int(chunk[-1]["id"])

    @asynccontextmanager
    async def placing(self) -> AsyncIterator[None]:
        """A session advisory lock on a connection of its own, held while a batch is placed
        and stored; a process that dies releases it with its connection."""
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", PLACING_LOCK)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", PLACING_LOCK)

    async def forget_prints(self, before: datetime) -> int:
        status = await self._execute(
            "DELETE FROM article_prints p USING articles a "
            "WHERE a.id = p.article_id AND a.published_at < $1",
            to_pg(before),
        )
        return int(status.split()[-1])  # "DELETE <count>"

    async def story_versions(self, story_ids: Sequence[int]) -> dict[int, int]:
        if not story_ids:
            return {}
        rows = await self._fetch(
            "SELECT id, version FROM stories WHERE id = ANY($1::bigint[])", list(story_ids)
        )
        return {r["id"]: r["version"] for r in rows}

    async def posted_stories(
        self, scope: Scope, channel: str, story_ids: Sequence[int]
    ) -> dict[int, PostedStory]:
        if not story_ids:
            return {}
        rows = await self._fetch(
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
        async with self._tx() as conn:
            await record_posted(conn, scope, channel, posted, utcnow())


async def record_posted(
    conn: PgConn, scope: Scope, channel: str, posted: Sequence[PostedStory], at: datetime
) -> None:
    """The story versions a channel was shown, on `conn` (the outbox's transaction too).
    executemany, not one statement over arrays: a story listed twice is recorded twice in
    order, as SQLite does, where ON CONFLICT DO UPDATE would refuse it."""
    await conn.executemany(
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


# --- placing a batch -------------------------------------------------------------------


def _batch(feed_id: int, lookup: Iterable[asyncpg.Record], ids: Iterator[int]) -> Batch[datetime]:
    return Batch(feed_id, lookup, ids=ids, moment=to_pg, flag=bool)


def _batch_writes(batch: Batch[datetime]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Each table's statement and rows (as columns of arrays for `unnest`)."""
    return [
        (
            _INSERT_STORIES,
            [(i, s.first_seen, s.last_seen, s.version) for i, s in batch.new_stories.items()],
        ),
        (_BUMP_STORIES, [(i, joined, seen) for i, (joined, seen) in batch.bumps.items()]),
        (_INSERT_ARTICLES, batch.article_rows),
        (_INSERT_REPRINTS, batch.reprint_rows),
        (_INSERT_LINKS, batch.link_rows),
        (_INSERT_PRINTS, batch.print_rows),
    ]


# --- rows ------------------------------------------------------------------------------


def _article(row: asyncpg.Record) -> Article:
    return Article(
        id=row["id"],
        guid=row["guid"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        source=row["source"],
        published_at=_utc(row["published_at"]),
        fetched_at=_utc(row["fetched_at"]),
        text=row["text"],
        is_full_text=row["is_full_text"],
        content_hash=row["content_hash"],
        story_id=row["story_id"],
        reprints=tuple(
            Reprint(source, url)
            for source, url in zip(row["sources"] or (), row["urls"] or (), strict=True)
        ),
    )


def _optional(moment: datetime | None) -> datetime | None:
    return None if moment is None else to_pg(moment)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
