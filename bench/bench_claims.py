"""Cost of one claim check against its source, beside a naive word-overlap check.

    .venv/bin/python bench/bench_claims.py

The sources are the bundled sample articles; each claim is a sentence of its
article with a number changed (so every check runs to the end). Sources are
prepared once per text (cached), as in a digest where one article backs
several claims.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import SAMPLES_DIR
from bot.ingest.parse import parse_feed
from bot.services.claims import check_claim
from bot.text import split_sentences, words
from bot.timeutil import utcnow


def naive(claim: str, source: str) -> bool:
    """The baseline: share of the claim's words that appear in the source."""
    have = set(words(source))
    want = words(claim)
    return sum(w in have for w in want) >= 0.6 * len(want)


def main() -> None:
    pairs = []
    for path in sorted(SAMPLES_DIR.glob("*.xml")):
        feed = parse_feed(path.read_bytes(), content_type="application/rss+xml", now=utcnow())
        for entry in feed.entries:
            for sentence in split_sentences(entry.text)[:3]:
                pairs.append((re.sub(r"\d", "7", sentence), entry.text))
    for claim, source in pairs:  # warm: prepare each source once
        check_claim(claim, [source])
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for claim, source in pairs:
            check_claim(claim, [source])
        rounds.append((time.perf_counter() - started) / len(pairs))
    ours = statistics.median(rounds)
    base_rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for claim, source in pairs:
            naive(claim, source)
        base_rounds.append((time.perf_counter() - started) / len(pairs))
    base = statistics.median(base_rounds)
    print(f"claim checks: {len(pairs)} claim-source pairs from the bundled samples")
    print(f"  checker      median {ours * 1e6:8.1f} µs per pair (source prepared once)")
    print(f"  naive words  median {base * 1e6:8.1f} µs per pair")
    print(f"  ratio        {ours / base:.1f}x the naive overlap")


if __name__ == "__main__":
    main()
