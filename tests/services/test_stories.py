"""Stories placed as articles are stored: reprints folded, reports joined, kept across a
restart; briefs group what they find by stored story."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from unittest.mock import create_autospec, patch

import pytest

from bot.chat.console import render_text
from bot.domain import CONSOLE_SCOPE, Feed, NewArticle, PostedStory, Story, ThreadKind
from bot.llm.extractive import ExtractiveSummarizer
from bot.services.ask import AskService
from bot.services.digest import DigestService
from bot.services.outbox import Outbox
from bot.services.ports import EmbeddingsUnavailable
from bot.services.render import render_stories
from bot.services.stories import EMBEDDINGS_RETRY, StoryDesk, by_story
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.store import InMemoryStore
from tests.helpers import new_article, open_thread
from tests.services.story_eval.evaluate import HERE

WAR = {a["id"]: a for a in json.loads((HERE / "set_war.json").read_text())["articles"]}


def _entry(key: str) -> NewArticle:
    row = WAR[key]
    at = datetime.fromisoformat(row["published_at"])
    return new_article(
        row["url"],
        row["title"],
        row["text"],
        source=row["outlet"],
        published_at=at,
        fetched_at=at,
        guid=row["id"],
    )


async def _feeds(store: InMemoryStore) -> tuple[Feed, Feed]:
    wire, ledger = await store.sync_default_feeds(["https://wire/feed", "https://ledger/feed"])
    return wire, ledger


async def test_a_syndicated_copy_becomes_a_second_source_of_the_same_article() -> None:
    """The Ledger's reprint of the wire story is not a new article: it is a source of it."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-006"]["published_at"]))
    original = await desk.store(wire, _entry("war-001"))
    assert original is not None
    assert await desk.store(ledger, _entry("war-002")) is None  # war-002 reprints war-001
    (article,) = await store.get_articles([original])
    assert [r.source for r in article.reprints] == ["The Harbour Ledger"]
    assert len(store.articles) == 1


async def test_reports_of_one_event_join_its_story_and_the_next_event_starts_another() -> None:
    """Other outlets' reports and a follow-up join; the next night's strike is a new story."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-007"]["published_at"]))
    first = await desk.store(wire, _entry("war-001"))
    joined = [await desk.store(ledger, _entry(k)) for k in ("war-003", "war-004", "war-006")]
    other = await desk.store(wire, _entry("war-007"))
    assert first is not None and other is not None and None not in joined
    stories = await store.stories(CONSOLE_SCOPE, [first, other])
    assert [len(s.articles) for s in stories] == [4, 1]
    assert stories[0].version == 4


async def test_a_restarted_desk_places_new_reports_in_stories_stored_before() -> None:
    """The index is rebuilt from the stored fingerprints, so a restart splits no story."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    now = datetime.fromisoformat(WAR["war-006"]["published_at"]) + timedelta(hours=1)
    first = await StoryDesk(store, clock=lambda: now).store(wire, _entry("war-001"))
    restarted = StoryDesk(store, clock=lambda: now)
    later = await restarted.store(ledger, _entry("war-003"))
    assert later is not None
    assert (await store.get_articles([later]))[0].story_id == first


async def test_by_story_groups_found_articles_in_order_of_first_appearance() -> None:
    """Articles group by their stored story; a story's first article found leads it."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-007"]["published_at"]))
    for key in ("war-001", "war-007", "war-003"):
        await desk.store(wire if key != "war-003" else ledger, _entry(key))
    found = await store.get_articles([3, 1, 2])
    stories = by_story(found)
    assert [[a.id for a in s.articles] for s in stories] == [[3, 1], [2]]
    assert [s.id for s in stories] == [1, 2]


async def test_a_reprinted_article_is_cited_with_every_outlet_that_carried_it() -> None:
    """The digest cites the wire story once, naming the outlets that reprinted it."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-006"]["published_at"]))
    original = await desk.store(wire, _entry("war-001"))
    await desk.store(ledger, _entry("war-002"))
    await desk.store(ledger, _entry("war-005"))
    assert original is not None
    story = Story(tuple(await store.get_articles([original])))
    summary = await ExtractiveSummarizer().summarize(story)
    message = render_stories(ThreadKind.DIGEST, "Digest", [(story, summary)], label=None)
    (citation,) = message.citations
    assert citation.outlets == "Northwind Wire, also in The Harbour Ledger and Pioneer Gazette"
    assert "[1] Northwind Wire, also in The Harbour Ledger and Pioneer Gazette:" in render_text(
        message
    )


