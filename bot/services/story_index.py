"""Stories assigned once, as each article arrives: the recent stories, indexed.

An arriving article is compared with the recent stories that share its rarer
words or names (an inverted index, so the cost does not grow with the store),
and joins the one it resembles most if that is close enough; else it starts a
story of its own. A reprint of another outlet's wire text (most of its word
sequences the same) is folded into that article as another source, not kept
as a second article. Rarity is counted over the articles the index has seen
in its window, so it follows what the news is about this week.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.text import stem, terms, words

SHINGLE_WORDS = 5
# A reprint keeps most of the wire text; outlets cut a sentence or a paragraph, so the
# shorter text's share of shingles found in the longer one is what is measured.
SYNDICATED_CONTAINMENT = 0.7
# Calibrated on tests/services/story_eval (see bench/bench_stories.py): the middle of the
# range that merges no two events there.
SAME_STORY_SIMILARITY = 0.24
# Names and figures tell events apart that words do not (two semi-finals, two pledges by one
# minister): leads whose figures all differ, and bodies that share few, weigh less.
LEAD_FIGURES_DIFFER = 0.7
# Titles that name two or more people or places each, sharing at most one, are most
# often two events (the two semi-finals of one tournament).
TITLE_NAMES_DIFFER = 0.7
FIGURES_WEIGHT = 0.5
STORY_WINDOW = timedelta(hours=48)
# Rarity needs a background: until the window holds more than a few dozen articles, a
# word found in two of them should still count as rare. Counted as if this many more
# articles had been seen, none with the word.
RARITY_PRIOR = 50
# An article's most telling terms look up its candidate stories.
LOOKUP_TERMS = 20
# At most this many candidate stories are compared: those sharing most telling words.
CANDIDATES = 50

_NAME = re.compile(r"(?<![.!?\"“]\s)(?<!^)\b[A-Z][\w'-]{2,}")
# "4,200", "3.75", "6-4" and "2026" are one figure each.
_FIGURE = re.compile(r"\d+(?:[-–:.,/]\d+)*")


@dataclass(frozen=True)
class Fingerprint:
    """What story assignment needs of an article, computed once when it is stored."""

    words: Mapping[str, int]  # stemmed terms with counts, the title's counted twice
    names: Mapping[str, int]  # capitalised words not opening a sentence: names, roughly
    shingles: frozenset[int]  # hashes of the body's 5-word sequences
    title_names: frozenset[str]  # the names in the title: who or where the event is
    lead_figures: frozenset[str]  # figures in the title and first paragraph
    figures: frozenset[str]  # every figure in the article


def fingerprint(title: str, text: str) -> Fingerprint:
    body = words(text)
    shingles = frozenset(
        zlib.crc32(" ".join(body[i : i + SHINGLE_WORDS]).encode())
        for i in range(max(1, len(body) - SHINGLE_WORDS + 1))
    )
    names = Counter(stem(n.lower()) for n in _NAME.findall(f"{title}. {text}"))
    lead = f"{title} {text.split(chr(10) * 2, 1)[0]}"
    return Fingerprint(
        words=Counter(terms(title) * 2 + terms(text)),
        names=names,
        shingles=shingles,
        title_names=frozenset(stem(n.lower()) for n in _NAME.findall(f". {title}")),
        lead_figures=frozenset(_FIGURE.findall(lead)),
        figures=frozenset(_FIGURE.findall(f"{title} {text}")),
    )


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """The share of the shorter text's word sequences found in the other."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


@dataclass(frozen=True)
class Assignment:
    story: int  # the story the article belongs to (a new one's id when it started one)
    new_story: bool
    copy_of: int | None  # the article it reprints, if it is a syndicated copy


@dataclass
class _Member:
    article: int
    print_: Fingerprint
    source: str
    at: datetime


@dataclass
class _Story:
    id: int
    members: list[_Member] = field(default_factory=list)
    last_seen: datetime | None = None


