"""The outbox (the OutboxStore port) and claimed event keys (DeliveryStore), on either
engine: deliveries, their parts, and leases that processes contend for.

A lease is taken with one conditional UPDATE, so two workers waking at once cannot
both hold it, and every change to a part re-checks the lease in the same transaction
(on PostgreSQL the row then stays locked to its end, so the lease cannot pass
meanwhile)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import Scope
from bot.services.delivery import Delivery, OutboxCounts, OutboxPart, SentPart
from bot.store.base import StoreBase
from bot.store.codec import shows_from_json, shows_to_json
from bot.store.records import save_thread
from bot.store.sql import Queries, maybe_moment, moment
from bot.store.stories import record_posted
from bot.timeutil import utcnow


class OutboxRecords(StoreBase):
    async def claim_delivery(self, key: str, scope: Scope, channel: str) -> bool:
        """Claim an event's key for good; False if it was claimed (or posted) before."""
        now = utcnow()
        claimed = await self.db.execute(
            "INSERT INTO deliveries (key, platform, workspace, channel, status, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, 'claimed', $5, $5) ON CONFLICT (key) DO NOTHING",
            key,
            scope.platform,
            scope.workspace,
            channel,
            now,
        )
        return claimed > 0

    async def enqueue(self, deliveries: Sequence[Delivery]) -> list[bool]:
        stored: list[bool] = []
        async with self.db.transaction() as tx:
            for d in deliveries:
                new = await tx.execute(
                    "INSERT INTO deliveries (key, platform, workspace, channel, status, "
                    "created_at, updated_at, thread_key, shows, due_at, late_after) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10) "
                    "ON CONFLICT (key) DO NOTHING",
                    d.key,
                    d.scope.platform,
                    d.scope.workspace,
                    d.channel,
                    "pending" if d.parts else "posted",
                    d.created_at,
                    d.thread_key,
                    shows_to_json(d.shows),
                    d.due_at,
                    d.late_after,
                )
                stored.append(new > 0)
                if new and d.parts:
                    await tx.executemany(
                        "INSERT INTO delivery_parts (delivery_key, idx, payload, state) "
                        "VALUES ($1, $2, $3, 'pending')",
                        [(d.key, p.index, p.payload) for p in d.parts],
                    )
        return stored

    async def get_delivery(self, key: str) -> Delivery | None:
        return await _delivery(self.db, key)

    async def lease_delivery(
        self, key: str, owner: str, *, now: datetime, until: datetime
    ) -> Delivery | None:
        async with self.db.transaction() as tx:
            taken = await tx.execute(
                "UPDATE deliveries SET lease_owner = $2, lease_until = $3, updated_at = $4 "
                "WHERE key = $1 AND status = 'pending' AND (lease_owner IS NULL "
                "OR lease_owner = $2 OR lease_until < $4)",
                key,
                owner,
                until,
                now,
            )
            return await _delivery(tx, key) if taken else None

    async def due_deliveries(self, now: datetime) -> list[str]:
        rows = await self.db.fetch(
            "SELECT key FROM deliveries WHERE status = 'pending' "
            "AND (retry_at IS NULL OR retry_at <= $1) "
            "AND (lease_owner IS NULL OR lease_until < $1) ORDER BY created_at",
            now,
        )
        return [str(r["key"]) for r in rows]

    async def mark_part_sending(
        self, key: str, index: int, owner: str, *, at: datetime, lease_until: datetime
    ) -> bool:
        async with self.db.transaction() as tx:
            if not await _holds(tx, key, owner, lease_until=lease_until):
                return False
            await tx.execute(
                "UPDATE delivery_parts SET state = 'sending', "
                "sending_since = coalesce(sending_since, $3) WHERE delivery_key = $1 AND idx = $2",
                key,
                index,
                at,
            )
        return True

    async def mark_part_sent(
        self, key: str, index: int, owner: str, sent: SentPart, *, at: datetime
    ) -> bool:
        async with self.db.transaction() as tx:
            if not await _holds(tx, key, owner):
                return False
            delivery = await _delivery(tx, key)
            assert delivery is not None
            await tx.execute(
                "UPDATE delivery_parts SET state = 'sent', message_id = $3, thread_key = $4, "
                "sent_at = $5 WHERE delivery_key = $1 AND idx = $2",
                key,
                index,
                sent.message_id,
                sent.thread_key,
                at,
            )
            thread = delivery.thread_opened(index, sent)
            if thread is not None and delivery.shows is not None:
                shows = delivery.shows
                await save_thread(
                    tx,
                    delivery.scope,
                    delivery.channel,
                    thread,
                    shows.kind,
                    shows.article_ids,
                    at=at,
                )
            posted = delivery.stories_posted(index, sent)
            if posted:
                await record_posted(tx, delivery.scope, delivery.channel, posted, at=at)
            if all(p.state == "sent" or p.index == index for p in delivery.parts):
                first = next((p.message_id for p in delivery.parts if p.index == 0), None)
                await tx.execute(
                    "UPDATE deliveries SET status = 'posted', message_ref = $2, "
                    "lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE key = $1",
                    key,
                    first or sent.message_id,
                    at,
                )
        return True

    async def renew_delivery(self, key: str, owner: str, *, until: datetime) -> bool:
        return await _holds(self.db, key, owner, lease_until=until)

    async def release_delivery(
        self, key: str, owner: str, *, retry_at: datetime | None = None, error: str | None = None
    ) -> bool:
        released = await self.db.execute(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL, retry_at = $3, "
            "attempts = attempts + $4, error = coalesce($5, error), updated_at = $6 "
            "WHERE key = $1 AND lease_owner = $2",
            key,
            owner,
            retry_at,
            1 if error else 0,
            error,
            utcnow(),
        )
        return released > 0

    async def mark_late_reported(self, key: str) -> None:
        await self.db.execute("UPDATE deliveries SET late_reported = TRUE WHERE key = $1", key)

    async def abandon_delivery(self, key: str, owner: str, *, error: str) -> None:
        await self.db.execute(
            "UPDATE deliveries SET status = 'abandoned', error = $3, lease_owner = NULL, "
            "lease_until = NULL, updated_at = $4 WHERE key = $1 AND status = 'pending' "
            "AND (lease_owner IS NULL OR lease_owner = $2)",
            key,
            owner,
            error,
            utcnow(),
        )

    async def release_all_leases(self) -> int:
        async with self.db.transaction() as tx:
            deliveries = await tx.execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL "
                "WHERE status = 'pending' AND lease_owner IS NOT NULL"
            )
            feeds = await tx.execute(
                "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
                "WHERE lease_owner IS NOT NULL"
            )
        return deliveries + feeds

    async def outbox_counts(self, now: datetime) -> OutboxCounts:
        row = await self.db.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, "
            "count(*) FILTER (WHERE late_reported OR (status = 'pending' AND late_after < $1)) "
            "AS late, count(*) FILTER (WHERE status = 'abandoned') AS abandoned "
            "FROM deliveries WHERE status IN ('pending', 'posted', 'abandoned')",
            now,
        )
        assert row is not None
        return OutboxCounts(int(row["pending"]), int(row["late"]), int(row["abandoned"]))


