"""The storage ports on SQLite (sqlite/, the embedded default) and PostgreSQL (pg/,
several processes): each role written once here, on the query layer in sql.py; each
engine adds only what it does its own way (see its package)."""

from __future__ import annotations

from bot.store.feeds import FeedRecords
from bot.store.ledgers import ClaimRecords, HealthRecords, LlmRecords
from bot.store.outbox import OutboxRecords
from bot.store.records import SubscriptionRecords, ThreadRecords
from bot.store.trace import TraceRecords


class SharedRecords(
    FeedRecords,
    SubscriptionRecords,
    OutboxRecords,
    ThreadRecords,
    LlmRecords,
    ClaimRecords,
    HealthRecords,
    TraceRecords,
):
    """Every role as both engines run it; an engine adds articles and stories with its
    own search, and what else it does its own way."""
