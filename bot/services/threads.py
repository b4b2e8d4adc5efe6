"""Which articles stand behind a post: recorded in one place, after any post.

Replies under a digest or a brief are answered from the articles it showed.
Whoever posts (a scheduled digest, a chat command, the console) hands the keys
the platform gave the post to `record_thread`; a message that opens no thread
(an answer, a feed list, a not-found) records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain import Message, PostedStory, Scope, ThreadContext
from bot.services.ports import StoryStore, ThreadStore


class PostRecords(ThreadStore, StoryStore, Protocol):
    """Where what a post showed is remembered: its threads and its stories' versions."""


async def record_thread(
    store: PostRecords, scope: Scope, channel: str, keys: Sequence[str], message: Message
) -> list[ThreadContext]:
    """One thread record per key a reply may come under (Slack: every part of the post),
    and the version of each story shown, under the post's first key: a story that grows
    later is posted there as an update."""
    if not message.opens_thread or not keys:
        return []
    threads = [
        await store.save_thread(scope, channel, key, message.kind, message.article_ids)
        for key in dict.fromkeys(keys)
    ]
    await store.record_posted_stories(
        scope, channel, [PostedStory(s.story_id, s.version, keys[0]) for s in message.stories]
    )
    return threads
