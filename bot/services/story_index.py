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

import json
import math
import re
import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.services.similarity import cosine
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


def print_record(print_: Fingerprint) -> tuple[str, bytes]:
    """A fingerprint as stored: its counts and figures as JSON, its shingles packed."""
    data = {
        "words": print_.words,
        "names": print_.names,
        "title_names": sorted(print_.title_names),
        "lead_figures": sorted(print_.lead_figures),
        "figures": sorted(print_.figures),
    }
    return json.dumps(data, separators=(",", ":")), array("I", sorted(print_.shingles)).tobytes()


def print_from_record(data: str, shingles: bytes) -> Fingerprint:
    fields = json.loads(data)
    packed = array("I")
    packed.frombytes(shingles)
    return Fingerprint(
        words=fields["words"],
        names=fields["names"],
        shingles=frozenset(packed),
        title_names=frozenset(fields["title_names"]),
        lead_figures=frozenset(fields["lead_figures"]),
        figures=frozenset(fields["figures"]),
    )


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
class Placement:
    """Where an arriving article goes: a story to join (None: a new one), and the article
    it reprints if it is a syndicated copy (then it is a source, not an article)."""

    story: int | None
    copy_of: int | None = None


@dataclass
class _Member:
    article: int
    print_: Fingerprint
    posted: tuple[str, ...]  # the terms it is listed under


@dataclass
class _Story:
    id: int
    members: list[_Member] = field(default_factory=list)
    last_seen: datetime | None = None


class StoryIndex:
    """The stories of the last `window`, for placing articles as they arrive.

    `place` only looks; once the article is stored (and has its ids), `remember`
    puts it in. Rebuilt after a restart by remembering the window's articles.
    """

    def __init__(self, *, window: timedelta = STORY_WINDOW) -> None:
        self._window = window
        self._stories: dict[int, _Story] = {}
        self._postings: dict[str, set[int]] = defaultdict(set)  # term -> story ids
        self._df: Counter[str] = Counter()
        self._documents = 0

    def __len__(self) -> int:
        return len(self._stories)

    def place(self, print_: Fingerprint, *, at: datetime) -> Placement:
        best, best_similarity = None, 0.0
        for story in self._candidates(print_, at):
            for member in story.members:
                if containment(print_.shingles, member.print_.shingles) >= SYNDICATED_CONTAINMENT:
                    return Placement(story.id, copy_of=member.article)
            similarity = sum(self.similarity(print_, m.print_) for m in story.members) / len(
                story.members
            )
            if similarity > best_similarity:
                best, best_similarity = story, similarity
        if best is not None and best_similarity >= SAME_STORY_SIMILARITY:
            return Placement(best.id)
        return Placement(None)

    def remember(
        self,
        story_id: int,
        article: int,
        print_: Fingerprint,
        *,
        at: datetime,
        reprint: bool = False,
    ) -> None:
        """Put a stored article in its story; a reprint only keeps its story recent."""
        story = self._stories.setdefault(story_id, _Story(story_id))
        story.last_seen = max(story.last_seen or at, at)
        if reprint:
            return
        self.count(print_)
        posted = tuple(self._lookup_terms(print_))
        story.members.append(_Member(article, print_, posted))
        for term in posted:
            self._postings[term].add(story_id)

    def count(self, print_: Fingerprint) -> None:
        """Count an article's words towards rarity without placing it (a background)."""
        self._df.update(set(print_.words) | set(print_.names))
        self._documents += 1

    def forget_before(self, moment: datetime) -> int:
        """Drop stories last seen before `moment`: nothing can join them any more."""
        gone = [s for s in self._stories.values() if s.last_seen and s.last_seen < moment]
        for story in gone:
            del self._stories[story.id]
            for member in story.members:
                self._df.subtract(set(member.print_.words) | set(member.print_.names))
                self._documents -= 1
                for term in member.posted:
                    self._postings[term].discard(story.id)
        self._df = +self._df  # drop counts that reached zero
        return len(gone)

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
        return cosine(self._weights(a), self._weights(b)) if a and b else 0.0

    def _weights(self, counts: Mapping[str, int]) -> dict[str, float]:
        n = self._documents
        return {
            t: (1 + math.log(c)) * math.log((n + RARITY_PRIOR) / (self._df.get(t, 0) + 0.5))
            for t, c in counts.items()
        }

    def _lookup_terms(self, print_: Fingerprint) -> list[str]:
        """The article's most telling words and names: frequent in it, rare elsewhere."""
        weights = self._weights(print_.words) | self._weights(print_.names)
        return sorted(weights, key=lambda t: (-weights[t], t))[:LOOKUP_TERMS]

    def _candidates(self, print_: Fingerprint, at: datetime) -> list[_Story]:
        found: Counter[int] = Counter()
        for term in self._lookup_terms(print_):
            found.update(self._postings.get(term, ()))
        stories = []
        for story_id, _ in found.most_common(CANDIDATES):
            story = self._stories.get(story_id)
            if story and story.last_seen and abs(at - story.last_seen) <= self._window:
                stories.append(story)
        return stories
