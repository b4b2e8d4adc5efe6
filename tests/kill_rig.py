"""Kill the real bot mid-digest and check the platform's record: the outbox's proof.

One trial: a channel subscribed to a digest that fell due a minute ago; the
bot (`python -m bot run`, its own process, as an operator starts it) posts it
on start-up to a loopback Slack or Discord made slow (every message takes
0.3 s, half of it after the platform has stored the message, so a kill there
leaves a message posted whose id the bot never heard). Once the first part's
request reaches the platform, the bot is killed with SIGKILL at a random
moment within the time the whole digest takes, then started again; the trial
ends when the store says the digest is posted. The platform's record then
tells how many parts were posted twice and how many never.

Used by `tests/test_outbox_kill.py` (a few trials) and `bench/soak_kill.py`
(20 per platform).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from bot.domain import Scope
from bot.store.sqlite import SqliteStore
from tests.fakes.discord_api import FakeDiscord, fake_discord
from tests.fakes.slack_api import FakeSlack, fake_slack
from tests.helpers import NeverHappened, bot_env, until

SLACK_CHANNEL = "C1"
# Each message: this long before the platform stores it, and as long again before it answers.
HALF_A_POST = 0.15
# Slack fits 40 one-block stories in one message: these stories' long sentences take two
# blocks each, so the digest is two messages or more. On Discord each story is its own
# message, and the thread is opened on the first one.
STORIES = {"slack": 40, "discord": 8}
DEADLINE = 90.0  # seconds for any one wait: a hang fails the trial, it does not stall


@dataclass(frozen=True)
class Trial:
    platform: str
    parts: int  # platform messages (and steps) the digest is made of
    kill_after: float  # seconds after the first part's request reached the platform
    on_platform_at_kill: int  # parts on the platform when the bot was killed
    duplicated: int  # parts posted more than once (extra copies)
    lost: int  # parts never posted
    complete_after_restart: float  # seconds from the restart to the digest posted
    late_notices: int  # "comes late" notices (none expected: all within the grace period)


def kill_feed(stories: int, seed: int = 7) -> str:
    """An RSS feed of `stories` unrelated events (made-up words), each of long sentences."""
    rng = random.Random(seed)
    syllables = "ka lo mi nu re sa to vi xe zu ba de fo gi hu".split()

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))

    def sentence() -> str:
        listed = ", ".join(f"{word()} {word()} and {word()}" for _ in range(40))
        return f"The {word()} {word()} {listed} was {word()} by {word()}."

    now = datetime.now(UTC)
    items = []
    for i in range(stories):
        title = f"{word().capitalize()} council in {word().capitalize()} approves {word()} plan"
        body = "".join(f"<p>{' '.join(sentence() for _ in range(3))}</p>" for _ in range(3))
        items.append(
            f"<item><title>{title}</title><link>https://kill.example/{i}</link>"
            f"<guid>kill-{i}</guid><pubDate>{format_datetime(now - timedelta(minutes=10 + i))}"
            f"</pubDate><description><![CDATA[{body}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Kill Wire</title><link>https://kill.example/</link><description>x</description>"
        f"{''.join(items)}</channel></rss>"
    )


async def _subscribe(db: Path, scope: Scope, channel: str) -> None:
    """A daily digest that fell due two minutes ago: the bot posts it when it starts."""
    due = datetime.now(UTC) - timedelta(minutes=2)
    store = await SqliteStore.open(db)
    try:
        await store.upsert_subscription(
            scope, channel, digest_time=f"{due:%H:%M}", timezone="UTC", topics=()
        )
    finally:
        await store.close()


def _digest(db: Path) -> tuple[str, str, list[str]] | None:
    """The digest's key, status and part payloads, as the store has them."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            row = conn.execute(
                "SELECT key, status FROM deliveries WHERE key LIKE 'digest:%' "
                "AND key NOT LIKE '%:late' AND key NOT LIKE '%:update:%'"
            ).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return None
        if row is None:
            return None
        parts = conn.execute(
            "SELECT payload FROM delivery_parts WHERE delivery_key = ? ORDER BY idx", (row[0],)
        ).fetchall()
    return str(row[0]), str(row[1]), [str(p[0]) for p in parts]


