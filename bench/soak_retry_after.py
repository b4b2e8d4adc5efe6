"""Soak: several real `python -m bot run` processes on one PostgreSQL database (a private
cluster), Slack answering the first post with 429 and a Retry-After longer than the
outbox's 60 s lease. Prints the parts Slack made, how many were duplicated or lost, and
each process's "lease lost" lines and tracebacks.

    .venv/bin/python bench/soak_retry_after.py --processes 2 3 --retry-after 75

About three minutes per count: the digests fall due at the next whole minute, the
Retry-After runs out, then one more lease and resume period is watched for a late copy.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain import Scope
from bot.store.pg import PostgresStore
from tests.fakes.slack_api import FakeSlack, fake_slack
from tests.helpers import bot_env, start_bot, until
from tests.pg_cluster import private_cluster

CHANNELS = 3


def _made(slack: FakeSlack) -> Counter[tuple[str, str, int]]:
    """(delivery, channel, part) of each message Slack made (a 429 makes none)."""
    made: Counter[tuple[str, str, int]] = Counter()
    for call in slack.posted():
        if call.response and call.response.get("ok"):
            payload = call.body["metadata"]["event_payload"]
            made[(payload["delivery"], call.body["channel"], payload["part"])] += 1
    return made


async def soak(processes: int, retry_after: int, out: Path) -> None:
    async with private_cluster() as cluster, fake_slack() as slack:
        store = await PostgresStore.open(cluster.url)
        soon = datetime.now(UTC) + timedelta(seconds=25)
        due = soon.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for n in range(CHANNELS):
            await store.upsert_subscription(
                Scope("slack", slack.team_id),
                f"C{n}",
                digest_time=f"{due:%H:%M}",
                timezone="UTC",
                topics=(),
            )
        await store.close()
        env = bot_env(
            NEWSBRIEF_DATABASE_URL=cluster.url,
            NEWSBRIEF_CPU_WORKERS="0",
            NEWSBRIEF_LOG_LEVEL="INFO",
            SLACK_BOT_TOKEN="xoxb-soak",
            SLACK_SIGNING_SECRET="soak",
            SLACK_API_URL=slack.base_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
        )
        slack.fail_next("chat.postMessage", retry_after=retry_after)
        logs = [out / f"p{processes}-bot{i}.log" for i in range(processes)]
        bots = [await start_bot(env, out, log=log) for log in logs]
        started = time.monotonic()
        try:
            await until(lambda: len(_made(slack)) >= CHANNELS, seconds=600, every=1)
            await asyncio.sleep(70)  # one more lease and resume period: a late copy shows
            made = _made(slack)
        finally:
            for bot in bots:
                bot.terminate()
            for bot in bots:
                await bot.wait()
    duplicated = sum(n - 1 for n in made.values())
    lost = CHANNELS - len({key[1] for key in made})
    print(
        f"processes={processes} retry-after={retry_after} s: parts made {sum(made.values())}, "
        f"distinct {len(made)}, duplicated {duplicated}, channels without their digest "
        f"{lost}, 429s {slack.count('chat.postMessage') - sum(made.values())}, "
        f"{time.monotonic() - started:.0f} s"
    )
    for log in logs:
        text = log.read_text()
        print(
            f"  {log.name}: 'lease lost' lines {text.count('lease lost')}, "
            f"tracebacks {text.count('Traceback')}, posts finished {text.count(' posted (')}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--retry-after", type=int, default=75)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.processes:
            asyncio.run(soak(count, args.retry_after, Path(tmp)))


if __name__ == "__main__":
    main()
