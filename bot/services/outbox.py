"""The outbox: everything the bot posts is stored first, then posted part by part.

A message is rendered into the platform's parts once and stored under a
delivery key with every part pending. Posting a part is recorded before the
send ("sending") and after it ("sent", with the platform's message id), so a
bot killed at any moment leaves a precise record of what is left. Unfinished
deliveries are resumed at start-up and periodically, from the first unsent part.

A part left "sending" may or may not have reached the platform. It is looked
up there (Slack: the part's metadata in the channel's history; Discord: the
channel's recent messages, and the message nonce, which Discord itself refuses
to post twice for a few minutes); not found, it is looked up again once the
send has had time to land (a request the platform received may still be
making the message when the bot dies), and sent again only if it is still not
found.

Whoever posts holds a lease on the delivery, so one worker posts it at a time; a
lease of a worker that died expires, and on an embedded database (one process) it
is freed at start-up. While a part is being sent the lease is renewed, so a slow
platform (a long Retry-After, a slow answer) cannot outlast it and let another
worker send the part too; a send whose lease cannot be renewed (the database is
away, another worker took it) is stopped before the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import Message, Scope, StoreUnavailable, ThreadKind
from bot.services.delivery import Delivery, OutboxPart, PostRefused, PostShows, SentPart
from bot.services.ports import OutboxStore, PartSender
from bot.services.retry import Backoff
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

# Renewed with every part and while one is sent; a worker silent for this long is gone.
LEASE = timedelta(seconds=60)
# While a part is sent, its lease is renewed every LEASE / RENEWALS_PER_LEASE; if it
# cannot be, the send is stopped LEASE / STOP_BEFORE_END_FRACTION before the lease ends.
RENEWALS_PER_LEASE = 4
STOP_BEFORE_END_FRACTION = 6
# After an error: the platform may be down for a while, or refuse for good (a channel
# removed); tried again less and less often until the delivery is too old to post.
RETRY = Backoff(first=30.0, cap=1800.0)
GIVE_UP_AFTER = timedelta(hours=24)
# A send cut off moments ago may still be under way at the platform (the request arrived,
# the message is not made yet): not finding it at once proves nothing, and sending again
# could post it twice. Not found, it is looked up again once this long has passed since
# the send began, and only then sent again.
IN_FLIGHT_SETTLES = timedelta(seconds=10)


@dataclass(frozen=True)
class Sent:
    """How posting a reply went (see `Outbox.post`), and the platform's reason if not."""

    status: str
    error: str | None = None


def worker_name() -> str:
    """This process, as the holder of leases: unique per run, so a restarted bot does not
    mistake its old leases for its own, and readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def sender_for(senders: Mapping[str, PartSender], scope: Scope) -> PartSender | None:
    """Who posts for `scope` in this process: none when its platform is not running here,
    or (Discord spread over processes) its server is another process's shard."""
    sender = senders.get(scope.platform)
    return sender if sender is not None and sender.serves(scope) else None


