"""The outbox's parts on Discord: sent with an enforced nonce, found again in the channel,
the thread opened on the first part once."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.discord import part_nonce
from bot.domain import Bullet, Message, Section, ThreadKind
from bot.services.delivery import Delivery, OutboxPart
from bot.services.outbox import Outbox
from tests.chat.discord_rig import DiscordRig, discord_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[DiscordRig]:
    async with discord_rig(tmp_path) as running:
        yield running


def _digest(title: str = "Port strike ends") -> Message:
    return Message(
        ThreadKind.DIGEST,
        "Daily digest",
        (Section(title, (Bullet("Dock workers went back."),)),),
        (),
        article_ids=(1,),
    )


async def _delivery(rig: DiscordRig, key: str, message: Message, **kw: str) -> Delivery:
    outbox = Outbox(rig.app.store)
    scope = rig.adapter.scope(rig.fake.guild_id)
    delivery = outbox.delivery(rig.adapter, key, scope, str(rig.fake.channel_id), message, **kw)
    await outbox.enqueue([delivery])
    return delivery


def _in_flight(delivery: Delivery, part: OutboxPart) -> OutboxPart:
    return dataclasses.replace(part, state="sending", sending_since=delivery.created_at)


async def test_a_digest_is_its_messages_then_the_thread_on_the_first(rig: DiscordRig) -> None:
    """Parts: each message with an enforced nonce of its own, then the thread step."""
    delivery = await _delivery(rig, "digest:1:2026-12-01", _digest())
    assert len(delivery.parts) == 2
    first = await rig.adapter.send_part(delivery, delivery.parts[0])
    (call,) = rig.posts(f"/channels/{rig.fake.channel_id}/messages")
    assert call.body["nonce"] == part_nonce(delivery.key, 0)
    assert call.body["enforce_nonce"] is True
    assert len(part_nonce(delivery.key, 0)) <= 25
    assert part_nonce(delivery.key, 0) != part_nonce(delivery.key, 1)
    sent = dataclasses.replace(delivery.parts[0], state="sent", message_id=first.message_id)
    delivery = dataclasses.replace(delivery, parts=(sent, delivery.parts[1]))
    thread = await rig.adapter.send_part(delivery, delivery.parts[1])
    assert thread.thread_key == first.message_id  # a message's thread has its id
    # Opening it again (the answer was lost) finds the thread that is there.
    assert await rig.adapter.send_part(delivery, delivery.parts[1]) == dataclasses.replace(
        thread, message_id=first.message_id
    )
    assert len(rig.fake.threads) == 1


async def test_a_resent_part_within_the_nonce_window_is_not_posted_twice(
    rig: DiscordRig,
) -> None:
    """Sending a part again gives back the message Discord made the first time."""
    delivery = await _delivery(rig, "digest:1:2026-12-01", _digest())
    once = await rig.adapter.send_part(delivery, delivery.parts[0])
    again = await rig.adapter.send_part(delivery, delivery.parts[0])
    assert once == again
    assert len(rig.fake.channel_messages(rig.fake.channel_id)) == 1


async def test_a_part_that_reached_discord_is_found_in_the_channel(rig: DiscordRig) -> None:
    """By its text and embeds among the bot's recent messages; another part is not it."""
    delivery = await _delivery(rig, "digest:1:2026-12-01", _digest())
    other = await _delivery(rig, "digest:2:2026-12-01", _digest("Bridge reopens"))
    posted = await rig.adapter.send_part(delivery, delivery.parts[0])
    await rig.fake.message("chatter in between", channel_id=rig.fake.channel_id)
    assert await rig.adapter.find_part(delivery, _in_flight(delivery, delivery.parts[0])) == posted
    assert await rig.adapter.find_part(other, _in_flight(other, other.parts[0])) is None


async def test_a_digest_resumed_on_discord_posts_only_what_is_missing(rig: DiscordRig) -> None:
    """Part 0 reached Discord before the bot died: recorded, not posted again; the thread
    is opened and recorded with the digest's articles."""
    delivery = await _delivery(rig, "digest:1:2026-12-01", _digest())
    store = rig.app.store
    then = delivery.created_at  # the dead worker's lease ends at once
    await store.lease_delivery(delivery.key, "dead", now=then, until=then)
    await store.mark_part_sending(delivery.key, 0, "dead", at=then, lease_until=then)
    rig.fake.nonce_window = 0  # past Discord's window: only the lookup can tell
    first = await rig.adapter.send_part(delivery, delivery.parts[0])  # answer never heard
    assert await Outbox(store, settle=timedelta(0)).post(delivery.key, rig.adapter) == "posted"
    assert len(rig.fake.channel_messages(rig.fake.channel_id)) == 1
    scope = rig.adapter.scope(rig.fake.guild_id)
    thread = await store.get_thread(scope, str(rig.fake.channel_id), first.message_id)
    assert thread is not None and thread.article_ids == (1,)


async def test_a_thread_step_is_found_as_the_thread_on_the_first_message(
    rig: DiscordRig,
) -> None:
    """Before the thread is opened the step is not found; after, it is that thread."""
    delivery = await _delivery(rig, "digest:1:2026-12-01", _digest())
    first = await rig.adapter.send_part(delivery, delivery.parts[0])
    sent = dataclasses.replace(delivery.parts[0], state="sent", message_id=first.message_id)
    delivery = dataclasses.replace(delivery, parts=(sent, delivery.parts[1]))
    step = _in_flight(delivery, delivery.parts[1])
    assert await rig.adapter.find_part(delivery, step) is None
    opened = await rig.adapter.send_part(delivery, delivery.parts[1])
    found = await rig.adapter.find_part(delivery, step)
    assert found is not None and found.thread_key == opened.thread_key == first.message_id
