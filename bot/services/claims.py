"""Does the cited source say what the claim says? A check in plain code, no model.

A valid `[1]` proves only that source 1 exists. A model can still invent a
name or turn 11,000 into 77,003 behind it. This checker reads the claim against
the text of the sources it cites and says supported or not, with the reason and
the best-matching source sentence as evidence:

- every number (with its magnitude: "11,000", "11 000", "eleven thousand",
  "11k", "3.75%", "$2.5 billion") is in a cited source;
- every name (a capitalised span) is in a cited source, a surname standing for
  the full name ("Zelensky" for "Volodymyr Zelensky"), initials for a
  multi-word name ("EU"), a demonym for its country ("Kenyan" for "Kenya");
- quoted text is in a cited source verbatim (quotes, spacing and punctuation
  normalised);
- the claim's content words (a few common news synonyms folded) are covered by
  one or two source sentences or clauses: the evidence;
- the evidence names the claim's people and places (an action moved to another
  actor is caught), does not negate what the claim asserts (or the reverse),
  does not say the opposite direction ("rose" for "fell"), and a cause the
  claim gives ("because…", "after…") is in the source too.

`bench/bench_claims.py` measures the cost per pair and the precision and
recall on the labelled set in tests/services/claim_eval/;
`bot.services.verify` applies the check to everything a model writes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, pairwise

from bot.text import STOPWORDS, split_sentences, stem, words

# Share of a claim's content words one or two source sentences must hold.
COVERAGE_THRESHOLD = 0.5
# Units (sentences and clauses) considered as evidence, best first.
TOP_UNITS = 8
# Words that make a cause a question, not a fact: "examining whether speed…".
_HEDGES = re.compile(
    r"\b(whether|may|might|could|possibly|possible|unclear|investigating|examining|"
    r"suspected|speculated|if)\b"  # lower case: "in May" is a month
)
# Share of a cause's words ("because…") one source unit must hold.
CAUSE_COVERAGE = 0.75
# Words each of two units must bring for them to count as evidence together.
PAIR_SHARE = 2
# A name in this many sentences is the article's subject: any sentence may be about it.
TOPIC_SENTENCES = 3

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_NUMBER_WORDS = {**_UNITS, **_TENS}
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
# A figure this small, written in words, is too often idiom ("the two sides") to require.
_SMALL_SPELLED = 12
# What a small figure in words counts when it is a fact: "within three months".
_COUNTED = re.compile(
    r"\s+(?:months?|years?|weeks?|days?|hours?|minutes?|seats?|votes?|times|goals?|"
    r"points?|countries|people|members|players|matches|games|deaths|injuries)\b",
    re.IGNORECASE,
)
_DECADE = re.compile(r"\ba decade\b", re.IGNORECASE)
# Digits with thousands separators (comma, thin or plain space, apostrophe) or decimals,
# then an optional magnitude word.
_DIGITS = re.compile(
    r"(?<![\w.])(\d{1,3}(?:[,\u202f\u00a0 ']\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(%|per ?cent|percent))?"
    r"(?:\s*(hundred|thousand|million|billion|trillion|bn|mn|k|m)\b)?",
    re.IGNORECASE,
)
_NUMBER_WORD = "|".join(sorted([*_NUMBER_WORDS, "hundred", "thousand", "million", "billion"]))
_COUNT_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_SPELLED = re.compile(
    rf"\b(?:{_COUNT_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.IGNORECASE
)
_QUOTED = re.compile(r"[“\"]([^”\"]{3,}?)[”\"]")
_CAPITALISED = re.compile(
    r"\b[A-Z][\w'’.-]*[^\W\d_]\b(?:\s+(?:of|de|al|van|von)?\s*[A-Z][\w'’-]+)*"
)
# Words around a figure or a comparison that say nothing of their own.
_FILLER = frozenset(
    "per cent percent compared earlier later around roughly approximately nearly almost "
    "across among respectively total overall".split()
)
_HYPHENATED = re.compile(r"\b\w+(?:-\w+)+\b")
_POSSESSIVE = re.compile(r"['’]s?$")
_CONNECTORS = frozenset({"of", "de", "al", "van", "von"})
# Grammatical negation, and verbs that negate by meaning.
_NEGATIONS = frozenset(
    {"not", "no", "never", "nor", "neither", "none", "nobody", "nothing", "cannot"}
)
# Negations whose next word is a thing, not an act: "neither side" is still a side.
_NOUN_NEGATIONS = frozenset({"neither", "nor", "none", "nobody", "nothing"})
_ARTICLES = frozenset({"a", "an", "the", "any", "its", "their", "his", "her", "of"})
# Verbs whose object is the act: "did not impose a fine" negates a fine.
_LIGHT_VERBS = frozenset(stem(w) for w in "impose make give take reach have issue offer".split())
# Words between a negation and the act it negates: "did not yet say".
_AUXILIARIES = frozenset(
    "be been being have has had yet also even ever always to immediately further any "
    "fully properly currently".split()
)
_WITHOUT = frozenset({"without"})
_NEGATIVE_VERBS = frozenset(
    stem(w)
    for w in "refused rejected denied declined failed dismissed ruled halted stopped "
    "abstained blocked vetoed without".split()
)
# Words of one direction and of the other: a claim that says one where its evidence
# says only the other reverses the fact.
_DIRECTIONS = (
    ("rise rose risen increase increased grow grew grown climb climbed jump jumped gain "
     "gained surge surged soar soared raise raised higher boost boosted expand expanded "
     "rebound rebounded ahead above strengthen strengthened",
     "fall fell fallen drop dropped decline declined decrease decreased cut cuts lower down "
     "lowered reduce reduced slump slumped plunge plunged slide slid shrink shrank sink "
     "sank tumble tumbled behind below ease eased cool cooled weaken weakened"),
    ("win won victory", "lose lost defeat"),
    ("approve approved pass passed accept accepted back backed support supported endorse "
     "endorsed", "reject rejected oppose opposed block blocked veto vetoed"),
    ("open opened reopen reopened", "close closed shut"),
    ("hire hired", "fire fired"),
    ("impose imposed", "lift lifted scrap scrapped"),
    ("convict convicted", "acquit acquitted"),
    ("allow allowed permit permitted", "ban banned prohibit prohibited"),
    ("agree agreed", "refuse refused"),
    ("profit profits surplus", "loss losses deficit"),
    ("first", "last"),
)  # fmt: skip
_OPPOSITE: dict[str, frozenset[str]] = {}
_SAME: dict[str, frozenset[str]] = {}
for _one, _other in _DIRECTIONS:
    _a = frozenset(stem(w) for w in _one.split())
    _b = frozenset(stem(w) for w in _other.split())
    for _side, _opposite in ((_a, _b), (_b, _a)):
        for _w in _side:
            _OPPOSITE[_w] = _OPPOSITE.get(_w, frozenset()) | _opposite
            _SAME[_w] = _SAME.get(_w, frozenset()) | _side
# Words news paraphrases swap for each other, folded to one.
_SYNONYMS = (
    "say said says tell told add added note noted",
    "rise rose risen increase climb jump gain grow grew grown surge soar",
    "fall fell fallen drop decline decrease slump plunge slide slid sink sank tumble",
    "slow ease cool moderate",
    "cut lower reduce",
    "hurt injure wound",
    "kill dead death die fatal fatality",
    "win won claim take took",
    "agree commit pledge promise",
    "extend prolong lengthen",
    "share common joint",
    "end conclude finish close wrap",
    "begin began begun start launch open",
    "plan intend aim",
    "firm company group business",
    "home house dwelling",
    "evacuate move relocate flee",
    "warn caution",
    "hold held keep kept maintain leave left",
    "buy bought acquire purchase",
    "sell sold dispose",
    "talk negotiation discussion",
    "law legislation bill act",
    "government administration",
    "vote ballot",
    "strike walkout",
    "worker employee staff",
    "job post position",
    "fee price cost pay paid",
    "shop store retailer",
    "breach violate break broke flout",
    "tackle battle fight combat",
    "fire blaze wildfire flames",
    "hurt injure wound",
    "top highest biggest largest busiest",
    "record best",
    "chief head",
    "confirm determine establish verify",
    "boss executive",
    "expect forecast predict",
    "shut closed",
    "trial study",
    "sign signature",
    "contract deal agreement",
    "sue challenge appeal",
    "approve back endorse",
    "meet meeting",
    "arrest detain",
    "fine penalty",
    "rule ruling decision decide verdict",
    "announce unveil reveal",
    "investor shareholder",
    "quarter three-month",
    "estimate put",
    "percent per",
)
_CANON: dict[str, str] = {}
for _group in _SYNONYMS:
    _stems = [stem(w) for w in _group.split()]
    for _s in _stems:
        _CANON.setdefault(_s, _stems[0])
# A claim giving a cause: what follows must be in the source, and the source must link them.
_CAUSAL = re.compile(
    r"\b(because|due to|owing to|as a result of|caused by|blamed on|thanks to|after|"
    r"following|amid|in response to|prompted by|in protest at|to protest)\b",
    re.IGNORECASE,
)
_CAUSAL_MARKERS = frozenset(
    stem(w)
    for w in "because due owing result caused cause blamed blame thanks after following "
    "amid response prompted prompting since led protest reason attributed driven so "
    "therefore citing cited".split()
)
# Capitalised words that are not names: sentence openers, titles, days and months.
_NOT_NAMES = frozenset(
    {"the", "a", "an", "and", "but", "in", "on", "at", "of", "for", "to", "by", "with", "as",
     "it", "its", "he", "she", "they", "we", "this", "that", "these", "those", "there", "after",
     "before", "while", "when", "officials", "president", "prime", "minister", "mr", "mrs",
     "ms", "dr", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
     "january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "why", "what", "how", "who", "where", "some", "many",
     "more", "most", "both", "all", "about", "according", "if", "under", "over", "since",
     "ceo", "chief", "general", "secretary", "senator", "governor", "mayor", "king", "queen",
     "around", "roughly", "nearly", "almost", "although", "though", "despite",
     "outside", "inside", "during", "until", "once", "only", "also", "each", "every", "no",
     "their", "his", "her", "our", "last", "next", "new", "up", "down", "half",
     "foreign", "finance", "interior", "defence", "defense", "health", "economy", "state",
     "opposition", "leader", "group", "campaign", "consumer", "spokesperson", "spokesman",
     "spokeswoman", "director", "analysts", "economists", "researchers", "police", "chair",
     "chairman", "chairwoman", "vice", "deputy", "founder", "professor", "judge", "justice",
     "coach", "manager", "captain", "striker", "midfielder", "winger", "defender"}
)  # fmt: skip
_DEMONYMS = {
    "french": "france", "dutch": "netherlands", "british": "britain", "swiss": "switzerland",
    "spanish": "spain", "greek": "greece", "turkish": "turkey", "polish": "poland",
    "danish": "denmark", "swedish": "sweden", "finnish": "finland", "irish": "ireland",
    "welsh": "wales", "scottish": "scotland", "english": "england", "chinese": "china",
    "japanese": "japan", "portuguese": "portugal", "czech": "czechia", "thai": "thailand",
    "filipino": "philippines", "norwegian": "norway", "peruvian": "peru", "icelandic": "iceland",
}  # fmt: skip
_PRONOUNS = frozenset({"he", "she", "his", "her", "him", "they", "their", "them"})
# Words that say who someone is, not what they did: "Chief executive Daniel Osei".
_TITLES = frozenset(
    stem(w)
    for w in "chief executive officer financial operating president minister leader group "
    "campaign consumer opposition spokesperson spokesman spokeswoman director head branch "
    "secretary governor mayor chair chairman chairwoman professor dr mr mrs ms board member "
    "senior economist analyst founder deputy vice union regional officer general the a an "
    "foreign finance interior defence health transport prime".split()
)
# Words that point back to someone named before: "he said", "the company said".
_BACK_REFERENCES = frozenset(
    "company firm group bank club council government agency university court ministry "
    "regulator airline carrier insurer operator association union developer".split()
)
BACK_REFERENCE_WORDS = 5  # "he", "the company" this near the start is who acts
_ALIASES = {
    "uk": {"britain", "british", "united kingdom"}, "britain": {"uk", "british"},
    "british": {"uk", "britain"}, "us": {"america", "american", "united states"},
    "america": {"us", "american"}, "american": {"us", "america"},
}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str | None  # why not, naming the number, name or quote that is missing
    evidence: str | None  # the source sentence that matched best
    coverage: float


@dataclass(frozen=True)
class _Unit:
    """A sentence or a clause of a source, read once."""

    text: str
    stems: frozenset[str]  # content stems, synonyms folded
    raw_stems: frozenset[str]  # every word's stem: for directions and causes
    negative: bool  # negated, or a verb that negates ("refused", "rejected")
    in_negation: frozenset[str]  # content stems a few words after a "not"/"no"
    negated_acts: frozenset[str]  # the word each negation negates: "did not *say*"
    plain: frozenset[str]  # content stems outside any negation's reach
    own_names: frozenset[str]  # name tokens in this unit; its sentence's if it has none
    sentence: int  # index of its sentence in the source
    whole: str  # its sentence
    figures: frozenset[float]  # its numbers
    directions: dict[float, int]  # figures with the direction said before them


@dataclass(frozen=True)
class _Source:
    text_key: str  # its words, lower-cased, space-joined: for verbatim quotes
    numbers: frozenset[float]
    names: frozenset[str]  # name tokens, possessives stripped, and initials
    acronyms: frozenset[str]  # initials of its multi-word names: "EU" for "European Union"
    lower_words: frozenset[str]  # words that appear in lower case: not names when opening
    units: tuple[_Unit, ...]
    # Names in many sentences: what the article is about, the subject of most of them.
    topic_names: frozenset[str]


def _quote_key(text: str) -> str:
    return " " + " ".join(words(text)) + " "


def _spelled_value(phrase: str) -> tuple[float, bool]:
    """ "two hundred and forty" -> (240, has a magnitude)."""
    total, current, magnitude = 0.0, 0.0, False
    for part in re.split(r"[\s-]+", phrase.lower()):
        if part in _NUMBER_WORDS:
            current += _NUMBER_WORDS[part]
        elif part == "hundred":
            current = (current or 1) * 100
            magnitude = True
        elif part in _MAGNITUDES:
            total += (current or 1) * _MAGNITUDES[part]
            current = 0.0
            magnitude = True
    return total + current, magnitude


def numbers(text: str, *, small_words: bool = True) -> set[float]:
    """Every number in a text as a value: "11,000", "11 000", "eleven thousand", "11k".

    `small_words=False` leaves out small figures written in words ("two sides").
    """
    found: set[float] = set()
    for match in _DIGITS.finditer(text):
        raw = re.sub(r"[,\u202f\u00a0 ']", "", match.group(1))
        try:
            value = float(raw)
        except ValueError:
            continue
        magnitude = (match.group(3) or "").lower()
        found.add(value * _MAGNITUDES.get(magnitude, 1))
    if _DECADE.search(text):
        found.add(10.0)
    for match in _SPELLED.finditer(text):
        value, magnitude = _spelled_value(match.group(0))
        if value == 0 or (value < 2 and not magnitude):
            continue  # "one of the…" is not a figure
        if (
            not small_words
            and value <= _SMALL_SPELLED
            and not magnitude
            and not _COUNTED.match(text, match.end())  # not "two-day": an adjective
        ):
            continue
        found.add(value)
    return found


def _token(word: str) -> str:
    return _POSSESSIVE.sub("", word.replace("’", "'")).strip(".")


@lru_cache(maxsize=8192)
def _names(text: str, lower_words: frozenset[str]) -> tuple[str, ...]:
    return tuple(names(text, lower_words=lower_words))


def names(text: str, *, lower_words: frozenset[str] = frozenset()) -> list[str]:
    """Capitalised spans that are names, their words joined by spaces, possessives dropped.

    A capitalised word opening a sentence is only a name if the sources
    (`lower_words`) do not have it in lower case and it does not read as an
    ordinary word ("Roughly", "Building"): "Roughly 11,000…".
    """
    spans = []
    for match in _CAPITALISED.finditer(text):
        written = [_token(t) for t in re.split(r"\s+", match.group(0)) if t]
        tokens = [t for t in written if t]
        while tokens and tokens[0].lower() in _NOT_NAMES:
            tokens = tokens[1:]
        opens = match.start() == 0 or text[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        if tokens and opens and tokens[0] == written[0]:
            first = tokens[0].lower()
            if (
                first in lower_words
                or first.endswith(("ly", "ing"))
                or first.split("-")[0] in _NUMBER_WORDS
            ):
                tokens = tokens[1:]
        while tokens and tokens[-1].lower() in _CONNECTORS:
            tokens = tokens[:-1]
        if tokens:
            spans.append(" ".join(tokens))
    return spans


def _fold(stems: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(_CANON.get(s, s) for s in stems)


_TITLES_FOLDED = _fold(_TITLES)


@lru_cache(maxsize=16384)
def _content(text: str) -> frozenset[str]:
    """Stemmed content words, synonyms folded; numbers are checked on their own.

    A hyphenated word counts joined and apart: "lift-off" meets "liftoff" and "lift".
    """
    joined = [w.replace("-", "") for w in _HYPHENATED.findall(text)]
    return _fold(
        {
            stem(w)
            for w in words(text) + joined
            if w not in STOPWORDS
            and len(w) > 1
            and not w.replace(",", "").replace(".", "").isdigit()
            and w not in _NUMBER_WORDS
            and w not in _MAGNITUDES
            and w not in _FILLER
        }
    )


_NEGATION_REACH = 5  # words after "not" that it negates, up to a comma or stop
_SCOPE_BREAK = re.compile(r"[,;:.!?]|\b(?:but|while|whereas|although|and)\b", re.IGNORECASE)


def _negation_scope(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The content words a negation reaches, and the acts it negates ("did not *say*")."""
    found: set[str] = set()
    acts: set[str] = set()
    for part in _SCOPE_BREAK.split(text):
        tokens = words(part)
        for i, w in enumerate(tokens):
            lexical = stem(w) in _NEGATIVE_VERBS and w != "without"
            if not (w in _NEGATIONS or w.endswith("n't") or lexical):
                continue
            reach = tokens[i + 1 : i + 1 + _NEGATION_REACH]
            found |= _content(" ".join(reach))
            if lexical:
                continue
            rest = [t for t in reach if t not in _AUXILIARIES and t not in _ARTICLES]
            if w in _NOUN_NEGATIONS and w not in ("nobody", "nothing"):
                rest = rest[1:]  # "neither *side* signed": the act is the next word
            if rest:
                acts.add(_CANON.get(stem(rest[0]), stem(rest[0])))
                if stem(rest[0]) in _LIGHT_VERBS and len(rest) > 1:
                    acts.add(_CANON.get(stem(rest[1]), stem(rest[1])))  # "impose a *fine*"
    return frozenset(found), frozenset(acts)


