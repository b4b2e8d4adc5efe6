"""Discord spread over two real bot processes on one PostgreSQL database: each connects
its own shard (DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS), gets only its servers, posts
only their digests (each once) and answers only their commands; one syncs the commands.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.domain import Scope, Subscription
from bot.store.pg import PostgresStore
from tests.fakes.discord_api import FakeDiscord, fake_discord
from tests.helpers import bot_env, interaction_key, start_bot, until
from tests.pg import empty_database

SHARDS = 2


async def _subscribe(url: str, guilds: list[tuple[int, int]]) -> list[Subscription]:
    """A digest in each server's channel, due two minutes ago (caught up at start)."""
    due = datetime.now(UTC) - timedelta(minutes=2)
    store = await PostgresStore.open(url)
    try:
        return [
            await store.upsert_subscription(
                Scope("discord", str(guild)),
                str(channel),
                digest_time=f"{due:%H:%M}",
                timezone="UTC",
                topics=(),
            )
            for guild, channel in guilds
        ]
    finally:
        await store.close()


def _bot_messages(fake: FakeDiscord, channel: int) -> int:
    """Messages the bot made in a channel (its threads' messages are elsewhere)."""
    return sum(
        1 for m in fake.channel_messages(channel) if int(m["author"]["id"]) == fake.bot_user_id
    )


@pytest.mark.slow(6)
@pytest.mark.timeout(180)
async def test_two_processes_each_serve_their_own_shard(pg_database: str, tmp_path: Path) -> None:
    """Servers on shard 0 and 1: each process connects its shard, posts its servers'
    digests once and answers their /brief; commands are synced once, by shard 0's."""
    await empty_database(pg_database)
    async with fake_discord() as fake:
        fake.wait_timeout = 60
        fake.recommended_shards = SHARDS
        other = fake.add_guild(shard=1, num_shards=SHARDS)
        guilds = [(fake.guild_id, fake.channel_id), (other.id, other.channel_id)]
        subscriptions = await _subscribe(pg_database, guilds)
        processes, logs = [], []
        for shard in range(SHARDS):
            env = bot_env(
                NEWSBRIEF_DATABASE_URL=pg_database,
                NEWSBRIEF_CPU_WORKERS="0",
                NEWSBRIEF_LOG_LEVEL="INFO",
                DISCORD_TOKEN=fake.token,
                DISCORD_API_URL=fake.api_base,
                DISCORD_SHARD_COUNT=str(SHARDS),
                DISCORD_SHARD_IDS=str(shard),
            )
            logs.append(tmp_path / f"shard{shard}.log")
            processes.append(await start_bot(env, tmp_path, log=logs[-1]))
        conn = await asyncpg.connect(pg_database)
        try:

            async def both_digests_posted() -> bool:
                posted = await conn.fetchval(
                    "SELECT count(*) FROM deliveries WHERE key LIKE 'digest:%' "
                    "AND status = 'posted'"
                )
                return int(posted) == len(subscriptions)

            await until(both_digests_posted, seconds=90, every=0.05)

            async def commands_synced() -> bool:
                return None in fake.commands

            await until(commands_synced, "the commands synced", seconds=30)
            briefs = [
                await fake.interaction(
                    "brief", [{"name": "topic", "value": "battery"}], guild_id=guild
                )
                for guild, _ in guilds
            ]

            async def briefs_answered() -> bool:
                keys = [interaction_key(b) for b in briefs]
                posted = await conn.fetchval(
                    "SELECT count(*) FROM deliveries WHERE key = ANY($1) AND status = 'posted'",
                    keys,
                )
                return int(posted) == len(keys)

            await until(briefs_answered, seconds=60, every=0.05)
            parts = await conn.fetch(
                "SELECT d.channel, p.payload FROM delivery_parts p "
                "JOIN deliveries d ON d.key = p.delivery_key WHERE d.key LIKE 'digest:%'"
            )
        finally:
            await conn.close()
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                await asyncio.wait_for(process.wait(), timeout=60)
        texts = [log.read_text() for log in logs]
        for text in texts:
            assert "Traceback" not in text, text[-5000:]
        # Each process connected its own shard and got only its server.
        assert sorted(s.shard for s in fake.sessions) == [(k, SHARDS) for k in range(SHARDS)]
        for shard, text in enumerate(texts):
            assert f"to 1 servers on shards [{shard}] of {SHARDS}" in text
        # One process synced the commands: shard 0's.
        assert len(fake.rest("PUT", "/commands")) == 1
        assert "commands synced globally" in texts[0]
        assert "commands are synced by the process holding shard 0" in texts[1]
        # Each digest posted by its server's process, every message once.
        for shard, (subscription, text) in enumerate(zip(subscriptions, texts, strict=True)):
            mine = re.findall(r"delivery (digest:\d+):\S+ posted", text)
            assert mine == [f"digest:{subscription.id}"], (shard, mine)
        for _, channel in guilds:
            messages = [
                p
                for p in parts
                if p["channel"] == str(channel) and "open_thread" not in json.loads(p["payload"])
            ]
            assert messages and _bot_messages(fake, channel) == len(messages) + 1  # + the brief
        # Each /brief reached and was answered by its server's process only.
        for brief, text, other_text in zip(briefs, texts, texts[::-1], strict=True):
            key = f"delivery {interaction_key(brief)} posted"
            assert key in text and key not in other_text
