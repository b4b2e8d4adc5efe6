"""Does the cited source say what the claim says? A check in plain code, no model.

A valid `[1]` proves only that source 1 exists. A model can still invent a
name or turn 11,000 into 77,003 behind it. This checker reads the claim against
the text of the sources it cites and says supported or not, with the reason and
the best-matching source sentence as evidence:

- every number (with its magnitude: "11,000", "11 000", "eleven thousand",
  "11k", "3.75%", "$2.5 billion") is in a cited source;
- every name (a capitalised span) is in a cited source, a surname standing for
  the full name ("Zelensky" for "Volodymyr Zelensky");
- quoted text is in a cited source verbatim (quotes and spacing normalised);
- the claim's content words are covered by one or two source sentences;
- a negation in the claim and none in that evidence (or the reverse) counts
  against it.

Not wired into the summarizer yet (issue 10 builds that on this); pure code,
so the core can use it and tests can run it fast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.text import STOPWORDS, split_sentences, stem, words

# Share of a claim's content words one or two source sentences must hold.
COVERAGE_THRESHOLD = 0.6

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_MAGNITUDES = {
    "hundred": 100,
    "thousand": 1_000,
    "k": 1_000,
    "million": 1_000_000,
    "m": 1_000_000,
    "mn": 1_000_000,
    "billion": 1_000_000_000,
    "bn": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}
# Digits with thousands separators (comma, thin or plain space, apostrophe) or decimals,
# then an optional magnitude word.
_DIGITS = re.compile(
    r"(?<![\w.])(\d{1,3}(?:[,\u202f\u00a0 ']\d{3})+|\d+(?:\.\d+)?)"
    r"(?:\s*(%|per ?cent|percent))?"
    r"(?:\s*(hundred|thousand|million|billion|trillion|bn|mn|k|m)\b)?",
    re.IGNORECASE,
)
_SPELLED = re.compile(
    r"\b((?:(?:" + "|".join(_NUMBER_WORDS) + r")[\s-]?)+)"
    r"(hundred|thousand|million|billion|trillion)?\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[“\"]([^”\"]{8,}?)[”\"]")
_CAPITALISED = re.compile(
    r"\b[A-Z][\w'’.-]*[a-zA-Z]\b(?:\s+(?:of|de|al|van|von)?\s*[A-Z][\w'’-]+)*"
)
_NEGATIONS = frozenset(
    {"not", "no", "never", "without", "nor", "neither", "none", "denied", "denies", "refused",
     "rejected", "rejects", "failed", "fails", "cannot", "didn't", "doesn't", "don't", "won't",
     "isn't", "wasn't", "aren't", "weren't", "hasn't", "haven't", "hadn't", "couldn't"}
)  # fmt: skip
# Capitalised words that are not names: sentence openers, titles, days and months.
_NOT_NAMES = frozenset(
    {"the", "a", "an", "and", "but", "in", "on", "at", "of", "for", "to", "by", "with", "as",
     "it", "its", "he", "she", "they", "we", "this", "that", "these", "those", "there", "after",
     "before", "while", "when", "officials", "president", "prime", "minister", "mr", "mrs",
     "ms", "dr", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
     "january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "why", "what", "how", "who", "where", "some", "many",
     "more", "most", "both", "all", "about", "according", "if", "under", "over", "since",
     "ceo", "chief", "general", "secretary", "senator", "governor", "mayor", "king", "queen"}
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str | None  # why not, naming the number, name or quote that is missing
    evidence: str | None  # the source sentence that matched best
    coverage: float


@dataclass(frozen=True)
class _Source:
    text_key: str  # lower-cased, quotes and spaces normalised: for verbatim quotes
    numbers: frozenset[float]
    names: frozenset[str]  # capitalised tokens, as written
    # Clauses (a sentence split at , ; :), each with its stems and whether it is negated.
    sentences: tuple[tuple[str, frozenset[str], bool], ...]


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split())


def numbers(text: str) -> set[float]:
    """Every number in a text as a value: "11,000", "11 000", "eleven thousand", "11k"."""
    found: set[float] = set()
    for match in _DIGITS.finditer(text):
        raw = re.sub(r"[,\u202f\u00a0 ']", "", match.group(1))
        try:
            value = float(raw)
        except ValueError:
            continue
        magnitude = (match.group(3) or "").lower()
        found.add(value * _MAGNITUDES.get(magnitude, 1))
    for match in _SPELLED.finditer(text):
        parts = re.split(r"[\s-]+", match.group(1).strip().lower())
        value = float(sum(_NUMBER_WORDS.get(p, 0) for p in parts))
        magnitude = (match.group(2) or "").lower()
        if value >= 2 or magnitude:  # "one of the…" is not a figure
            found.add((value or 1) * _MAGNITUDES.get(magnitude, 1))
    return found


def names(text: str, *, known_words: str = "") -> list[str]:
    """Capitalised spans that are names, their words joined by spaces.

    A capitalised word opening a sentence is only a name if `known_words` (the
    sources, normalised) does not have it in lower case: "Roughly 11,000…".
    """
    spans = []
    for match in _CAPITALISED.finditer(text):
        tokens = [t for t in re.split(r"\s+", match.group(0)) if t]
        while tokens and tokens[0].lower().strip(".") in _NOT_NAMES:
            tokens = tokens[1:]
        opens = match.start() == 0 or text[: match.start()].rstrip().endswith((".", "!", "?"))
        if tokens and opens and f" {tokens[0].lower()} " in f" {known_words} ":
            tokens = tokens[1:]
        if tokens:
            spans.append(" ".join(tokens))
    return spans


def _content(text: str) -> frozenset[str]:
    """Stemmed content words; numbers (in digits or words) are checked on their own."""
    return frozenset(
        stem(w)
        for w in words(text)
        if w not in STOPWORDS
        and len(w) > 1
        and not w.replace(",", "").replace(".", "").isdigit()
        and w not in _NUMBER_WORDS
        and w not in _MAGNITUDES
    )


def _negated(text: str) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words(text))


@lru_cache(maxsize=4096)
def _prepare(text: str) -> _Source:
    clauses = tuple(
        (c.strip(), _content(c), _negated(c))
        for sentence in split_sentences(text)
        for c in re.split(r"[,;:]\s", sentence)
        if c.strip()
    )
    spans = names(text)
    name_tokens = {t for span in spans for t in span.split()}
    # "US" for "United States", "EU" for "European Union": initials of a name stand for it.
    name_tokens |= {"".join(t[0] for t in span.split()) for span in spans if " " in span}
    return _Source(_normalise(text), frozenset(numbers(text)), frozenset(name_tokens), clauses)


def check_claim(
    claim: str, sources: Sequence[str], *, threshold: float = COVERAGE_THRESHOLD
) -> Verdict:
    """Whether `sources` (the texts the claim cites) support `claim`, and why not."""
    prepared = [_prepare(text) for text in sources if text]
    if not prepared:
        return Verdict(False, "it cites no source text", None, 0.0)
    for quote in _QUOTED.findall(claim):
        if not any(_normalise(quote) in s.text_key for s in prepared):
            return Verdict(False, f"the quote “{quote}” is not in the cited source", None, 0.0)
    source_numbers = set().union(*(s.numbers for s in prepared))
    for value in sorted(numbers(claim)):
        if value not in source_numbers:
            shown = f"{value:,.0f}" if value == int(value) else f"{value:g}"
            return Verdict(False, f"the number {shown} is not in the cited source", None, 0.0)
    source_names = set().union(*(s.names for s in prepared))
    known = " ".join(re.sub(r"[^\w' ]", " ", s.text_key) for s in prepared)
    for span in names(claim, known_words=known):
        tokens = span.replace(".", "").split() if span.isupper() else span.split()
        # A surname stands for the full name: the last word is enough, or every word.
        if tokens[-1] not in source_names and not all(t in source_names for t in tokens):
            return Verdict(False, f"the name {span} is not in the cited source", None, 0.0)
    wanted = _content(claim)
    if not wanted:
        return Verdict(False, "the claim has no content words", None, 0.0)
    sentences = [sentence for s in prepared for sentence in s.sentences]
    scored = sorted(
        ((len(wanted & stems) / len(wanted), text, stems, neg) for text, stems, neg in sentences),
        key=lambda item: item[0],
        reverse=True,
    )
    if not scored:
        return Verdict(False, "the cited source has no sentences", None, 0.0)
    best, evidence, best_stems, evidence_negated = scored[0]
    coverage = best
    # Two sentences together, for a claim merged from both.
    for _, _, stems, _ in scored[1:6]:
        coverage = max(coverage, len(wanted & (best_stems | stems)) / len(wanted))
    if coverage < threshold:
        return Verdict(
            False,
            f"only {coverage:.0%} of its words are in the cited source",
            evidence,
            coverage,
        )
    if _negated(claim) != evidence_negated:
        return Verdict(False, "it negates what the cited source says", evidence, coverage)
    return Verdict(True, None, evidence, coverage)
