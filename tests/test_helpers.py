"""The tests' own helpers: `until`, the one way a test waits for something to happen."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import NeverHappened, until


async def test_until_returns_the_checks_first_truthy_value() -> None:
    """Plain and coroutine checks alike; the value found is handed back."""
    calls: list[int] = []

    async def third_time() -> list[int]:
        calls.append(1)
        return calls if len(calls) == 3 else []

    assert await until(third_time) == [1, 1, 1]
    assert await until(lambda: {"id": 7}) == {"id": 7}


async def test_until_says_what_never_happened() -> None:
    """The message names what was waited for: `what`, the check's name, or its source."""
    with pytest.raises(NeverHappened, match=r"0\.05 s for the digest posted \(.*gave 0\)"):
        await until(lambda: 0, "the digest posted", seconds=0.05)

    def every_feed_polled() -> bool:
        return False

    with pytest.raises(NeverHappened, match="for every feed polled"):
        await until(every_feed_polled, seconds=0.05)
    with pytest.raises(NeverHappened, match=r"lambda: \[\] == \[1\]"):
        await until(lambda: [] == [1], seconds=0.05)


async def test_a_timeout_inside_the_check_is_the_checks_own() -> None:
    """A check that times out itself is not reported as `until` running out of time."""

    async def hangs_briefly() -> bool:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
        return True

    with pytest.raises(TimeoutError):
        await until(hangs_briefly, seconds=5)
