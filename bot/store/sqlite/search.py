"""Search on SQLite: FTS5 over title and text, ranked by bm25 (title matches weighing
four times text matches)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain import MatchMode
from bot.store.articles import Window
from bot.store.base import in_window_and_scope
from bot.store.sql import Row
from bot.store.stories import StoryRecords

_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Matches ranked before the window and scope are applied (see `search`).
_RANKED_FIRST = 400
# A query with more matches than this is common: bm25 costs time for every match it
# ranks (some 50 ms for a word in 67,000 of 100,000 articles, 17 ms for 22,000), so
# only the newest of its matches the window and scope allow are ranked, this many at
# least (see `search`).
_COMMON_MATCHES = 25_000
_NEWEST_RANKED = 4_000
# A match's rank: title matches weigh more than body matches (bm25 column weights).
_RANK = "bm25(articles_fts, 4.0, 1.0)"
# The window and scope a search asks for: since ($2), fetched since ($3), platform ($4)
# and workspace ($5); $1 is the FTS query.
_IN_WINDOW_AND_SCOPE = in_window_and_scope("$2", "$3", "$4", "$5")


def fts_query(words: Sequence[str], mode: MatchMode) -> str | None:
    """User words -> a safe FTS5 expression: every token quoted, no operators leak in."""
    tokens = [t for w in words for t in _FTS_TOKEN.findall(w.lower())]
    if not tokens:
        return None
    joiner = " AND " if mode == "all" else " OR "
    return joiner.join(f'"{t}"' for t in dict.fromkeys(tokens))


class SqliteSearch(StoryRecords):
    async def _ranked(
        self, words: Sequence[str], mode: MatchMode, window: Window, limit: int
    ) -> list[tuple[int, float]]:
        query = fts_query(words, mode)
        if query is None:
            return []
        # A query matching more than _COMMON_MATCHES articles ranks only its newest
        # matches the window and scope allow: a word in that many articles tells little
        # about which of them is on the topic (in over half of them bm25 floors its idf
        # near zero), and a brief or an answer is about the news. When no more pass than
        # are ranked (_NEWEST_RANKED, or ten times `limit`), it is the same as ranking all.
        if await self._matches_more_than(query, _COMMON_MATCHES):
            rows = await self._rank_newest(query, window, max(_NEWEST_RANKED, 10 * limit), limit)
        else:
            rows = await self._rank_all(query, window, limit)
        return [(int(r["id"]), -float(r["rank"])) for r in rows]  # bm25: smaller is better

    async def _matches_more_than(self, query: str, count: int) -> bool:
        """Whether the FTS query has more than `count` matches; walks `count` at most."""
        matches = await self.db.fetchval(
            "SELECT count(*) FROM "
            "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH $1 LIMIT $2)",
            query,
            count + 1,
        )
        return int(matches) > count

    async def _rank_all(self, query: str, window: Window, limit: int) -> list[Row]:
        """The `limit` best matches in the window and scope, by rank."""
        # First the best matches by rank alone, then the window and scope on those: if
        # enough of them pass, they are exactly the full query's top (whatever passes
        # below them ranks lower). Ranking alone skips a join and two lookups per match,
        # which is most of the time for a word in thousands of articles.
        enough = max(_RANKED_FIRST, 10 * limit)
        ranked = await self.db.fetch(
            f"SELECT rowid AS id, {_RANK} AS rank FROM articles_fts "
            "WHERE articles_fts MATCH $1 ORDER BY rank LIMIT $2",
            query,
            enough,
        )
        passing = {
            r["id"]
            for r in await self.db.fetch(
                f"SELECT a.id FROM articles a WHERE a.id = ANY($1) AND {_IN_WINDOW_AND_SCOPE}",
                [r["id"] for r in ranked],
                *window,
            )
        }
        rows = [r for r in ranked if r["id"] in passing][:limit]
        if len(rows) < limit and len(ranked) == enough:  # too few passed: rank them all
            rows = await self.db.fetch(
                f"SELECT a.id, {_RANK} AS rank "
                "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
                f"WHERE articles_fts MATCH $1 AND {_IN_WINDOW_AND_SCOPE} ORDER BY rank LIMIT $6",
                query,
                *window,
                limit,
            )
        return rows

    async def _rank_newest(self, query: str, window: Window, newest: int, limit: int) -> list[Row]:
        """The `limit` best, by rank, of the `newest` newest matches in the window and
        scope: the same as `_rank_all` when no more than `newest` pass."""
        # Matches are walked newest first (article ids grow as articles are stored; FTS5
        # reads a match list backwards by rowid without sorting), the window and scope
        # checked on each, and bm25 computed only for the `newest` that pass. The window
        # is applied during the walk, not after it, so a narrow scope or an old backlog
        # among the newest matches walks further back instead of finding too few. The
        # CROSS JOIN keeps the match list the outer loop, in its rowid order.
        return await self.db.fetch(
            f"SELECT id, rank FROM (SELECT a.id AS id, {_RANK} AS rank "
            "FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid "
            f"WHERE articles_fts MATCH $1 AND {_IN_WINDOW_AND_SCOPE} "
            "ORDER BY articles_fts.rowid DESC LIMIT $6) "
            "ORDER BY rank LIMIT $7",
            query,
            *window,
            newest,
            limit,
        )
