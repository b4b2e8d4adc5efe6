from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.services.story_index import (
    Placement,
    StoryIndex,
    containment,
    fingerprint,
    print_from_record,
    print_record,
    with_embedding,
)

AT = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)

WIRE = (
    "Firefighters in the port town of Kelmarsh brought a warehouse blaze under control "
    "early on Wednesday after a night in which 140 residents were moved from nearby "
    "streets, the regional fire service said.\n\n"
    "The fire broke out shortly before midnight in a storage depot owned by Dunmore "
    "Logistics, which said 60 tonnes of packaging had burned. No one was hurt.\n\n"
    "Chief fire officer Ruth Calloway said crews would stay on site for two days to damp "
    "down hot spots, and that the cause was not yet known."
)
REPRINT = (
    "KELMARSH (Wire) — Firefighters in the port town of Kelmarsh brought a warehouse blaze "
    "under control early on Wednesday after a night in which 140 residents were moved "
    "from nearby streets, the regional fire service said.\n\n"
    "The fire broke out shortly before midnight in a storage depot owned by Dunmore "
    "Logistics, which said 60 tonnes of packaging had burned. No one was injured."
)
OTHER_REPORT = (
    "About 140 people spent the night away from their homes in Kelmarsh as a fire tore "
    "through a Dunmore Logistics depot by the harbour.\n\n"
    "Ruth Calloway, who leads the fire service, told reporters the blaze was contained by "
    "dawn. Dunmore Logistics said packaging worth thousands of pounds, 60 tonnes in all, "
    "had been lost, and thanked crews for their work overnight."
)
OTHER_EVENT = (
    "A lorry carrying fertiliser overturned on the Kelmarsh bypass on Wednesday, closing "
    "the road for nine hours, police said.\n\n"
    "The driver, 52, was taken to hospital with minor injuries. Ruth Calloway of the fire "
    "service said crews had contained a small leak of 3 tonnes and the road reopened at "
    "18:00."
)


class Stored:
    """The index beside a store that numbers new stories, as ingest uses them."""

    def __init__(self, index: StoryIndex) -> None:
        self.index = index
        self.next_story = 1

    def add(self, article: int, title: str, text: str, hours: float = 0) -> Placement:
        at = AT + timedelta(hours=hours)
        print_ = fingerprint(title, text)
        placed = self.index.place(print_, at=at)
        story = placed.story
        if story is None:
            story, self.next_story = self.next_story, self.next_story + 1
        self.index.remember(story, article, print_, at=at, reprint=placed.copy_of is not None)
        return Placement(story, placed.copy_of) if placed.story is not None else placed


FIRE = "Kelmarsh warehouse fire contained"
FIRE_AGAIN = "140 evacuated as fire guts Dunmore Logistics depot in Kelmarsh"
LORRY = "Fertiliser lorry overturns on Kelmarsh bypass"


def test_a_reprint_folds_into_the_wire_article_it_copies() -> None:
    """A syndicated copy is another source of the article it reprints, in the same story."""
    stored = Stored(StoryIndex())
    assert stored.add(1, FIRE, WIRE) == Placement(None)
    assert stored.add(2, "Warehouse blaze brought under control", REPRINT) == Placement(1, 1)
    assert containment(fingerprint("", WIRE), fingerprint("", REPRINT)) > 0.9


def test_another_outlets_report_joins_the_story_and_another_event_does_not() -> None:
    """Same event in other words joins; the same town's other incident starts its own story."""
    stored = Stored(StoryIndex())
    stored.add(1, FIRE, WIRE)
    assert stored.add(2, FIRE_AGAIN, OTHER_REPORT, hours=2) == Placement(1)
    assert stored.add(3, LORRY, OTHER_EVENT, hours=3) == Placement(None)


def test_a_story_quiet_for_longer_than_the_window_is_not_joined() -> None:
    """A report three days after the story's last article starts a new story."""
    stored = Stored(StoryIndex(window=timedelta(hours=48)))
    stored.add(1, FIRE, WIRE)
    assert stored.add(2, FIRE_AGAIN, OTHER_REPORT, hours=72) == Placement(None)


def test_a_rebuilt_index_places_new_articles_in_restored_stories() -> None:
    """Stories put back after a restart are joined like ones placed live."""
    index = StoryIndex()
    index.remember(7, 1, fingerprint(FIRE, WIRE), at=AT)
    assert index.place(fingerprint(FIRE_AGAIN, OTHER_REPORT), at=AT) == Placement(7)
    assert index.place(fingerprint(LORRY, OTHER_EVENT), at=AT) == Placement(None)


