"""`python -m bot run` with DISCORD_TOKEN, against the loopback Discord, as an operator runs it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.fakes.discord_api import fake_discord
from tests.helpers import bot_env, interaction_key, posted, start_bot, until


async def test_run_serves_discord_brief_and_thread_answers(tmp_path: Path) -> None:
    """The bot connects through DISCORD_API_URL, answers /brief and a thread message, stops."""
    async with fake_discord() as fake:
        fake.wait_timeout = 60
        env = bot_env(
            NEWSBRIEF_DB=str(tmp_path / "run.db"),
            DISCORD_TOKEN=fake.token,
            DISCORD_API_URL=fake.api_base,
            DISCORD_GUILD_ID=str(fake.guild_id),
            DISCORD_MESSAGE_CONTENT="true",
        )
        process = await start_bot(env, tmp_path)
        try:
            await fake.ready()
            # Commands synced: the bot is up.
            await until(lambda: fake.guild_id in fake.commands, "commands synced", seconds=30)
            brief = await fake.interaction("brief", [{"name": "topic", "value": "ukraine"}])
            # Posted, so the bot has recorded its thread: a question asked sooner would be
            # in a thread it does not know.
            key = interaction_key(brief)
            await until(lambda: posted(tmp_path / "run.db", key), "the brief posted", seconds=30)
            thread_id = next(iter(fake.threads))
            await fake.message("what happens next?", channel_id=thread_id)
            answer = f"/channels/{thread_id}/messages"
            await until(lambda: fake.rest("POST", answer), "the answer in the thread", seconds=30)
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err.decode()
        assert "serving Discord" in out.decode()
        logs = err.decode()
        assert "Traceback" not in logs
        # The operator's lines at INFO; discord.py's and APScheduler's chatter not at all.
        assert "INFO bot.chat.discord: Discord: connected as" in logs
        invite = (
            f"https://discord.com/oauth2/authorize?client_id={fake.application_id}"
            "&scope=bot+applications.commands&permissions=309237730304"
        )
        assert f"Discord: invite the bot to a server with {invite}" in logs
        assert f"INFO bot.chat.discord: Discord: commands synced to server {fake.guild_id}" in logs
        assert "apscheduler" not in logs and "INFO discord." not in logs
