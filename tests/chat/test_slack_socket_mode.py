"""The Slack adapter in Socket Mode: Bolt's SocketModeClient against the fake, on loopback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, bootstrap
from bot.chat.slack import SlackAdapter
from bot.config import Settings
from tests.fakes.slack_api import (
    FakeSlack,
    SlackCall,
    event_payload,
    fake_slack,
    message_event,
    slash_command_payload,
)
from tests.helpers import until

ACK_WITHIN = 3.0  # seconds Slack allows before it shows the user an error


@dataclass
class SocketRig:
    app: App
    adapter: SlackAdapter
    fake: FakeSlack

    async def command(self, command: str, text: str) -> dict[str, Any]:
        """Send a slash command envelope; return its ack, checked to be in time."""
        payload = slash_command_payload(command, text, response_url=self.fake.response_url)
        envelope_id = await self.fake.socket_send("slash_commands", payload)
        async with asyncio.timeout(ACK_WITHIN):
            ack = await self.fake.wait_socket_ack(envelope_id)
        assert ack["received_at"] - ack["sent_at"] < ACK_WITHIN
        return ack

    async def posts(self, count: int) -> list[SlackCall]:
        await until(lambda: len(self.fake.posted()) >= count)
        return self.fake.posted()


@pytest.fixture
async def rig(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[SocketRig]:
    caplog.set_level(logging.INFO, logger="bot.chat.slack")
    async with fake_slack() as fake:
        settings = Settings(
            NEWSBRIEF_DB=tmp_path / "socket.db",
            NEWSBRIEF_ALLOW_PRIVATE_URLS=True,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN="xapp-test",
            SLACK_API_URL=fake.base_url,
        )
        app = await bootstrap(settings)
        await app.ingest.poll_all()
        (adapter,) = app.adapters
        assert isinstance(adapter, SlackAdapter)
        stopped = False
        try:
            await adapter.start()
            async with asyncio.timeout(5):
                await fake.wait_socket_connected()
            yield SocketRig(app, adapter, fake)
            await adapter.stop()
            stopped = True
            async with asyncio.timeout(5):
                await fake.wait_socket_closed()
            await asyncio.sleep(0)  # let the client's cancelled tasks finish unwinding
            await app.store.log_checkpointed()  # the store's own task, not the client's
            leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert not [t for t in leftover if not t.done()], leftover
        finally:
            if not stopped:
                await adapter.stop()
            await app.close()


async def test_brief_then_thread_answer_over_socket_mode(rig: SocketRig) -> None:
    """/brief is acked in time and posted; a reply in its thread is answered in that thread."""
    (connect,) = rig.fake.posted("apps.connections.open")
    assert connect.headers["Authorization"] == "Bearer xapp-test"
    assert connect.response and connect.response["url"].startswith(rig.fake.socket_url + "?")

    ack = await rig.command("/brief", "ukraine")
    assert "payload" not in ack  # a bare ack(): the brief follows as a post
    (post,) = await rig.posts(1)
    assert post.channel == "C0001" and post.blocks and post.ts
    await rig.adapter.drain()  # the thread is recorded just after the post

    reply = message_event("what happens next?", ts="1700000200.000100", thread_ts=post.ts)
    envelope_id = await rig.fake.socket_send("events_api", event_payload(reply))
    async with asyncio.timeout(ACK_WITHIN):
        await rig.fake.wait_socket_ack(envelope_id)
    _, answer = await rig.posts(2)
    assert answer.body["thread_ts"] == post.ts
    assert answer.channel == "C0001" and answer.blocks
    assert rig.fake.socket_pings >= 1  # the client pings on connect; the fake pongs


async def test_usage_error_comes_back_in_the_ack(rig: SocketRig) -> None:
    """/brief without a topic is answered in the ack's payload, and nothing is posted."""
    ack = await rig.command("/brief", "  ")
    assert "Usage" in ack["payload"]["text"]
    assert rig.fake.posted() == []


async def test_reconnects_when_slack_asks_and_keeps_working(rig: SocketRig) -> None:
    """A disconnect message makes the client open a new connection; commands still work."""
    old = rig.fake.sockets[-1]
    await rig.fake.socket_disconnect()
    await until(lambda: rig.fake.socket_connects == 2 and old not in rig.fake.sockets)
    assert rig.fake.count("apps.connections.open") == 2
    await rig.command("/brief", "ukraine")
    await rig.posts(1)


async def test_connecting_is_logged_at_info(
    rig: SocketRig, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator sees "connected in Socket Mode to team T0001" at INFO when it starts."""
    started = [
        r
        for r in caplog.get_records("setup")
        if r.name == "bot.chat.slack" and "Socket Mode" in r.message
    ]
    assert [(r.levelno, r.message) for r in started] == [
        (logging.INFO, "Slack: connected in Socket Mode to team T0001")
    ]
