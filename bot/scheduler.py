"""APScheduler jobs: poll feeds, post each subscription's daily digest on time.

A digest missed while the bot was down is posted when it comes back, within
the grace period, and never twice (deliveries are keyed per local day). One
that was being posted when the bot stopped is finished from the outbox, late
or not (a late one says so).

The scheduler only wakes work up; the database says what there is to do. Each
process reads the subscriptions again every minute, so a digest set, moved or
turned off through another process sharing the database is timed here too.

When the database goes away (a server restarting, a full disk), every job says so
once and is tried again; a digest that fell due meanwhile is posted when the
database is back, within the grace period, once (its delivery key is its day's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.domain import StoreUnavailable, Subscription
from bot.services.digest import DigestService
from bot.services.feed_alerts import FeedAlerts
from bot.services.ingest import IngestService
from bot.services.outbox import Outbox, sender_for
from bot.services.ports import PartSender, SubscriptionStore
from bot.services.render import plural
from bot.timeutil import parse_hhmm, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_JOB = "poll-feeds"
OUTBOX_JOB = "outbox"
SUBSCRIPTIONS_JOB = "subscriptions"
# How often the subscriptions are read again (another process may have changed them).
SUBSCRIPTIONS_EVERY = timedelta(minutes=1)
# How often unfinished deliveries (a platform that was down) are looked at again.
OUTBOX_EVERY = timedelta(seconds=30)
DIGEST_JOB = "digest:"  # + the subscription's id
RECOVERY_JOB = "store-recovery"
ALERTS_JOB = "feed-alerts"
# How often feeds are looked at for alerts: a day's threshold needs no finer grain.
ALERTS_EVERY = timedelta(minutes=5)
# A retry job wakes this long after the announced time, which is then surely past.
RETRY_SLACK = timedelta(milliseconds=50)
# How often a lost database is tried, to catch up on what fell due meanwhile.
RECOVERY_EVERY = timedelta(seconds=5)


class StoreWatch:
    """Whether the database is reachable, as the scheduled jobs found it: one line when it
    is lost, one when it is back, and nothing per failed attempt in between."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self.lost_since: datetime | None = None

    def lost(self, exc: StoreUnavailable, doing: str) -> None:
        if self.lost_since is not None:
            log.debug("%s: the database is still unavailable: %s", doing, exc)
            return
        self.lost_since = self._clock()
        log.error(
            "the database is unavailable (%s, while %s): scheduled work waits and is "
            "tried again every %d s; digests that fall due meanwhile are posted when it "
            "is back",
            exc,
            doing,
            RECOVERY_EVERY.total_seconds(),
        )

    def back(self) -> None:
        if self.lost_since is None:
            return
        away = (self._clock() - self.lost_since).total_seconds()
        self.lost_since = None
        log.warning("the database is back after %.0f s; catching up on what fell due", away)


def last_due(subscription: Subscription, now: datetime) -> datetime:
    """The most recent moment, at or before `now`, when this digest was due."""
    zone = ZoneInfo(subscription.timezone)
    local_now = now.astimezone(zone)
    at = parse_hhmm(subscription.digest_time)
    due = datetime.combine(local_now.date(), at, tzinfo=zone)
    if due > local_now:
        due = datetime.combine(local_now.date() - timedelta(days=1), at, tzinfo=zone)
    return due.astimezone(UTC)


