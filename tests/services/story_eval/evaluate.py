"""Story grouping and syndication scored on the labelled set (set_*.json beside this file).

Each file holds articles written for this set in one news domain, each labelled
with the event it reports; syndicated copies name the article whose wire text
they reprint. Same-topic distractors (two strikes on one day, two central banks
deciding on one day) are different events. Used by
tests/services/test_stories_eval.py (floors) and bench/bench_stories.py (figures).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations, count
from pathlib import Path

from bot.domain import Article
from bot.services.similarity import Vector, document_frequencies, dot, weighted
from bot.text import stem, terms

HERE = Path(__file__).parent
# Written apart, never used to tune anything: how the tuned grouping does on news it
# was not fitted to.
HOLDOUT = HERE / "holdout"


@dataclass(frozen=True)
class Labelled:
    article: Article
    key: str  # the set's own id, e.g. "war-001"
    event: str
    kind: str  # "report", "follow-up", "syndicated"
    copy_of: str | None


# Written for issue 26 by four writers who had not read the code (see its README): the
# tuning part, and the held-out part nothing may be fitted on.
UNSEEN = HERE / "unseen"
UNSEEN_TUNING = [UNSEEN / "unseen_world.json", UNSEEN / "unseen_business.json"]
UNSEEN_HELD_OUT = [UNSEEN / "unseen_disasters.json", UNSEEN / "unseen_sport_tech.json"]


def load_set(folder: Path = HERE) -> list[Labelled]:
    """Every labelled article of the set_*.json in `folder`, oldest first (the order
    ingest would meet them in)."""
    return load_files(sorted(folder.glob("set_*.json")))


def load_files(paths: Sequence[Path]) -> list[Labelled]:
    """Every labelled article of these files, oldest first."""
    found: list[Labelled] = []
    for path in paths:
        for row in json.loads(path.read_text(encoding="utf-8"))["articles"]:
            published = datetime.fromisoformat(row["published_at"])
            article = Article(
                id=len(found) + 1,
                url=row["url"],
                canonical_url=row["url"],
                title=row["title"],
                source=row["outlet"],
                published_at=published,
                fetched_at=published,
                text=row["text"],
                is_full_text=True,
                content_hash=row["id"],
                guid=row["id"],
            )
            found.append(Labelled(article, row["id"], row["event"], row["kind"], row["copy_of"]))
    return sorted(found, key=lambda item: item.article.published_at)


@dataclass(frozen=True)
class Grouping:
    """What a grouper made of the set: a story for every article, and which it folded
    into another as a syndicated copy (copy key -> original key)."""

    story_of: dict[str, int]
    folded: dict[str, str]


Grouper = Callable[[Sequence[Labelled]], Grouping]


@dataclass(frozen=True)
class Score:
    pair_precision: float  # of article pairs put in one story, the share that are one event
    pair_recall: float  # of article pairs that are one event, the share put in one story
    bcubed_precision: float
    bcubed_recall: float
    merged_events: list[tuple[str, ...]]  # stories holding more than one event
    split_events: list[str]  # events spread over more than one story
    stories: int
    events: int
    fold_precision: float  # of copies folded, the share that are labelled copies of it
    fold_recall: float  # of labelled copies, the share folded into their story's article
    wrong_folds: list[tuple[str, str]]

    @property
    def bcubed_f1(self) -> float:
        p, r = self.bcubed_precision, self.bcubed_recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(items: Sequence[Labelled], grouping: Grouping) -> Score:
    event_of = {item.key: item.event for item in items}
    story_of = grouping.story_of
    keys = [item.key for item in items]
    same_story = same_event = both = 0
    for a, b in combinations(keys, 2):
        s, e = story_of[a] == story_of[b], event_of[a] == event_of[b]
        same_story += s
        same_event += e
        both += s and e
    members: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        members[story_of[key]].append(key)
    by_event: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_event[event_of[key]].append(key)
    b_precision = b_recall = 0.0
    for key in keys:
        mine = members[story_of[key]]
        fellow = by_event[event_of[key]]
        overlap = sum(event_of[k] == event_of[key] for k in mine)
        b_precision += overlap / len(mine)
        b_recall += overlap / len(fellow)
    merged = sorted(
        tuple(sorted({event_of[k] for k in group}))
        for group in members.values()
        if len({event_of[k] for k in group}) > 1
    )
    split = sorted(e for e, group in by_event.items() if len({story_of[k] for k in group}) > 1)
    copies = {item.key: item.copy_of for item in items if item.copy_of}
    original_of = _originals(copies)
    right = [
        (copy, into)
        for copy, into in grouping.folded.items()
        if original_of.get(copy) is not None and original_of[copy] == original_of.get(into, into)
    ]
    wrong = sorted(set(grouping.folded.items()) - set(right))
    return Score(
        pair_precision=both / same_story if same_story else 1.0,
        pair_recall=both / same_event if same_event else 1.0,
        bcubed_precision=b_precision / len(keys),
        bcubed_recall=b_recall / len(keys),
        merged_events=merged,
        split_events=split,
        stories=len(members),
        events=len(by_event),
        fold_precision=len(right) / len(grouping.folded) if grouping.folded else 1.0,
        fold_recall=len(right) / len(copies) if copies else 1.0,
        wrong_folds=wrong,
    )


def _originals(copies: dict[str, str]) -> dict[str, str]:
    """Each copy's first original (a copy of a copy leads back to the wire text)."""
    found = {}
    for copy, original in copies.items():
        while original in copies:
            original = copies[original]
        found[copy] = original
    return found


