"""The outbox's parts on Slack: tagged with metadata, found again in history by it."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from aiohttp import ServerDisconnectedError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState

from bot.domain import Bullet, Message, Section, ThreadKind
from bot.services.delivery import Delivery, OutboxPart
from bot.services.outbox import Outbox
from tests.chat.conftest import SlackRig

CHANNEL = "C0001"


def _digest() -> Message:
    return Message(
        ThreadKind.DIGEST,
        "Daily digest",
        (Section("Port strike ends", (Bullet("Dock workers went back."),)),),
        (),
        article_ids=(1,),
    )


async def _delivery(slack: SlackRig, key: str, message: Message, **kw: str) -> Delivery:
    outbox = Outbox(slack.app.store)
    delivery = outbox.delivery(slack.adapter, key, slack.adapter.scope(), CHANNEL, message, **kw)
    await outbox.enqueue([delivery])
    return delivery


def _in_flight(delivery: Delivery, part: OutboxPart) -> OutboxPart:
    return dataclasses.replace(part, state="sending", sending_since=delivery.created_at)


async def test_a_part_carries_its_delivery_and_number_and_opens_a_thread(slack: SlackRig) -> None:
    """chat.postMessage gets metadata naming the part; a digest part's ts is a thread."""
    delivery = await _delivery(slack, "digest:1:2026-12-01", _digest())
    sent = await slack.adapter.send_part(delivery, delivery.parts[0])
    (call,) = slack.fake.posted()
    assert call.body["metadata"] == {
        "event_type": "newsbrief_part",
        "event_payload": {"delivery": "digest:1:2026-12-01", "part": 0},
    }
    assert sent.message_id == sent.thread_key == call.ts


async def test_a_part_that_reached_slack_is_found_in_the_channel_history(
    slack: SlackRig,
) -> None:
    """Only the part with this delivery's key and number is found; others are not it."""
    delivery = await _delivery(slack, "digest:1:2026-12-01", _digest())
    other = await _delivery(slack, "digest:2:2026-12-01", _digest())
    posted = await slack.adapter.send_part(delivery, delivery.parts[0])
    slack.fake.add_message(CHANNEL, "chatter in between")
    part = _in_flight(delivery, delivery.parts[0])
    assert await slack.adapter.find_part(delivery, part) == posted
    assert await slack.adapter.find_part(other, _in_flight(other, other.parts[0])) is None


async def test_a_part_posted_into_a_thread_is_found_among_its_replies(slack: SlackRig) -> None:
    """An update's part is looked for in the thread it was posted into."""
    parent = slack.fake.add_message(CHANNEL, "an earlier brief", user="UBOT", bot_id="BBOT")
    update = Message(ThreadKind.UPDATE, "Update: port strike", (), (), notes=("New report.",))
    delivery = await _delivery(slack, "digest:1:2026-12-01:update:7", update, thread_key=parent)
    posted = await slack.adapter.send_part(delivery, delivery.parts[0])
    assert posted.thread_key is None
    (call,) = slack.fake.posted()
    assert call.body["thread_ts"] == parent
    part = _in_flight(delivery, delivery.parts[0])
    assert await slack.adapter.find_part(delivery, part) == posted


async def test_without_the_history_scope_the_part_is_sent_again(
    slack: SlackRig, caplog: pytest.LogCaptureFixture
) -> None:
    """missing_scope on conversations.history: a warning, and not found (so it is resent)."""
    delivery = await _delivery(slack, "digest:1:2026-12-01", _digest())
    slack.fake.fail_next("conversations.history", status=200, error="missing_scope")
    with caplog.at_level(logging.WARNING, logger="bot.chat.slack"):
        found = await slack.adapter.find_part(delivery, _in_flight(delivery, delivery.parts[0]))
    assert found is None
    assert "missing_scope" in caplog.text


async def test_a_digest_resumed_on_slack_posts_only_what_is_missing(slack: SlackRig) -> None:
    """Part 0 reached Slack before the bot died: the outbox records it, and posts nothing."""
    delivery = await _delivery(slack, "digest:1:2026-12-01", _digest())
    store = slack.app.store
    await store.lease_delivery(
        delivery.key, "dead", now=delivery.created_at, until=delivery.created_at
    )
    await store.mark_part_sending(
        delivery.key, 0, "dead", at=delivery.created_at, lease_until=delivery.created_at
    )
    await slack.adapter.send_part(delivery, delivery.parts[0])  # its answer never heard
    outbox = Outbox(store, settle=timedelta(0))
    assert await outbox.post(delivery.key, slack.adapter) == "posted"
    assert len(slack.fake.posted()) == 1
    thread = await store.get_thread(slack.adapter.scope(), CHANNEL, slack.fake.posted()[0].ts)
    assert thread is not None and thread.article_ids == (1,)


@pytest.mark.parametrize(
    ("method", "retried"), [("chat.postMessage", False), ("conversations.history", True)]
)
async def test_a_dropped_connection_is_not_retried_blindly_for_a_post(
    slack: SlackRig, method: str, retried: bool
) -> None:
    """The client retries a read after a dropped connection, never a post (Slack may have
    made it): the outbox looks for that one first."""
    request = HttpRequest(method="POST", url=f"{slack.fake.base_url}{method}", headers={})
    can_retry = [
        await handler.can_retry_async(
            state=RetryState(), request=request, error=ServerDisconnectedError()
        )
        for handler in slack.adapter.client.retry_handlers
    ]
    assert any(can_retry) is retried
