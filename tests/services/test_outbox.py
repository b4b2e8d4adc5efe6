"""The outbox posts each part once: resumed from the first unsent part, a part whose send
was cut off looked up before it is sent again, leases that expire, late posts reported."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Message, Scope, StoreUnavailable, StoryVersion, ThreadKind
from bot.services.delivery import Delivery, OutboxCounts, OutboxPart, SentPart
from bot.services.outbox import Outbox, late_key
from tests.fakes.store import InMemoryStore
from tests.helpers import until

SLACK = Scope("slack", "T1")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@dataclass
class Platform:
    """A PartSender whose platform is a list; a part may be put there 'behind our back'
    (a send that got through before the bot was killed)."""

    platform: str = "slack"
    posted: list[tuple[str, int]] = field(default_factory=list)  # (delivery key, part)
    texts: list[str] = field(default_factory=list)
    looked_up: list[tuple[str, int]] = field(default_factory=list)
    fail_next: int = 0
    landing: list[tuple[Delivery, OutboxPart]] = field(default_factory=list)  # see find_part
    block: asyncio.Event | None = None  # a send waits on it (to be cancelled meanwhile)
    sending: asyncio.Event = field(default_factory=asyncio.Event)

    def render_parts(
        self, message: Message, *, in_thread: bool, replying_to: str | None = None
    ) -> list[str]:
        return [json.dumps({"text": note}) for note in message.notes]

    async def send_part(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        self.sending.set()
        if self.block is not None:
            await self.block.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unavailable")
        return self.put(delivery, part)

    def put(self, delivery: Delivery, part: OutboxPart) -> SentPart:
        self.posted.append((delivery.key, part.index))
        self.texts.append(json.loads(part.payload)["text"])
        return SentPart(f"m{len(self.posted)}", thread_key=f"m{len(self.posted)}")

    async def find_part(self, delivery: Delivery, part: OutboxPart) -> SentPart | None:
        """A send in `landing` is still under way: it is made after the first lookup."""
        self.looked_up.append((delivery.key, part.index))
        if self.landing and self.looked_up.count((delivery.key, part.index)) > 1:
            for landed in self.landing:
                self.put(*landed)
            self.landing.clear()
        if (delivery.key, part.index) in self.posted:
            number = self.posted.index((delivery.key, part.index)) + 1
            return SentPart(f"m{number}", thread_key=f"m{number}")
        return None

    def serves(self, scope: Scope) -> bool:
        return True


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _message(parts: int) -> Message:
    return Message(
        ThreadKind.DIGEST, "Digest", (), (), notes=tuple(f"part {i}" for i in range(parts))
    )


async def _stored(outbox: Outbox, platform: Platform, parts: int = 4, **kw: datetime) -> Delivery:
    delivery = outbox.delivery(platform, "digest:1:2026-11-30", SLACK, "C1", _message(parts), **kw)
    assert await outbox.enqueue([delivery]) == [True]
    return delivery


async def _killed_after(store: InMemoryStore, key: str, sent: int, *, cut_off: bool) -> None:
    """A worker ("dead") that sent `sent` parts, then (`cut_off`) began the next one."""
    assert await store.lease_delivery(key, "dead", now=T0, until=T0 + timedelta(seconds=60))
    for index in range(sent):
        until = T0 + timedelta(seconds=60)
        assert await store.mark_part_sending(key, index, "dead", at=T0, lease_until=until)
        assert await store.mark_part_sent(key, index, "dead", SentPart(f"old{index}"), at=T0)
    if cut_off:
        until = T0 + timedelta(seconds=60)
        assert await store.mark_part_sending(key, sent, "dead", at=T0, lease_until=until)


async def test_a_delivery_is_posted_part_by_part_and_only_once() -> None:
    """Every part once, in order; posting the key again posts nothing."""
    store, platform = InMemoryStore(), Platform()
    outbox = Outbox(store, clock=Clock())
    delivery = await _stored(outbox, platform)
    assert await outbox.post(delivery.key, platform) == "posted"
    assert await outbox.post(delivery.key, platform) == "posted"
    assert platform.posted == [(delivery.key, i) for i in range(4)]
    assert await outbox.resume({"slack": platform}) == []


async def test_a_resumed_delivery_starts_at_the_first_unsent_part() -> None:
    """Two parts sent before the bot died: the next worker sends parts 2 and 3 only."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(seconds=61))  # the dead worker's lease has expired
    delivery = await _stored(Outbox(store, clock=clock), platform)
    await _killed_after(store, delivery.key, 2, cut_off=False)
    assert await Outbox(store, clock=clock).resume({"slack": platform}) == [
        (delivery.key, "posted")
    ]
    assert platform.posted == [(delivery.key, 2), (delivery.key, 3)]
    assert platform.looked_up == []  # nothing was in flight


