"""A model that lies behind valid source ids: nothing it invented is posted, every request
still gets a post, and `stats` counts what was dropped."""

from __future__ import annotations

from pathlib import Path

from bot.app import App
from bot.cli import _stats
from bot.domain import CONSOLE_SCOPE, Message
from bot.services.verify import UNSUPPORTED
from tests.fakes.openai_server import INVENTIONS, FakeOpenAI, lying
from tests.helpers import open_thread
from tests.llm.test_cli_llm import _bot


def _posted(message: Message) -> str:
    """Everything a reader sees: title, headings, bullets and notes."""
    parts = [message.title, *message.notes]
    for section in message.sections:
        parts += [section.heading or "", *(b.text for b in section.bullets)]
    return "\n".join(parts)


def _assert_nothing_invented(message: Message) -> None:
    text = _posted(message)
    for invention in INVENTIONS:
        assert invention not in text, (invention, text)


async def test_a_digest_from_a_lying_model_posts_only_what_the_sources_say(
    llm_app: App, fake: FakeOpenAI
) -> None:
    """Each item keeps the one true claim, model-written; the inventions are gone."""
    fake.default = lying()
    message = await llm_app.chat.digests.digest(CONSOLE_SCOPE)
    assert message.found and message.sections
    _assert_nothing_invented(message)
    for section in message.sections:
        assert section.bullets and all(b.citations for b in section.bullets)
    written = [s for s in message.sections if s.note is None]
    assert written, "the true claims should have been posted as the model wrote them"
    days = await llm_app.store.claims_by_day(None)
    assert days and days[-1].dropped >= 3 * len(message.sections)
    assert days[-1].checked > days[-1].dropped


async def test_a_brief_from_a_lying_model_posts_only_what_the_sources_say(
    llm_app: App, fake: FakeOpenAI
) -> None:
    """The brief's items and its overview lose their inventions and keep the rest."""
    fake.default = lying()
    message = await llm_app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    assert message.found and len(message.sections) >= 2
    _assert_nothing_invented(message)
    overview = message.sections[0]
    assert overview.heading is None and overview.bullets  # the true overview sentences


async def test_a_thread_answer_from_a_lying_model_says_the_sources_do_not_answer(
    llm_app: App, fake: FakeOpenAI
) -> None:
    """An invented answer is not posted: the reply says so and quotes what the sources say."""
    fake.default = lying()
    brief = await llm_app.chat.briefs.brief(CONSOLE_SCOPE, "ukraine")
    await open_thread(llm_app.store, CONSOLE_SCOPE, "console", "t1", brief)
    answer = await llm_app.chat.asks.ask(
        CONSOLE_SCOPE,
        "How many North Korean soldiers are serving with Russian units?",
        channel="console",
        thread_key="t1",
    )
    _assert_nothing_invented(answer)
    assert answer.title == "No answer in the sources"
    assert answer.citations and "11,000" in _posted(answer)
    assert any(UNSUPPORTED in note for note in answer.notes)


async def test_stats_counts_the_claims_checked_and_dropped(llm_app: App, fake: FakeOpenAI) -> None:
    """`stats` shows today's claims checked, re-cited and dropped, and the mode."""
    fake.default = lying()
    await llm_app.chat.digests.digest(CONSOLE_SCOPE)
    days = await llm_app.store.claims_by_day(None)
    out = await _stats(llm_app)
    assert "Claims checked against their sources (NEWSBRIEF_VERIFY=strict):" in out
    day = days[-1]
    assert (
        f"{day.day.isoformat()}   checked {day.checked}, re-cited {day.recited}, "
        f"dropped {day.dropped}"
    ) in out


async def test_verify_off_posts_what_the_model_wrote(tmp_path: Path, fake: FakeOpenAI) -> None:
    """NEWSBRIEF_VERIFY=off is what it says: the model's output unchecked (for comparison)."""
    fake.default = lying()
    code, out, err = await _bot(tmp_path, fake, "brief", "ukraine", verify="off")
    assert code == 0, err
    assert "Valtersen" in out
    code, out, err = await _bot(tmp_path, fake, "brief", "ukraine")
    assert code == 0, err
    assert not any(invention in out for invention in INVENTIONS), out
