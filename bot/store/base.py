"""What every role of the store shares: the engine's query layer, the locks processes
take on a shared database, and the clauses that keep a query inside one workspace."""

from __future__ import annotations

from bot.store.sql import Database

# Advisory lock keys (one place, so no two uses share one by accident): migrations of
# processes starting at once; the operator's default feeds synced at start-up; batches
# of new articles, so two processes storing one article find each other's copy; and a
# batch's placing in stories (see `StoryRecords.placing`).
MIGRATION_LOCK = 7_311_950_225
DEFAULT_FEEDS_LOCK = 7_311_950_226
ARTICLES_LOCK = 7_311_950_227
PLACING_LOCK = 7_311_950_228


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer build."""


class StoreBase:
    """A role of the store (feeds, articles, the outbox …), on one engine's `db`."""

    def __init__(self, db: Database) -> None:
        self.db = db


def feed_in_scope(platform: str, workspace: str) -> str:
    """A feed `f` the scope sees: one of the operator's defaults, or one the workspace
    subscribed to; the arguments are the placeholders of its platform and workspace."""
    return (
        "(f.is_default OR EXISTS (SELECT 1 FROM workspace_feeds w "
        f"WHERE w.feed_id = f.id AND w.platform = {platform} AND w.workspace = {workspace}))"
    )


def article_in_scope(platform: str, workspace: str) -> str:
    """An article `a` the scope sees: carried by a feed it sees. Probed per article
    through article_feeds' primary key, instead of listing the scope's feeds for each."""
    return (
        "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
        f"WHERE af.article_id = a.id AND {feed_in_scope(platform, workspace)})"
    )


def in_window_and_scope(since: str, fetched_since: str, platform: str, workspace: str) -> str:
    """An article `a` in its window (published since, fetched since; a NULL bound is no
    bound) and in the scope."""
    return (
        f"({since}::timestamptz IS NULL OR a.published_at >= {since}) "
        f"AND ({fetched_since}::timestamptz IS NULL OR a.fetched_at >= {fetched_since}) "
        f"AND {article_in_scope(platform, workspace)}"
    )
