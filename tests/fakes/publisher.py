"""A Publisher that records what would have been posted."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain import Message


@dataclass
class RecordingPublisher:
    platform: str = "console"
    posts: list[tuple[str, Message]] = field(default_factory=list)
    replies: list[tuple[str, str, Message]] = field(default_factory=list)  # channel, thread
    fail_next: int = 0

    async def publish(self, channel: str, message: Message) -> tuple[str, ...]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unavailable")
        self.posts.append((channel, message))
        return (f"{channel}-post-{len(self.posts)}",)

    async def reply(self, channel: str, thread_key: str, message: Message) -> tuple[str, ...]:
        self.replies.append((channel, thread_key, message))
        return (f"{thread_key}-reply-{len(self.replies)}",)
