"""The claim checker: its cost per claim-source pair and its precision and recall,
each beside a naive word-overlap check measured in the same run.

    .venv/bin/python bench/bench_claims.py

Cost: the sources are the bundled sample articles; each claim is a sentence of
its article (supported, so every check runs to the end). A source is
prepared once per text (cached), as in a digest where one article backs several
claims; the first check against a new text pays for preparing it, shown apart.

Quality: the labelled set in tests/services/claim_eval/ (articles written for
it, claims labelled supported or not). Unsupported claims are the positives.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import SAMPLES_DIR
from bot.ingest.parse import parse_feed
from bot.services.claims import _prepare, check_claim
from bot.text import split_sentences, words
from bot.timeutil import utcnow
from tests.services.claim_eval.evaluate import evaluate, load_cases


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
                pairs.append((sentence, entry.text))
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
    sources = list(dict.fromkeys(source for _, source in pairs))
    _prepare.cache_clear()
    started = time.perf_counter()
    for source in sources:
        _prepare(source)
    prepare = (time.perf_counter() - started) / len(sources)
    size = statistics.mean(len(s.split()) for s in sources)
    print(f"  preparing a new source: {prepare * 1e3:.2f} ms ({size:.0f} words on average)")
    quality()


def quality() -> None:
    cases = load_cases()
    score, by_kind = evaluate(cases)
    caught = missed = dropped = kept = 0
    for case in cases:
        passed = naive(case.claim, case.source)
        if case.supported:
            kept += passed
            dropped += not passed
        else:
            missed += passed
            caught += not passed
    articles = len({c.article for c in cases})
    print(f"claim check quality: {len(cases)} labelled cases from {articles} articles")
    print(
        f"  checker      unsupported caught (recall) {score.recall:6.1%}, "
        f"precision {score.precision:6.1%}, supported wrongly dropped {score.wrongly_dropped:6.1%}"
    )
    print(
        f"  naive words  unsupported caught (recall) {caught / max(1, caught + missed):6.1%}, "
        f"precision {caught / max(1, caught + dropped):6.1%}, "
        f"supported wrongly dropped {dropped / max(1, dropped + kept):6.1%}"
    )
    for kind, counts in sorted(by_kind.items()):
        print(f"    {kind:<20} {counts[True]:>3} of {counts[True] + counts[False]:>3} right")


if __name__ == "__main__":
    main()
