"""Stories assigned once, as each article arrives: the recent stories, indexed.

An arriving article is compared with the recent stories that share its rarer
words or names (an inverted index, so the cost does not grow with the store),
and joins the one it resembles most if that is close enough; else it starts a
story of its own. A reprint of another outlet's wire text (most of its word
sequences the same) is folded into that article as another source, not kept
as a second article. Rarity is counted over the articles the index has seen
in its window, so it follows what the news is about this week.

The cost of placing an article and the memory a story takes are bounded,
however large the story grows: a story is compared through the sum of its
members' term vectors (kept to its weightiest terms), the names and figures of
its first and latest members, and the text samples of its latest members.
Terms are held as 32-bit hashes in arrays, not as strings in dicts.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import repeat

import numpy as np

from bot.placement import PrintRecord, add_embedding, decode_print, encode_print
from bot.text import content_terms, stem, words

SHINGLE_WORDS = 5
# A member's smallest shingle hashes: a fair sample of its 5-word sequences, from which
# the share an arriving text holds is estimated.
SKETCH_SIZE = 32
# A reprint keeps most of the wire text; outlets cut a sentence or a paragraph, so the
# shorter text's share of shingles found in the longer one is what is measured.
SYNDICATED_CONTAINMENT = 0.6
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
# Where articles carry embeddings (NEWSBRIEF_EMBEDDINGS_MODEL), their cosine over a base
# (the cosine at which two reports are as likely one event as not) adds to the lexical
# score, MEANING_WEIGHT times; below it, takes from it. Reports of one event told in
# other words (a rate cut, the currency's move, what savers get) are close in meaning
# and far in words. Fitted with all-MiniLM-L6-v2 on the tuning sets only
# (bench/bench_stories.py --embeddings); other models put cosines on other scales, so
# the base is a setting (NEWSBRIEF_EMBEDDINGS_SAME_EVENT).
MEANING_WEIGHT = 5.0
MEANING_BASE = 0.66
# An arriving article that would join two stories, one of them a single article, and
# the two alike: they are merged (placed in another order, they would have been one).
# Larger stories are left apart: an article naming two events (a final's preview
# naming both semi-finals) is like both without making them one.
MERGE_AT_MOST = 1
STORY_WINDOW = timedelta(hours=48)
# Rarity needs a background: until the window holds more than a few dozen articles, a
# word found in two of them should still count as rare. Counted as if this many more
# articles had been seen, none with the word.
RARITY_PRIOR = 50
# An article's most telling terms look up its candidate stories; fewer are posted for it.
LOOKUP_TERMS = 12
POSTED_TERMS = 12
# At most this many candidate stories are compared: those sharing most telling words.
CANDIDATES = 8
# What a story keeps to be compared by: its weightiest terms and names, the names and
# figures of its first member and latest members, the text samples of its latest ones.
STORY_TERMS = 176
SHAPES = 4
SKETCHED = 16
# A text this short has too few word sequences to call it a copy of another.
MIN_SHINGLES = 3

_NO_SHINGLES: np.ndarray = np.zeros(0, dtype=np.uint32)

# A capital not after a letter (a word's start) nor after a sentence's end. The checks
# follow the capital, not precede it: a pattern that opens with a plain character class
# is scanned for quickly, one that opens with a look-behind is tried at every position
# (4 times slower). Texts are given a ". " in front, so the first word is a sentence's.
_NAME = re.compile(r"[A-Z](?<!\w[A-Z])(?<![.!?\"“]\s[A-Z])[\w'-]{2,}")
# "4,200", "3.75", "6-4" and "2026" are one figure each.
_FIGURE = re.compile(r"\d+(?:[-–:.,/]\d+)*")


@dataclass(frozen=True)
class Fingerprint:
    """What story assignment needs of an article, computed once when it is stored."""

    words: Mapping[str, int]  # stemmed terms with counts, the title's counted twice
    names: Mapping[str, int]  # capitalised words not opening a sentence: names, roughly
    title_names: frozenset[str]  # the names in the title: who or where the event is
    lead_figures: frozenset[str]  # figures in the title and first paragraph
    figures: frozenset[str]  # every figure in the article
    sketch: tuple[int, ...]  # the smallest hashes of the body's 5-word sequences
    shingle_count: int  # how many distinct 5-word sequences the body has
    # Every hash, sorted (uint32): only while the article is new, to check it against
    # stored sketches.
    shingles: np.ndarray = field(default_factory=lambda: _NO_SHINGLES, compare=False)
    # What the text means, as an embeddings model put it (a unit vector, float32), where
    # one is configured; else None and placement is lexical.
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    # The terms and names hashed, sorted, with log-scaled counts: what the index computes
    # with, derived once (where the fingerprint is made, off the event loop).
    terms: _Terms = field(init=False, compare=False, repr=False)
    # As stored (see `print_record`), once made: a fingerprint made in a worker process
    # arrives with it.
    record: PrintRecord | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", _Terms.of(self))

    def __reduce__(self) -> tuple[Callable[..., Fingerprint], tuple[object, ...]]:
        """Sent from a worker process as its record and its arrays: unpickling its dicts
        and sets, then encoding them for the store, cost the bot's process 0.1 ms an
        article; this way the record is made where the fingerprint is, and read once."""
        return _delivered, (print_record(self), self.shingles, self.terms)


@dataclass(frozen=True)
class _Terms:
    word_keys: np.ndarray  # uint32, sorted
    word_tf: np.ndarray  # 1 + log(count)
    name_keys: np.ndarray  # hashed as words are: rarity and lookups count them as one
    name_tf: np.ndarray
    keys: np.ndarray  # words' keys and names' (salted apart) in one sorted array
    order: np.ndarray  # how the words' then the names' keys sort into `keys`
    counted: list[int]  # words' and names' keys, once each: what rarity counts
    title_names: frozenset[int]
    lead_figures: frozenset[int]
    figures: frozenset[int]

    @classmethod
    def of(cls, print_: Fingerprint) -> _Terms:
        word_keys, word_tf = _hashed(print_.words)
        name_keys, name_tf = _hashed(print_.names)
        both = np.concatenate([word_keys, name_keys ^ _NAME_SALT])
        order = np.argsort(both, kind="stable")
        return cls(
            word_keys,
            word_tf,
            name_keys,
            name_tf,
            both[order],
            order,
            np.union1d(word_keys, name_keys).tolist(),
            frozenset(map(_key, print_.title_names)),
            frozenset(map(_key, print_.lead_figures)),
            frozenset(map(_key, print_.figures)),
        )


def _hashed(counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.fromiter(map(_key, counts), dtype=np.uint32, count=len(counts))
    values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if len(keys) > 1 and (keys[1:] == keys[:-1]).any():  # two terms hashed alike count as one
        keys, starts = np.unique(keys, return_index=True)
        values = np.add.reduceat(values, starts)
    return keys, 1 + np.log(values)


def print_record(print_: Fingerprint) -> PrintRecord:
    """A fingerprint as the store keeps it (see bot/placement.py)."""
    if print_.record is not None:
        return print_.record
    return encode_print(
        words=print_.words,
        names=print_.names,
        title_names=print_.title_names,
        lead_figures=print_.lead_figures,
        figures=print_.figures,
        shingle_count=print_.shingle_count,
        sketch=print_.sketch,
        embedding=None if print_.embedding is None else _packed(print_.embedding),
    )


def _packed(embedding: np.ndarray) -> bytes:
    """As stored: half precision, plenty for a cosine, half the bytes."""
    return embedding.astype(np.float16).tobytes()


def with_embedding(print_: Fingerprint, vector: Sequence[float]) -> Fingerprint:
    """The fingerprint with what an embeddings model made of its text, as a unit vector
    (and its record, if made already, with it)."""
    embedding = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(embedding))
    if not len(embedding) or not np.isfinite(norm) or norm == 0.0:
        return print_
    embedding = embedding / norm
    placed = object.__new__(Fingerprint)  # not copy.copy: that goes by `__reduce__`
    placed.__dict__.update(print_.__dict__)
    object.__setattr__(placed, "embedding", embedding)
    if print_.record is not None:
        object.__setattr__(placed, "record", add_embedding(print_.record, _packed(embedding)))
    return placed


def print_from_record(record: PrintRecord) -> Fingerprint:
    """A stored fingerprint."""
    fields = decode_print(record, sketch_size=SKETCH_SIZE)
    packed = fields.pop("embedding")
    print_ = Fingerprint(**fields)
    if packed is not None:
        embedding = np.frombuffer(packed, dtype=np.float16).astype(np.float32)
        object.__setattr__(print_, "embedding", embedding)
    return print_


def _delivered(record: PrintRecord, shingles: np.ndarray, terms: _Terms) -> Fingerprint:
    """A fingerprint from a worker process (see `Fingerprint.__reduce__`): its arrays as
    they were made, not derived again."""
    print_ = object.__new__(Fingerprint)
    fields = decode_print(record, sketch_size=SKETCH_SIZE) | {"shingles": shingles, "terms": terms}
    fields["record"] = record
    fields["embedding"] = None  # a worker makes none: an embeddings model is asked after
    for name, value in fields.items():
        object.__setattr__(print_, name, value)
    return print_


def fingerprint(title: str, text: str) -> Fingerprint:
    body = words(text)
    shingles = _shingles(body)
    names = Counter(stem(n.lower()) for n in _NAME.findall(f". {title}. {text}"))
    lead = f"{title} {text.split(chr(10) * 2, 1)[0]}"
    return Fingerprint(
        words=Counter(content_terms(words(title)) * 2 + content_terms(body)),
        names=names,
        title_names=frozenset(stem(n.lower()) for n in _NAME.findall(f". {title}")),
        lead_figures=frozenset(_FIGURE.findall(lead)),
        figures=frozenset(_FIGURE.findall(f"{title} {text}")),
        sketch=tuple(shingles[:SKETCH_SIZE].tolist()),
        shingle_count=len(shingles),
        shingles=shingles,
    )


def fingerprints(texts: Sequence[tuple[str, str]]) -> list[Fingerprint]:
    """`fingerprint` of each (title, text): one call for a feed's entries."""
    return [fingerprint(title, text) for title, text in texts]