def late_key(key: str) -> str:
    return f"{key}:late"


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        *,
        owner: str | None = None,
        lease: timedelta = LEASE,
        give_up_after: timedelta = GIVE_UP_AFTER,
        settle: timedelta = IN_FLIGHT_SETTLES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.owner = owner or worker_name()
        self._lease = lease
        self._give_up_after = give_up_after
        self._settle = settle
        # Keys being posted by this process: the periodic resume and a digest job may
        # reach the same one at once, and the lease is this process's for both.
        self._posting: set[str] = set()
        self._clock = clock
        # Told when a failed post will be tried again, so that it is (see Scheduler).
        self.on_retry: Callable[[datetime], None] | None = None

    def delivery(
        self,
        sender: PartSender,
        key: str,
        scope: Scope,
        channel: str,
        message: Message,
        *,
        thread_key: str | None = None,
        due_at: datetime | None = None,
        late_after: datetime | None = None,
        replying_to: str | None = None,
    ) -> Delivery:
        """`message` rendered for `sender`'s platform, as a delivery to store."""
        parts = sender.render_parts(
            message, in_thread=thread_key is not None, replying_to=replying_to
        )
        shows = None
        if message.opens_thread:
            shows = PostShows(message.kind, message.article_ids, message.stories)
        elif message.stories:
            shows = PostShows(message.kind, (), message.stories)
        return Delivery(
            key=key,
            scope=scope,
            channel=channel,
            parts=tuple(OutboxPart(i, p) for i, p in enumerate(parts)),
            created_at=self._clock(),
            thread_key=thread_key,
            shows=shows,
            due_at=due_at,
            late_after=late_after,
        )

    async def enqueue(self, deliveries: Sequence[Delivery]) -> list[bool]:
        return await self._store.enqueue(deliveries)

    async def get(self, key: str) -> Delivery | None:
        return await self._store.get_delivery(key)

    async def post(self, key: str, sender: PartSender) -> str:
        """Post what is left of a delivery: "posted"; "pending" after an error (tried again
        later); "refused" (for good: see `PostRefused`); "busy" when another worker holds
        it; "abandoned"; "missing"."""
        if key in self._posting:
            return "busy"
        self._posting.add(key)
        try:
            return await self._post(key, sender)
        finally:
            self._posting.discard(key)

    async def _post(self, key: str, sender: PartSender) -> str:
        now = self._clock()
        delivery = await self._store.lease_delivery(
            key, self.owner, now=now, until=now + self._lease
        )
        if delivery is None:
            existing = await self._store.get_delivery(key)
            if existing is None:
                return "missing"
            return "busy" if existing.status == "pending" else existing.status
        finished = False
        try:
            result = await self._post_leased(delivery, sender)
            finished = True
            return result
        except PostRefused as exc:
            finished = True
            log.warning("delivery %s refused by the platform: %s", key, exc.reason)
            await self._store.abandon_delivery(key, self.owner, error=exc.reason)
            return "refused"
        except Exception as exc:
            finished = True
            attempts = delivery.attempts + 1
            retry_at = self._clock() + timedelta(seconds=RETRY.delay(attempts))
            if not await self._store.release_delivery(
                key, self.owner, retry_at=retry_at, error=f"{type(exc).__name__}: {exc}"
            ):
                log.warning("posting %s failed: %s; another worker holds it now", key, exc)
                return "busy"
            log.warning(
                "posting %s failed (attempt %d); trying again at %s: %s",
                key,
                attempts,
                retry_at.isoformat(timespec="seconds"),
                exc,
            )
            if self.on_retry is not None:
                self.on_retry(retry_at)
            return "pending"
        finally:
            if not finished:  # cancelled (shutting down): free it for the next start at once
                await asyncio.shield(self._store.release_delivery(key, self.owner))

    async def send(
        self,
        sender: PartSender,
        key: str,
        scope: Scope,
        channel: str,
        message: Message,
        *,
        thread_key: str | None = None,
        replying_to: str | None = None,
    ) -> Sent:
        """Store a reply (a brief, an answer) and post it now; a second call with the same
        key (the platform sent the event twice) posts nothing more."""
        delivery = self.delivery(
            sender, key, scope, channel, message, thread_key=thread_key, replying_to=replying_to
        )
        await self.enqueue([delivery])
        status = await self.post(key, sender)
        stored = await self.get(key)
        return Sent(status, stored.error if stored and status != "posted" else None)

    async def _post_leased(self, delivery: Delivery, sender: PartSender) -> str:
        key, now = delivery.key, self._clock()
        started = delivery.due_at or delivery.created_at
        if now - started > self._give_up_after:
            error = f"not posted within {self._give_up_after} of {started.isoformat()}"
            log.error("delivery %s abandoned: %s (%s)", key, error, delivery.error)
            await self._store.abandon_delivery(key, self.owner, error=error)
            return "abandoned"
        late = delivery.late_after is not None and now > delivery.late_after
        if late and not delivery.late_reported:
            await self._report_late(delivery, sender)
        for part in delivery.unsent:
            sent = await self._post_part(delivery, part, sender)
            if sent is None:
                log.warning("delivery %s: lease lost to another worker; it posts the rest", key)
                return "busy"
            parts = tuple(
                replace(p, state="sent", message_id=sent.message_id, thread_key=sent.thread_key)
                if p.index == part.index
                else p
                for p in delivery.parts
            )
            delivery = replace(delivery, parts=parts)
        log.info("delivery %s posted (%d parts)", key, len(delivery.parts))
        return "posted"

    async def _post_part(
        self, delivery: Delivery, part: OutboxPart, sender: PartSender
    ) -> SentPart | None:
        """One part on the platform, once: None if the lease was lost."""
        key = delivery.key
        sent = None
        if part.state == "sending":
            sent = await sender.find_part(delivery, part)
            if sent is None and await self._settled(key, part):
                sent = await sender.find_part(delivery, part)
            log.info(
                "delivery %s part %d: the send that was under way %s",
                key,
                part.index,
                "had reached the platform" if sent else "had not reached the platform; resent",
            )
        if sent is None:
            now = self._clock()
            if not await self._store.mark_part_sending(
                key, part.index, self.owner, at=now, lease_until=now + self._lease
            ):
                return None
            sent = await self._send_holding(delivery, part, sender)
            if sent is None:
                return None
        if not await self._store.mark_part_sent(
            key, part.index, self.owner, sent, at=self._clock()
        ):
            return None
        return sent

    async def _send_holding(
        self, delivery: Delivery, part: OutboxPart, sender: PartSender
    ) -> SentPart | None:
        """Send a part while renewing the lease (just extended by `mark_part_sending`);
        None, with the send stopped, when the lease could not be kept: the part stays
        "sending", for whoever holds the lease next to look up before sending it."""
        loop = asyncio.get_running_loop()
        lease = self._lease.total_seconds()
        held_until = loop.time() + lease
        send = asyncio.ensure_future(sender.send_part(delivery, part))
        try:
            while True:
                left = held_until - lease / STOP_BEFORE_END_FRACTION - loop.time()
                if left <= 0:
                    log.warning(
                        "delivery %s part %d: its lease could not be renewed; the send is "
                        "stopped before the lease ends, and the part is looked up before "
                        "it is sent again",
                        delivery.key,
                        part.index,
                    )
                    return None
                done, _ = await asyncio.wait({send}, timeout=min(lease / RENEWALS_PER_LEASE, left))
                if done:
                    return send.result()
                asked_at = loop.time()
                left = held_until - lease / STOP_BEFORE_END_FRACTION - asked_at
                renewed = await self._renew(delivery.key, within=max(left, 0.0))
                if renewed is False:
                    log.warning(
                        "delivery %s part %d: lease lost to another worker; the send is stopped",
                        delivery.key,
                        part.index,
                    )
                    return None
                if renewed:
                    held_until = asked_at + lease
        finally:
            if not send.done():
                send.cancel()
                await asyncio.gather(send, return_exceptions=True)

    async def _renew(self, key: str, *, within: float) -> bool | None:
        """Extend a delivery's lease while a part is sent: True; False if another worker
        holds it; None if the database did not answer within `within` seconds."""
        now = self._clock()
        try:
            return await asyncio.wait_for(
                self._store.renew_delivery(key, self.owner, until=now + self._lease), within
            )
        except (TimeoutError, StoreUnavailable) as exc:
            log.debug("delivery %s: renewing its lease failed: %r", key, exc)
            return None

    async def _settled(self, key: str, part: OutboxPart) -> bool:
        """Wait until a send begun moments ago has had time to land (see IN_FLIGHT_SETTLES);
        whether there was anything to wait for."""
        if part.sending_since is None:
            return False
        wait = (part.sending_since + self._settle - self._clock()).total_seconds()
        if wait > 0:
            log.info(
                "delivery %s part %d: waiting %.1f s for the send under way to land before "
                "looking for it",
                key,
                part.index,
                wait,
            )
            await asyncio.sleep(wait)
            return True
        return False

    async def _report_late(self, delivery: Delivery, sender: PartSender) -> None:
        """Tell the channel, once (its own delivery), that what follows comes late."""
        assert delivery.late_after is not None
        due = delivery.due_at or delivery.created_at
        begun = any(p.state == "sent" for p in delivery.parts)
        what = "The rest of this post" if begun else "This post"
        text = (
            f"{what}, due at {due:%H:%M} UTC on {due:%d %B}, comes late: "
            "the bot was interrupted while posting it."
        )
        log.warning("delivery %s is late (due %s): %s", delivery.key, due.isoformat(), text)
        notice = Message(ThreadKind.NOTICE, "Late post", (), (), notes=(text,))
        key = late_key(delivery.key)
        await self.enqueue(
            [
                self.delivery(
                    sender,
                    key,
                    delivery.scope,
                    delivery.channel,
                    notice,
                    thread_key=delivery.thread_key,
                )
            ]
        )
        if await self.post(key, sender) != "posted":
            raise RuntimeError("the late notice could not be posted")
        await self._store.mark_late_reported(delivery.key)

    async def resume(self, senders: Mapping[str, PartSender]) -> list[tuple[str, str]]:
        """Post every unfinished delivery whose time has come (start-up, then periodically)."""
        results = []
        for key in await self._store.due_deliveries(self._clock()):
            delivery = await self._store.get_delivery(key)
            if delivery is None:
                continue
            sender = sender_for(senders, delivery.scope)
            if sender is None:
                continue  # posted by another process, or when its platform runs
            log.info("resuming delivery %s from part %d", key, _first_unsent(delivery))
            results.append((key, await self.post(key, sender)))
        return results


def _first_unsent(delivery: Delivery) -> int:
    return next((p.index for p in delivery.unsent), len(delivery.parts))
