"""Figures for the Discord adapter over loopback (discord.py's real client, fake Discord).

- deferral time: from INTERACTION_CREATE leaving the fake gateway until the deferral
  callback reaches the fake REST API;
- time to post: from the same moment until the brief's follow-up arrives, with the
  offline summarizer.

Run with `make bench`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chat.discord_rig import discord_rig
from tests.helpers import until

TOPICS = ["ukraine", "interest rates", "moon lander", "measles", "battery"]


def _ms(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples) * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms (n={len(samples)})"
    )


async def main(rounds: int = 4) -> None:
    defers: list[float] = []
    posts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with discord_rig(Path(tmp)) as rig:
            for _ in range(rounds):
                for topic in TOPICS:
                    callbacks, follow_ups = len(rig.callbacks()), len(rig.posts("/webhooks/"))
                    sent = time.monotonic()
                    await rig.fake.interaction("brief", [{"name": "topic", "value": topic}])
                    await until(lambda c=callbacks: len(rig.callbacks()) > c)
                    defers.append(rig.callbacks()[-1].at - sent)
                    await until(lambda f=follow_ups: len(rig.posts("/webhooks/")) > f)
                    posts.append(rig.posts("/webhooks/")[-1].at - sent)
                    await asyncio.sleep(0.05)  # let the thread open before the next brief
    print(f"Discord /brief deferral time (loopback gateway + REST): {_ms(defers)}")
    print(f"Discord /brief time to follow-up (offline summarizer): {_ms(posts)}")


if __name__ == "__main__":
    asyncio.run(main())