def _negated(text: str) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words(text))


def _name_tokens(spans: Sequence[str], *, initials: bool = True) -> set[str]:
    tokens = {t for span in spans for t in span.split() if t.lower() not in _CONNECTORS}
    return tokens | _initials(spans) if initials else tokens


def _initials(spans: Sequence[str]) -> set[str]:
    """ "US" for "United States", "EU" for "European Union": initials stand for the name."""
    return {
        "".join(t[0] for t in span.split() if t.lower() not in _CONNECTORS)
        for span in spans
        if " " in span
    }


@lru_cache(maxsize=4096)
def _prepare(text: str) -> _Source:
    lower = frozenset(w for w in re.findall(r"\b[a-z][\w'-]*", text))
    units: list[_Unit] = []
    previous: set[str] = set()
    earlier: set[str] = set()
    seen: Counter[str] = Counter()
    spans: list[str] = []
    figures: set[float] = set()
    for index, sentence in enumerate(split_sentences(text)):
        sentence_spans = names(sentence, lower_words=lower)
        spans += sentence_spans
        own = _name_tokens(sentence_spans)
        seen.update(own)
        carried = own | previous if _refers_back(sentence) else own
        if _describes_back(sentence):
            carried |= earlier
        earlier |= own
        clauses = [c.strip() for c in re.split(r"[,;:]\s|\s[–—-]\s", sentence) if c.strip()]
        pieces = [sentence] + (clauses if len(clauses) > 1 else [])
        for piece in pieces:
            tokens = words(piece)
            raw = frozenset(stem(w) for w in tokens)
            content = _content(piece)
            negated = any(w in _NEGATIONS or w.endswith("n't") for w in tokens)
            in_negation, acts = (
                _negation_scope(piece) if negated or raw & _NEGATIVE_VERBS else _NO_SCOPE
            )
            # A clause's names are those of its sentence that it holds.
            piece_names = own if piece is sentence else {t for t in own if t in piece}
            if not piece_names or _refers_back(piece):
                piece_names = set(carried) | piece_names
            piece_figures = frozenset(numbers(piece))
            if piece is sentence:
                figures |= piece_figures
            units.append(
                _Unit(
                    piece,
                    content,
                    raw,
                    negated or bool(raw & _NEGATIVE_VERBS),
                    in_negation,
                    acts,
                    (content | _fold(raw)) - in_negation - acts,
                    frozenset(piece_names),
                    index,
                    sentence,
                    piece_figures,
                    _number_directions(piece) if piece is sentence else {},
                )
            )
        previous = own
    return _Source(
        _quote_key(text),
        frozenset(figures | numbers(text) if _DECADE.search(text) else figures),
        frozenset(_name_tokens(spans, initials=False)),
        frozenset(_initials(spans)),
        lower,
        tuple(units),
        frozenset(name for name, count in seen.items() if count >= TOPIC_SENTENCES),
    )