# Odd 64-bit constants, one per place in a 5-word sequence: "a b" and "b a" hash apart.
_MIX = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0x27D4EB2F165667C5,
        0xFF51AFD7ED558CCD,
    ],
    dtype=np.uint64,
)
_NO_SHINGLES = np.zeros(0, dtype=np.uint32)


def _shingles(body: list[str]) -> np.ndarray:
    """The hashes of the text's 5-word sequences, sorted, each once. Made of the words'
    CRC-32s, so they are the same in every process and after a restart."""
    n = len(body) - SHINGLE_WORDS + 1
    if n <= 0:
        return _NO_SHINGLES
    ids = np.fromiter(map(_key, body), dtype=np.uint64, count=len(body))
    mixed = np.zeros(n, dtype=np.uint64)
    for place in range(SHINGLE_WORDS):
        mixed ^= ids[place : place + n] * _MIX[place]
    return np.unique((mixed >> np.uint64(32)).astype(np.uint32))


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """The share of the shorter text's word sequences found in the other, estimated from
    the sample of `b` (a's are all known while it is new)."""
    found = int(np.count_nonzero(_found(a.shingles, np.array(b.sketch, dtype=np.uint32))))
    return _share(found, len(b.sketch), len(a.shingles), b.shingle_count)


def _found(shingles: np.ndarray, sketches: np.ndarray) -> np.ndarray:
    """For each hash of `sketches`, whether `shingles` (sorted) holds it."""
    if not len(shingles):
        return np.zeros(len(sketches), dtype=bool)
    at = np.minimum(np.searchsorted(shingles, sketches), len(shingles) - 1)
    return np.asarray(shingles[at] == sketches)


