"""Search on PostgreSQL: the stored `tsvector` (title weighted A, text B) matched
against a tsquery of the user's words, each quoted, and ranked with `ts_rank_cd`, title
matches weighted four times text matches as SQLite's bm25(4, 1) weighs them.

Ranking needs each match's word positions. A GIN index has none, so every match's
vector is read from the table: a word in a fifth of 100,000 articles costs ~150 ms
(SQLite's FTS5 keeps positions in its index). Where the RUM index exists (schema.py,
migration 3), the matches come from it in rank order and only the first few are read
and ranked as above.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain import MatchMode
from bot.store.articles import Window
from bot.store.base import in_window_and_scope
from bot.store.stories import StoryRecords

# Search tokens: runs of letters and digits, as SQLite's fts_query splits words.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# The user's words as a tsquery ($1, from `ts_query`), in the configuration the stored
# vectors were made with (schema.py).
_TSQUERY = "to_tsquery('english', $1)"
# A query with more matches than this is common: only the newest of its matches that the
# window and scope allow are ranked, this many at least (as on SQLite).
_COMMON_MATCHES = 25_000
_NEWEST_RANKED = 4_000
# With the RUM index: this many of its best (at least) are ranked with `_rank`.
_RUM_CANDIDATES = 100
# The window and scope a search asks for: since ($2), fetched since ($3), platform ($4)
# and workspace ($5); $1 is the tsquery's text.
_IN_WINDOW_AND_SCOPE = in_window_and_scope("$2", "$3", "$4", "$5")


def _rank(vector: str, query: str) -> str:
    """A match's rank: ts_rank_cd with weights {D, C, B, A}, so a title (A) match counts
    four times a text (B) match, as bm25(4, 1) does in SQLite; divided by 1 + log(the
    number of distinct words), as bm25 discounts long articles. Larger is better."""
    return f"ts_rank_cd('{{0.1, 0.1, 0.25, 1.0}}', {vector}, {query}, 1)"


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


class PgSearch(StoryRecords):
    # Search ranks from the RUM index (schema migration 3) when the server has it.
    ranked_index = False

    async def _ranked(
        self, words: Sequence[str], mode: MatchMode, window: Window, limit: int
    ) -> list[tuple[int, float]]:
        query = ts_query(words, mode)
        if query is None:
            return []
        # A query matching more than _COMMON_MATCHES articles ranks only its newest
        # matches the window and scope allow (see SQLite's `_ranked` for why): ranking
        # reads every match's vector from the table, which is the time a common word
        # costs. When no more pass than are ranked, it is the same as ranking all.
        if self.ranked_index:
            ranked = (
                f"SELECT c.id, {_rank('c.search', _TSQUERY)} AS rank "
                "FROM (SELECT a.id, a.search FROM articles a "
                f"WHERE a.search @@ {_TSQUERY} AND {_IN_WINDOW_AND_SCOPE} "
                f"ORDER BY a.search <=> {_TSQUERY} LIMIT $7) c "
                "ORDER BY rank DESC, c.id DESC LIMIT $6"
            )
            extra: tuple[int, ...] = (limit, max(_RUM_CANDIDATES, 4 * limit))
        elif await self._matches_more_than(query, _COMMON_MATCHES):
            ranked = (
                f"SELECT n.id, {_rank('n.search', 'n.q')} AS rank "
                f"FROM (SELECT a.id, a.search, q FROM articles a, {_TSQUERY} q "
                f"WHERE a.search @@ q AND {_IN_WINDOW_AND_SCOPE} "
                "ORDER BY a.id DESC LIMIT $7) n ORDER BY rank DESC, n.id DESC LIMIT $6"
            )
            extra = (limit, max(_NEWEST_RANKED, 10 * limit))
        else:
            ranked = (
                f"SELECT a.id, {_rank('a.search', 'q')} AS rank FROM articles a, {_TSQUERY} q "
                f"WHERE a.search @@ q AND {_IN_WINDOW_AND_SCOPE} "
                "ORDER BY rank DESC, a.id DESC LIMIT $6"
            )
            extra = (limit,)
        rows = await self.db.fetch(ranked, query, *window, *extra)
        return [(int(r["id"]), float(r["rank"])) for r in rows]

    async def _matches_more_than(self, query: str, count: int) -> bool:
        """Whether the tsquery has more than `count` matches; reads `count` + 1 at most."""
        matches = await self.db.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM articles a, {_TSQUERY} q "
            "WHERE a.search @@ q LIMIT $2) m",
            query,
            count + 1,
        )
        return int(matches) > count
