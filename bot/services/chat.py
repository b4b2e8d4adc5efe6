"""What a person does in a chat, one service call each: ask for a brief, post the
digest now, ask a question (in a thread or with a command), list or change the feeds,
set or stop the daily digest.

Each call owns what every platform would otherwise work out on its own: the delivery
key that makes a post once, the words said when there is nothing to post, and what
happens when the platform refuses a post. Adapters (Slack, Discord, the console)
parse the platform's event, make one call, and render what comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain import Hint, Message, Scope
from bot.services.ask import AskService
from bot.services.brief import BriefService
from bot.services.digest import DigestService
from bot.services.feeds import FeedChange, FeedService
from bot.services.outbox import Outbox
from bot.services.ports import PartSender
from bot.services.subscriptions import ScheduleResult, SubscriptionService
from bot.services.trace import TraceService

log = logging.getLogger(__name__)

NOTHING_NEW = "No new stories in the last 24 hours."
REFUSED = "The platform refused the post."
# Said when a command meets a database that is away (StoreUnavailable).
STORE_AWAY = "The bot's database cannot be reached right now. Try again in a minute."


@dataclass(frozen=True)
class ChatServices:
    """The services behind a chat, handed over as one bundle by the composition root."""

    briefs: BriefService
    digests: DigestService
    asks: AskService
    feeds: FeedService
    subscriptions: SubscriptionService
    outbox: Outbox  # what is posted in reply goes through it too
    trace: TraceService


@dataclass(frozen=True)
class Where:
    """A place in a chat: a workspace's channel, or a thread in it."""

    scope: Scope
    channel: str
    thread_key: str | None = None


@dataclass(frozen=True)
class Reply:
    """What only the person who asked is told: our own words (`text`, with a command
    to point to), or a message shown to them alone. Empty when the post said it all."""

    text: str | None = None
    hint: Hint | None = None
    message: Message | None = None


POSTED = Reply()


class Answer(StrEnum):
    """What came of a chat message that may be a question for us."""

    QUIET = "quiet"  # not for us (a thread not under our posts), or answered already
    HOW_TO_ASK = "how-to-ask"  # we could not read it: the adapter says how to ask, once
    POSTED = "posted"
    REFUSED = "refused"  # the platform refused the answer (logged)


def command_key(where: Where, event: str) -> str:
    """A command's delivery key: the platform's id of that one invocation (`event`)."""
    return f"command:{where.scope.platform}:{where.scope.workspace}:{where.channel}:{event}"


def answer_key(where: Where, message: str) -> str:
    """An answer's delivery key: the message it answers."""
    return f"answer:{where.scope.platform}:{where.scope.workspace}:{where.channel}:{message}"


class Chat:
    def __init__(self, services: ChatServices) -> None:
        self._briefs = services.briefs
        self._digests = services.digests
        self._asks = services.asks
        self._feeds = services.feeds
        self._subscriptions = services.subscriptions
        self._outbox = services.outbox
        self._trace = services.trace

    # --- posts ---------------------------------------------------------------------

    async def brief(
        self,
        sender: PartSender,
        where: Where,
        topic: str,
        *,
        event: str,
        found: Callable[[], Awaitable[None]] | None = None,
    ) -> Reply:
        """Post a brief on `topic` where it was asked for. Nothing found is shown to the
        asker alone; `found` is awaited once there is something to write (the slow part,
        the model's), for a platform that must answer within seconds."""
        pending = await self._briefs.start(where.scope, topic)
        if pending.nothing is not None:
            return Reply(message=pending.nothing)
        if found is not None:
            await found()
        return await self._post(sender, where, await pending.write(), event)

    async def digest_now(self, sender: PartSender, where: Where, *, event: str) -> Reply:
        """Post the last day's stories on the channel's digest topics, now."""
        message = await self._digests.digest_now(where.scope, where.channel)
        if not message.found:
            return Reply(NOTHING_NEW)
        return await self._post(sender, where, message, event)

    async def ask(self, sender: PartSender, where: Where, question: str, *, event: str) -> Reply:
        """A question asked with a command: answered as its reply where it was asked,
        from the thread's articles when it was asked in one of our threads."""
        message = await self._asks.ask(
            where.scope, question, channel=where.channel, thread_key=where.thread_key
        )
        return await self._post(sender, where, message, event)

    async def answer(
        self,
        sender: PartSender,
        where: Where,
        *,
        message: str,
        question: str | None,
        ours_only: bool = True,
        replying_to: str | None = None,
    ) -> Answer:
        """A chat message (`message` is its platform id) that may be a question for us:
        answered in its thread, or in a thread under it when it is in none. `question`
        None: one the platform would not let us read. With `ours_only`, quiet in a
        thread not under one of our posts (a plain reply there, not a mention)."""
        reply = await self._asks.reply_in_thread(
            where.scope,
            where.channel,
            thread_key=where.thread_key,
            message_key=message,
            question=question,
            ours_only=ours_only,
        )
        if reply is None:
            return Answer.QUIET
        if reply.answer is None:
            return Answer.HOW_TO_ASK
        sent = await self._outbox.send(
            sender,
            answer_key(where, message),
            where.scope,
            where.channel,
            reply.answer,
            thread_key=where.thread_key or message,
            replying_to=replying_to,
        )
        if sent.status == "refused":
            log.warning("cannot answer in %s: %s", where.channel, sent.error)
            return Answer.REFUSED
        return Answer.POSTED

    async def _post(self, sender: PartSender, where: Where, message: Message, event: str) -> Reply:
        """Through the outbox, once per command (resumed if the bot stops midway); a post
        the platform refuses for good is explained to the asker."""
        sent = await self._outbox.send(
            sender,
            command_key(where, event),
            where.scope,
            where.channel,
            message,
            thread_key=where.thread_key,
        )
        if sent.status == "refused":
            return Reply(sent.error or REFUSED)
        return POSTED

    # --- settings ------------------------------------------------------------------

    async def feeds(self, scope: Scope) -> Message:
        """The feeds a workspace reads, with their health."""
        return await self._feeds.list(scope)

    async def add_feed(
        self,
        where: Where,
        url: str,
        *,
        added_by: str | None = None,
        allow_local: bool = False,
    ) -> FeedChange:
        return await self._feeds.add(
            where.scope, url, channel=where.channel, added_by=added_by, allow_local=allow_local
        )

    async def remove_feed(self, where: Where, url: str) -> FeedChange:
        return await self._feeds.remove(where.scope, url)

    async def resume_feed(self, where: Where, url: str) -> FeedChange:
        return await self._feeds.resume(where.scope, url)

    async def why(self, where: Where, url: str) -> Reply:
        """Why an article did or did not appear, told to the admin who asked: the trace of
        its URL, the posts of this workspace only."""
        return Reply(message=await self._trace.why(url, where.scope))

    async def schedule_digest(
        self, where: Where, at: str, timezone: str, topics: Sequence[str] = ()
    ) -> ScheduleResult:
        return await self._subscriptions.schedule(where.scope, where.channel, at, timezone, topics)

    async def digest_off(self, where: Where) -> ScheduleResult:
        return await self._subscriptions.turn_off(where.scope, where.channel)