def _share(found: float, sampled: int, count: int, of: int) -> float:
    """`found` of `of`'s `sampled` hashes are in a text of `count`: the estimated share of
    the shorter text's sequences that the other holds."""
    if min(count, of) < MIN_SHINGLES or not sampled:
        return 0.0
    # The sample's share found estimates |a & b| / |b|; scaled to the shorter text.
    return min(1.0, found / sampled * of / min(count, of))


@dataclass(frozen=True)
class Placement:
    """Where an arriving article goes: a story to join (None: a new one), and the article
    it reprints if it is a syndicated copy (then it is a source, not an article)."""

    story: int | None
    copy_of: int | None = None
    # Other stories this article shows to be the same event as `story`: they are merged
    # into it (see `StoryIndex.merge`).
    merges: tuple[int, ...] = ()


# In a story's sums a name and a word of one spelling are apart: names' keys are flipped.
_NAME_SALT = np.uint32(0x9E3779B9)


@lru_cache(maxsize=1 << 17)
def _key(term: str) -> int:
    return zlib.crc32(term.encode())


@dataclass(frozen=True)
class _Shape:
    """A member's names and figures, as hashes (what tells two like events apart), and
    its own term vector: compared one by one, the first and latest members weigh names
    and figures exactly as a pair would."""

    title_names: array[int]
    lead_figures: array[int]
    figures: array[int]
    terms: _Sum
    embedding: np.ndarray | None