def test_forgotten_stories_are_not_joined_and_leave_no_trace() -> None:
    """Stories last seen before the cut are dropped with their words and postings."""
    index = StoryIndex()
    index.remember(7, 1, fingerprint(FIRE, WIRE), at=AT)
    index.remember(8, 2, fingerprint(LORRY, OTHER_EVENT), at=AT + timedelta(hours=5))
    assert index.forget_before(AT + timedelta(hours=1)) == 1
    assert len(index) == 1
    assert index.place(fingerprint(FIRE_AGAIN, OTHER_REPORT), at=AT) == Placement(None)


def test_a_fingerprint_survives_being_stored() -> None:
    """The stored record reads back as the same fingerprint."""
    print_ = fingerprint(FIRE, WIRE)
    assert print_from_record(print_record(print_)) == print_


def test_a_fingerprint_from_a_worker_process_places_as_the_original_does() -> None:
    """Pickled (as from a worker process), a fingerprint keeps its arrays and brings its record."""
    print_ = fingerprint(FIRE_AGAIN, OTHER_REPORT)
    sent = pickle.loads(pickle.dumps(print_))
    assert sent == print_ and sent.record == print_record(print_)
    assert np.array_equal(sent.shingles, print_.shingles)
    for name in ("keys", "order", "word_tf", "name_tf"):
        assert np.array_equal(getattr(sent.terms, name), getattr(print_.terms, name))
    one, two = Stored(StoryIndex()), Stored(StoryIndex())
    for stored in (one, two):
        stored.add(1, FIRE, WIRE)
    assert one.index.place(print_, at=AT) == two.index.place(sent, at=AT) == Placement(1)


def test_provisional_ids_are_settled_by_the_stores_numbers() -> None:
    """A story and article known by batch ids are found by the stored ids after renumbering."""
    index = StoryIndex()
    index.remember(-1, -1, fingerprint(FIRE, WIRE), at=AT)
    index.renumber({-1: 7})
    assert index.place(fingerprint(FIRE_AGAIN, OTHER_REPORT), at=AT) == Placement(7)
    assert index.place(fingerprint(FIRE, REPRINT), at=AT) == Placement(7, copy_of=7)


def test_a_provisional_story_the_store_did_not_number_is_dropped() -> None:
    """A story whose first article was not stored after all is forgotten, postings and all."""
    index = StoryIndex()
    index.remember(-1, -1, fingerprint(FIRE, WIRE), at=AT)
    index.renumber({})
    assert len(index) == 0
    assert index.place(fingerprint(FIRE_AGAIN, OTHER_REPORT), at=AT) == Placement(None)


def test_an_embedding_is_kept_in_the_record_made_here_or_in_a_worker() -> None:
    """The model's vector, made unit length, is stored with the fingerprint (half
    precision) whether the record was made here or arrived from a worker process."""
    made_here = with_embedding(fingerprint(FIRE, WIRE), [3.0, 4.0])
    from_worker = with_embedding(pickle.loads(pickle.dumps(fingerprint(FIRE, WIRE))), [3.0, 4.0])
    for print_ in (made_here, from_worker):
        assert print_.embedding is not None
        assert np.allclose(print_.embedding, [0.6, 0.8])
        stored = print_from_record(print_record(print_))
        assert stored.embedding is not None
        assert np.allclose(stored.embedding, [0.6, 0.8], atol=1e-3)
        assert stored.words == print_.words
    assert print_from_record(print_record(fingerprint(FIRE, WIRE))).embedding is None


def test_an_empty_or_zero_vector_leaves_the_fingerprint_lexical() -> None:
    """A vector that cannot be made unit length is not kept."""
    print_ = fingerprint(FIRE, WIRE)
    assert with_embedding(print_, []).embedding is None
    assert with_embedding(print_, [0.0, 0.0]).embedding is None


def test_embeddings_that_disagree_keep_reports_with_shared_words_apart() -> None:
    """Close in words but far in meaning (the model's vectors at right angles), an
    article starts its own story; the same pair with one meaning shares one."""
    apart, together = Stored(StoryIndex()), Stored(StoryIndex())
    fire = fingerprint(FIRE, WIRE)
    report = fingerprint(FIRE_AGAIN, OTHER_REPORT)
    for stored, vectors in ((apart, ([1.0, 0.0], [0.0, 1.0])), (together, ([1.0, 0.0],) * 2)):
        for article, (print_, vector) in enumerate(zip((fire, report), vectors, strict=True), 1):
            meant = with_embedding(print_, vector)
            placed = stored.index.place(meant, at=AT)
            story = placed.story if placed.story is not None else article
            stored.index.remember(story, article, meant, at=AT)
    assert len(apart.index) == 2 and len(together.index) == 1
