"""Slack over real HTTP: the Bolt app in HTTP mode on loopback, the fake Web API behind it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import App, bootstrap
from bot.chat.slack import SlackAdapter
from bot.config import Settings
from bot.services.ports import Summarizer
from tests.fakes.slack_api import FakeSlack, event_body, fake_slack, sign, slash_command_body

SECRET = "test-signing-secret"


@dataclass
class SlackRig:
    app: App
    adapter: SlackAdapter
    fake: FakeSlack
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.bound_port}/slack/events"

    async def send(self, body: str, *, secret: str = SECRET) -> tuple[int, str, float]:
        """POST a signed request; return status, body and seconds until the response."""
        started = time.perf_counter()
        async with self.http.post(self.url, data=body.encode(), headers=sign(secret, body)) as r:
            text = await r.text()
        return r.status, text, time.perf_counter() - started

    async def command(self, command: str, text: str, **kwargs: Any) -> tuple[int, str, float]:
        kwargs.setdefault("response_url", self.fake.response_url)
        result = await self.send(slash_command_body(command, text, **kwargs))
        await self.adapter.drain()
        return result

    async def event(self, event: dict[str, Any], **kwargs: Any) -> tuple[int, str, float]:
        return await self.send(event_body(event, **kwargs))

    def responses(self) -> list[str]:
        """Texts sent back through response_url (ephemeral replies)."""
        return [str(c.body.get("text", "")) for c in self.fake.calls if c.method == "response_url"]


@asynccontextmanager
async def slack_rig(
    tmp_path: Path, *, summarizer: Summarizer | None = None
) -> AsyncIterator[SlackRig]:
    """The bot in Slack HTTP mode against the fake Web API, on the sample feeds."""
    async with fake_slack() as fake:
        settings = Settings(
            NEWSBRIEF_DB=tmp_path / "slack.db",
            NEWSBRIEF_ALLOW_PRIVATE_URLS=True,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.base_url,
            SLACK_ADMIN_USERS="UALLOWED",
            SLACK_HOST="127.0.0.1",
            SLACK_PORT=0,
        )
        app = await bootstrap(settings, summarizer=summarizer)
        await app.ingest.poll_all()
        (adapter,) = app.adapters
        assert isinstance(adapter, SlackAdapter)
        await adapter.start()
        async with aiohttp.ClientSession() as http:
            try:
                yield SlackRig(app, adapter, fake, http)
            finally:
                await adapter.drain()
                await adapter.stop()
                await app.close()


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[SlackRig]:
    async with slack_rig(tmp_path) as rig:
        yield rig