_NO_KEYS = np.zeros(0, dtype=np.uint32)
_NO_VALUES = np.zeros(0, dtype=np.float32)


@dataclass
class _Sum:
    """The sum of members' unit vectors over the story's weightiest terms, as two arrays
    (a few hundred bytes, where a dict of the same would take kilobytes)."""

    keys: np.ndarray = field(default_factory=lambda: _NO_KEYS)
    values: np.ndarray = field(default_factory=lambda: _NO_VALUES)

    def add(self, keys: np.ndarray, values: np.ndarray, keep: int, rarity: _Rarity) -> None:
        keys, at = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        sums = np.bincount(at, weights=np.concatenate([self.values, values]))
        if len(keys) > 2 * keep:  # pruned now and then, not on every join
            weight = sums * rarity.idf(keys)
            top = np.sort(np.argpartition(-weight, keep)[:keep])
            keys, sums = keys[top], sums[top]
        self.keys, self.values = keys.astype(np.uint32), sums.astype(np.float32)


def _dots(sums: Sequence[_Sum], keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each sum dotted with one sparse vector (`keys` sorted), all in one pass."""
    lengths = np.fromiter((len(s.keys) for s in sums), dtype=np.intp, count=len(sums))
    if not len(keys) or not lengths.sum():
        return np.zeros(len(sums))
    their_keys = np.concatenate([s.keys for s in sums])
    their_values = np.concatenate([s.values for s in sums])
    at = np.minimum(np.searchsorted(keys, their_keys), len(keys) - 1)
    products = np.where(keys[at] == their_keys, their_values * weights[at], 0.0)
    return _per_part(lengths, products)


def _per_part(lengths: Sequence[int] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` of parts laid end to end (of `lengths`), summed per part."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    return np.bincount(owner, weights=values, minlength=len(lengths))


@dataclass(eq=False)
class _Story:
    id: int
    last_seen: datetime
    size: int = 0
    terms: _Sum = field(default_factory=_Sum)
    first: _Shape | None = None
    latest: deque[_Shape] = field(default_factory=lambda: deque(maxlen=SHAPES - 1))
    # The latest members' text samples: (article, sketch, how many shingles in all).
    sketches: deque[tuple[int, np.ndarray, int]] = field(
        default_factory=lambda: deque(maxlen=SKETCHED)
    )
    posted: set[int] = field(default_factory=set)
    # The sum of members' embeddings, and how many had one (of the one size).
    meaning: np.ndarray | None = None
    embedded: int = 0

    def closeness(self, embedding: np.ndarray | None) -> float | None:
        """The mean cosine of `embedding` with the members' that have one; None where
        either side has none (or another model made them)."""
        if embedding is None or self.meaning is None or len(self.meaning) != len(embedding):
            return None
        return float(np.dot(self.meaning, embedding)) / self.embedded

    def add_meaning(self, meaning: np.ndarray | None, count: int) -> None:
        """Add `count` members' summed embeddings (none, or of another size: nothing)."""
        if meaning is None:
            return
        if self.meaning is None:
            self.meaning, self.embedded = meaning.copy(), count
        elif len(self.meaning) == len(meaning):
            self.meaning += meaning
            self.embedded += count

    def shapes(self) -> list[_Shape]:
        return ([self.first] if self.first else []) + list(self.latest)


class _Rarity:
    """In how many of the window's articles each term appears, counted per day of
    publication so a day's counts leave the window together."""

    def __init__(self) -> None:
        self.df: Counter[int] = Counter()
        self.documents = 0
        self._days: dict[date, tuple[Counter[int], list[int]]] = {}

    def count(self, keys: list[int], day: date) -> None:
        counts, documents = self._days.setdefault(day, (Counter(), [0]))
        counts.update(keys)
        documents[0] += 1
        self.df.update(keys)
        self.documents += 1

    def forget_before(self, day: date) -> None:
        for old in [d for d in self._days if d < day]:
            counts, documents = self._days.pop(old)
            self.df.subtract(counts)
            self.documents -= documents[0]
        self.df = +self.df  # drop counts that reached zero

    def idf(self, keys: np.ndarray) -> np.ndarray:
        found = map(self.df.get, keys.tolist(), repeat(0))
        df = np.fromiter(found, dtype=np.float64, count=len(keys))
        return np.log((self.documents + RARITY_PRIOR) / (df + 0.5))


def _reprinted(print_: Fingerprint, story: _Story) -> int | None:
    """The member of `story` that `print_` reprints, if any: all its sketches checked in
    one pass."""
    members = story.sketches
    if not members or not len(print_.shingles):
        return None
    sizes = [len(sketch) for _, sketch, _ in members]
    found = _found(print_.shingles, np.concatenate([sketch for _, sketch, _ in members]))
    tally = _per_part(sizes, found).tolist()
    for (article, _, count), hits, size in zip(members, tally, sizes, strict=True):
        if _share(hits, size, print_.shingle_count, count) >= SYNDICATED_CONTAINMENT:
            return article
    return None


def _similarity(
    article: _Article,
    story: _Story,
    cosine: float,
    kept: list[_Shape],
    cosines: list[float],
    meaning: float | None = None,
    base: float = MEANING_BASE,
) -> float:
    """Half the mean over members of cosine times the names-and-figures factor, half the
    best kept member's. The mean alone held a story told from several angles (a rate
    cut, the currency's move, what savers get) against a report like one of them, and a
    follow-up against all but the report it follows. The mean is exact for the members
    kept whole (all of a story of up to SHAPES), the rest at their mean cosine times the
    kept members' mean factor."""
    factors = [article.alike(s) for s in kept]
    rest = max(0.0, cosine * story.size - sum(cosines))
    scores = [c * f for c, f in zip(cosines, factors, strict=True)]
    mean = (sum(scores) + rest * sum(factors) / len(factors)) / story.size
    if meaning is not None:  # embeddings: closeness in meaning adds to closeness in words
        mean += _meant(meaning, base) * sum(factors) / len(factors)
        own = article.print_.embedding
        for at, (shape, factor) in enumerate(zip(kept, factors, strict=True)):
            theirs = shape.embedding
            if own is not None and theirs is not None and len(theirs) == len(own):
                scores[at] += _meant(float(np.dot(own, theirs)), base) * factor
    return (mean + max(scores)) / 2


def _meant(cosine: float, base: float) -> float:
    """What a cosine of embeddings adds to the lexical score (less than nothing below
    what unrelated news scores)."""
    return MEANING_WEIGHT * (cosine - base)


class StoryIndex:
    """The stories of the last `window`, for placing articles as they arrive.

    `place` only looks; `remember` puts the article in. Ids may be provisional
    (below zero) until the store has numbered the article: `renumber` then
    settles them. Rebuilt after a restart by remembering the window's articles.
    """

    def __init__(
        self, *, window: timedelta = STORY_WINDOW, same_event_meaning: float = MEANING_BASE
    ) -> None:
        self._window = window
        self._meaning_base = same_event_meaning
        self._stories: dict[int, _Story] = {}
        self._postings: dict[int, set[int]] = {}  # term -> story ids
        self._rarity = _Rarity()
        self._unsettled: set[int] = set()  # stories holding provisional ids
        self._placed: _Article | None = None  # the article `place` saw last, for `remember`

    def __len__(self) -> int:
        return len(self._stories)

    def place(self, print_: Fingerprint, *, at: datetime) -> Placement:
        article = self._placed = _Article.of(print_, self._rarity)
        candidates = self._candidates(article, at)
        if not candidates:
            return Placement(None)
        dots = _dots([s.terms for s in candidates], *article.vector)
        embedding = print_.embedding
        passing = []
        for story, dot in zip(candidates, dots.tolist(), strict=True):
            cosine = dot / (2 * story.size)  # the mean of word and name cosine
            meaning = story.closeness(embedding)
            centre = cosine if meaning is None else cosine + _meant(meaning, self._meaning_base)
            if centre >= SAME_STORY_SIMILARITY:  # names and figures only ever lower it
                passing.append((story, cosine, meaning))
        shapes = [story.shapes() for story, _, _ in passing]
        # The kept members' own cosines, for every passing story in one pass.
        own: list[float] = (
            _dots([s.terms for kept in shapes for s in kept], *article.vector) / 2
        ).tolist()
        scored = []
        for (story, cosine, meaning), kept in zip(passing, shapes, strict=True):
            cosines, own = own[: len(kept)], own[len(kept) :]
            similarity = _similarity(
                article, story, cosine, kept, cosines, meaning, self._meaning_base
            )
            scored.append((similarity, story))
        scored.sort(key=lambda pair: -pair[0])
        for _, story in scored[:2]:  # a reprint is as like its story as anything gets
            original = _reprinted(print_, story)
            if original is not None:
                return Placement(story.id, copy_of=original)
        if scored and scored[0][0] >= SAME_STORY_SIMILARITY:
            best = scored[0][1]
            group = [best.id] + [
                story.id
                for similarity, story in scored[1:]
                if similarity >= SAME_STORY_SIMILARITY
                and min(story.size, best.size) <= MERGE_AT_MOST
                and self._likeness(best, story) >= SAME_STORY_SIMILARITY
            ]
            # The one kept is the oldest stored story; else the batch's earliest (ids below
            # zero are a batch's entries not stored yet, -1 the first).
            survivor = min((i for i in group if i > 0), default=max(group))
            return Placement(survivor, merges=tuple(i for i in group if i != survivor))
        return Placement(None)

    def _likeness(self, a: _Story, b: _Story) -> float:
        """The mean similarity of two stories' members: word and name cosine, lowered as
        far as their kept members' names and figures say they are other events, and the
        embeddings' closeness where both have them."""
        common, at_a, at_b = np.intersect1d(a.terms.keys, b.terms.keys, return_indices=True)
        if not len(common):
            return 0.0
        idf = self._rarity.idf(common)
        dot = float(np.dot(a.terms.values[at_a] * idf * idf, b.terms.values[at_b]))
        likeness = dot / (2 * a.size * b.size)
        factors = [
            _alike(x.title_names, x.lead_figures, x.figures, y)
            for x in a.shapes()
            for y in b.shapes()
        ]
        likeness *= min(factors, default=1.0)
        meaning = a.closeness(b.meaning)  # to b's members' sum: b.embedded times the mean
        if meaning is not None:
            likeness += _meant(meaning / b.embedded, self._meaning_base)
        return likeness

    def merge(self, into: int, absorbed: int) -> None:
        """One story takes in another's members: an article showed them to be one event."""
        story, other = self._stories.get(into), self._stories.pop(absorbed, None)
        if story is None or other is None or story is other:
            return
        story.size += other.size
        story.terms.add(other.terms.keys, other.terms.values, STORY_TERMS, self._rarity)
        story.latest.extend(other.shapes())
        story.sketches.extend(other.sketches)
        story.last_seen = max(story.last_seen, other.last_seen)
        story.add_meaning(other.meaning, other.embedded)
        for term in other.posted:
            posting = self._postings.setdefault(term, set())
            posting.discard(absorbed)
            posting.add(into)
            story.posted.add(term)
        if absorbed in self._unsettled:
            self._unsettled.discard(absorbed)
            self._unsettled.add(into)

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
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(story_id, at)
        story.last_seen = max(story.last_seen, at)
        if story_id < 0 or article < 0:
            self._unsettled.add(story_id)
        if reprint:
            return
        placed, self._placed = self._placed, None
        member = placed if placed and placed.print_ is print_ else _Article.of(print_, self._rarity)
        self.count(print_, at=at)
        story.size += 1
        story.terms.add(print_.terms.keys, member.units, STORY_TERMS, self._rarity)
        story.add_meaning(print_.embedding, 1)
        shape = member.shape()
        if story.first is None:
            story.first = shape
        else:
            story.latest.append(shape)
        sketch = np.array(print_.sketch, dtype=np.uint32)
        story.sketches.append((article, sketch, print_.shingle_count))
        for term in member.telling[:POSTED_TERMS]:
            if term not in story.posted:
                story.posted.add(term)
                self._postings.setdefault(term, set()).add(story.id)

    def count(self, print_: Fingerprint, *, at: datetime) -> None:
        """Count an article's words towards rarity without placing it (a background)."""
        self._rarity.count(print_.terms.counted, at.date())

    def renumber(self, ids: Mapping[int, int]) -> None:
        """Give provisional ids the store's; stories whose provisional id it did not
        number (their first article was a copy after all) are dropped."""
        for old in self._unsettled:
            story = self._stories.pop(old, None)
            if story is None:
                continue
            new = ids.get(old, old)
            if new < 0:
                self._drop(story)
                continue
            story.id = new
            story.sketches = deque(
                ((ids.get(a, a), s, c) for a, s, c in story.sketches if ids.get(a, a) >= 0),
                maxlen=SKETCHED,
            )
            self._stories[new] = story
            if new != old:
                for term in story.posted:
                    posting = self._postings[term]
                    posting.discard(old)
                    posting.add(new)
        self._unsettled.clear()

    def forget_before(self, moment: datetime) -> int:
        """Drop stories last seen before `moment`: nothing can join them any more."""
        gone = [s for s in self._stories.values() if s.last_seen < moment]
        for story in gone:
            del self._stories[story.id]
            self._drop(story)
        self._rarity.forget_before(moment.date())
        return len(gone)

    def _drop(self, story: _Story) -> None:
        for term in story.posted:
            posting = self._postings.get(term)
            if posting is not None:
                posting.discard(story.id)
                if not posting:
                    del self._postings[term]

    def _candidates(self, article: _Article, at: datetime) -> list[_Story]:
        found: Counter[int] = Counter()
        for term in article.telling:
            found.update(self._postings.get(term, ()))
        stories = []
        for story_id, _ in found.most_common(CANDIDATES):
            story = self._stories.get(story_id)
            if story and story.size and abs(at - story.last_seen) <= self._window:
                stories.append(story)
        return stories


@dataclass(frozen=True)
class _Article:
    """An article's vectors under the window's rarity, computed once per placing."""

    print_: Fingerprint
    units: np.ndarray  # per key of the print's terms: words' and names' unit vectors
    # The same times rarity squared (keys, weights): what a story's sums are dotted with.
    vector: tuple[np.ndarray, np.ndarray]
    telling: list[int]  # the most telling words and names: frequent here, rare elsewhere

    @classmethod
    def of(cls, print_: Fingerprint, rarity: _Rarity) -> _Article:
        t = print_.terms
        word_units, word_weights, word_telling = _weighed(t.word_keys, t.word_tf, rarity)
        name_units, name_weights, name_telling = _weighed(t.name_keys, t.name_tf, rarity)
        units = np.concatenate([word_units, name_units])[t.order]
        weights = np.concatenate([word_weights, name_weights])[t.order]
        how_telling = np.concatenate([word_telling, name_telling])
        ranked = np.concatenate([t.word_keys, t.name_keys])[np.argsort(-how_telling, kind="stable")]
        telling = list(dict.fromkeys(ranked[: 2 * LOOKUP_TERMS].tolist()))[:LOOKUP_TERMS]
        return cls(print_, units, (t.keys, weights), telling)

    def shape(self) -> _Shape:
        t = self.print_.terms
        return _Shape(
            array("I", sorted(t.title_names)),
            array("I", sorted(t.lead_figures)),
            array("I", sorted(t.figures)),
            _Sum(t.keys, self.units.astype(np.float32)),
            self.print_.embedding,
        )

    def alike(self, other: _Shape) -> float:
        """How far names and figures allow this to be `other`'s event (1: no sign that
        it is another)."""
        t = self.print_.terms
        return _alike(t.title_names, t.lead_figures, t.figures, other)


def _alike(
    title_names: Collection[int],
    lead_figures: Collection[int],
    figures: Collection[int],
    other: _Shape,
) -> float:
    """How far names and figures allow a text of these to be `other`'s event (1: no
    sign that it is another)."""
    factor = 1.0
    named = len(title_names) >= 2 and len(other.title_names) >= 2
    if named and sum(1 for k in other.title_names if k in title_names) <= 1:
        factor *= TITLE_NAMES_DIFFER
    leads = lead_figures and other.lead_figures
    if leads and not any(k in lead_figures for k in other.lead_figures):
        factor *= LEAD_FIGURES_DIFFER
    if figures and other.figures:
        shared = sum(1 for k in other.figures if k in figures)
        share = shared / min(len(figures), len(other.figures))
        factor *= 1 - FIGURES_WEIGHT + FIGURES_WEIGHT * min(1.0, 2 * share)
    return factor


def _weighed(
    keys: np.ndarray, tf: np.ndarray, rarity: _Rarity
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vector (log counts over the rarity-weighted norm), the same times rarity
    squared, and how telling each term is (unit times rarity)."""
    idf = rarity.idf(keys)
    norm = float(np.sqrt(np.dot(tf * idf, tf * idf))) or 1.0
    units = tf / norm
    return units, units * idf * idf, units * idf