async def test_a_lease_blocks_other_workers_until_it_expires() -> None:
    """A live lease makes another worker stand back; once expired, it finishes the job."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(seconds=30))
    delivery = await _stored(Outbox(store, clock=clock), platform)
    await _killed_after(store, delivery.key, 1, cut_off=False)
    other = Outbox(store, clock=clock)
    assert await other.post(delivery.key, platform) == "busy"
    assert await other.resume({"slack": platform}) == []
    clock.now = T0 + timedelta(seconds=61)
    assert await other.resume({"slack": platform}) == [(delivery.key, "posted")]
    assert platform.posted == [(delivery.key, i) for i in (1, 2, 3)]


async def test_a_cut_off_part_that_reached_the_platform_is_not_sent_again() -> None:
    """The part in flight when the bot died is found on the platform and recorded."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(seconds=61))
    delivery = await _stored(Outbox(store, clock=clock), platform)
    await _killed_after(store, delivery.key, 1, cut_off=True)
    platform.put(delivery, delivery.parts[1])  # the send got through; its answer was lost
    assert await Outbox(store, clock=clock).post(delivery.key, platform) == "posted"
    assert platform.looked_up == [(delivery.key, 1)]
    assert platform.posted == [(delivery.key, i) for i in (1, 2, 3)]
    stored = await store.get_delivery(delivery.key)
    assert stored is not None and stored.parts[1].message_id == "m1"


async def test_a_cut_off_part_that_did_not_reach_the_platform_is_sent_again() -> None:
    """Not found on the platform, the part in flight is sent, once."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(seconds=61))
    delivery = await _stored(Outbox(store, clock=clock), platform)
    await _killed_after(store, delivery.key, 1, cut_off=True)
    assert await Outbox(store, clock=clock).post(delivery.key, platform) == "posted"
    assert platform.looked_up == [(delivery.key, 1)]
    assert platform.posted == [(delivery.key, i) for i in (1, 2, 3)]


async def test_a_failed_send_is_tried_again_later_and_looked_up_first() -> None:
    """An error leaves the part to check and a retry time; resume waits for it."""
    store, platform = InMemoryStore(), Platform(fail_next=1)
    clock = Clock()
    outbox = Outbox(store, clock=clock)
    delivery = await _stored(outbox, platform, parts=2)
    assert await outbox.post(delivery.key, platform) == "pending"
    assert await outbox.resume({"slack": platform}) == []  # not before its retry time
    clock.now = T0 + timedelta(minutes=1)
    assert await outbox.resume({"slack": platform}) == [(delivery.key, "posted")]
    assert platform.looked_up == [(delivery.key, 0)]  # the failed send's outcome is checked
    assert platform.posted == [(delivery.key, 0), (delivery.key, 1)]


async def test_a_cancelled_post_frees_its_lease_at_once() -> None:
    """Stopping mid-send (shutdown) leaves the delivery due now, not when the lease ends."""
    store, platform = InMemoryStore(), Platform(block=asyncio.Event())
    outbox = Outbox(store, clock=Clock())
    delivery = await _stored(outbox, platform, parts=2)
    task = asyncio.create_task(outbox.post(delivery.key, platform))
    await platform.sending.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.due_deliveries(T0) == [delivery.key]


async def test_a_digest_finished_after_its_grace_says_so_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past its grace, the rest of a digest follows a notice, logged and counted, once."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(hours=4))
    late_after = T0 + timedelta(hours=3)
    delivery = await _stored(Outbox(store, clock=clock), platform, due_at=T0, late_after=late_after)
    await _killed_after(store, delivery.key, 2, cut_off=False)
    with caplog.at_level(logging.WARNING, logger="bot.services.outbox"):
        assert await Outbox(store, clock=clock).post(delivery.key, platform) == "posted"
    assert platform.posted[0] == (late_key(delivery.key), 0)
    assert platform.texts[0].startswith("The rest of this post, due at 08:00 UTC on 30 November")
    assert platform.posted[1:] == [(delivery.key, 2), (delivery.key, 3)]
    assert any("is late" in r.getMessage() for r in caplog.records)
    assert await store.outbox_counts(clock.now) == OutboxCounts(pending=0, late=1, abandoned=0)


async def test_a_delivery_too_old_to_post_is_abandoned_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A day past due it is given up, loudly, not posted."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(hours=25))
    delivery = await _stored(Outbox(store, clock=clock), platform, due_at=T0)
    with caplog.at_level(logging.ERROR, logger="bot.services.outbox"):
        assert await Outbox(store, clock=clock).post(delivery.key, platform) == "abandoned"
    assert platform.posted == []
    assert any("abandoned" in r.getMessage() for r in caplog.records)
    assert (await store.outbox_counts(clock.now)).abandoned == 1


async def test_a_post_into_a_thread_records_its_story_versions() -> None:
    """An update's stories are recorded under the thread it was posted into."""
    store, platform = InMemoryStore(), Platform()
    outbox = Outbox(store, clock=Clock())
    update = Message(
        ThreadKind.UPDATE, "Update", (), (), notes=("new",), stories=(StoryVersion(7, 3),)
    )
    delivery = outbox.delivery(platform, "u", SLACK, "C1", update, thread_key="t0")
    assert delivery.shows is not None and delivery.shows.stories == (StoryVersion(7, 3),)
    assert [p.thread_key for p in delivery.parts] == [None]
    assert delivery.stories_posted(0, SentPart("m1"))[0].thread_key == "t0"


