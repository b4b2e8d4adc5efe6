"""Figures for the offline pipeline: ingest time, brief/ask latency, summary quality.

Run with `make bench`. Prints figures; asserts nothing (timings on a shared
machine are for reading, not for failing a build).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import bootstrap
from bot.config import SAMPLES_DIR, Settings
from bot.domain import CONSOLE_SCOPE, Article
from bot.llm.extractive import _sentences, key_sentences
from bot.text import html_to_text, terms

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_1b20056e22ebe01d.txt"
TOPICS = ["ukraine", "interest rates", "moon lander", "measles", "battery", "chess"]
QUESTIONS = [
    "what happens next?",
    "How many North Korean soldiers are serving with Russian forces?",
    "What is the recipe for banana bread?",
]


def _ms(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples) * 1000:.1f} ms, "
        f"min {min(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms (n={len(samples)})"
    )


async def bench_pipeline(runs: int = 5) -> None:
    ingest_times: list[float] = []
    brief_times: list[float] = []
    ask_times: list[float] = []
    digest_times: list[float] = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            app = await bootstrap(Settings(NEWSBRIEF_DB=Path(tmp) / f"bench{run}.db"))
            try:
                started = time.perf_counter()
                reports = await app.ingest.poll_all()
                ingest_times.append(time.perf_counter() - started)
                articles = sum(r.new_articles for r in reports)
                started = time.perf_counter()
                await app.chat.digests.digest(CONSOLE_SCOPE)
                digest_times.append(time.perf_counter() - started)
                for topic in TOPICS:
                    started = time.perf_counter()
                    await app.chat.briefs.brief(CONSOLE_SCOPE, topic)
                    brief_times.append(time.perf_counter() - started)
                for question in QUESTIONS:
                    started = time.perf_counter()
                    await app.chat.asks.ask(CONSOLE_SCOPE, question)
                    ask_times.append(time.perf_counter() - started)
            finally:
                await app.close()
    corpus = f"{len(reports)} feeds, {articles} articles, fresh DB"
    print(f"ingest of the sample corpus ({corpus}): {_ms(ingest_times)}")
    print(f"digest (last 24 h):      {_ms(digest_times)}")
    print(f"brief latency ({len(TOPICS)} topics): {_ms(brief_times)}")
    print(f"ask latency (whole corpus): {_ms(ask_times)}")


def _rouge(reference: str, candidate: str, n: int) -> float:
    """ROUGE-n F1 on stemmed content words."""

    def grams(text: str) -> Counter[tuple[str, ...]]:
        ts = terms(text)
        return Counter(tuple(ts[i : i + n]) for i in range(len(ts) - n + 1))

    ref, cand = grams(reference), grams(candidate)
    overlap = sum((ref & cand).values())
    if not overlap:
        return 0.0
    recall, precision = overlap / sum(ref.values()), overlap / sum(cand.values())
    return 2 * recall * precision / (recall + precision)


def _article(title: str, text: str) -> Article:
    now = datetime.now(UTC)
    return Article(
        id=0,
        url="u",
        canonical_url="u",
        title=title,
        source="s",
        published_at=now,
        fetched_at=now,
        text=text,
        is_full_text=True,
        content_hash="h",
    )


def bench_quality() -> None:
    """Our key sentences vs the first sentences (lead-k), against human summaries."""
    pairs: list[tuple[str, Article]] = []
    if SEED.exists():
        lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
        lines = [line for line in lines if line]
        body = "\n\n".join(line for line in lines[2:] if len(line.split()) > 8)
        pairs.append((lines[0], _article(lines[1], body)))
        seed_pairs = 1
    else:
        seed_pairs = 0
    for path in sorted(SAMPLES_DIR.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            content = entry.get("content")
            if not content:
                continue
            text = html_to_text(content[0]["value"])
            pairs.append((html_to_text(entry.get("summary", "")), _article(entry.title, text)))
    subsets = [
        ("seed article vs its human digest", pairs[:seed_pairs]),
        ("sample articles vs their standfirsts", pairs[seed_pairs:]),
    ]
    for label, subset in subsets:
        if not subset:
            print(f"{label}: skipped (not present)")
            continue
        for k in (2, 3):
            ours = [_rouge(ref, " ".join(key_sentences(a, k)), 1) for ref, a in subset]
            lead = [
                _rouge(ref, " ".join(s.text for s in _sentences(a)[:k]), 1) for ref, a in subset
            ]
            ours2 = [_rouge(ref, " ".join(key_sentences(a, k)), 2) for ref, a in subset]
            lead2 = [
                _rouge(ref, " ".join(s.text for s in _sentences(a)[:k]), 2) for ref, a in subset
            ]
            print(
                f"{label} (n={len(subset)}, k={k}): ROUGE-1 F1 ours {statistics.mean(ours):.3f} "
                f"vs lead-{k} {statistics.mean(lead):.3f}; ROUGE-2 F1 ours "
                f"{statistics.mean(ours2):.3f} vs lead-{k} {statistics.mean(lead2):.3f}"
            )


if __name__ == "__main__":
    asyncio.run(bench_pipeline())
    bench_quality()
