"""What a delivery shows (see `PostShows`), kept as JSON text on both engines."""

from __future__ import annotations

import json

from bot.domain import StoryVersion, ThreadKind
from bot.services.delivery import PostShows


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
