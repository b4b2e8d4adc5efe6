"""Figures for the Slack adapter over loopback (fake Web API, Bolt in HTTP mode).

- ack time: from sending a signed `/brief` until Slack would get its HTTP 200;
- time to post: from sending it until `chat.postMessage` reaches the Web API,
  with the offline summarizer.

Run with `make bench`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import bootstrap
from bot.chat.slack import SlackAdapter
from bot.config import Settings
from tests.fakes.slack_api import fake_slack, sign, slash_command_body

SECRET = "bench-secret"
TOPICS = ["ukraine", "interest rates", "moon lander", "measles", "battery"]


def _ms(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples) * 1000:.1f} ms, "
        f"max {max(samples) * 1000:.1f} ms (n={len(samples)})"
    )


async def main(rounds: int = 4) -> None:
    acks: list[float] = []
    posts: list[float] = []
    async with fake_slack() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                NEWSBRIEF_DB=Path(tmp) / "bench.db",
                SLACK_BOT_TOKEN="xoxb-bench",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=fake.base_url,
                SLACK_HOST="127.0.0.1",
                SLACK_PORT=0,
            )
            app = await bootstrap(settings)
            await app.ingest.poll_all()
            (adapter,) = app.adapters
            assert isinstance(adapter, SlackAdapter)
            await adapter.start()
            url = f"http://127.0.0.1:{adapter.bound_port}/slack/events"
            try:
                async with aiohttp.ClientSession() as http:
                    for _ in range(rounds):
                        for topic in TOPICS:
                            body = slash_command_body(
                                "/brief", topic, response_url=fake.response_url
                            )
                            before = fake.count("chat.postMessage")
                            started = time.perf_counter()
                            async with http.post(url, data=body, headers=sign(SECRET, body)) as r:
                                await r.read()
                            acks.append(time.perf_counter() - started)
                            while fake.count("chat.postMessage") == before:  # noqa: ASYNC110
                                await asyncio.sleep(0.001)
                            posts.append(time.perf_counter() - started)
                            await adapter.drain()
            finally:
                await adapter.stop()
                await app.close()
    print(f"Slack /brief ack time (HTTP mode, loopback): {_ms(acks)}")
    print(f"Slack /brief time to chat.postMessage (offline summarizer): {_ms(posts)}")


if __name__ == "__main__":
    asyncio.run(main())
