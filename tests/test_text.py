from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.text import (
    clean_text,
    html_to_text,
    one_line,
    pack_lines,
    query_terms,
    shorten,
    split_sentences,
    stem,
    storable,
    terms,
)


def test_sentences_split_on_ends_but_not_on_abbreviations() -> None:
    """Mr., U.S. and decimals do not end a sentence; paragraphs always do."""
    text = 'Mr. Smith met U.S. envoys. Growth was 2.5% in Q3. "We will see," he said.\n\nNew one'
    assert split_sentences(text) == [
        "Mr. Smith met U.S. envoys.",
        "Growth was 2.5% in Q3.",
        '"We will see," he said.',
        "New one",
    ]


def test_invisible_and_bidi_characters_are_removed() -> None:
    """Zero-width and bidi control characters cannot hide text."""
    assert clean_text("a\u200bb\u202ec  d\ufeff") == "abc d"


def test_html_becomes_paragraphs_of_plain_text() -> None:
    """Block tags become paragraph breaks, entities are decoded, tags dropped."""
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four <b>five</b></p>") == (
        "One & two\n\nThree\n\nfour five"
    )


def test_terms_are_stemmed_content_words() -> None:
    """Stop words go, stems stay, so 'talks' matches 'talk'."""
    assert terms("The talks on the ceasefire") == ["talk", "ceasefir"]
    assert query_terms("What is the latest on Ukraine's talks?") == ["ukraine's", "talks"]


def test_shorten_cuts_at_a_word_and_says_so() -> None:
    """A shortened text ends at a word boundary with an ellipsis."""
    assert shorten("one two three four", 10) == "one two…"
    assert shorten("short", 10) == "short"


def test_pack_lines_splits_without_losing_anything() -> None:
    """Lines are packed under the limit; an over-long line is split at spaces, nothing lost."""
    lines = ["short", "word " * 30, "x" * 25]
    packed = pack_lines(lines, 40)
    assert all(len(p) <= 40 for p in packed)
    assert "".join(packed).replace("\n", "").replace(" ", "") == "".join(lines).replace(" ", "")
    assert packed[0] == "short" and packed[-1].endswith("x" * 25)  # order kept


def test_stemming_from_several_threads_at_once_gives_the_same_terms() -> None:
    """Fingerprints are computed in worker threads: stemming there must not interfere."""
    texts = [
        f"Negotiators were meeting {n} times; the generals' positions hardened." for n in range(400)
    ]
    expected = [terms(t) for t in texts]
    stem.cache_clear()  # make the threads stem for real, not read the cache
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(5):
            assert list(pool.map(terms, texts)) == expected
            stem.cache_clear()


def test_scripts_styles_and_comments_are_dropped_with_their_content() -> None:
    """Feeds are parsed unsanitized: markup that is not text leaves nothing behind."""
    markup = (
        "<p>Port reopens.</p><script type='text/javascript'>track('x > y');</script>"
        "<STYLE>p { color: red }</STYLE><!-- ad slot --><p>Ships wait.</p>"
    )
    assert html_to_text(markup) == "Port reopens.\n\nShips wait."


def test_storable_drops_what_no_database_stores_and_nothing_else() -> None:
    """NUL and lone surrogates go; other text, controls included, stays as it is."""
    assert storable("a\x00b\ud800c\udfff") == "abc"
    assert storable("tab\tnew\nline é 東京 🙂") == "tab\tnew\nline é 東京 🙂"


def test_one_line_folds_controls_and_space_into_single_spaces() -> None:
    """A typed topic or URL: controls become spaces, runs of space fold, ends trimmed."""
    assert one_line(" harbour\x00\x01strike\r\n\x7f now ") == "harbour strike now"