async def test_one_process_posts_a_delivery_once_even_when_asked_twice_at_once() -> None:
    """A digest job and the periodic resume reaching one delivery: one of them posts it."""
    store, platform = InMemoryStore(), Platform(block=asyncio.Event())
    outbox = Outbox(store, clock=Clock())
    delivery = await _stored(outbox, platform, parts=2)
    first = asyncio.create_task(outbox.post(delivery.key, platform))
    await platform.sending.wait()
    async with asyncio.timeout(5):  # without the guard it would wait on the same send
        assert await outbox.post(delivery.key, platform) == "busy"
    assert platform.block is not None
    platform.block.set()
    assert await first == "posted"
    assert platform.posted == [(delivery.key, 0), (delivery.key, 1)]


async def test_a_send_still_under_way_is_waited_for_before_it_is_sent_again() -> None:
    """Cut off moments ago and not found yet, a part is looked up again once the send has
    had time to land; found then, it is not sent again."""
    store, platform = InMemoryStore(), Platform()
    clock = Clock(T0 + timedelta(seconds=0.1))
    delivery = await _stored(Outbox(store, clock=clock), platform, parts=2)
    await _killed_after(store, delivery.key, 0, cut_off=True)
    await store.release_all_leases()  # the restart frees the dead worker's lease
    platform.landing.append((delivery, delivery.parts[0]))
    outbox = Outbox(store, clock=clock, settle=timedelta(seconds=0.3))
    assert await outbox.post(delivery.key, platform) == "posted"
    assert platform.looked_up == [(delivery.key, 0), (delivery.key, 0)]
    assert platform.posted == [(delivery.key, 0), (delivery.key, 1)]


async def test_a_slow_send_keeps_its_lease_so_no_other_worker_sends_the_part() -> None:
    """A send outlasting the lease (a long Retry-After) renews it: others find it busy."""
    store, platform = InMemoryStore(), Platform(block=asyncio.Event())
    clock = Clock()
    lease = timedelta(seconds=0.4)
    outbox = Outbox(store, lease=lease, clock=clock)
    delivery = await _stored(outbox, platform, parts=1)
    task = asyncio.create_task(outbox.post(delivery.key, platform))
    await platform.sending.wait()
    clock.now = T0 + lease * 0.9
    await until(
        lambda: store.outbox[delivery.key].until == clock.now + lease,
        "the lease renewed while the send waits",
    )
    # A worker looking after the first lease's end finds it held still.
    other = Outbox(store, lease=lease, clock=Clock(T0 + lease * 1.5))
    assert await other.post(delivery.key, platform) == "busy"
    platform.block.set()  # type: ignore[union-attr]
    assert await task == "posted"
    assert platform.posted == [(delivery.key, 0)]


async def test_a_send_whose_lease_was_taken_is_stopped_and_not_recorded() -> None:
    """Another worker holding the lease at a renewal stops the send: it is not made."""
    store, platform = InMemoryStore(), Platform(block=asyncio.Event())
    outbox = Outbox(store, lease=timedelta(seconds=0.4), clock=Clock())
    delivery = await _stored(outbox, platform, parts=1)
    task = asyncio.create_task(outbox.post(delivery.key, platform))
    await platform.sending.wait()
    store.outbox[delivery.key].owner = "another worker"
    assert await task == "busy"
    platform.block.set()  # type: ignore[union-attr]
    assert platform.posted == []
    (part,) = (await store.get_delivery(delivery.key)).parts  # type: ignore[union-attr]
    assert part.state == "sending"  # looked up by whoever sends it next


async def test_a_send_whose_lease_cannot_be_renewed_stops_before_it_ends() -> None:
    """The database away at every renewal: the send stops before the lease runs out."""
    store, platform = InMemoryStore(), Platform(block=asyncio.Event())
    outbox = Outbox(store, lease=timedelta(seconds=0.6), clock=Clock())
    delivery = await _stored(outbox, platform, parts=1)

    async def away(*args: object, **kwargs: object) -> bool:
        raise StoreUnavailable("PostgreSQL: connection refused")

    store.renew_delivery = away  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(outbox.post(delivery.key, platform))
    assert await task == "busy"
    assert loop.time() - started < 0.6  # stopped before the lease's end
    assert platform.posted == []


async def test_a_failed_post_asks_to_be_woken_at_its_announced_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The retry time logged is the one handed to `on_retry` (the scheduler's wake-up)."""
    store, platform = InMemoryStore(), Platform(fail_next=1)
    outbox = Outbox(store, clock=Clock())
    wakes: list[datetime] = []
    outbox.on_retry = wakes.append
    delivery = await _stored(outbox, platform, parts=1)
    with caplog.at_level(logging.WARNING):
        assert await outbox.post(delivery.key, platform) == "pending"
    (retry_at,) = wakes
    assert f"trying again at {retry_at.isoformat(timespec='seconds')}" in caplog.text
    assert await store.due_deliveries(retry_at) == [delivery.key]
    assert await store.due_deliveries(retry_at - timedelta(seconds=1)) == []