def _late_notices(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return int(
            conn.execute("SELECT count(*) FROM deliveries WHERE key LIKE '%:late'").fetchone()[0]
        )


async def _start(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=env, stdout=out, stderr=out
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()


class _Slack:
    platform = "slack"

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        fake.slow("chat.postMessage", before=HALF_A_POST, after=HALF_A_POST)

    def env(self) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": "xoxb-kill",
            "SLACK_SIGNING_SECRET": "kill-secret",
            "SLACK_API_URL": self.fake.base_url,
            "SLACK_HOST": "127.0.0.1",
            "SLACK_PORT": "0",  # not called: HTTP mode on any free port
        }

    def where(self) -> tuple[Scope, str]:
        return Scope("slack", self.fake.team_id), SLACK_CHANNEL

    def requested(self) -> int:
        return len(self.fake.posted())

    def copies(self, key: str, payloads: list[str]) -> list[int]:
        """How many times each part is on the channel, by the metadata the bot put on it."""
        found: Counter[int] = Counter()
        for message in self.fake.channel_messages(SLACK_CHANNEL):
            tag = (message.get("metadata") or {}).get("event_payload") or {}
            if tag.get("delivery") == key:
                found[int(tag["part"])] += 1
        return [found[i] for i in range(len(payloads))]


class _Discord:
    platform = "discord"

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        fake.wait_timeout = DEADLINE
        fake.slow("create_message", before=HALF_A_POST, after=HALF_A_POST)
        fake.slow("start_thread_from_message", before=HALF_A_POST, after=HALF_A_POST)

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_TOKEN": self.fake.token,
            "DISCORD_API_URL": self.fake.api_base,
            "DISCORD_GUILD_ID": str(self.fake.guild_id),
        }

    def where(self) -> tuple[Scope, str]:
        return Scope("discord", str(self.fake.guild_id)), str(self.fake.channel_id)

    def requested(self) -> int:
        return len(self.fake.rest("POST", f"/channels/{self.fake.channel_id}/messages"))

    def copies(self, key: str, payloads: list[str]) -> list[int]:
        """How many times each part is in the channel: messages by their text and embeds,
        the thread step by the threads opened on the digest's first message."""
        messages = self.fake.channel_messages(self.fake.channel_id)
        counts = []
        for payload in payloads:
            part = json.loads(payload)
            if "open_thread" in part:
                first = [m for m in messages if _same(m, json.loads(payloads[0]))]
                opened = [t for t in self.fake.threads if first and t == int(first[0]["id"])]
                counts.append(len(opened))
                continue
            counts.append(sum(1 for m in messages if _same(m, part)))
        return counts


def _same(message: dict[str, Any], part: dict[str, Any]) -> bool:
    if (message.get("content") or "") != (part.get("content") or ""):
        return False
    theirs = [(e.get("title"), e.get("description")) for e in message.get("embeds") or []]
    return theirs == [(e.get("title"), e.get("description")) for e in part["embeds"]]


class TrialFailed(AssertionError):
    """A trial that did not finish: what it waited for, and the end of the bot's log."""


async def trial(platform: str, tmp: Path, rng: random.Random) -> Trial:
    """One kill and restart on `platform` ("slack" or "discord")."""
    opener: Callable[[], Any] = fake_slack if platform == "slack" else fake_discord
    async with opener() as fake:
        rig = _Slack(fake) if platform == "slack" else _Discord(fake)
        try:
            return await _trial(rig, tmp, rng)
        except NeverHappened as exc:
            log = tmp / "bot.log"
            tail = log.read_text()[-4000:] if log.exists() else "(no log)"
            raise TrialFailed(f"{platform} trial in {tmp} timed out: {exc}\n{tail}") from exc


async def _trial(rig: _Slack | _Discord, tmp: Path, rng: random.Random) -> Trial:
    db, log, feed = tmp / "kill.db", tmp / "bot.log", tmp / "kill.xml"
    feed.write_text(kill_feed(STORIES[rig.platform]))
    scope, channel = rig.where()
    await _subscribe(db, scope, channel)
    env = bot_env(
        NEWSBRIEF_DB=str(db),
        NEWSBRIEF_FEEDS=str(feed),
        NEWSBRIEF_DIGEST_MAX_STORIES=str(STORIES[rig.platform]),
        NEWSBRIEF_LOG_LEVEL="INFO",
        **rig.env(),
    )
    first = await _start(env, tmp, log)
    try:
        await until(rig.requested, "the first part's request", seconds=DEADLINE)
        stored = await until(lambda: _digest(db), "the digest in the outbox", seconds=DEADLINE)
        parts = len(stored[2])
        kill_after = rng.uniform(0, parts * 2 * HALF_A_POST)
        await asyncio.sleep(kill_after)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    key, _, payloads = stored
    at_kill = sum(1 for n in rig.copies(key, payloads) if n)
    restarted = time.perf_counter()
    second = await _start(env, tmp, log)
    try:
        await until(
            lambda: (d := _digest(db)) is not None and d[1] == "posted", "posted", seconds=DEADLINE
        )
        complete = time.perf_counter() - restarted
    finally:
        await _stop(second)
    copies = rig.copies(key, payloads)
    return Trial(
        platform=rig.platform,
        parts=parts,
        kill_after=kill_after,
        on_platform_at_kill=at_kill,
        duplicated=sum(max(0, n - 1) for n in copies),
        lost=sum(1 for n in copies if n == 0),
        complete_after_restart=complete,
        late_notices=_late_notices(db),
    )
