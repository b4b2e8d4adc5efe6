"""Feed-down alerts: a feed failing for a day is reported once to each channel that
follows it, with the reason in plain words and what to do, and once more when it works
again; failing for a week, it is paused with a reason code until someone resumes it.

At most one message per channel per change of a feed's state: each channel's last told
state is stored beside its subscription, and each message is a delivery whose key names
the feed, the channel and the failure it is about, so a restart or a second process
cannot tell it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain import Bullet, Feed, FeedFollower, Hint, Message, Section, ThreadKind
from bot.services.outbox import Outbox, sender_for
from bot.services.ports import PartSender
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

DOWN = "down"
PAUSED = "paused"

# Why a feed was paused: a code (shown in `feeds list`) and the words a channel is told.
PAUSE_REASONS = {
    "failed-requests": "requests to it keep failing (no answer, refused or timed out)",
    "server-errors": "its server keeps answering with an error (HTTP 5xx)",
    "not-found": "its address answers 404 Not Found",
    "gone": "its address answers 410 Gone: the publisher has removed it",
    "forbidden": "its server refuses the bot (HTTP 401 or 403)",
    "rate-limited": "its server keeps asking the bot to slow down (HTTP 429)",
    "not-a-feed": "what it serves is not an RSS or Atom feed the bot can read",
    "too-large": "it is larger than the bot accepts (NEWSBRIEF_MAX_FEED_BYTES)",
    "blocked-by-setting": "one of the operator's settings refuses it",
}


def pause_reason(feed: Feed) -> str:
    """The reason code for a feed's failures, from its last error."""
    error = (feed.last_error or "").lower()
    if "cap" in error and "over the" in error:
        return "too-large"
    if feed.blocked_by:
        return "blocked-by-setting"
    for status, code in (
        ("http 410", "gone"),
        ("http 404", "not-found"),
        ("http 401", "forbidden"),
        ("http 403", "forbidden"),
        ("http 429", "rate-limited"),
        ("http 5", "server-errors"),
    ):
        if error.startswith(status):
            return code
    if any(w in error for w in ("not an rss", "not a readable", "malformed", "content type")):
        return "not-a-feed"
    if "encoding" in error:
        return "not-a-feed"
    return "failed-requests"


def feed_state(feed: Feed, now: datetime, *, down_after: timedelta, told: str | None) -> str | None:
    """What a channel should know of `feed` now: PAUSED, DOWN, None (it works); `told`
    (no change) while it fails for less than `down_after` or, resumed, has not been
    fetched yet."""
    if feed.paused:
        return PAUSED
    if feed.failing_since is None:
        return None
    if feed.consecutive_failures > 0 and feed.failing_since <= now - down_after:
        return DOWN
    return told


class FeedAlertStore(Protocol):
    async def feed_followers(self) -> list[FeedFollower]: ...

    async def set_alerted(self, follower: FeedFollower, state: str | None) -> None: ...

    async def failing_feeds(self, since_before: datetime) -> list[Feed]: ...

    async def pause_feed(self, feed: Feed, reason: str, *, at: datetime) -> bool: ...


class FeedAlerts:
    def __init__(
        self,
        store: FeedAlertStore,
        outbox: Outbox,
        senders: Mapping[str, PartSender],
        *,
        down_after: timedelta,
        pause_after: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._senders = senders
        self._down_after = down_after
        self._pause_after = pause_after
        self._clock = clock

    async def check(self) -> list[tuple[str, str]]:
        """Pause what has failed too long, then tell each channel what changed: a list of
        (feed URL, what its channel was told)."""
        now = self._clock()
        for feed in await self._store.failing_feeds(now - self._pause_after):
            reason = pause_reason(feed)
            if await self._store.pause_feed(feed, reason, at=now):
                log.warning(
                    "feed %s paused (%s): failing since %s; last error: %s",
                    feed.url,
                    reason,
                    feed.failing_since.isoformat(timespec="minutes") if feed.failing_since else "?",
                    feed.last_error,
                )
        told = []
        for follower in await self._store.feed_followers():
            state = feed_state(
                follower.feed, now, down_after=self._down_after, told=follower.alerted
            )
            if state == follower.alerted:
                continue
            sender = sender_for(self._senders, follower.scope)
            if sender is None:
                continue  # told by the process that serves its platform
            sent = await self._outbox.send(
                sender,
                alert_key(follower, state),
                follower.scope,
                follower.channel,
                alert_message(follower.feed, state),
            )
            if sent.status in ("posted", "refused"):
                await self._store.set_alerted(follower, state)
                told.append((follower.feed.url, state or "works again"))
        return told


def alert_key(follower: FeedFollower, state: str | None) -> str:
    """One message per channel per change of state: the failure it is about (its start)
    or the success that ended it is in the key."""
    feed = follower.feed
    moment = feed.failing_since if state else feed.last_success_at
    stamp = moment.isoformat(timespec="seconds") if moment else "-"
    scope = follower.scope
    return (
        f"feed-alert:{feed.id}:{scope.platform}:{scope.workspace}:{follower.channel}:"
        f"{state or 'ok'}:{stamp}"
    )


def alert_message(feed: Feed, state: str | None) -> Message:
    name = feed.title or feed.url
    if state is None:
        return Message(
            ThreadKind.NOTICE,
            f"Feed works again: {name}",
            (Section(None, (Bullet(f"{feed.url} is fetched again; its news comes as before."),)),),
            (),
        )
    since = feed.failing_since.strftime("%d %B %H:%M UTC") if feed.failing_since else "a while"
    if state == PAUSED:
        code = feed.paused or "failed-requests"
        return Message(
            ThreadKind.NOTICE,
            f"Feed paused: {name}",
            (
                Section(
                    None,
                    (
                        Bullet(
                            f"{feed.url} has failed since {since} and is no longer fetched "
                            f"({code}): {PAUSE_REASONS.get(code, code)}."
                        ),
                        Bullet(f"Last error: {feed.last_error or 'none recorded'}."),
                    ),
                ),
            ),
            (),
            hints=(Hint.FIX_FEED,),
        )
    return Message(
        ThreadKind.NOTICE,
        f"Feed down: {name}",
        (
            Section(
                None,
                (
                    Bullet(
                        f"{feed.url} has failed since {since}: "
                        f"{PAUSE_REASONS[pause_reason(feed)]}. The bot keeps trying, less often."
                    ),
                    Bullet(f"Last error: {feed.last_error or 'none recorded'}."),
                ),
            ),
        ),
        (),
        hints=(Hint.FIX_FEED,),
    )