_NO_SCOPE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _refers_back(text: str) -> bool:
    """ "He said…": the names of the sentence before may be who it speaks of."""
    return bool(set(words(text)[:BACK_REFERENCE_WORDS]) & _PRONOUNS) or _describes_back(text)


def _describes_back(text: str) -> bool:
    """ "The company said…": any organisation named so far may be the one."""
    said = words(text)[:BACK_REFERENCE_WORDS]
    return any(a == "the" and b in _BACK_REFERENCES for a, b in pairwise(said))


def _known_name(token: str, known: set[str]) -> bool:
    if token in known:
        return True
    lowered = token.lower()
    aliases = _ALIASES.get(lowered, set())
    country = _DEMONYMS.get(lowered)
    if country is not None:
        aliases = aliases | {country}
    if aliases and any(k.lower() in aliases for k in known):
        return True
    # A demonym or a longer form: "Kenyan" for "Kenya", "Tajik" for "Tajikistan".
    if len(token) >= 5:
        return any(len(k) >= 5 and k[:5].lower() == lowered[:5] for k in known)
    return False


def check_claim(
    claim: str,
    sources: Sequence[str],
    *,
    threshold: float = COVERAGE_THRESHOLD,
    facts_only: bool = False,
) -> Verdict:
    """Whether `sources` (the texts the claim cites) support `claim`, and why not.

    `facts_only` checks the hard facts (numbers, names, quotes) and not the
    wording: the lenient mode, for a model that paraphrases far.
    """
    prepared = [_prepare(text) for text in sources if text]
    if not prepared:
        return Verdict(False, "it cites no source text", None, 0.0)
    for quote in _QUOTED.findall(claim):
        if not any(_quote_key(quote) in s.text_key for s in prepared):
            return Verdict(False, f"the quote “{quote}” is not in the cited source", None, 0.0)
    source_numbers = set().union(*(s.numbers for s in prepared))
    for value in sorted(numbers(claim, small_words=False)):
        if value not in source_numbers:
            shown = f"{value:,.0f}" if value == int(value) else f"{value:g}"
            return Verdict(False, f"the number {shown} is not in the cited source", None, 0.0)
    source_names = set().union(*(s.names for s in prepared))
    lower_words = frozenset().union(*(s.lower_words for s in prepared))
    acronyms = set().union(*(s.acronyms for s in prepared))
    for tokens in _claim_names(claim, lower_words):
        if not _known_span(tokens, source_names, acronyms):
            return Verdict(
                False, f"the name {' '.join(tokens)} is not in the cited source", None, 0.0
            )
    if facts_only:
        return Verdict(True, None, None, 1.0)
    units = [unit for s in prepared for unit in s.units]
    if not units:
        return Verdict(False, "the cited source has no sentences", None, 0.0)
    source = _Evidence(
        units,
        set().union(*(s.topic_names for s in prepared)),
        lower_words,
        threshold,
    )
    evidence, coverage = [], 1.0
    for part in _parts(claim):
        verdict = source.check(part)
        if not verdict.supported:
            return verdict
        evidence.append(verdict.evidence or "")
        coverage = min(coverage, verdict.coverage)
    return Verdict(True, None, " ".join(dict.fromkeys(evidence)), coverage)


