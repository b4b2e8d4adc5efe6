"""A Publisher (and the outbox's PartSender) that records what would have been posted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.domain import Message, Scope
from bot.services.delivery import Delivery, OutboxPart, SentPart


@dataclass
class RecordingPublisher:
    platform: str = "console"
    posts: list[tuple[str, Message]] = field(default_factory=list)
    replies: list[tuple[str, str, Message]] = field(default_factory=list)  # channel, thread
    fail_next: int = 0
    rendered: list[Message] = field(default_factory=list)  # payloads name these by index
    # The workspaces this process posts for (Discord by shard); None: all.
    workspaces: frozenset[str] | None = None

    async def publish(self, channel: str, message: Message) -> tuple[str, ...]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unavailable")
        self.posts.append((channel, message))
        return (f"{channel}-post-{len(self.posts)}",)

    async def reply(self, channel: str, thread_key: str, message: Message) -> tuple[str, ...]:
        self.replies.append((channel, thread_key, message))
        return (f"{thread_key}-reply-{len(self.replies)}",)

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        """One part per message: the payload names the message it renders."""
        self.rendered.append(message)
        return [json.dumps({"message": len(self.rendered) - 1})]

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        message = self.rendered[json.loads(part.payload)["message"]]
        if delivery.thread_key is not None:
            (key,) = await self.reply(delivery.channel, delivery.thread_key, message)
            return SentPart(key)
        keys = await self.publish(delivery.channel, message)
        return SentPart(keys[0], thread_key=keys[0] if delivery.opens_threads else None)

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        return None

    def serves(self, scope: Scope) -> bool:
        return self.workspaces is None or scope.workspace in self.workspaces
