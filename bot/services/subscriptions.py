"""A channel's daily digest: set its time, zone and topics, turn it off."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import Scope, Subscription
from bot.services.ports import DigestSchedule, SubscriptionStore
from bot.services.typed import topic_problem, typed_topic
from bot.timeutil import check_timezone, parse_hhmm

log = logging.getLogger(__name__)

MAX_TOPICS = 10


@dataclass(frozen=True)
class ScheduleResult:
    ok: bool
    text: str
    subscription: Subscription | None = None


def parse_topics(text: str) -> list[str]:
    """`ukraine, energy prices` -> ["ukraine", "energy prices"]; blank -> all stories."""
    return [t.strip() for t in text.split(",") if t.strip()][:MAX_TOPICS]


class SubscriptionService:
    def __init__(self, store: SubscriptionStore, schedule: DigestSchedule) -> None:
        self._store = store
        # Told at once, so a new time takes effect without a restart.
        self._schedule = schedule

    async def schedule(
        self, scope: Scope, channel: str, at: str, timezone: str, topics: Sequence[str] = ()
    ) -> ScheduleResult:
        try:
            parse_hhmm(at)
            timezone = check_timezone(timezone)
        except ValueError as exc:
            return ScheduleResult(False, str(exc))
        topics = [typed_topic(t) for t in topics]
        for topic in topics:
            problem = topic_problem(topic)
            if problem is not None:
                return ScheduleResult(False, problem)
        subscription = await self._store.upsert_subscription(
            scope, channel, digest_time=at.strip(), timezone=timezone, topics=list(topics)
        )
        self._schedule.schedule(subscription)
        topic_text = f" on {', '.join(topics)}" if topics else ""
        return ScheduleResult(
            True,
            f"Daily digest{topic_text} set for {subscription.digest_time} {timezone}.",
            subscription,
        )

    async def turn_off(self, scope: Scope, channel: str) -> ScheduleResult:
        subscription = await self._store.get_subscription(scope, channel)
        if subscription is None or not await self._store.disable_subscription(scope, channel):
            return ScheduleResult(False, "This channel has no daily digest.")
        self._schedule.unschedule(subscription.id)
        return ScheduleResult(True, "Daily digest turned off for this channel.")

    async def get(self, scope: Scope, channel: str) -> Subscription | None:
        subscription = await self._store.get_subscription(scope, channel)
        return subscription if subscription and subscription.enabled else None
