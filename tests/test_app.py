"""The composition root's serving loop."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from aiohttp import web

from bot.app import bootstrap, no_chat, serve
from bot.config import Settings
from tests.fakes.feed_server import feed_server
from tests.helpers import until


async def test_serving_keeps_start_up_out_of_full_collections_until_it_ends(
    tmp_path: Path,
) -> None:
    """Serving freezes what start-up made out of full collections; stopping thaws it."""
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "app.db"), chat=no_chat)
    try:
        serving = asyncio.create_task(serve(app))
        # Frozen once the first poll and start-up are done.
        await until(gc.get_freeze_count, "start-up frozen", seconds=30)
        assert not serving.done()
        app.stop()
        await serving
        assert gc.get_freeze_count() == 0
    finally:
        await app.close()


async def test_a_stop_during_the_start_up_poll_ends_it(tmp_path: Path) -> None:
    """SIGTERM while the first poll waits on a feed stops the bot then, not after the poll."""
    asked, never = asyncio.Event(), asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        asked.set()
        await never.wait()
        return web.Response(text="")

    async with feed_server() as server:
        settings = Settings(
            NEWSBRIEF_DB=tmp_path / "app.db",
            NEWSBRIEF_FEEDS=server.serve("/stuck.xml", stuck),
            NEWSBRIEF_ALLOW_PRIVATE_URLS=True,
        )
        app = await bootstrap(settings, chat=no_chat)
        try:
            serving = asyncio.create_task(serve(app))
            await asyncio.wait_for(asked.wait(), 30)
            app.stop()
            await asyncio.wait_for(serving, 10)  # the feed is still stuck
            assert not never.is_set()
        finally:
            never.set()
            await app.close()
