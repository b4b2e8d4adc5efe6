"""Which articles stand behind a post: recorded in one place, after any post.

Replies under a digest or a brief are answered from the articles it showed.
Whoever posts (a scheduled digest, a chat command, the console) hands the keys
the platform gave the post to `record_thread`; a message that opens no thread
(an answer, a feed list, a not-found) records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import Message, Scope, ThreadContext
from bot.services.ports import ThreadStore


async def record_thread(
    threads: ThreadStore, scope: Scope, channel: str, keys: Sequence[str], message: Message
) -> list[ThreadContext]:
    """One thread record per key a reply may come under (Slack: every part of the post)."""
    if not message.opens_thread:
        return []
    return [
        await threads.save_thread(scope, channel, key, message.kind, message.article_ids)
        for key in dict.fromkeys(keys)
    ]