_PART_BREAK = re.compile(r",\s+(?:and|but|while|whereas)\s+|;\s+|\s+while\s+", re.IGNORECASE)
MIN_PART_WORDS = 2


def _parts(claim: str) -> list[str]:
    """A claim joining two facts ("…, and …"), as the facts: each must hold on its own."""
    parts: list[str] = []
    for piece in _PART_BREAK.split(claim):
        if parts and len(_content(piece)) < MIN_PART_WORDS:
            parts[-1] = f"{parts[-1]}, {piece}"
        elif not parts or len(_content(parts[-1])) >= MIN_PART_WORDS:
            parts.append(piece)
        else:
            parts[-1] = f"{parts[-1]}, {piece}"
    return parts or [claim]


SUBJECT_WORDS = 4  # a name this near the start of a claim is the one who acts


def _subject(claim: str, lower_words: frozenset[str]) -> list[str] | None:
    """The name the claim opens with, after titles: who it says did something."""
    tokens = claim.split()[: SUBJECT_WORDS + 3]
    # Titles and descriptions before the name: "The pension fund PGB Mobiliteit".
    while tokens and (stem(tokens[0].lower().strip(",")) in _TITLES or tokens[0][:1].islower()):
        tokens = tokens[1:]
    if not tokens:
        return None
    found = _claim_names(" ".join(tokens), lower_words)
    if not found or not _token(tokens[0].strip(",")).startswith(found[0][0]):
        return None  # "Under the DMA, …", "Talks brokered by Qatar…": not who acts
    # "ČD chief executive Jana Horáková": the person after an organisation and a title.
    if len(found) > 1:
        between = claim.split(found[0][-1], 1)[-1].split(found[1][0], 1)[0].split()
        if between and all(stem(w.lower().strip(",'’s")) in _TITLES for w in between):
            return found[1]
    return found[0]


