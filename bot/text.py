"""Text handling shared by retrieval, ranking and story grouping.

Pure Python with a bundled stemmer: nothing here downloads data at run time
(NLTK-based tools would, and fail on a machine without internet).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

STOPWORDS = frozenset(
    """
    a about above after again against all almost also am an and any are around as at be
    because been before being below between both but by can could did do does doing done
    down during each either else ever every few for from further get gets got had has have
    having he her here hers herself him himself his how however i if in into is it its
    itself just least less let like made make many may me might more most much must my
    myself near need neither no nor not now of off on once one only or other our ours
    ourselves out over own per perhaps please quite rather really said same say says she
    should since so some still such than that the their theirs them themselves then there
    these they this those though through thus to too under until up upon us very via was we
    were what whatever when where whether which while who whom whose why will with within
    without would yet you your yours yourself yourselves tell told know think happen
    happens happened happening going thing things anything something latest news today
    yesterday tomorrow week weeks month year years
    """.split()
)  # fmt: skip

# Words a question is made of that say nothing about its subject.
QUESTION_WORDS = frozenset({"next", "much", "many", "long", "often", "kind", "sort"})

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# What a database cannot store in text: NUL (PostgreSQL refuses it, SQLite cuts text at
# it in places) and lone surrogates (not encodable as UTF-8; neither engine takes them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Control characters with no place in one line of typed text (a topic, a URL).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_TAG = re.compile(r"<[^>]+>")
# Markup whose content is not text: scripts, styles, comments. Dropped whole, content and all.
_NOT_TEXT = re.compile(
    r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|tr)>|<br\s*/?>", re.IGNORECASE)

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st gen col lt sgt rep sen gov pres u.s u.k e.g i.e vs etc no
    jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp approx
    """.split()
)  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


class _Stemmers(threading.local):
    """A stemmer keeps state while it works: one per thread (fingerprints are computed
    off the event loop, beside it)."""

    def __init__(self) -> None:
        self.english = snowballstemmer.stemmer("english")


_stemmers = _Stemmers()


def storable(value: str) -> str:
    """`value` without the characters no database here can store (see _UNSTORABLE)."""
    return _UNSTORABLE.sub("", value) if _UNSTORABLE.search(value) else value


def one_line(value: str) -> str:
    """Typed text (a topic, a URL) as one line: storable, controls gone, spaces folded."""
    return clean_text(_CONTROL.sub(" ", value))


def clean_text(value: str) -> str:
    """Drop zero-width and bidi control characters, what cannot be stored, and fold
    white space."""
    value = unicodedata.normalize("NFC", storable(value))
    value = _INVISIBLE.sub("", value)
    # str.split's white space is exactly the pattern's \s (both are str.isspace), and
    # splitting is several times faster than substituting every single space.
    return " ".join(value.split())


def html_to_text(markup: str) -> str:
    """Feed HTML to plain text with paragraph breaks kept as blank lines."""
    with_breaks = _BLOCK_END.sub("\n\n", _NOT_TEXT.sub(" ", markup))
    stripped = html.unescape(_TAG.sub(" ", with_breaks))
    paragraphs = (clean_text(p) for p in re.split(r"\n\s*\n", stripped))
    return "\n\n".join(p for p in paragraphs if p)


def words(text: str) -> list[str]:
    text = text.lower()
    if "’" in text:
        text = text.replace("’", "'")
    return _WORD.findall(text)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_stemmers.english.stemWord(word))


def terms(text: str) -> list[str]:
    """Stemmed content words: what retrieval and similarity compare."""
    return content_terms(words(text))


def content_terms(text_words: Iterable[str]) -> list[str]:
    """`terms` of words already split (see `words`)."""
    return [stem(w) for w in text_words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def query_terms(text: str) -> list[str]:
    """Content words of a question or topic, unstemmed, deduplicated, in order."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w in STOPWORDS or w in QUESTION_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        seen.setdefault(w, None)
    return list(seen)


def split_sentences(text: str) -> list[str]:
    """Sentences of a plain text, paragraph by paragraph.

    A regex splitter with an abbreviation list: good enough for news prose and
    free of model downloads.
    """
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = clean_text(paragraph)
        if not paragraph:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            candidate = paragraph[start : match.start()].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(paragraph[start : match.end()].strip())
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and say so with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def pack_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Join lines into texts of at most `limit` characters, in order, losing nothing.

    A line longer than the limit is split at a space (or hard, if it has none):
    chat platforms cap each text, and content must be split, never cut.
    """
    packed: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            if current:  # what came before goes first
                packed.append(current)
                current = ""
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            packed.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            packed.append(current)
            current = line
        else:
            current = candidate
    if current:
        packed.append(current)
    return packed
