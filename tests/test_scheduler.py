from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import App
from bot.domain import Message, Scope, Subscription, ThreadKind
from bot.llm.extractive import ExtractiveSummarizer
from bot.scheduler import (
    OUTBOX_EVERY,
    OUTBOX_JOB,
    RETRY_SLACK,
    SUBSCRIPTIONS_EVERY,
    SUBSCRIPTIONS_JOB,
    Scheduler,
    last_due,
)
from bot.services.digest import DigestService
from bot.services.outbox import Outbox
from tests.fakes.publisher import RecordingPublisher

SLACK = Scope("slack", "T1")


def _scheduler(
    app: App, now: datetime, publisher: RecordingPublisher, platform: str = "slack"
) -> Scheduler:
    outbox = Outbox(app.store, clock=lambda: now)
    digests = DigestService(
        app.store, ExtractiveSummarizer(), outbox, max_stories=5, clock=lambda: now
    )
    return Scheduler(
        app.store,
        app.ingest,
        digests,
        outbox,
        {platform: publisher},
        poll_interval=timedelta(minutes=30),
        grace=timedelta(hours=3),
        clock=lambda: now,
    )


def test_last_due_is_today_after_the_time_and_yesterday_before() -> None:
    """The last due moment is today's local time once passed, else yesterday's."""
    sub = Subscription(1, SLACK, "C1", (), "08:00", "Europe/Kyiv")  # UTC+2 in November
    assert last_due(sub, datetime(2026, 11, 25, 7, 0, tzinfo=UTC)) == datetime(
        2026, 11, 25, 6, 0, tzinfo=UTC
    )
    assert last_due(sub, datetime(2026, 11, 25, 5, 59, tzinfo=UTC)) == datetime(
        2026, 11, 24, 6, 0, tzinfo=UTC
    )


async def test_missed_digest_is_posted_on_return_within_grace_and_only_once(app: App) -> None:
    """A digest due while the bot was down is posted when it starts, and not again."""
    await app.store.upsert_subscription(SLACK, "C1", digest_time="08:00", timezone="UTC", topics=())
    publisher = RecordingPublisher(platform="slack")
    now = datetime.now(UTC).replace(hour=9, minute=30)
    first = _scheduler(app, now, publisher)
    assert [r for _, r in await first.catch_up()] == ["posted"]
    second = _scheduler(app, now + timedelta(minutes=5), publisher)
    assert [r for _, r in await second.catch_up()] == ["already-posted"]
    assert len(publisher.posts) == 1


async def test_digest_missed_beyond_grace_is_not_posted(app: App) -> None:
    """Past the grace period a missed digest waits for its next day instead."""
    await app.store.upsert_subscription(SLACK, "C1", digest_time="08:00", timezone="UTC", topics=())
    publisher = RecordingPublisher(platform="slack")
    now = datetime.now(UTC).replace(hour=13, minute=0)
    assert await _scheduler(app, now, publisher).catch_up() == []
    assert publisher.posts == []


async def test_started_scheduler_holds_one_daily_job_per_subscription(app: App) -> None:
    """Each subscription gets a cron job at its local time; moving it replaces the job."""
    sub = await app.store.upsert_subscription(
        SLACK, "C1", digest_time="07:15", timezone="Asia/Tokyo", topics=("moon",)
    )
    publisher = RecordingPublisher(platform="slack")
    scheduler = _scheduler(app, datetime.now(UTC).replace(hour=0, minute=0), publisher)
    await scheduler.start(catch_up=False)
    try:
        tokyo = ZoneInfo("Asia/Tokyo")
        first = scheduler.scheduled_digests()[sub.id].astimezone(tokyo)
        assert (first.hour, first.minute, first.utcoffset()) == (7, 15, timedelta(hours=9))
        moved = await app.store.upsert_subscription(
            SLACK, "C1", digest_time="18:00", timezone="Asia/Tokyo", topics=()
        )
        scheduler.schedule(moved)
        jobs = scheduler.scheduled_digests()
        assert list(jobs) == [sub.id] and jobs[sub.id].astimezone(tokyo).hour == 18
    finally:
        scheduler.shutdown()


async def test_scheduled_job_posts_through_the_platform_publisher(app: App) -> None:
    """The daily job builds the digest and posts it to the subscription's channel."""
    sub = await app.store.upsert_subscription(
        SLACK, "C9", digest_time="08:00", timezone="UTC", topics=()
    )
    publisher = RecordingPublisher(platform="slack")
    scheduler = _scheduler(app, datetime.now(UTC).replace(hour=8, minute=0), publisher)
    assert await scheduler.post_digest(sub.id) == "posted"
    assert publisher.posts[0][0] == "C9"


async def test_subscription_without_a_running_adapter_is_skipped(app: App) -> None:
    """A Discord subscription is not scheduled when only Slack runs."""
    sub = await app.store.upsert_subscription(
        Scope("discord", "G1"), "1", digest_time="08:00", timezone="UTC", topics=()
    )
    scheduler = _scheduler(app, datetime.now(UTC), RecordingPublisher(platform="slack"))
    assert await scheduler.post_digest(sub.id) == "no-adapter"


