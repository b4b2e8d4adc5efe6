"""Reaching a platform at start-up: a network that is not up yet is tried again with
backoff, each attempt logged, then given up in one line naming the setting; a refusal
(a wrong token) is not tried again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.domain import StartupError
from bot.services.retry import Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")

# About half a minute in all: long enough for a network or a container to come up.
TRIES = 6
BACKOFF = Backoff(first=1.0, cap=10.0, jitter=0.1)


async def reach(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    unreachable: tuple[type[BaseException], ...],
    advice: str,
    tries: int = TRIES,
    backoff: Backoff = BACKOFF,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`attempt()`'s result, trying again while it raises one of `unreachable`; after
    `tries`, StartupError "cannot reach `what`: <error>. `advice`"."""
    for failures in range(1, tries + 1):
        try:
            return await attempt()
        except unreachable as exc:
            reason = _reason(exc)
            if failures == tries:
                raise StartupError(
                    f"cannot reach {what} after {tries} tries ({reason}). {advice}"
                ) from None
            delay = backoff.delay(failures)
            log.warning(
                "cannot reach %s (%s); try %d of %d in %.0f s",
                what,
                reason,
                failures + 1,
                tries,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