def _claim_names(claim: str, lower_words: frozenset[str]) -> list[list[str]]:
    """The claim's names as tokens, titles ("Minister") and connectors left out."""
    result = []
    for span in _names(claim, lower_words):
        tokens = [
            t for t in span.split() if t.lower() not in _NOT_NAMES and t.lower() not in _CONNECTORS
        ]
        if tokens:
            result.append(tokens)
    return result


def _known_span(
    tokens: Sequence[str], known: set[str], acronyms: set[str] | frozenset[str] = frozenset()
) -> bool:
    """Every word of a name is known ("TD Bank" is not "Royal Bank"), or it is the
    initials of a name there ("EU"), or a name there is its initials."""
    if all(_known_name(t, known) or (t.isupper() and t in acronyms) for t in tokens):
        return True
    initials = "".join(t[0] for t in tokens)
    return len(tokens) > 1 and initials.isupper() and initials in known


# How far below the best evidence another may be and still be the claim's evidence.
EVIDENCE_MARGIN = 0.2
_TEMPORAL_AFTER = re.compile(
    r"\b(minutes?|hours?|days?|weeks?|months?|years?|shortly|soon|just|moments?|hours)\s+after\b",
    re.IGNORECASE,
)


@dataclass
class _Evidence:
    """The units of the cited sources, and what one part of a claim is checked against."""

    units: list[_Unit]
    topic: set[str]
    lower_words: frozenset[str]
    threshold: float

    def check(self, claim: str) -> Verdict:
        wanted = _content(claim)
        if not wanted:
            return Verdict(False, "the claim has no content words", None, 0.0)
        # What the claim says of its names: names are checked on their own (every one in
        # the source, the subject in the evidence), and must not make up for the rest.
        name_stems = _content(" ".join(t for span in names(claim) for t in span.split()))
        said = (wanted - name_stems - _TITLES_FOLDED) or wanted
        candidates = self._candidates(wanted, said)
        best_coverage, best_units = candidates[0]
        evidence = " ".join(u.text for u in best_units)
        if best_coverage < self.threshold:
            return Verdict(
                False,
                f"only {best_coverage:.0%} of its words are in the cited source",
                evidence,
                best_coverage,
            )
        whole = self._whole_source(claim, wanted)
        if whole is not None:
            return Verdict(False, whole, evidence, best_coverage)

        def told(units: tuple[_Unit, ...]) -> float:
            return len(said & set().union(*(u.stems for u in units))) / len(said)

        # One word less than the best evidence is within the margin, for a short claim.
        margin = max(EVIDENCE_MARGIN, 1 / len(said) + 1e-9)
        floor = max(told(units) for c, units in candidates if c >= self.threshold) - margin
        first_problem: str | None = None
        for coverage, chosen in candidates:
            if coverage < self.threshold:
                break
            if told(chosen) < floor:
                continue
            problem = self._contradiction(claim, said, chosen)
            if problem is None:
                return Verdict(True, None, " ".join(u.text for u in chosen), coverage)
            first_problem = first_problem or problem
        return Verdict(False, first_problem, evidence, best_coverage)

    def _candidates(
        self, wanted: frozenset[str], said: frozenset[str]
    ) -> list[tuple[float, tuple[_Unit, ...]]]:
        """Single units and pairs, by the share of the claim's words they hold."""
        ranked = sorted(self.units, key=lambda u: len(wanted & u.stems), reverse=True)
        ranked = ranked[:TOP_UNITS]
        candidates: list[tuple[float, tuple[_Unit, ...]]] = [
            (len(wanted & u.stems) / len(wanted), (u,)) for u in ranked
        ]
        for a, b in combinations(ranked, 2):
            if a.whole == b.whole:
                continue
            # Two units only when each brings words of its own, not only a name or a title:
            # a sentence naming someone cannot lend them an act told in another.
            if (
                len((said & a.stems) - b.stems) < PAIR_SHARE
                or len((said & b.stems) - a.stems) < PAIR_SHARE
            ):
                continue
            candidates.append((len(wanted & (a.stems | b.stems)) / len(wanted), (a, b)))
        candidates.sort(key=lambda c: (c[0], -len(c[1])), reverse=True)
        return candidates

    def _whole_source(self, claim: str, wanted: frozenset[str]) -> str | None:
        """What the whole source says against the claim, whichever sentence it is in."""
        claim_raw = frozenset(stem(w) for w in words(claim))
        if not (_negated(claim) or claim_raw & _NEGATIVE_VERBS - _WITHOUT):
            plain = set().union(*(u.plain for u in self.units))
            negated = set().union(*(u.negated_acts for u in self.units))
            only_negated = (wanted & negated) - plain
            if only_negated:
                return (
                    f"it asserts what the cited source negates ({', '.join(sorted(only_negated))})"
                )
        said: dict[float, int] = {}
        for unit in self.units:
            for value, direction in unit.directions.items():
                said[value] = said.get(value, 0) | (1 if direction > 0 else 2)
        for value, direction in _number_directions(claim).items():
            if said.get(value) == (2 if direction > 0 else 1):
                return f"it reverses the direction of the figure {value:g}"
        cause = _CAUSAL.search(claim)
        if cause and not _TEMPORAL_AFTER.search(claim):
            cause_words = _content(claim[cause.end() :])
            if cause_words:
                best = max(len(cause_words & u.stems) for u in self.units) / len(cause_words)
                if best < CAUSE_COVERAGE:
                    return f"the cause it gives (“{cause.group(0)}…”) is not in the cited source"
                told = max(self.units, key=lambda u: len(cause_words & u.stems))
                if _HEDGES.search(told.text):
                    return f"the cited source only says it may be the cause (“{cause.group(0)}…”)"
        return None

    def _contradiction(
        self, claim: str, wanted: frozenset[str], chosen: Sequence[_Unit]
    ) -> str | None:
        """What in the evidence contradicts the claim: another actor, a negation, a direction."""
        subject = _subject(claim, self.lower_words)
        if subject:
            # The claim's subject is the one its evidence speaks of: in each unit, the clause
            # holding most of what the claim says (its figures first).
            figures = numbers(claim)
            local = set(self.topic)
            for unit in chosen:
                clauses = [u for u in self.units if u.whole == unit.whole and u.text != u.whole]
                core = max(
                    clauses or [unit],
                    key=lambda u: (
                        2 * len(figures & u.figures) + len(wanted & u.stems),
                        -len(u.text),
                    ),
                )
                local |= core.own_names
                # "…, according to Western estimates": an attribution covers the sentence.
                local |= {
                    n
                    for u in clauses
                    if u.text.lower().startswith("according to")
                    for n in u.own_names
                }
            if not _known_span(subject, local):
                return f"the cited source says this of someone else than {' '.join(subject)}"
        claim_raw = frozenset(stem(w) for w in words(claim))
        claim_negated = _negated(claim)
        claim_negative = claim_negated or bool(claim_raw & _NEGATIVE_VERBS - _WITHOUT)
        if (claim_negated or claim_raw & _NEGATIVE_VERBS) and not any(u.negative for u in chosen):
            return "it negates what the cited source says"
        refused = _fold(set(claim_raw & _NEGATIVE_VERBS - _WITHOUT))
        if refused and any(refused & u.in_negation for u in chosen):
            return (
                "it negates what the cited source says (“refused to rule out” is not “ruled out”)"
            )
        if not claim_negative:
            folded = _fold(set(claim_raw))
            for unit in chosen:
                negated = (folded & unit.negated_acts) - unit.plain
                if negated:
                    return (
                        f"it asserts what the cited source negates ({', '.join(sorted(negated))})"
                    )
        for unit in chosen:
            said = unit.raw_stems - unit.in_negation
            for word in claim_raw:
                opposite = _OPPOSITE.get(word)
                if not opposite or opposite & claim_raw or word in _WEAK_DIRECTIONS:
                    continue  # the claim says both (presence cannot tell), or only "down"
                if not _SAME[word] & said and opposite & said:
                    found = next(iter(opposite & said))
                    return f"it says “{word}…” where the cited source says “{found}…”"
        cause = _CAUSAL.search(claim)
        if cause and not _TEMPORAL_AFTER.search(claim):
            return self._unstated_cause(cause.group(0), _content(claim[cause.end() :]), chosen)
        return None

    def _unstated_cause(
        self, connective: str, cause_words: frozenset[str], chosen: Sequence[_Unit]
    ) -> str | None:
        """A claim's "because…" must be linked in the source when told in another sentence."""
        if not cause_words:
            return None
        best = max(self.units, key=lambda u: len(cause_words & u.stems))
        sentences = {u.sentence for u in chosen}
        if best.sentence in sentences:
            return None  # told in the same sentence as the rest
        sentences.add(best.sentence)
        if not any(u.raw_stems & _CAUSAL_MARKERS for u in self.units if u.sentence in sentences):
            return f"the cited source does not link them (“{connective}…”)"
        return None


# Agrees with a fall ("down 1.7%") but is too common to say one ("turned down").
_WEAK_DIRECTIONS = frozenset({"down"})
_UP = frozenset(stem(w) for w in _DIRECTIONS[0][0].split())
_DOWN = frozenset(stem(w) for w in _DIRECTIONS[0][1].split())


def _number_directions(text: str) -> dict[float, int]:
    """Each figure with the direction said just before it: "fell 2.9%" -> {2.9: -1}."""
    result: dict[float, int] = {}
    tokens = re.findall(r"\d[\d,.]*|[^\W\d_]+", text.lower())
    for i, token in enumerate(tokens):
        if not token[0].isdigit():
            continue
        try:
            value = float(token.rstrip(".,").replace(",", ""))
        except ValueError:
            continue
        # Only a change ("fell 2.9%", "rose by 3"), not a level ("eased to 2.4%").
        before = tokens[i - 1] if i else ""
        if before == "by" and i > 1:
            before = tokens[i - 2]
        stemmed = stem(before)
        if stemmed in _UP or stemmed in _DOWN:
            result.setdefault(value, 1 if stemmed in _UP else -1)
    return result
