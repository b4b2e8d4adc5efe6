"""When to try again: one reading of Retry-After and one backoff policy for every retry.

Feeds, the model server and the chat platforms all say "wait" the same ways
(`Retry-After` in seconds or as an HTTP date, OpenAI's `retry-after-ms`), and a
retry without a hint waits exponentially longer, capped, with jitter so that
many clients do not come back at the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from bot.timeutil import utcnow


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds, from either of its two forms (seconds, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or utcnow())).total_seconds())


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a response's headers: `retry-after-ms`, else `retry-after`."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"), now=now)


@dataclass(frozen=True)
class Backoff:
    """`first` after the first failure, doubling each time up to `cap`, +-`jitter`."""

    first: float  # seconds
    cap: float
    jitter: float = 0.25

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after `failures` failures in a row (1 or more)."""
        base = min(self.cap, self.first * float(2 ** min(max(failures - 1, 0), 32)))
        return base * (1 - self.jitter + 2 * self.jitter * rand())