class Scheduler:
    """Also the subscriptions' DigestSchedule: a changed time is re-timed at once.

    `publishers` is read when a digest falls due, so the composition root may
    fill it after building the chat adapters (which need the subscriptions,
    which need this scheduler).
    """

    def __init__(
        self,
        store: SubscriptionStore,
        ingest: IngestService,
        digests: DigestService,
        outbox: Outbox,
        publishers: Mapping[str, PartSender],
        *,
        poll_interval: timedelta,
        grace: timedelta,
        alerts: FeedAlerts | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._ingest = ingest
        self._digests = digests
        self._outbox = outbox
        self._publishers = publishers
        self._poll_interval = poll_interval
        self._grace = grace
        self._clock = clock
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        # Each scheduled digest's (time, time zone), to see what changed on a re-read.
        self._timing: dict[int, tuple[str, str]] = {}
        self.store_watch = StoreWatch(clock)
        outbox.on_retry = self.wake_outbox_at

    async def start(self, *, poll_now: bool = False, catch_up: bool = True) -> None:
        first_poll = self._clock() if poll_now else self._clock() + self._poll_interval
        self._scheduler.add_job(
            self.poll,
            IntervalTrigger(minutes=1, timezone=UTC),  # each feed keeps its own next-poll time
            id=POLL_JOB,
            next_run_time=first_poll,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=60,
        )
        for job, every, job_id in (
            (self.resume_outbox, OUTBOX_EVERY, OUTBOX_JOB),
            (self.sync_subscriptions, SUBSCRIPTIONS_EVERY, SUBSCRIPTIONS_JOB),
            (self.recover, RECOVERY_EVERY, RECOVERY_JOB),
            (self.check_feeds, ALERTS_EVERY, ALERTS_JOB),
        ):
            self._scheduler.add_job(
                job,
                IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
                id=job_id,
                max_instances=1,
                coalesce=True,
            )
        await self.sync_subscriptions()
        self._scheduler.start()
        count = len(self._timing)
        log.info("scheduler started: %s timed", plural(count, "daily digest", "daily digests"))
        await self.resume_outbox()
        if catch_up:
            await self.catch_up()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def schedule(self, subscription: Subscription) -> None:
        """Add or move a subscription's daily job (after `/digest` changes it); one this
        process does not post for (see `sender_for`) is not timed here."""
        if sender_for(self._publishers, subscription.scope) is None:
            log.debug(
                "digest %d (%s) is not posted by this process; not scheduled",
                subscription.id,
                subscription.scope.platform,
            )
            self.unschedule(subscription.id)
            return
        timing = (subscription.digest_time, subscription.timezone)
        if self._timing.get(subscription.id) == timing:
            return  # unchanged: re-adding would only move its next run
        self._timing[subscription.id] = timing
        at = parse_hhmm(subscription.digest_time)
        self._scheduler.add_job(
            self.post_digest,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(subscription.timezone)),
            args=[subscription.id],
            id=f"{DIGEST_JOB}{subscription.id}",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(self._grace.total_seconds()) or 1,
        )

    def unschedule(self, subscription_id: int) -> None:
        self._timing.pop(subscription_id, None)
        job = self._scheduler.get_job(f"{DIGEST_JOB}{subscription_id}")
        if job is not None:
            job.remove()

    async def sync_subscriptions(self) -> None:
        """Time every subscription as the database has it now: new ones added, changed
        ones moved, removed ones dropped (whichever process changed them)."""
        try:
            subscriptions = await self._store.list_subscriptions()
        except StoreUnavailable as exc:
            self.store_watch.lost(exc, "reading the subscriptions")
            return
        except Exception:
            log.exception("reading the subscriptions failed; digests keep their last timing")
            return
        for subscription in subscriptions:
            self.schedule(subscription)
        current = {s.id for s in subscriptions}
        for gone in [i for i in self._timing if i not in current]:
            self.unschedule(gone)

    def scheduled_digests(self) -> dict[int, datetime]:
        """Each scheduled subscription's next digest time (once started)."""
        return {
            int(job.id.removeprefix(DIGEST_JOB)): job.next_run_time
            for job in self._scheduler.get_jobs()
            if job.id.startswith(DIGEST_JOB)
        }

    async def poll(self) -> None:
        reports = await self._guarded("polling feeds", self._ingest.poll_due)
        if reports:
            new = sum(r.new_articles for r in reports)
            log.info("polled %d feeds, %d new articles", len(reports), new)

    async def check_feeds(self) -> None:
        """Pause feeds that failed too long; tell their channels what changed."""
        if self._alerts is not None:
            told = await self._guarded("checking feeds for alerts", self._alerts.check)
            if told:
                log.info("feed alerts posted: %s", told)

    async def _guarded(self, doing: str, work: Callable[[], Awaitable[T]]) -> T | None:
        """A periodic job's work, None when it could not be done: stopped by a shutdown
        (what it held ends on its own), the database away (said once, tried again), or
        a bug (logged with its traceback; the next round tries again)."""
        try:
            return await work()
        except asyncio.CancelledError:
            log.info("%s stopped: shutting down", doing)
        except StoreUnavailable as exc:
            self.store_watch.lost(exc, doing)
        except Exception:
            log.exception("%s failed", doing)
        return None

    def wake_outbox_at(self, when: datetime) -> None:
        """Resume the outbox at `when`, the time a failed post was announced to be tried
        again, rather than at the next periodic round (up to OUTBOX_EVERY later)."""
        if not self._scheduler.running:
            return  # not started (a one-shot command): the next start resumes it
        self._scheduler.add_job(
            self.resume_outbox,
            DateTrigger(run_date=when + RETRY_SLACK, timezone=UTC),
            id=f"{OUTBOX_JOB}-at:{when.isoformat()}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def resume_outbox(self) -> None:
        """Finish what an earlier run or a failing platform left unposted."""
        results = await self._guarded(
            "resuming deliveries", lambda: self._outbox.resume(self._publishers)
        )
        if results:
            log.info("resumed deliveries: %s", dict(results))

    async def post_digest(self, subscription_id: int) -> str:
        """The daily job: "posted", "pending", "empty", "already-posted"; "waiting" when
        the database is away (posted once it is back, see `recover`); "failed"."""
        try:
            return await self._post_digest(subscription_id)
        except asyncio.CancelledError:  # shutting down: the outbox resumes it at the next start
            log.info("daily digest for subscription %d stopped: shutting down", subscription_id)
            return "stopped"
        except StoreUnavailable as exc:
            self.store_watch.lost(exc, f"posting the digest of subscription {subscription_id}")
            return "waiting"
        except Exception:
            log.exception("daily digest for subscription %d failed", subscription_id)
            return "failed"

    async def _post_digest(self, subscription_id: int) -> str:
        subscription = next(
            (s for s in await self._store.list_subscriptions() if s.id == subscription_id), None
        )
        if subscription is None:
            self.unschedule(subscription_id)
            return "gone"
        publisher = sender_for(self._publishers, subscription.scope)
        if publisher is None:
            return "no-adapter"
        due = last_due(subscription, self._clock())
        return await self._digests.deliver(
            subscription, publisher, due=due, late_after=due + self._grace
        )

    async def recover(self) -> None:
        """While the database is away: try it; once back, post the digests that fell due
        meanwhile (within grace; each once) and resume the outbox."""
        if self.store_watch.lost_since is None:
            return
        try:
            await self._store.list_subscriptions()
        except StoreUnavailable as exc:
            self.store_watch.lost(exc, "waiting for the database")
            return
        self.store_watch.back()
        await self.sync_subscriptions()
        try:
            caught_up = await self.catch_up()
        except StoreUnavailable as exc:
            self.store_watch.lost(exc, "catching up")
            return
        if any(result not in ("already-posted", "empty") for _, result in caught_up):
            log.info("digests posted after the database came back: %s", dict(caught_up))
        await self.resume_outbox()

    async def catch_up(self) -> list[tuple[int, str]]:
        """Post digests that fell due while the bot was down, if still within grace."""
        now = self._clock()
        results = []
        for subscription in await self._store.list_subscriptions():
            if sender_for(self._publishers, subscription.scope) is None:
                continue
            due = last_due(subscription, now)
            if now - due <= self._grace:
                results.append((subscription.id, await self.post_digest(subscription.id)))
        return results
