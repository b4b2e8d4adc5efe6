from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.story_index import StoryIndex, containment, fingerprint

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


def _assign(index: StoryIndex, article: int, title: str, text: str, hours: float = 0) -> object:
    return index.assign(
        article,
        fingerprint(title, text),
        source=f"Outlet {article}",
        at=AT + timedelta(hours=hours),
    )


def test_a_reprint_folds_into_the_wire_article_it_copies() -> None:
    """A syndicated copy is another source of the article it reprints, in the same story."""
    index = StoryIndex()
    first = index.assign(
        1, fingerprint("Kelmarsh warehouse fire contained", WIRE), source="A", at=AT
    )
    copy = index.assign(
        2, fingerprint("Warehouse blaze brought under control", REPRINT), source="B", at=AT
    )
    assert first.new_story and copy.copy_of == 1 and copy.story == first.story
    assert containment(fingerprint("", WIRE).shingles, fingerprint("", REPRINT).shingles) > 0.9


def test_another_outlets_report_joins_the_story_and_another_event_does_not() -> None:
    """Same event in other words joins; the same town's other incident starts its own story."""
    index = StoryIndex()
    first = index.assign(
        1, fingerprint("Kelmarsh warehouse fire contained", WIRE), source="A", at=AT
    )
    same = index.assign(
        2,
        fingerprint("140 evacuated as fire guts Dunmore Logistics depot in Kelmarsh", OTHER_REPORT),
        source="B",
        at=AT + timedelta(hours=2),
    )
    other = index.assign(
        3,
        fingerprint("Fertiliser lorry overturns on Kelmarsh bypass", OTHER_EVENT),
        source="C",
        at=AT + timedelta(hours=3),
    )
    assert same.story == first.story and same.copy_of is None and not same.new_story
    assert other.new_story and other.story != first.story


def test_a_story_quiet_for_longer_than_the_window_is_not_joined() -> None:
    """A report three days after the story's last article starts a new story."""
    index = StoryIndex(window=timedelta(hours=48))
    first = index.assign(
        1, fingerprint("Kelmarsh warehouse fire contained", WIRE), source="A", at=AT
    )
    late = index.assign(
        2,
        fingerprint("140 evacuated as fire guts Dunmore Logistics depot in Kelmarsh", OTHER_REPORT),
        source="B",
        at=AT + timedelta(days=3),
    )
    assert late.new_story and late.story != first.story


def test_a_rebuilt_index_places_new_articles_in_restored_stories() -> None:
    """Stories put back with add() (after a restart) are joined like ones assigned live."""
    index = StoryIndex()
    index.add(7, 1, fingerprint("Kelmarsh warehouse fire contained", WIRE), source="A", at=AT)
    joined = index.assign(
        2,
        fingerprint("140 evacuated as fire guts Dunmore Logistics depot in Kelmarsh", OTHER_REPORT),
        source="B",
        at=AT + timedelta(hours=1),
    )
    fresh = index.assign(
        3,
        fingerprint("Fertiliser lorry overturns on Kelmarsh bypass", OTHER_EVENT),
        source="C",
        at=AT,
    )
    assert joined.story == 7
    assert fresh.story == 8
