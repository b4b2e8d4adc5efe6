"""Weighted term vectors and their cosine: how alike two texts are, in one place.

The story index compares articles weighted by its own rarity counts; the
offline summarizer compares sentences of one story. Both weigh a term by how
often it appears (log-scaled) and how rare it is, and compare by cosine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Vector = dict[str, float]


def document_frequencies(documents: Iterable[Sequence[str]]) -> tuple[Counter[str], int]:
    """In how many documents each term appears, and how many documents there are."""
    df: Counter[str] = Counter()
    n = 0
    for doc in documents:
        df.update(set(doc))
        n += 1
    return df, n


def smooth_idf(documents: Sequence[Sequence[str]]) -> dict[str, float]:
    """BM25's rarity weight over a small set (the sentences of a story): never negative."""
    df, n = document_frequencies(documents)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


def weighted(doc: Sequence[str], idf: Mapping[str, float], unseen: float = 0.0) -> Vector:
    """Log-scaled term frequency times rarity."""
    return {t: (1 + math.log(c)) * idf.get(t, unseen) for t, c in Counter(doc).items()}


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    product = dot(a, b)
    if product == 0.0:
        return 0.0
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return product / norm if norm else 0.0
