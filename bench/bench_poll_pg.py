"""Polling 10,000 loopback feeds with 1 and with 3 bot processes on one PostgreSQL: the
time until every feed has been fetched once, and how often each feed was fetched (the
issue's target: once, however many processes share the database).

For each N in --processes, on a fresh database of its own (tests/pg.py, dropped at the
end, also on failure or Ctrl-C): N real `python -m bot run` processes started at once,
configured as tests/test_multiprocess.py configures its three (tests/helpers.py
`bot_env`: NEWSBRIEF_DATABASE_URL, NEWSBRIEF_ALLOW_PRIVATE_URLS, NEWSBRIEF_POLL_MINUTES=1,
Slack in HTTP mode against the fake Slack API of tests/fakes/slack_api.py, no OpenAI
settings, so the offline summarizer). Every other setting is the bot's default
(ingest concurrency 16, per-host concurrency 4, CPU workers one per core beyond the
first, full-text fetching on, INFO logging), unless an option here says otherwise.

The feeds are the operator's defaults, NEWSBRIEF_FEEDS, as in the test; 10,000 URLs are
~330 KB, past Linux's 128 KB limit on one environment string, so they are written to a
`.env` in the processes' working directory (the settings read it; nothing is seeded by
hand). Each feed is an RSS of --items (5) full-text items from bench/scale_corpus.py's
synthetic news (150-300 words each, so no article page is fetched), with an ETag.

The feeds are served by one aiohttp server on 127.0.0.1 port 0 in a child process
forked first, so serving is neither the bot's work nor the bench's event loop's; it
records every GET per path with its CLOCK_MONOTONIC time (shared by all processes on
Linux). Measured per N, from the moment the processes are started:
- "every feed fetched once": the last feed's first fetch, on the server's clock;
- "fetching": from the first fetch to that (start-up excluded: imports, the schema
  check, syncing the 10,000 defaults);
- "store shows every feed polled": `feeds.last_success_at` set on every row (checked
  every 0.25 s);
- fetches per feed within one poll interval of that feed's first fetch (min / max over
  the feeds; must be 1), and all fetches of feed paths in the whole window, which runs
  until a poll interval has passed since the last feed's first fetch (so a second fetch
  within the interval of any feed would be seen).
Beside those, per N: what each process fetched and its start-up poll (from its log),
CPU of the bots and of their PostgreSQL backends, and, sampled every 0.25 s while the
feeds are fetched, the cross-process placing lock (held? how many wait?) and the
statements the backends are running. Then SIGTERM (SIGKILL after 30 s, also for the
process group: the bot's worker processes). A bot ignores SIGTERM until its start-up
poll ends, so a Ctrl-C during one waits up to those 30 s.

The naive baseline, in the same run (before the bot's): a plain loop in this process,
aiohttp GET of every feed URL with as many in flight as the bot's ingest concurrency,
`feedparser.parse`, no store. Ratio = newsbrief / naive (times: lower is better).
Prints figures, asserts nothing.

Run: .venv/bin/python bench/bench_poll_pg.py [--feeds 10000] [--processes 1,3]
Quick: .venv/bin/python bench/bench_poll_pg.py --feeds 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scale_corpus import Corpus, etag_for, feed_path, rss

from bot.config import Settings
from bot.store.base import PLACING_LOCK
from tests.fakes.slack_api import fake_slack
from tests.helpers import bot_env
from tests.pg import create_database, drop_database

PREFIX = "p"
FEED_HOURS = 36.0  # the items' publication times: the last day and a half
TERM_GRACE = 30.0  # seconds a bot process has to exit after SIGTERM
TICK = 0.25
FEED_LINE = re.compile(r"^(\S+ \S+) INFO bot\.services\.ingest: feed (\S+): \d+ entries", re.M)
INGESTED_LINE = re.compile(r"^(\S+ \S+) INFO bot\.app: ingested (\d+) feeds", re.M)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The lock every process takes to place a feed's new articles in stories and store them
# (bot/store/pg/articles.py `placing`): a bigint advisory key is (classid, objid) in pg_locks.
PLACING_SQL = (
    "SELECT count(*) FILTER (WHERE granted) AS held, count(*) FILTER (WHERE NOT granted) "
    "AS waiting FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid "
    "AND objid = $2::bigint::oid AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
# What the bots' backends are running, sampled while the feeds are fetched.
ACTIVE_SQL = (
    "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q FROM pg_stat_activity "
    "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
)
BACKENDS_SQL = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid()"
)


# --- the loopback feed server (a child process) ------------------------------------------


def serve_feeds(conn: Connection, feeds: int, items: int, seed: int = 99) -> None:
    """Child process: bind 127.0.0.1:0, render the feeds, send ("ready", port, bytes) and
    serve until terminated. Every GET of a feed path is recorded with its time;
    /_summary, /_hits and /_reset report and clear that."""
    from aiohttp import web

    async def main() -> None:
        hits: dict[str, list[float]] = {}
        state = {"other": 0, "first": None, "last_new": None}
        bodies: dict[str, bytes] = {}

        def reset() -> None:
            hits.clear()
            state.update(other=0, first=None, last_new=None)

        async def handle(request: web.Request) -> web.StreamResponse:
            path = request.path
            if path == "/_summary":
                return web.json_response(
                    {
                        "distinct": len(hits),
                        "total": sum(len(t) for t in hits.values()),
                        "first": state["first"],
                        "last_new": state["last_new"],
                        "other": state["other"],
                        "cpu": time.process_time(),
                    }
                )
            if path == "/_hits":
                return web.json_response({"hits": hits, "other": state["other"]})
            if path == "/_reset":
                reset()
                return web.json_response({})
            now = time.monotonic()
            body = bodies.get(path)
            if body is None:
                state["other"] += 1  # type: ignore[operator]
                return web.Response(status=404, text="not found")
            times = hits.get(path)
            if times is None:
                hits[path] = [now]
                state["last_new"] = now
                if state["first"] is None:
                    state["first"] = now
            else:
                times.append(now)
            etag = etag_for(path)
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"}
            )

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        corpus = Corpus()
        rng = random.Random(seed)
        now = datetime.now(UTC)
        for i in range(feeds):
            pieces = [corpus.piece(rng) for _ in range(items)]
            stamps = sorted(
                (now - timedelta(seconds=rng.random() * FEED_HOURS * 3600) for _ in pieces),
                reverse=True,
            )
            bodies[feed_path(PREFIX, i)] = rss(base, PREFIX, i, pieces, stamps)
        conn.send(("ready", port, sum(len(b) for b in bodies.values())))
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class FeedServer:
    def __init__(self, feeds: int, items: int) -> None:
        ctx = mp.get_context("fork")  # before this process has threads or an event loop
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve_feeds, args=(child, feeds, items), daemon=True)
        self.process.start()
        self.base = ""
        self.bytes = 0
        self.feeds = feeds

    def wait_ready(self) -> None:
        _, port, size = self._conn.recv()
        self.base, self.bytes = f"http://127.0.0.1:{port}", size

    def urls(self) -> list[str]:
        return [self.base + feed_path(PREFIX, i) for i in range(self.feeds)]

    async def get(self, session: aiohttp.ClientSession, what: str) -> dict[str, Any]:
        async with session.get(f"{self.base}/_{what}") as response:
            return dict(await response.json())

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # our own child, by its handle
        self.process.join(5)


# --- the naive baseline ----------------------------------------------------------------


@dataclass
class Naive:
    seconds: float
    entries: int
    failed: int


async def naive_poll(urls: list[str], concurrency: int) -> Naive:
    """GET every feed (`concurrency` in flight), feedparser.parse it; nothing stored."""
    semaphore = asyncio.Semaphore(concurrency)
    counts = Counter[str]()
    async with aiohttp.ClientSession() as session:

        async def one(url: str) -> None:
            async with semaphore:
                try:
                    async with session.get(url) as response:
                        if response.status != 200:
                            counts["failed"] += 1
                            return
                        body = await response.read()
                except aiohttp.ClientError:
                    counts["failed"] += 1
                    return
                counts["entries"] += len(feedparser.parse(body).entries)

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        seconds = time.perf_counter() - started
    return Naive(seconds, counts["entries"], counts["failed"])


# --- the bot's processes ---------------------------------------------------------------


@dataclass
class Run:
    processes: int
    first_fetch: float | None = None  # seconds from the start
    all_fetched: float | None = None
    store_done: float | None = None
    distinct: int = 0
    per_feed_min: int = 0
    per_feed_max: int = 0
    twice: list[tuple[str, float]] = field(default_factory=list)  # (path, seconds apart)
    window: float = 0.0
    total: int = 0
    other: int = 0
    articles: int = 0
    cpu: list[float] = field(default_factory=list)  # per process group, at all_fetched
    pg_cpu: float = 0.0  # the bots' PostgreSQL backends, at all_fetched
    placing: list[tuple[int, int]] = field(default_factory=list)  # (held, waiting) samples
    server_cpu: float = 0.0
    split: list[int] = field(default_factory=list)  # feeds fetched, per process (its log)
    spans: list[tuple[float, float, float]] = field(default_factory=list)  # first, last, done
    first_poll: list[str] = field(default_factory=list)  # feeds in each start-up poll
    active: Counter[str] = field(default_factory=Counter)  # backend statements sampled
    exits: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _stat(path: Path) -> list[str] | None:
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes in process group `pgid`."""
    total = 0
    for path in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(path)
        if fields is not None and int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def pids_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes (the PostgreSQL backends serving the bots)."""
    total = 0
    for pid in pids:
        fields = _stat(Path(f"/proc/{pid}/stat"))
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def write_env_file(folder: Path, urls: list[str]) -> None:
    (folder / ".env").write_text(f"NEWSBRIEF_FEEDS={','.join(urls)}\n")


def _clock(stamp: str) -> float:
    """A log line's asctime ("2025-01-01 12:00:00,123", local time) as time.time()."""
    whole, millis = stamp.split(",")
    return time.mktime(time.strptime(whole, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def read_logs(paths: list[Path], started_wall: float, run: Run) -> None:
    """Feeds each process fetched (its per-feed INFO lines), when, and what went wrong."""
    for n, path in enumerate(paths):
        text = path.read_text(errors="replace")
        fetched = FEED_LINE.findall(text)
        run.split.append(len(fetched))
        done = INGESTED_LINE.findall(text)
        run.first_poll.append(done[0][1] if done else "?")
        if fetched:
            run.spans.append(
                (
                    _clock(fetched[0][0]) - started_wall,
                    _clock(fetched[-1][0]) - started_wall,
                    _clock(done[0][0]) - started_wall if done else float("nan"),
                )
            )
        bad = [
            line
            for line in text.splitlines()
            if " WARNING " in line or " ERROR " in line or "Traceback" in line
        ]
        if bad:
            run.problems.append(f"process {n}: {len(bad)} warning/error lines, first: {bad[0]}")


async def start_bot(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:  # the child has its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # a group of its own: its worker processes go with it
        )


async def stop_bots(processes: list[asyncio.subprocess.Process], run: Run | None) -> None:
    """SIGTERM, SIGKILL after TERM_GRACE; then whatever is left of each process group."""
    started = time.monotonic()
    for process in processes:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), TERM_GRACE)
            how = f"exit {process.returncode} after {time.monotonic() - started:.1f} s"
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            how = f"SIGKILLed after {TERM_GRACE:.0f} s"
        with contextlib.suppress(ProcessLookupError):  # stray workers of this group
            os.killpg(process.pid, signal.SIGKILL)
        if run is not None:
            run.exits.append(how)


