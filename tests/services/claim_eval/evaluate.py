"""The claim checker scored on the labelled evaluation set (set_*.json beside this file).

Each file holds short articles written for this set, and claims about each one
labelled supported or not, with the kind of paraphrase or invention. Used by
tests/services/test_claims_eval.py (floors) and bench/bench_claims.py (figures).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.services.claims import check_claim
from bot.services.verify import source_text

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    article: str  # the article's id
    source: str
    claim: str
    supported: bool
    kind: str


@dataclass
class Score:
    """Unsupported claims are the positives: what the checker is there to catch."""

    caught: int = 0  # unsupported, found unsupported
    missed: int = 0  # unsupported, passed as supported
    dropped: int = 0  # supported, found unsupported
    kept: int = 0  # supported, passed
    misses: list[tuple[Case, str | None]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of unsupported claims caught."""
        return self.caught / max(1, self.caught + self.missed)

    @property
    def precision(self) -> float:
        """Share of claims found unsupported that were unsupported."""
        return self.caught / max(1, self.caught + self.dropped)

    @property
    def wrongly_dropped(self) -> float:
        """Share of supported claims found unsupported."""
        return self.dropped / max(1, self.dropped + self.kept)


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(HERE.glob("set_*.json")):
        for article in json.loads(path.read_text(encoding="utf-8")):
            source = source_text(article["title"], article["text"])
            for case in article["cases"]:
                cases.append(
                    Case(article["id"], source, case["claim"], case["supported"], case["kind"])
                )
    return cases


def evaluate(cases: list[Case]) -> tuple[Score, dict[str, Counter[bool]]]:
    """The overall score, and per kind how many verdicts were right (True) or wrong."""
    score = Score()
    by_kind: dict[str, Counter[bool]] = {}
    for case in cases:
        verdict = check_claim(case.claim, [case.source])
        right = verdict.supported == case.supported
        by_kind.setdefault(f"{'+' if case.supported else '-'} {case.kind}", Counter())[right] += 1
        if case.supported:
            if verdict.supported:
                score.kept += 1
            else:
                score.dropped += 1
                score.misses.append((case, verdict.reason))
        elif verdict.supported:
            score.missed += 1
            score.misses.append((case, None))
        else:
            score.caught += 1
    return score, by_kind