def describe(items: Sequence[Labelled]) -> str:
    kinds = Counter(item.kind for item in items)
    events = len({item.event for item in items})
    return (
        f"{len(items)} articles, {events} events, {kinds['syndicated']} syndicated copies, "
        f"{kinds['follow-up']} follow-ups"
    )


def regrouped(items: Sequence[Labelled]) -> Grouping:
    """Before stories were stored: every request regrouped its articles from scratch
    (the grouping of bot/services/stories.py until then, kept here to compare with)."""
    articles = [item.article for item in items]
    key_of = {item.article.id: item.key for item in items}
    sims = _similarity_matrix(articles, articles)
    groups: list[list[int]] = []
    for i, article in enumerate(articles):
        for group in groups:
            lead = articles[group[0]]
            close_in_time = abs(article.published_at - lead.published_at) <= timedelta(hours=48)
            same_outlet = any(articles[j].source == article.source for j in group)
            if close_in_time and not same_outlet and sims[group[0]][i] >= 0.27:
                group.append(i)
                break
        else:
            groups.append([i])
    story_of = {key_of[articles[i].id]: n for n, group in enumerate(groups) for i in group}
    return Grouping(story_of, {})


_NAME = re.compile(r"(?<![.!?\"“]\s)(?<!^)\b[A-Z][\w'-]{2,}")


def _background_idf(background: Sequence[Sequence[str]]) -> tuple[dict[str, float], float]:
    df, n = document_frequencies(background)
    return {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}, math.log(n + 1)


def _normalised(vector: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
    return {t: w / norm for t, w in vector.items()}


def _similarity_matrix(
    articles: Sequence[Article], background: Sequence[Article]
) -> list[list[float]]:
    """The mean of word and name cosine, rarity counted over `background`."""

    def words_of(a: Article) -> list[str]:
        return terms(a.title) * 2 + terms(a.text)

    def names_of(a: Article) -> list[str]:
        return [stem(n.lower()) for n in _NAME.findall(f"{a.title}. {a.text}")]

    def vectors(profile: Callable[[Article], list[str]]) -> list[Vector]:
        idf, unseen = _background_idf([profile(a) for a in background])
        return [_normalised(weighted(profile(a), idf, unseen)) for a in articles]

    words, names = vectors(words_of), vectors(names_of)
    n = len(articles)
    return [
        [(dot(words[i], words[j]) + dot(names[i], names[j])) / 2 for j in range(n)]
        for i in range(n)
    ]


def indexed(
    items: Sequence[Labelled],
    *,
    primed: bool = True,
    order: Sequence[int] | None = None,
    embeddings: Mapping[str, Sequence[float]] | None = None,
) -> Grouping:
    """Each article assigned to a story once, as it arrives: oldest first, or in `order`
    (positions in `items`: the order feeds and their entries happened to arrive in).

    `primed`: word rarity counted over the whole set first, as a busy week's
    window would hold it; unprimed, the index starts empty (a bot's first hours).
    `embeddings`: what an embeddings model made of each article (by key), as ingest
    adds where one is configured.
    """
    from bot.services.story_index import StoryIndex, fingerprint, with_embedding

    index = StoryIndex()
    prints = {item.key: fingerprint(item.article.title, item.article.text) for item in items}
    if embeddings is not None:
        prints = {key: with_embedding(p, embeddings[key]) for key, p in prints.items()}
    if primed:
        for item in items:
            index.count(prints[item.key], at=item.article.published_at)
    key_of = {item.article.id: item.key for item in items}
    story_of, folded = {}, {}
    stories = count(1)  # the ids a store would give new stories
    for item in items if order is None else [items[i] for i in order]:
        a = item.article
        placed = index.place(prints[item.key], at=a.published_at)
        story = placed.story if placed.story is not None else next(stories)
        index.remember(
            story, a.id, prints[item.key], at=a.published_at, reprint=placed.copy_of is not None
        )
        story_of[item.key] = story
        for absorbed in placed.merges:
            index.merge(story, absorbed)
            story_of = {k: story if s == absorbed else s for k, s in story_of.items()}
        if placed.copy_of is not None:
            folded[item.key] = key_of[placed.copy_of]
    return Grouping(story_of, folded)


def pair_agreement(a: Grouping, b: Grouping) -> float:
    """The share of article pairs on which two groupings agree (together in both, or
    apart in both): the Rand index."""
    keys = sorted(a.story_of)
    agree = total = 0
    for x, y in combinations(keys, 2):
        agree += (a.story_of[x] == a.story_of[y]) == (b.story_of[x] == b.story_of[y])
        total += 1
    return agree / total if total else 1.0


def adjusted_rand(a: Grouping, b: Grouping) -> float:
    """Pair agreement corrected for chance (Hubert and Arabie): 1 for the same
    partition, about 0 for unrelated ones. Stricter than the Rand index, which pairs in
    different stories in both (most pairs) lift towards 1."""
    keys = sorted(a.story_of)
    table = Counter((a.story_of[k], b.story_of[k]) for k in keys)
    rows = Counter(a.story_of[k] for k in keys)
    cols = Counter(b.story_of[k] for k in keys)

    def pairs(n: int) -> float:
        return n * (n - 1) / 2

    index = sum(pairs(n) for n in table.values())
    row_pairs = sum(pairs(n) for n in rows.values())
    col_pairs = sum(pairs(n) for n in cols.values())
    expected = row_pairs * col_pairs / pairs(len(keys)) if len(keys) > 1 else 0.0
    top = (row_pairs + col_pairs) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


@dataclass(frozen=True)
class OrderAgreement:
    """How far the stories depend on arrival order: every pair of `orders` random
    arrival orders of one set compared."""

    orders: int
    mean_adjusted_rand: float
    min_adjusted_rand: float
    mean_pair_agreement: float
    min_pair_agreement: float


def order_agreement(
    items: Sequence[Labelled], grouper: Callable[[Sequence[int]], Grouping], orders: int = 20
) -> OrderAgreement:
    """`grouper` (given an arrival order) run on `orders` seeded random orders; each
    partition compared with every other."""
    groupings = []
    for seed in range(orders):
        order = list(range(len(items)))
        random.Random(seed).shuffle(order)
        groupings.append(grouper(order))
    aris = [adjusted_rand(a, b) for a, b in combinations(groupings, 2)]
    rands = [pair_agreement(a, b) for a, b in combinations(groupings, 2)]
    return OrderAgreement(
        orders, sum(aris) / len(aris), min(aris), sum(rands) / len(rands), min(rands)
    )