class StoryIndex:
    """The stories of the last `window`, for assigning articles as they arrive."""

    def __init__(self, *, window: timedelta = STORY_WINDOW) -> None:
        self._window = window
        self._stories: dict[int, _Story] = {}
        self._story_of: dict[int, int] = {}
        self._postings: dict[str, set[int]] = defaultdict(set)  # term -> story ids
        self._df: Counter[str] = Counter()
        self._documents = 0
        self._next_story = 1

    def __len__(self) -> int:
        return len(self._stories)

    def assign(self, article: int, print_: Fingerprint, *, source: str, at: datetime) -> Assignment:
        """Find the article's story (or start one) and remember it there."""
        self.count(print_)
        best, best_similarity, copy_of = None, 0.0, None
        for story in self._candidates(print_, at):
            for member in story.members:
                if containment(print_.shingles, member.print_.shingles) >= SYNDICATED_CONTAINMENT:
                    return self._join(story, article, print_, source, at, copy_of=member.article)
            similarity = sum(self.similarity(print_, m.print_) for m in story.members) / len(
                story.members
            )
            if similarity > best_similarity:
                best, best_similarity = story, similarity
        if best is not None and best_similarity >= SAME_STORY_SIMILARITY:
            return self._join(best, article, print_, source, at, copy_of=copy_of)
        story = _Story(self._next_story)
        self._next_story += 1
        self._stories[story.id] = story
        assignment = self._join(story, article, print_, source, at, copy_of=None)
        return Assignment(assignment.story, True, None)

    def count(self, print_: Fingerprint) -> None:
        """Count an article's words towards rarity without placing it (a background)."""
        self._df.update(set(print_.words) | set(print_.names))
        self._documents += 1

    def add(
        self, story_id: int, article: int, print_: Fingerprint, *, source: str, at: datetime
    ) -> None:
        """Put back an article already assigned (rebuilding the index from the store)."""
        self.count(print_)
        story = self._stories.setdefault(story_id, _Story(story_id))
        self._next_story = max(self._next_story, story_id + 1)
        self._join(story, article, print_, source, at, copy_of=None)

    def similarity(self, a: Fingerprint, b: Fingerprint) -> float:
        """The mean of word and name cosine, words weighted by rarity in the window,
        less when their figures differ."""
        similarity = (self._cosine(a.words, b.words) + self._cosine(a.names, b.names)) / 2
        named = len(a.title_names) >= 2 and len(b.title_names) >= 2
        if named and len(a.title_names & b.title_names) <= 1:
            similarity *= TITLE_NAMES_DIFFER
        if a.lead_figures and b.lead_figures and not a.lead_figures & b.lead_figures:
            similarity *= LEAD_FIGURES_DIFFER
        if a.figures and b.figures:
            shared = len(a.figures & b.figures) / min(len(a.figures), len(b.figures))
            similarity *= 1 - FIGURES_WEIGHT + FIGURES_WEIGHT * min(1.0, 2 * shared)
        return similarity

    def _cosine(self, a: Mapping[str, int], b: Mapping[str, int]) -> float:
        if not a or not b:
            return 0.0
        wa, wb = self._weights(a), self._weights(b)
        if len(wa) > len(wb):
            wa, wb = wb, wa
        product = sum(w * wb.get(t, 0.0) for t, w in wa.items())
        if not product:
            return 0.0
        norm = math.sqrt(sum(w * w for w in wa.values())) * math.sqrt(
            sum(w * w for w in wb.values())
        )
        return product / norm

    def _weights(self, counts: Mapping[str, int]) -> dict[str, float]:
        n = self._documents
        return {
            t: (1 + math.log(c)) * math.log((n + RARITY_PRIOR) / (self._df.get(t, 0) + 0.5))
            for t, c in counts.items()
        }

    def _lookup_terms(self, print_: Fingerprint) -> Iterable[str]:
        """The article's most telling words and names: frequent in it, rare elsewhere."""
        weights = self._weights(print_.words) | self._weights(print_.names)
        return sorted(weights, key=lambda t: (-weights[t], t))[:LOOKUP_TERMS]

    def _candidates(self, print_: Fingerprint, at: datetime) -> list[_Story]:
        found: Counter[int] = Counter()
        for term in self._lookup_terms(print_):
            found.update(self._postings.get(term, ()))
        stories = []
        for story_id, _ in found.most_common(CANDIDATES):
            story = self._stories[story_id]
            if story.last_seen is not None and abs(at - story.last_seen) <= self._window:
                stories.append(story)
        return stories

    def _join(
        self,
        story: _Story,
        article: int,
        print_: Fingerprint,
        source: str,
        at: datetime,
        *,
        copy_of: int | None,
    ) -> Assignment:
        self._story_of[article] = story.id
        if copy_of is None:
            story.members.append(_Member(article, print_, source, at))
            for term in self._lookup_terms(print_):
                self._postings[term].add(story.id)
        story.last_seen = max(story.last_seen or at, at)
        return Assignment(story.id, False, copy_of)