async def test_a_thread_question_sees_an_article_that_joined_the_story_after_the_post() -> None:
    """Asked under a brief, the answer may come from a report that arrived after it."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    now = datetime.fromisoformat(WAR["war-006"]["published_at"]) + timedelta(hours=1)
    desk = StoryDesk(store, clock=lambda: now)
    first = await desk.store(wire, _entry("war-001"))
    assert first is not None
    asks = AskService(store, ExtractiveSummarizer(), clock=lambda: now)
    posted = Story(tuple(await store.get_articles([first])))
    summary = await ExtractiveSummarizer().summarize(posted)
    brief = render_stories(ThreadKind.BRIEF, "Brief", [(posted, summary)], label=None)
    await open_thread(store, CONSOLE_SCOPE, "console", "t1", brief)
    follow_up = await desk.store(ledger, _entry("war-006"))  # the toll rises to five
    assert follow_up is not None
    answer = await asks.ask(
        CONSOLE_SCOPE, "Has heating been restored?", channel="console", thread_key="t1"
    )
    assert answer.found
    assert follow_up in {c.article_id for c in answer.citations}


async def test_a_story_that_grew_is_posted_as_an_update_in_its_thread_once() -> None:
    """The next digest lists the grown story as updated and replies in its earlier thread
    with the new report; the same digest again posts nothing more."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    now = [datetime.fromisoformat("2026-11-17T08:00:00+00:00")]
    desk = StoryDesk(store, clock=lambda: now[0])
    digests = DigestService(
        store,
        ExtractiveSummarizer(),
        Outbox(store, clock=lambda: now[0]),
        max_stories=8,
        clock=lambda: now[0],
    )
    subscription = await store.upsert_subscription(
        CONSOLE_SCOPE, "C1", digest_time="08:00", timezone="UTC", topics=()
    )
    publisher = RecordingPublisher()
    first = await desk.store(wire, _entry("war-001"))
    await desk.store(ledger, _entry("war-003"))
    assert await digests.deliver(subscription, publisher, due=now[0]) == "posted"
    assert publisher.replies == []
    grown = await desk.store(ledger, _entry("war-006"))  # the same strike, that evening
    await desk.store(wire, _entry("war-007"))  # the next night's strike elsewhere
    now[0] = datetime.fromisoformat("2026-11-18T08:00:00+00:00")
    subscription = (await store.list_subscriptions())[0]
    assert await digests.deliver(subscription, publisher, due=now[0]) == "posted"
    _, digest = publisher.posts[1]
    notes = {section.heading: section.note for section in digest.sections}
    assert sorted(n or "" for n in notes.values()) == ["", "updated"]
    ((channel, thread, update),) = publisher.replies
    assert (channel, thread) == ("C1", "C1-post-1")
    assert update.title.startswith("Update: ") and update.kind is ThreadKind.UPDATE
    assert [c.article_id for c in update.citations] == [grown]
    assert not update.opens_thread
    assert await digests.deliver(subscription, publisher, due=now[0]) == "already-posted"
    assert len(publisher.replies) == 1
    posted = await store.posted_stories(CONSOLE_SCOPE, "C1", [first or 0])
    assert posted[first or 0].thread_key == "C1-post-1" and posted[first or 0].version == 3


