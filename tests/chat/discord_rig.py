"""The Discord adapter wired to the real app and the loopback Discord (REST + gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import discord
import discord.gateway
import discord.http

from bot.app import App, bootstrap
from bot.chat.discord import DiscordAdapter
from bot.config import Settings
from bot.services.chat import Chat
from bot.services.ports import Summarizer
from tests.fakes.discord_api import FakeDiscord, RestCall, fake_discord

MANAGE_GUILD = str(1 << 5)


@dataclass
class DiscordRig:
    app: App
    adapter: DiscordAdapter
    fake: FakeDiscord

    def posts(self, path_contains: str = "") -> list[RestCall]:
        """Messages the bot sent: channel messages and interaction follow-ups."""
        return [
            c
            for c in self.fake.calls
            if c.method == "POST"
            and (c.path.endswith("/messages") or c.path.startswith("/webhooks/"))
            and path_contains in c.path
        ]

    def callbacks(self) -> list[RestCall]:
        return [c for c in self.fake.calls if c.path.endswith("/callback")]


@asynccontextmanager
async def discord_rig(
    tmp_path: Path,
    *,
    message_content: bool = True,
    guild_commands: bool = True,
    summarizer: Summarizer | None = None,
) -> AsyncIterator[DiscordRig]:
    """The bot started against the fake: with or without the message-content intent,
    commands synced to the fake's server or globally."""
    saved_base = discord.http.Route.BASE
    saved_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        async with fake_discord() as fake:

            def quick_discord(chat: Chat, stop: object) -> list[DiscordAdapter]:
                """The real adapter, but not waiting 2 s for guilds the fake never sends."""
                return [
                    DiscordAdapter(
                        token=fake.token,
                        api_url=fake.api_base,
                        guild_id=fake.guild_id if guild_commands else None,
                        message_content=message_content,
                        chat=chat,
                        guild_ready_timeout=0.05,
                    )
                ]

            app = await bootstrap(
                Settings(NEWSBRIEF_DB=tmp_path / "discord.db"),
                summarizer=summarizer,
                chat=quick_discord,
            )
            await app.ingest.poll_all()
            (adapter,) = app.adapters
            assert isinstance(adapter, DiscordAdapter)
            await adapter.start()
            try:
                yield DiscordRig(app, adapter, fake)
            finally:
                await adapter.stop()
                await app.close()
    finally:
        discord.http.Route.BASE = saved_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway
