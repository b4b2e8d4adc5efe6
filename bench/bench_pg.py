"""/brief on PostgreSQL beside SQLite, on the same stored articles.

Builds the scale bench's store (default 100,000 articles from 1,000 feeds) in SQLite,
copies every row into a fresh PostgreSQL database on the local server (COPY; the
`tsvector` column is computed as rows arrive), then times the same briefs (offline
summarizer) on both engines, alternating topic by topic, and prints p50 / p99 and the
ratio PostgreSQL / SQLite. The issue's target: PostgreSQL's p99 within 2x of SQLite's.
PostgreSQL is timed twice: as the bot runs on it (from the RUM index, where the server
has the extension) and on its GIN index alone (a server without it).

Run: .venv/bin/python bench/bench_pg.py [--articles 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_scale import build_store, match_count, p50, p99, settings_for, topics_for
from scale_corpus import Corpus, store_feed_url

from bot.app import bootstrap, no_chat
from bot.domain import CONSOLE_SCOPE
from bot.llm.extractive import ExtractiveSummarizer
from bot.store.pg import PostgresStore
from bot.timeutil import from_db
from tests.pg import create_database, drop_database

GIN = "PostgreSQL, GIN only"
# (table, columns, how each SQLite value becomes PostgreSQL's)
MOMENT, FLAG, KEEP = "moment", "flag", "keep"
TABLES: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (
    (
        "feeds",
        (
            ("id", KEEP),
            ("url", KEEP),
            ("title", KEEP),
            ("is_default", FLAG),
            ("created_at", MOMENT),
            ("last_success_at", MOMENT),
            ("next_poll_at", MOMENT),
        ),
    ),
    ("stories", (("id", KEEP), ("first_seen", MOMENT), ("last_seen", MOMENT), ("version", KEEP))),
    (
        "articles",
        (
            ("id", KEEP),
            ("guid", KEEP),
            ("url", KEEP),
            ("canonical_url", KEEP),
            ("title", KEEP),
            ("source", KEEP),
            ("published_at", MOMENT),
            ("fetched_at", MOMENT),
            ("text", KEEP),
            ("is_full_text", FLAG),
            ("content_hash", KEEP),
            ("story_id", KEEP),
        ),
    ),
    ("article_feeds", (("article_id", KEEP), ("feed_id", KEEP), ("guid", KEEP))),
)


def _converted(value: Any, how: str) -> Any:
    if value is None or how == KEEP:
        return value
    return from_db(value) if how == MOMENT else bool(value)


async def copy_to_postgres(db: Path, url: str) -> None:
    source = sqlite3.connect(str(db))
    conn = await asyncpg.connect(url)
    try:
        for table, columns in TABLES:
            names = [c for c, _ in columns]
            rows = source.execute(f"SELECT {', '.join(names)} FROM {table}")
            records = [
                tuple(_converted(v, how) for v, (_, how) in zip(row, columns, strict=True))
                for row in rows
            ]
            await conn.copy_records_to_table(table, records=records, columns=names)
            print(f"    {table}: {len(records):,} rows", flush=True)
        for table in ("feeds", "articles"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
        source.close()


async def timed_briefs(
    apps: dict[str, Any], topics: list[str], rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Seconds per brief, by engine and topic."""
    times: dict[str, dict[str, list[float]]] = {name: {t: [] for t in topics} for name in apps}
    for app in apps.values():  # warm both
        await app.chat.briefs.brief(CONSOLE_SCOPE, "ceasefire")
    for r in range(rounds):
        for topic in topics if r % 2 == 0 else topics[::-1]:
            for name, app in apps.items():
                started = time.perf_counter()
                await app.chat.briefs.brief(CONSOLE_SCOPE, topic)
                times[name][topic].append(time.perf_counter() - started)
    return times


async def run(db: Path, url: str, feeds: int, rounds: int) -> None:
    urls = [store_feed_url(i) for i in range(feeds)]
    sqlite_settings = settings_for(db, urls)
    pg_settings = sqlite_settings.model_copy(update={"database_url": _secret(url)})
    apps = {
        "SQLite": await bootstrap(sqlite_settings, summarizer=ExtractiveSummarizer(), chat=no_chat),
        "PostgreSQL": await bootstrap(pg_settings, summarizer=ExtractiveSummarizer(), chat=no_chat),
        GIN: await bootstrap(pg_settings, summarizer=ExtractiveSummarizer(), chat=no_chat),
    }
    ranked = apps["PostgreSQL"].store
    assert isinstance(ranked, PostgresStore)
    gin = apps[GIN].store
    assert isinstance(gin, PostgresStore)
    gin.ranked_index = False
    try:
        topics = topics_for(Corpus())
        times = await timed_briefs(apps, topics, rounds)
    finally:
        for app in apps.values():
            await app.close()
    print(f"RUM index on the server: {'yes' if ranked.ranked_index else 'no'}")
    print(
        f"    {'topic':<34} {'matches':>8} {'PostgreSQL p50':>15} {'GIN only p50':>13} "
        f"{'SQLite p50':>11}"
    )
    for topic in topics:
        print(
            f"    {topic[:34]:<34} {match_count(db, topic):>8,} "
            f"{p50(times['PostgreSQL'][topic]) * 1000:>13.1f}ms "
            f"{p50(times[GIN][topic]) * 1000:>11.1f}ms "
            f"{p50(times['SQLite'][topic]) * 1000:>9.1f}ms"
        )
    every = {name: [x for v in by_topic.values() for x in v] for name, by_topic in times.items()}
    print()
    print(f"/brief over {len(topics)} topics x {rounds} rounds (offline summarizer)")
    print("| figure | PostgreSQL | ratio | PostgreSQL, GIN only | ratio | SQLite |")
    print("|---|---|---|---|---|---|")
    for label, fn in (("p50", p50), ("p99", p99)):
        ours, gin_only, base = (fn(every[n]) * 1000 for n in ("PostgreSQL", GIN, "SQLite"))
        print(
            f"| /brief {label} | {ours:.1f} ms | {ours / base:.2f}x | {gin_only:.1f} ms | "
            f"{gin_only / base:.2f}x | {base:.1f} ms |"
        )


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name, url = create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="bench_pg_") as tmp:
            db = Path(tmp) / "store.db"
            started = time.perf_counter()
            build_store(db, args.articles, args.feeds)
            print(
                f"SQLite store of {args.articles:,} articles built in "
                f"{time.perf_counter() - started:.0f} s; copying to PostgreSQL",
                flush=True,
            )
            started = time.perf_counter()
            asyncio.run(copy_to_postgres(db, url))
            print(f"    copied in {time.perf_counter() - started:.0f} s", flush=True)
            asyncio.run(run(db, url, args.feeds, args.rounds))
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