async def test_one_feeds_batch_is_placed_entry_by_entry_and_settles_its_ids() -> None:
    """In one batch a reprint folds into the batch's own first article, a report joins the
    story that article started, and a later batch joins that story by its stored id."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-007"]["published_at"]))
    first, reprint, report, other = await desk.store_all(
        wire, [_entry(k) for k in ("war-001", "war-002", "war-003", "war-007")]
    )
    assert first is not None and report is not None and other is not None and reprint is None
    (original,) = await store.get_articles([first])
    assert [r.source for r in original.reprints] == ["The Harbour Ledger"]
    (later,) = await desk.store_all(ledger, [_entry("war-004")])
    assert later is not None
    stories = await store.stories(CONSOLE_SCOPE, [first, other])
    assert [[a.id for a in s.articles] for s in stories] == [[first, report, later], [other]]


async def test_a_batch_the_store_refuses_is_stored_whole_when_polled_again() -> None:
    """A failed write loses nothing: the same entries, polled again, are stored and placed."""
    store = InMemoryStore()
    wire, _ = await _feeds(store)
    desk = StoryDesk(store, clock=lambda: datetime.fromisoformat(WAR["war-006"]["published_at"]))
    entries = [_entry(k) for k in ("war-001", "war-002", "war-003")]
    failing = create_autospec(store.add_articles, side_effect=sqlite3.OperationalError("full"))
    with patch.object(store, "add_articles", failing), pytest.raises(sqlite3.OperationalError):
        await desk.store_all(wire, entries)
    first, reprint, report = await desk.store_all(wire, entries)
    assert first is not None and reprint is None and report is not None
    assert [a.story_id for a in await store.get_articles([first, report])] == [first, first]


class MeaningOf:
    """A stand-in embeddings model: texts starting with one of `same` mean one thing, the
    rest each their own; `down` makes it fail as a server that cannot be reached does."""

    model = "stand-in"

    def __init__(self, *same: str) -> None:
        self.same = same
        self.down = False
        self.asked: list[list[str]] = []

    async def aclose(self) -> None:
        pass

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked.append(list(texts))
        if self.down:
            raise EmbeddingsUnavailable("stand-in: connection refused")
        return [
            [1.0, 0.0] if text.startswith(self.same) else [0.0, float(len(self.asked) + i)]
            for i, text in enumerate(texts)
        ]


async def _two_reports_of_sokolyne(desk: StoryDesk, store: InMemoryStore) -> tuple[int, int]:
    wire, ledger = await _feeds(store)
    first = await desk.store(wire, _entry("war-039"))
    second = await desk.store(ledger, _entry("war-040"))
    assert first is not None and second is not None
    a, b = await store.get_articles([first, second])
    assert a.story_id is not None and b.story_id is not None
    return a.story_id, b.story_id


async def test_reports_in_other_words_join_where_embeddings_say_they_mean_the_same() -> None:
    """Two reports of one withdrawal, told in different words, are two stories by words
    alone and one story when the embeddings model puts them close."""
    titles = (WAR["war-039"]["title"], WAR["war-040"]["title"])
    clock = lambda: datetime.fromisoformat(WAR["war-040"]["published_at"])  # noqa: E731
    by_words = StoryDesk(InMemoryStore(), clock=clock)
    first, second = await _two_reports_of_sokolyne(by_words, by_words._store)  # type: ignore[arg-type]
    assert first != second
    store = InMemoryStore()
    meaning = MeaningOf(*titles)
    first, second = await _two_reports_of_sokolyne(
        StoryDesk(store, clock=clock, embedder=meaning), store
    )
    assert first == second
    assert [t[0].startswith(WAR["war-039"]["title"]) for t in meaning.asked] == [True, False]


async def test_embeddings_survive_a_restart_in_the_stored_fingerprints() -> None:
    """A restarted desk reads each stored article's embedding back, so the next report
    still joins by meaning."""
    titles = (WAR["war-039"]["title"], WAR["war-040"]["title"])
    clock = lambda: datetime.fromisoformat(WAR["war-040"]["published_at"])  # noqa: E731
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    first = await StoryDesk(store, clock=clock, embedder=MeaningOf(*titles)).store(
        wire, _entry("war-039")
    )
    restarted = StoryDesk(store, clock=clock, embedder=MeaningOf(*titles))
    second = await restarted.store(ledger, _entry("war-040"))
    assert first is not None and second is not None
    a, b = await store.get_articles([first, second])
    assert a.story_id == b.story_id


async def test_an_embeddings_outage_places_by_words_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the model down every article is stored, placed by its words, and the outage
    logged once; the model is not asked again until EMBEDDINGS_RETRY has passed, then
    its return is logged once too."""
    store = InMemoryStore()
    wire, ledger = await _feeds(store)
    meaning = MeaningOf()
    meaning.down = True
    now = [datetime.fromisoformat(WAR["war-007"]["published_at"])]
    desk = StoryDesk(store, clock=lambda: now[0], embedder=meaning)
    stored = [
        await desk.store(wire, _entry("war-001")),
        await desk.store(ledger, _entry("war-003")),
    ]
    assert None not in stored and len(store.articles) == 2
    assert len(meaning.asked) == 1  # the second batch did not wait on a model that is down
    meaning.down = False
    now[0] += EMBEDDINGS_RETRY
    await desk.store(wire, _entry("war-007"))
    assert len(meaning.asked) == 2
    outages = [r for r in caplog.records if "embeddings unavailable" in r.getMessage()]
    assert len(outages) == 1 and outages[0].levelname == "WARNING"
    assert "connection refused" in outages[0].getMessage()
    assert any("answers again" in r.getMessage() for r in caplog.records)
    a, b = await store.get_articles([i for i in stored if i is not None])
    assert a.story_id == b.story_id  # war-001 and war-003 join by their words, as before