async def test_starting_resumes_unfinished_posts_and_keeps_resuming_them(app: App) -> None:
    """An unfinished delivery is posted when the scheduler starts; the outbox job repeats."""
    publisher = RecordingPublisher(platform="slack", fail_next=1)
    now = datetime.now(UTC)
    outbox = Outbox(app.store, clock=lambda: now)
    notice = Message(ThreadKind.ANSWER, "", (), (), notes=("hello",))
    await outbox.enqueue([outbox.delivery(publisher, "k", SLACK, "C1", notice)])
    assert await outbox.post("k", publisher) == "pending"  # the platform failed once
    scheduler = _scheduler(app, now + timedelta(minutes=1), publisher)
    await scheduler.start(catch_up=False)
    try:
        assert [(c, m.notes) for c, m in publisher.posts] == [("C1", ("hello",))]
        job = next(j for j in scheduler._scheduler.get_jobs() if j.id == OUTBOX_JOB)
        assert job.trigger.interval == OUTBOX_EVERY
    finally:
        scheduler.shutdown()


async def test_subscriptions_changed_by_another_process_are_timed_on_the_next_read(
    app: App,
) -> None:
    """A digest set, moved or turned off in the database by another process is timed here."""
    publisher = RecordingPublisher(platform="slack")
    scheduler = _scheduler(app, datetime.now(UTC).replace(hour=0, minute=0), publisher)
    await scheduler.start(catch_up=False)
    try:
        job = next(j for j in scheduler._scheduler.get_jobs() if j.id == SUBSCRIPTIONS_JOB)
        assert job.trigger.interval == SUBSCRIPTIONS_EVERY
        assert scheduler.scheduled_digests() == {}
        sub = await app.store.upsert_subscription(
            SLACK, "C1", digest_time="07:00", timezone="UTC", topics=()
        )
        await scheduler.sync_subscriptions()
        assert scheduler.scheduled_digests()[sub.id].hour == 7
        await app.store.upsert_subscription(
            SLACK, "C1", digest_time="19:30", timezone="UTC", topics=()
        )
        await scheduler.sync_subscriptions()
        moved = scheduler.scheduled_digests()[sub.id]
        assert (moved.hour, moved.minute) == (19, 30)
        await scheduler.sync_subscriptions()  # unchanged: the job stays as it is
        assert scheduler.scheduled_digests()[sub.id] == moved
        assert await app.store.disable_subscription(SLACK, "C1")
        await scheduler.sync_subscriptions()
        assert scheduler.scheduled_digests() == {}
    finally:
        scheduler.shutdown()


async def test_servers_on_another_process_shards_are_neither_timed_nor_posted(app: App) -> None:
    """Discord spread by shard: only this process's servers' digests are timed, caught
    up, posted or resumed here."""
    mine, theirs = Scope("discord", "111"), Scope("discord", "222")
    publisher = RecordingPublisher(platform="discord", workspaces=frozenset({"111"}))
    for scope in (mine, theirs):
        await app.store.upsert_subscription(
            scope, "C1", digest_time="08:00", timezone="UTC", topics=()
        )
    now = datetime.now(UTC).replace(hour=8, minute=30)
    outbox = Outbox(app.store, clock=lambda: now)
    notice = Message(ThreadKind.ANSWER, "", (), (), notes=("hello",))
    await outbox.enqueue([outbox.delivery(publisher, "other", theirs, "C1", notice)])
    scheduler = _scheduler(app, now, publisher, platform="discord")
    await scheduler.start(catch_up=False)
    try:
        subs = {s.scope: s.id for s in await app.store.list_subscriptions()}
        assert list(scheduler.scheduled_digests()) == [subs[mine]]
        assert await scheduler.post_digest(subs[theirs]) == "no-adapter"
        assert [sub for sub, _ in await scheduler.catch_up()] == [subs[mine]]
        assert await outbox.resume({"discord": publisher}) == []
        assert [channel for channel, _ in publisher.posts] == ["C1"]  # mine, once
    finally:
        scheduler.shutdown()


async def test_a_failed_post_is_resumed_at_the_time_it_announced(app: App) -> None:
    """The outbox's announced retry becomes a resume job at that very time."""
    publisher = RecordingPublisher(platform="slack")
    scheduler = _scheduler(app, datetime.now(UTC), publisher)
    await scheduler.start(catch_up=False)
    try:
        retry_at = datetime.now(UTC) + timedelta(minutes=7)
        outbox = scheduler._outbox
        assert outbox.on_retry is not None
        outbox.on_retry(retry_at)
        runs = [
            job.next_run_time
            for job in scheduler._scheduler.get_jobs()
            if job.id.startswith(f"{OUTBOX_JOB}-at:")
        ]
        assert runs == [retry_at + RETRY_SLACK]
    finally:
        scheduler.shutdown()
