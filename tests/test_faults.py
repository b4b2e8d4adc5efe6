"""The fault suite: the database going away under a running bot, a platform whose
Retry-After outlasts the outbox's lease with several workers on one database, and NUL
bytes (and other text no database stores) through every input, on both engines."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from bot.app import App, bootstrap, no_chat
from bot.chat.slack import SlackAdapter
from bot.config import Settings
from bot.domain import Bullet, Message, Scope, Section, ThreadKind
from bot.services.chat import Chat, Where
from bot.services.outbox import Outbox
from bot.store.pg import PostgresStore
from tests.fakes.feed_server import feed_server
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.slack_api import FakeSlack, fake_slack
from tests.helpers import bot_env, digest_scheduler, start_bot, subscribe_due_now, until
from tests.pg import REQUIRED, empty_database
from tests.pg_cluster import NoBinaries, private_cluster

SLACK = Scope("slack", "T0001")
CHANNEL = "C0001"
NUL = "\x00"


# --- the database stopped and started under a running scheduler ----------------------------


@pytest.fixture
async def cluster() -> AsyncIterator[Any]:
    try:
        async with private_cluster() as made:
            yield made
    except NoBinaries as exc:
        if REQUIRED:
            pytest.fail(f"{exc} (and NEWSBRIEF_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(str(exc))


@pytest.mark.postgres
async def test_a_digest_due_while_postgres_is_down_is_posted_once_when_it_is_back(
    cluster: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Due during an outage: one line when lost, one when back, then posted once."""
    app = await bootstrap(Settings(NEWSBRIEF_DATABASE_URL=cluster.url), chat=no_chat)
    publisher = RecordingPublisher(platform="slack")
    scheduler = digest_scheduler(app, publisher)
    try:
        await app.ingest.poll_all()
        sub = await subscribe_due_now(app, SLACK, CHANNEL)
        await scheduler.start(catch_up=False)
        caplog.set_level(logging.INFO)
        caplog.clear()

        await cluster.stop()
        # What the jobs do while it is away: the digest's cron firing, a poll, a resume.
        assert await scheduler.post_digest(sub.id) == "waiting"
        await scheduler.poll()
        await scheduler.resume_outbox()
        await scheduler.sync_subscriptions()
        assert publisher.posts == []

        await cluster.start()
        await until(lambda: publisher.posts, "the digest posted once the database is back")

        async def recorded() -> bool:
            return (await app.store.outbox_counts(datetime.now(UTC))).pending == 0

        await until(recorded, "the post recorded as done")
        assert [r for _, r in await scheduler.catch_up()] == ["already-posted"]
        assert await scheduler.post_digest(sub.id) == "already-posted"
        assert [channel for channel, _ in publisher.posts] == [CHANNEL]
    finally:
        scheduler.shutdown()
        await app.close()
    lost = [r for r in caplog.records if "database is unavailable" in r.getMessage()]
    back = [r for r in caplog.records if "database is back" in r.getMessage()]
    assert (len(lost), len(back)) == (1, 1)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