SCIENCE = {a["id"]: a for a in json.loads((HERE / "set_science.json").read_text())["articles"]}


def _science(key: str) -> NewArticle:
    row = SCIENCE[key]
    at = datetime.fromisoformat(row["published_at"])
    return new_article(
        row["url"], row["title"], row["text"], source=row["outlet"], published_at=at, guid=key
    )


async def test_a_report_that_bridges_a_lone_article_and_its_story_merges_them() -> None:
    """The second report starts a story of its own; the third is like both, so the two
    become one: its articles move, a channel shown the lone one keeps its thread."""
    store = InMemoryStore()
    feeds = await store.sync_default_feeds([f"https://{n}/feed" for n in ("a", "b", "c")])
    desk = StoryDesk(
        store, clock=lambda: datetime.fromisoformat(SCIENCE["science-040"]["published_at"])
    )
    first = await desk.store(feeds[0], _science("science-038"))
    lone = await desk.store(feeds[1], _science("science-039"))
    assert first is not None and lone is not None and lone not in (first,)
    assert (await store.get_articles([lone]))[0].story_id == lone
    await store.record_posted_stories(CONSOLE_SCOPE, "C1", [PostedStory(lone, 1, "thread-1")])
    bridge = await desk.store(feeds[2], _science("science-040"))
    assert bridge is not None
    stories = {a.story_id for a in await store.get_articles([first, lone, bridge])}
    assert stories == {first} and lone not in store.story_rows
    posted = await store.posted_stories(CONSOLE_SCOPE, "C1", [first])
    assert posted == {first: PostedStory(first, 1, "thread-1")}


async def test_a_batch_whose_last_entry_bridges_two_stories_stores_one() -> None:
    """Within one feed's batch the same merge happens before anything is stored."""
    store = InMemoryStore()
    (feed,) = await store.sync_default_feeds(["https://a/feed"])
    desk = StoryDesk(
        store, clock=lambda: datetime.fromisoformat(SCIENCE["science-040"]["published_at"])
    )
    ids = await desk.store_all(
        feed, [_science(k) for k in ("science-038", "science-039", "science-040")]
    )
    assert None not in ids
    assert len({a.story_id for a in await store.get_articles([i for i in ids if i])}) == 1
    assert len(store.story_rows) == 1
