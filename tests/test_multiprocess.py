"""Three real bot processes on one PostgreSQL database: the feeds are split between them
and each fetched once, each channel's digest posted once; one killed with SIGKILL while
polling, its feeds are fetched by the others once its leases expire, and nothing it
left unposted is lost or posted twice.

Slow by nature (a lease lasts a poll interval, at least a minute): about two minutes.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from bot.domain import Scope
from bot.store.pg import PostgresStore
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.slack_api import fake_slack
from tests.helpers import bot_env, start_bot, until
from tests.pg import empty_database

FEEDS = 200
CHANNELS = 20
FEED_DELAY = 0.15  # each feed answers this late, so a poll is long enough to be cut off


def _feed(i: int) -> str:
    items = "".join(
        f"<item><title>Council {i} votes on harbour plan {j}</title>"
        f"<link>https://news{i}.example/{j}</link><guid>f{i}-{j}</guid>"
        f"<description>Councillors of district {i} voted on plan {j} for the harbour."
        "</description></item>"
        for j in range(2)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>District {i}</title>{items}</channel></rss>"
    )


def _serve_feeds(server: FeedServer, fetched: list[tuple[str, float]]) -> list[str]:
    """Every feed, slow; `fetched` gets (path, time) of each fetch."""

    def handler(i: int) -> Any:
        body = _feed(i)

        async def answer(request: web.Request) -> web.Response:
            fetched.append((request.path, time.monotonic()))
            await asyncio.sleep(FEED_DELAY)
            return web.Response(text=body, content_type="application/rss+xml")

        return answer

    return [server.serve(f"/d{i}.xml", handler(i)) for i in range(FEEDS)]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _subscribe(url: str, team: str) -> None:
    """Twenty channels whose digests fell due two minutes ago."""
    due = datetime.now(UTC) - timedelta(minutes=2)
    store = await PostgresStore.open(url)
    try:
        for n in range(CHANNELS):
            await store.upsert_subscription(
                Scope("slack", team),
                f"C{n:03}",
                digest_time=f"{due:%H:%M}",
                timezone="UTC",
                topics=(),
            )
    finally:
        await store.close()


@pytest.mark.timeout(300)
async def test_three_processes_share_feeds_and_digests_and_survive_a_kill(
    pg_database: str, tmp_path: Path
) -> None:
    """Each feed fetched once by the living (the killed one's after its leases expire),
    each digest part posted once, every digest complete."""
    await empty_database(pg_database)
    async with feed_server() as server, fake_slack() as slack:
        slack.slow("chat.postMessage", before=0.05, after=0.05)
        fetched: list[tuple[str, float]] = []
        urls = _serve_feeds(server, fetched)
        await _subscribe(pg_database, slack.team_id)
        processes = []
        for n in range(3):
            env = bot_env(
                NEWSBRIEF_DATABASE_URL=pg_database,
                NEWSBRIEF_FEEDS=",".join(urls),
                NEWSBRIEF_ALLOW_PRIVATE_URLS="true",
                NEWSBRIEF_POLL_MINUTES="1",
                NEWSBRIEF_CPU_WORKERS="0",
                # The items link to news*.example: no article page is looked up.
                NEWSBRIEF_FETCH_FULL_TEXT="false",
                NEWSBRIEF_LOG_LEVEL="INFO",
                SLACK_BOT_TOKEN="xoxb-multi",
                SLACK_SIGNING_SECRET="multi-secret",
                SLACK_API_URL=slack.base_url,
                SLACK_HOST="127.0.0.1",
                SLACK_PORT=str(_port()),
            )
            processes.append(await start_bot(env, tmp_path, log=tmp_path / f"bot{n}.log"))
        conn = await asyncpg.connect(pg_database)
        try:
            # Killed while the three are polling: some feeds leased to it stay unfetched.
            await until(_fetched(server, 30), 60, "the first feeds to be fetched")
            victim = processes[0]
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            killed_at = time.monotonic()

            async def every_feed_polled() -> bool:
                polled = await conn.fetchval(
                    "SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL"
                )
                return int(polled) == FEEDS

            await until(every_feed_polled, 200, "every feed polled")

            async def every_digest_posted() -> bool:
                posted = await conn.fetchval(
                    "SELECT count(*) FROM deliveries WHERE key LIKE 'digest:%' "
                    "AND key NOT LIKE '%:late' AND status = 'posted'"
                )
                return int(posted) == CHANNELS

            await until(every_digest_posted, 120, "every digest posted")
            parts = await conn.fetch(
                "SELECT delivery_key, idx FROM delivery_parts WHERE delivery_key LIKE 'digest:%'"
            )
        finally:
            await conn.close()
            for process in processes[1:]:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes[1:]:
                await asyncio.wait_for(process.wait(), timeout=60)
        logs = "\n".join((tmp_path / f"bot{n}.log").read_text() for n in range(3))
        assert "Traceback" not in logs, logs[-5000:]
        # Feeds: each fetched, and never twice within a poll interval (a minute), unless
        # the first fetch was before the kill (the victim's, never recorded).
        times: dict[str, list[float]] = {}
        for path, at in fetched:
            times.setdefault(path, []).append(at)
        assert set(times) == {f"/d{i}.xml" for i in range(FEEDS)}
        too_soon = [
            (path, round(later - earlier, 1))
            for path, ats in times.items()
            for earlier, later in zip(sorted(ats), sorted(ats)[1:], strict=False)
            if later - earlier < 50 and earlier > killed_at
        ]
        assert too_soon == []
        # The victim's leased feeds it never fetched: taken up once its leases expired.
        taken_over = [path for path, ats in times.items() if min(ats) > killed_at + 30]
        assert taken_over, "the killed process held no lease on an unfetched feed"
        # Posts: every part of every digest on Slack exactly once.
        on_slack: Counter[tuple[str, int]] = Counter()
        for n in range(CHANNELS):
            for message in slack.channel_messages(f"C{n:03}"):
                tag = (message.get("metadata") or {}).get("event_payload") or {}
                if str(tag.get("delivery", "")).startswith("digest:"):
                    on_slack[(tag["delivery"], int(tag["part"]))] += 1
        assert sorted(on_slack) == sorted((r["delivery_key"], r["idx"]) for r in parts)
        assert set(on_slack.values()) == {1}


def _fetched(server: FeedServer, count: int) -> Any:
    async def check() -> bool:
        return sum(1 for p, _ in server.hits if p.startswith("/d")) >= count

    return check
