"""The composition root's serving loop."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from bot.app import bootstrap, no_chat, serve
from bot.config import Settings


async def test_serving_keeps_start_up_out_of_full_collections_until_it_ends(
    tmp_path: Path,
) -> None:
    """Serving freezes what start-up made out of full collections; stopping thaws it."""
    app = await bootstrap(Settings(NEWSBRIEF_DB=tmp_path / "app.db"), chat=no_chat)
    try:
        serving = asyncio.create_task(serve(app))
        async with asyncio.timeout(30):
            while gc.get_freeze_count() == 0:  # frozen once the first poll and start-up are done
                await asyncio.sleep(0.01)
        assert not serving.done()
        app.stop()
        await serving
        assert gc.get_freeze_count() == 0
    finally:
        await app.close()