async def measure(
    n: int,
    url: str,
    server: FeedServer,
    folder: Path,
    *,
    poll_minutes: int,
    extra_env: dict[str, str],
    wait_at_most: float,
) -> Run:
    run = Run(n)
    interval = poll_minutes * 60.0
    feeds = server.feeds
    async with fake_slack() as slack, aiohttp.ClientSession() as session:
        await server.get(session, "reset")
        cpu_before = float((await server.get(session, "summary"))["cpu"])
        env = bot_env(
            NEWSBRIEF_DATABASE_URL=url,
            NEWSBRIEF_ALLOW_PRIVATE_URLS="true",
            NEWSBRIEF_POLL_MINUTES=str(poll_minutes),
            NEWSBRIEF_LOG_LEVEL="INFO",
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET="bench-secret",
            SLACK_API_URL=slack.base_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
            **extra_env,
        )
        logs = [folder / f"bot{n}-{i}.log" for i in range(n)]
        conn = await asyncpg.connect(url)
        processes: list[asyncio.subprocess.Process] = []
        try:
            started_wall = time.time()
            started = time.monotonic()
            for log in logs:
                processes.append(await start_bot(env, folder, log))
            deadline = started + wait_at_most
            while True:
                summary = await server.get(session, "summary")
                if run.first_fetch is None and summary["first"] is not None:
                    run.first_fetch = summary["first"] - started
                if run.all_fetched is None and summary["distinct"] >= feeds:
                    run.all_fetched = summary["last_new"] - started
                    run.cpu = [group_cpu(p.pid) for p in processes]
                    backends = [int(r["pid"]) for r in await conn.fetch(BACKENDS_SQL)]
                    run.pg_cpu = pids_cpu(backends)
                elif run.all_fetched is None and run.first_fetch is not None:
                    held, waiting = await conn.fetchrow(
                        PLACING_SQL, PLACING_LOCK >> 32, PLACING_LOCK & 0xFFFFFFFF
                    )
                    run.placing.append((int(held), int(waiting)))
                    run.active.update(r["q"] for r in await conn.fetch(ACTIVE_SQL))
                if run.store_done is None:
                    polled = await conn.fetchval(
                        "SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL"
                    )
                    if int(polled) >= feeds:
                        run.store_done = time.monotonic() - started
                now = time.monotonic()
                if (
                    run.all_fetched is not None
                    and run.store_done is not None
                    and now >= started + run.all_fetched + interval
                ):
                    break
                if any(p.returncode is not None for p in processes):
                    run.problems.append(
                        "a bot process exited early: "
                        + ", ".join(str(p.returncode) for p in processes)
                    )
                    break
                if now > deadline:
                    run.problems.append(f"stopped waiting after {wait_at_most:.0f} s")
                    break
                await asyncio.sleep(TICK)
            run.window = time.monotonic() - started
            hits = await server.get(session, "hits")
            run.server_cpu = float((await server.get(session, "summary"))["cpu"]) - cpu_before
            run.articles = int(await conn.fetchval("SELECT count(*) FROM articles"))
        finally:
            await conn.close()
            await stop_bots(processes, run)
    counted(run, hits, interval, feeds)
    read_logs(logs, started_wall, run)
    return run