@pytest.mark.slow(60)
@pytest.mark.timeout(300)
@pytest.mark.postgres
async def test_a_running_bot_posts_the_digest_due_in_an_outage_once_it_is_back(
    cluster: Any, tmp_path: Path
) -> None:
    """`python -m bot run` on PostgreSQL, stopped from before the digest's minute to
    after it: the digest comes once when the server is back; the log says lost once,
    back once, and holds no traceback."""
    store = await PostgresStore.open(cluster.url)
    due = _next_minute(at_least=timedelta(seconds=12))
    try:
        await store.upsert_subscription(
            SLACK, CHANNEL, digest_time=f"{due:%H:%M}", timezone="UTC", topics=()
        )
    finally:
        await store.close()
    async with fake_slack() as slack:
        env = bot_env(
            NEWSBRIEF_DATABASE_URL=cluster.url,
            NEWSBRIEF_CPU_WORKERS="0",
            NEWSBRIEF_LOG_LEVEL="INFO",
            SLACK_BOT_TOKEN="xoxb-outage",
            SLACK_SIGNING_SECRET="outage-secret",
            SLACK_API_URL=slack.base_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
        )
        log = tmp_path / "bot.log"
        bot = await start_bot(env, tmp_path, log=log)
        try:
            await until(lambda: "scheduler started" in log.read_text(), "serving", seconds=60)
            await asyncio.sleep(_seconds_until(due - timedelta(seconds=3)))
            await cluster.stop()
            await asyncio.sleep(_seconds_until(due + timedelta(seconds=8)))
            assert _digests(slack) == []
            await cluster.start()
            await until(lambda: _digests(slack), "the digest once the server is back", seconds=30)

            async def recorded() -> bool:
                conn = await asyncpg.connect(cluster.url)
                try:
                    return bool(
                        await conn.fetchval(
                            "SELECT count(*) = 0 FROM deliveries WHERE status = 'pending'"
                        )
                    )
                finally:
                    await conn.close()

            await until(recorded, "the digest recorded as posted")
            assert len(_digests(slack)) == 1
        finally:
            bot.terminate()
            await bot.wait()
    text = log.read_text()
    assert text.count("the database is unavailable") == 1, text
    assert text.count("the database is back") == 1, text
    assert "Traceback" not in text, text


def _next_minute(*, at_least: timedelta) -> datetime:
    """The first whole minute at least `at_least` from now (UTC)."""
    soon = datetime.now(UTC) + at_least
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _digests(slack: FakeSlack) -> list[str]:
    """Digests Slack made in the channel (their first parts)."""
    return [
        call.body["metadata"]["event_payload"]["delivery"]
        for call in slack.posted()
        if call.response
        and call.response.get("ok")
        and call.body.get("channel") == CHANNEL
        and call.body["metadata"]["event_payload"]["part"] == 0
        and call.body["metadata"]["event_payload"]["delivery"].startswith("digest:")
    ]


# --- Retry-After longer than the lease, several workers on one database -------------------

# Short, so that Slack's Retry-After outlasts it several times over in a quick test.
LEASE = timedelta(seconds=1)
RETRY_AFTER = 4


def _digest(parts: int) -> Message:
    sections = tuple(
        Section(f"Story {i}: port strike day {i}", (Bullet("Dock workers went back."),))
        for i in range(parts)
    )
    return Message(ThreadKind.DIGEST, "Daily digest", sections, (), article_ids=(1,))


async def _slack_worker(tmp_path: Path, fake: FakeSlack, url: str, n: int) -> App:
    settings = Settings(
        NEWSBRIEF_DATABASE_URL=url,
        NEWSBRIEF_DB=tmp_path / f"unused{n}.db",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="secret",
        SLACK_API_URL=fake.base_url,
        SLACK_HOST="127.0.0.1",
        SLACK_PORT=0,
    )
    app = await bootstrap(settings)
    await app.adapters[0].start()
    return app


def _posted_parts(fake: FakeSlack) -> Counter[tuple[str, int]]:
    """(delivery, part) of each message Slack made (a 429 makes none)."""
    made: Counter[tuple[str, int]] = Counter()
    for call in fake.posted():
        if call.response and call.response.get("ok"):
            payload = call.body["metadata"]["event_payload"]
            made[(payload["delivery"], payload["part"])] += 1
    return made