async def _holds(tx: Queries, key: str, owner: str, *, lease_until: datetime | None = None) -> bool:
    """Whether `owner` still holds the delivery's lease (extending it to `lease_until`)."""
    held = await tx.execute(
        "UPDATE deliveries SET lease_until = coalesce($3, lease_until) "
        "WHERE key = $1 AND lease_owner = $2 AND status = 'pending'",
        key,
        owner,
        lease_until,
    )
    return held > 0


async def _delivery(on: Queries, key: str) -> Delivery | None:
    row = await on.fetchrow("SELECT * FROM deliveries WHERE key = $1", key)
    if row is None:
        return None
    parts = await on.fetch(
        "SELECT idx, payload, state, sending_since, message_id, thread_key "
        "FROM delivery_parts WHERE delivery_key = $1 ORDER BY idx",
        key,
    )
    return Delivery(
        key=str(row["key"]),
        scope=Scope(str(row["platform"]), str(row["workspace"])),
        channel=str(row["channel"]),
        parts=tuple(
            OutboxPart(
                index=int(p["idx"]),
                payload=str(p["payload"]),
                state=p["state"],
                sending_since=maybe_moment(p["sending_since"]),
                message_id=p["message_id"],
                thread_key=p["thread_key"],
            )
            for p in parts
        ),
        created_at=moment(row["created_at"]),
        thread_key=row["thread_key"],
        shows=shows_from_json(row["shows"]),
        due_at=maybe_moment(row["due_at"]),
        late_after=maybe_moment(row["late_after"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        late_reported=bool(row["late_reported"]),
        error=row["error"],
    )
