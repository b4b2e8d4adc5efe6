"""What the ledgers record and report: model calls, claim checks, and the state of the
database, for `stats` and `health`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class LlmCall:
    kind: str
    model: str
    prompt_version: str
    # "ok", "error": a request and how it went; "invalid": output that failed validation;
    # "fallback": an item quoted the sources instead (error says why); "cache-hit", "budget"
    status: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    error: str | None = None


@dataclass(frozen=True)
class LlmStats:
    requests: int  # HTTP requests sent to the model server
    ok: int
    errors: int  # requests that failed (status, time-out, connection)
    invalid: int  # replies that failed validation (each one answered a request)
    fallbacks: int  # items that quoted the sources instead
    cache_hits: int
    tokens_in: int
    tokens_out: int
    fallback_reasons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ClaimTally:
    """What checking one model output against its sources did to its claims."""

    kind: str  # "digest_item", "brief_overview", "thread_answer"
    checked: int
    recited: int  # moved to another given source that supports them
    dropped: int  # not posted
    fallbacks: int = 0  # outputs left with no supported claim: quoted the sources instead


@dataclass(frozen=True)
class DayTokens:
    day: date  # UTC
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class DayClaims:
    day: date  # UTC
    checked: int
    recited: int
    dropped: int
    fallbacks: int


@dataclass(frozen=True)
class StoreHealth:
    """What `python -m bot health` reports of the database."""

    engine: str  # "sqlite" or "postgresql"
    schema_version: int
    feeds: int  # feeds someone reads
    feeds_overdue: int  # due before the moment asked about, and not polled since
    feeds_leased: int  # being polled now (a live lease)
    deliveries_pending: int  # unfinished posts
    deliveries_leased: int  # being posted now


@dataclass(frozen=True)
class StoreTotals:
    """Running totals of what the bot did, for /metrics: counted in the database, so every
    process sharing it reports the same figures, and a restart loses none."""

    feeds: int  # feeds someone reads
    feeds_failing: int  # whose last fetch failed
    articles: int  # stored (copies folded into another are not counted)
    stories: int
    digests_posted: int
    deliveries_posted: int  # digests, updates, briefs and answers
    deliveries_pending: int
    deliveries_late: int
    deliveries_abandoned: int
    parts_sent: int  # platform messages


@dataclass(frozen=True)
class RecentDelivery:
    """A post as the status page lists it: what, where, and how it went."""

    key: str
    platform: str
    channel: str
    status: str  # "pending", "posted", "abandoned"
    created_at: datetime
    updated_at: datetime
    attempts: int
    late: bool
    error: str | None
