"""One reading of Retry-After and one backoff policy, for feeds, the model and platforms."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.retry import Backoff, retry_after, retry_after_seconds

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_retry_after_reads_milliseconds_seconds_and_dates() -> None:
    """`retry-after-ms` first, then seconds or an HTTP date; nonsense is no hint."""
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Mon, 30 Nov 2026 08:01:30 GMT"}, now=NOW) == 90.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None
    assert retry_after_seconds("Mon, 30 Nov 2026 07:00:00 GMT", now=NOW) == 0.0  # past: now


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    """Without jitter the waits are first, 2x, 4x… and never above the cap."""
    policy = Backoff(first=0.5, cap=8.0)
    middle = lambda: 0.5  # noqa: E731 - no jitter at the middle of the range
    assert [policy.delay(n, middle) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.delay(1, lambda: 0.0) == 0.375 and policy.delay(1, lambda: 1.0) == 0.625