@pytest.mark.parametrize("workers", [2, 3])
async def test_a_retry_after_longer_than_the_lease_posts_each_part_once(
    workers: int, pg_database: str, tmp_path: Path
) -> None:
    """Slack says 429 with Retry-After past the lease: the others find it busy meanwhile,
    and each part is posted once, with 2 or 3 workers resuming all the while."""
    await empty_database(pg_database)
    async with fake_slack() as fake:
        apps = [await _slack_worker(tmp_path, fake, pg_database, n) for n in range(workers)]
        try:
            senders = [app.adapters[0] for app in apps]
            assert all(isinstance(s, SlackAdapter) for s in senders)
            outboxes = [
                Outbox(app.store, lease=LEASE, settle=timedelta(seconds=0.2)) for app in apps
            ]
            key = "digest:1:2026-12-07"
            delivery = outboxes[0].delivery(
                senders[0], key, SLACK, CHANNEL, _digest(3), due_at=datetime.now(UTC)
            )
            assert len(delivery.parts) >= 1
            await outboxes[0].enqueue([delivery])
            fake.fail_next("chat.postMessage", retry_after=RETRY_AFTER)

            first = asyncio.ensure_future(outboxes[0].post(key, senders[0]))
            await until(lambda: fake.count("chat.postMessage") >= 1, "the first send, refused")
            # The others resume as their periodic job would, through the Retry-After.
            others: list[str] = []
            while not first.done():
                for outbox, sender in zip(outboxes[1:], senders[1:], strict=True):
                    others += [r for _, r in await outbox.resume({"slack": sender})]
                await asyncio.sleep(0.2)  # the pace of a resuming worker, not a wait to assert
            made = _posted_parts(fake)
            assert made == Counter({(key, p.index): 1 for p in delivery.parts})
            assert first.result() == "posted"
            assert set(others) <= {"busy"}
        finally:
            for app in apps:
                await app.adapters[0].stop()
                await app.close()


# --- NUL bytes through every input ----------------------------------------------------------

HOSTILE = f"harbour{NUL} strike\ud800"


@pytest.fixture(params=["sqlite", "postgres"])
async def engine_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"NEWSBRIEF_DB": tmp_path / "nul.db"}
    url = request.getfixturevalue("pg_database")
    await empty_database(url)
    return {"NEWSBRIEF_DATABASE_URL": url}


async def _hostile_feed(request: web.Request) -> web.Response:
    return web.Response(text=_HOSTILE_FEED, content_type="application/rss+xml")


_HOSTILE_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour&#0; News</title>'
    "<item><title>Harbour strike ends\u0000 after talks</title>"
    "<link>https://harbour.example/strike</link><guid>strike-1</guid>"
    "<author>desk\u0000@harbour.example</author>"
    "<description>Dock workers of the harbour ended their strike\u0000 on Monday "
    "after talks with the port authority.</description></item></channel></rss>"
)


async def test_nul_bytes_through_every_input_are_stored_cleanly(
    engine_settings: dict[str, Any],
) -> None:
    """Feed text, a feed URL, a topic, digest topics and a thread question, each with a
    NUL byte and a lone surrogate: stored and answered on both engines, never an error."""
    async with feed_server() as server:
        url = server.serve("/feed.xml", _hostile_feed)
        settings = Settings(NEWSBRIEF_ALLOW_PRIVATE_URLS=True, **engine_settings)
        app = await bootstrap(settings, chat=no_chat)
        try:
            chat = Chat(app.chat)
            publisher = RecordingPublisher(platform="slack")
            where = Where(SLACK, CHANNEL)
            change = await chat.add_feed(where, f"<{url}{NUL}>", allow_local=True)
            assert change.ok, change.text
            assert NUL not in change.text
            feeds = await app.store.feeds_for_scope(SLACK)
            assert [f.url for f in feeds if not f.is_default] == [url]

            reply = await chat.brief(publisher, where, HOSTILE, event="e1")
            assert reply.text is None and reply.message is None
            (_, brief), *_ = publisher.posts
            assert "Harbour strike ends after talks" in str(brief)
            assert NUL not in str(brief)

            scheduled = await chat.schedule_digest(where, "08:00", "UTC", [HOSTILE])
            assert scheduled.ok, scheduled.text
            assert scheduled.subscription is not None
            assert scheduled.subscription.topics == ("harbour strike",)

            thread = f"{CHANNEL}-post-1"
            answer = await chat.answer(
                publisher, Where(SLACK, CHANNEL, thread), message="m1", question=HOSTILE + "?"
            )
            assert answer.value == "posted"
        finally:
            await app.close()
