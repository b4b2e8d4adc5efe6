"""What both engines read and write alike: the values kept as JSON text, and the health
report made from their counts."""

from __future__ import annotations

import json
from typing import Any, Protocol

from bot.domain import StoryVersion, ThreadKind
from bot.services.ports import PostShows, StoreHealth


def shows_to_json(shows: PostShows | None) -> str | None:
    if shows is None:
        return None
    return json.dumps(
        {
            "kind": shows.kind.value,
            "article_ids": list(shows.article_ids),
            "stories": [[s.story_id, s.version] for s in shows.stories],
        }
    )


def shows_from_json(text: str | None) -> PostShows | None:
    if not text:
        return None
    data = json.loads(text)
    return PostShows(
        ThreadKind(data["kind"]),
        tuple(data["article_ids"]),
        tuple(StoryVersion(s, v) for s, v in data["stories"]),
    )


class Row(Protocol):
    """A result row by column name: sqlite3.Row and asyncpg.Record alike."""

    def __getitem__(self, key: str) -> Any: ...


def health_from_row(engine: str, schema: int, row: Row) -> StoreHealth:
    """The health report from the counts each engine's one query names alike."""
    return StoreHealth(
        engine,
        schema,
        int(row["feeds"]),
        int(row["overdue"]),
        int(row["feeds_leased"]),
        int(row["pending"]),
        int(row["deliveries_leased"]),
    )
