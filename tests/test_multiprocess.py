"""Three real bot processes on one PostgreSQL database: the feeds are split between them
and each fetched once, each channel's digest posted once; one killed with SIGKILL while
polling, its feeds are fetched by the others once its leases expire, and nothing it
left unposted is lost or posted twice.

Slow by nature (a lease lasts a poll interval, at least a minute): about 70 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import web

from bot.domain import Scope
from bot.store.pg import PostgresStore
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.slack_api import fake_slack
from tests.helpers import bot_env, start_bot, until
from tests.pg import empty_database

FEEDS = 120
CHANNELS = 10
# Feeds one process fetches at once from one host (all of these are on 127.0.0.1); it
# leases more than that at a time (chunks for its ingest workers).
HOST_CONCURRENCY = 4
FEED_DELAY = 0.05  # each feed answers this late, so the processes' polls overlap


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


def _serve_feeds(
    server: FeedServer, fetched: list[tuple[str, float]], gate: asyncio.Event
) -> list[str]:
    """Every feed, slow, and not answered before `gate` opens; `fetched` gets (path, time)
    of each fetch as it arrives."""

    def handler(i: int) -> Any:
        body = _feed(i)

        async def answer(request: web.Request) -> web.Response:
            fetched.append((request.path, time.monotonic()))
            await gate.wait()
            await asyncio.sleep(FEED_DELAY)
            return web.Response(text=body, content_type="application/rss+xml")

        return answer

    return [server.serve(f"/d{i}.xml", handler(i)) for i in range(FEEDS)]


async def _leases(conn: asyncpg.Connection) -> dict[str, set[str]]:
    """The feeds each process holds a lease on and has not polled (by lease holder)."""
    rows = await conn.fetch(
        "SELECT lease_owner, url FROM feeds "
        "WHERE lease_owner IS NOT NULL AND last_success_at IS NULL"
    )
    held: dict[str, set[str]] = {}
    for row in rows:
        held.setdefault(row["lease_owner"], set()).add(row["url"])
    return held


async def _subscribe(url: str, team: str) -> None:
    """The channels, their digests fallen due two minutes ago."""
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


@pytest.mark.slow(70)
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
        gate = asyncio.Event()  # the feeds answer once the victim is dead
        urls = _serve_feeds(server, fetched, gate)
        await _subscribe(pg_database, slack.team_id)
        env = bot_env(
            NEWSBRIEF_DATABASE_URL=pg_database,
            NEWSBRIEF_FEEDS=",".join(urls),
            NEWSBRIEF_ALLOW_PRIVATE_URLS="true",
            NEWSBRIEF_POLL_MINUTES="1",
            NEWSBRIEF_CPU_WORKERS="0",
            NEWSBRIEF_PER_HOST_CONCURRENCY=str(HOST_CONCURRENCY),
            # The victim's requests hang until it is killed: none may time out before.
            NEWSBRIEF_FETCH_TIMEOUT="120",
            # The items link to news*.example: no article page is looked up.
            NEWSBRIEF_FETCH_FULL_TEXT="false",
            NEWSBRIEF_LOG_LEVEL="INFO",
            SLACK_BOT_TOKEN="xoxb-multi",
            SLACK_SIGNING_SECRET="multi-secret",
            SLACK_API_URL=slack.base_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",  # not called: HTTP mode on any free port
        )
        processes = [await start_bot(env, tmp_path, log=tmp_path / "bot0.log")]
        conn = await asyncpg.connect(pg_database)
        try:
            # The victim first: its fetches hang at the gate, as many as it makes at once,
            # so it holds leases on feeds it has not asked for (and cannot ask for).
            async def victim_stuck() -> str | None:
                held = await _leases(conn)
                if len(fetched) < HOST_CONCURRENCY or len(held) != 1:
                    return None
                ((owner, feeds),) = held.items()
                return owner if len(feeds) > HOST_CONCURRENCY else None

            victim_owner = await until(
                victim_stuck, "the first process to lease feeds", seconds=60, every=0.05
            )
            for n in (1, 2):
                processes.append(await start_bot(env, tmp_path, log=tmp_path / f"bot{n}.log"))

            async def three_polling() -> bool:
                return len(await _leases(conn)) == 3

            # Killed while the three are polling: some feeds leased to it stay unfetched.
            await until(three_polling, "all three processes polling", seconds=60, every=0.05)
            victim = processes[0]
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            killed_at = time.monotonic()
            asked = {path for path, _ in fetched}
            held = (await _leases(conn)).get(victim_owner, set())
            assert {urlsplit(url).path for url in held} - asked, "killed holding no unasked feed"
            gate.set()

            async def every_feed_polled() -> bool:
                polled = await conn.fetchval(
                    "SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL"
                )
                return int(polled) == FEEDS

            await until(every_feed_polled, seconds=200, every=0.2)

            async def every_digest_posted() -> bool:
                posted = await conn.fetchval(
                    "SELECT count(*) FROM deliveries WHERE key LIKE 'digest:%' "
                    "AND key NOT LIKE '%:late' AND status = 'posted'"
                )
                return int(posted) == CHANNELS

            await until(every_digest_posted, seconds=120, every=0.2)
            parts = await conn.fetch(
                "SELECT delivery_key, idx FROM delivery_parts WHERE delivery_key LIKE 'digest:%'"
            )
        finally:
            gate.set()
            await conn.close()
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
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