def counted(run: Run, hits: dict[str, Any], interval: float, feeds: int) -> None:
    """Fetches per feed within one poll interval of its first fetch; all fetches."""
    per_feed = []
    for path, times in hits["hits"].items():
        times = sorted(times)
        within = [t for t in times if t < times[0] + interval]
        per_feed.append(len(within))
        if len(within) > 1:
            run.twice.append((path, within[1] - within[0]))
    run.distinct = len(per_feed)
    per_feed += [0] * (feeds - len(per_feed))  # never fetched
    run.per_feed_min, run.per_feed_max = min(per_feed), max(per_feed)
    run.total = sum(len(t) for t in hits["hits"].values())
    run.other = int(hits["other"])


# --- the table ---------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} s"


def ratio(ours: float | None, naive: float) -> str:
    return "-" if ours is None or naive <= 0 else f"{ours / naive:.2f}x"


def print_table(feeds: int, naive: Naive, runs: list[Run], poll_minutes: int) -> None:
    rows: list[tuple[str, str, str, str]] = []
    per_feed = f"{naive.entries // max(1, feeds - naive.failed)} items"
    for run in runs:
        who = f"{run.processes} process" + ("es" if run.processes > 1 else "")
        fetching = (
            None
            if run.all_fetched is None or run.first_fetch is None
            else run.all_fetched - run.first_fetch
        )
        rows += [
            (
                f"{who}: start -> every feed fetched once",
                seconds(run.all_fetched),
                seconds(naive.seconds),
                ratio(run.all_fetched, naive.seconds),
            ),
            (
                f"{who}: fetching, first fetch -> last feed's first",
                seconds(fetching),
                seconds(naive.seconds),
                ratio(fetching, naive.seconds),
            ),
            (
                f"{who}: start -> store shows every feed polled",
                seconds(run.store_done),
                seconds(naive.seconds),
                ratio(run.store_done, naive.seconds),
            ),
            (
                f"{who}: fetches per feed within {poll_minutes} min of its first (min/max)",
                f"{run.per_feed_min} / {run.per_feed_max}",
                "1 / 1",
                "-",
            ),
            (
                f"{who}: feed fetches in all, {run.window:.0f} s window",
                f"{run.total:,}",
                f"{feeds - naive.failed:,}",
                "-",
            ),
        ]
    header = ("figure", "newsbrief", "naive baseline", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print()
    print(
        f"{feeds:,} loopback feeds x {per_feed}, one PostgreSQL database per run; "
        "naive: aiohttp GET + feedparser, no store"
    )
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("| " + " | ".join(cells) + " |")
    print("\nratio = newsbrief / naive baseline (times: lower is better).")
    for run in runs:
        print(f"\n{run.processes} process(es):")
        print(
            f"  first fetch {seconds(run.first_fetch)} after start (start-up); "
            f"{run.distinct:,} of {feeds:,} feeds fetched; {run.articles:,} articles stored; "
            f"{run.other} non-feed requests"
        )
        for i, (count, span) in enumerate(zip(run.split, run.spans, strict=False)):
            print(
                f"  process {i}: {count:,} feeds fetched, from {span[0]:.1f} s to {span[1]:.1f} s, "
                f"start-up poll of {run.first_poll[i]} feeds done at {span[2]:.1f} s; "
                f"CPU {run.cpu[i] if run.cpu else 0:.1f} s (its group, at the last first fetch); "
                f"{run.exits[i] if run.exits else ''}"
            )
        print(
            f"  the bots' PostgreSQL backends: CPU {run.pg_cpu:.1f} s at the last first fetch; "
            f"feed server CPU: {run.server_cpu:.1f} s over the {run.window:.0f} s window"
        )
        if run.placing:
            held = sum(1 for h, _ in run.placing if h) / len(run.placing)
            waiting = sum(w for _, w in run.placing) / len(run.placing)
            print(
                f"  the placing lock (one batch of new articles at a time, all processes): "
                f"held in {held:.0%} of {len(run.placing)} samples while fetching, "
                f"{waiting:.2f} processes waiting for it on average"
            )
        if run.active:
            samples = len(run.placing)
            print(f"  statements the bots' backends were running, in {samples} samples:")
            for query, count in run.active.most_common(5):
                print(f"    {count / samples:5.0%}  {query}")
        if run.twice:
            worst = sorted(run.twice, key=lambda t: t[1])[:5]
            print(
                f"  FETCHED TWICE within the poll interval: {len(run.twice)} feeds, e.g. "
                + ", ".join(f"{p} ({d:.1f} s apart)" for p, d in worst)
            )
        for problem in run.problems:
            print(f"  {problem}")


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--processes", default="1,3", help="comma-separated process counts")
    parser.add_argument("--items", type=int, default=5, help="items per feed")
    parser.add_argument("--poll-minutes", type=int, default=1, help="NEWSBRIEF_POLL_MINUTES")
    defaults = Settings.model_fields
    parser.add_argument(
        "--ingest-concurrency",
        type=int,
        default=defaults["ingest_concurrency"].default,
        help="NEWSBRIEF_INGEST_CONCURRENCY, also the naive loop's (default: the bot's)",
    )
    parser.add_argument(
        "--cpu-workers",
        type=int,
        default=None,
        help="NEWSBRIEF_CPU_WORKERS (default: unset, the bot's own choice)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds to wait for a first poll"
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",") if n.strip()]
    extra_env = {"NEWSBRIEF_INGEST_CONCURRENCY": str(args.ingest_concurrency)}
    if args.cpu_workers is not None:
        extra_env["NEWSBRIEF_CPU_WORKERS"] = str(args.cpu_workers)
    print(
        f"options: feeds={args.feeds:,} processes={counts} items={args.items} "
        f"poll-minutes={args.poll_minutes} ingest-concurrency={args.ingest_concurrency} "
        f"cpu-workers={'default' if args.cpu_workers is None else args.cpu_workers} "
        f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})",
        flush=True,
    )
    server = FeedServer(args.feeds, args.items)
    runs: list[Run] = []
    try:
        started = time.perf_counter()
        server.wait_ready()
        print(
            f"feed server (child process {server.process.pid}) at {server.base}: "
            f"{server.bytes / 2**20:.1f} MB of feeds, rendered in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        urls = server.urls()
        naive = asyncio.run(naive_poll(urls, args.ingest_concurrency))
        print(
            f"naive: {len(urls):,} feeds in {naive.seconds:.1f} s, {naive.entries:,} entries, "
            f"{naive.failed} failed",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="bench_poll_pg_") as tmp:
            folder = Path(tmp)
            write_env_file(folder, urls)
            for n in counts:
                name, url = create_database()
                try:
                    print(f"{n} process(es) on database {name} ...", flush=True)
                    run = asyncio.run(
                        measure(
                            n,
                            url,
                            server,
                            folder,
                            poll_minutes=args.poll_minutes,
                            extra_env=extra_env,
                            wait_at_most=args.timeout,
                        )
                    )
                    runs.append(run)
                    print(
                        f"    every feed fetched once at {seconds(run.all_fetched)}, "
                        f"fetches per feed {run.per_feed_min}-{run.per_feed_max}",
                        flush=True,
                    )
                finally:
                    drop_database(name)
    finally:
        server.stop()
    print_table(args.feeds, naive, runs, args.poll_minutes)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: the bot processes were stopped and the database dropped")
        sys.exit(130)
