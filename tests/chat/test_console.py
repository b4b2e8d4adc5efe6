from __future__ import annotations

import io
from dataclasses import replace
from unittest.mock import create_autospec

from bot.app import App
from bot.chat.console import ConsoleAdapter, render_text
from bot.domain import CONSOLE_SCOPE, Bullet, Message, Section, ThreadKind
from bot.services.brief import BriefService
from bot.services.chat import Chat
from bot.timeutil import utcnow
from tests.helpers import battery_follow_up


def _console(app: App, stdin: str = "") -> tuple[ConsoleAdapter, io.StringIO]:
    out = io.StringIO()
    console = ConsoleAdapter(
        chat=Chat(app.chat),
        stdin=io.StringIO(stdin),
        stdout=out,
        interactive=False,
    )
    return console, out


async def test_plain_line_asks_about_the_last_brief(app: App) -> None:
    """A question after /brief is answered from that brief's articles."""
    console, out = _console(app, "/brief ukraine\nwhat happens next?\n/quit\nnever read\n")
    await console.run()
    text = out.getvalue()
    assert "== Brief: ukraine" in text
    assert "envoy is expected to travel" in text
    assert "never read" not in text
    thread = await app.store.get_thread(CONSOLE_SCOPE, "console", console.thread_key or "")
    assert thread is not None and thread.article_ids


async def test_a_failing_command_is_reported_and_the_session_goes_on(app: App) -> None:
    """An exception in one command prints an apology, and the next command still runs."""
    briefs = create_autospec(BriefService, instance=True, spec_set=True)
    briefs.start.side_effect = RuntimeError("database on fire")
    out = io.StringIO()
    services = replace(app.chat, briefs=briefs)
    console = ConsoleAdapter(chat=Chat(services), stdin=io.StringIO(), stdout=out)
    assert await console.handle("/brief ukraine")
    assert await console.handle("/digest")
    text = out.getvalue()
    assert "Sorry, that failed: RuntimeError: database on fire" in text
    assert "== Daily digest" in text


async def test_render_text_numbers_stories_and_lists_sources(app: App) -> None:
    """The terminal rendering shows numbered stories, cited bullets and source links."""
    message = await app.chat.briefs.brief(CONSOLE_SCOPE, "interest rates")
    text = render_text(message)
    assert text.startswith("== Brief: interest rates")
    assert "\n1. " in text
    for citation in message.citations:
        assert f"[{citation.number}] {citation.source}: {citation.title}" in text
        assert citation.url in text
    assert "Note: Extractive summary" in text


async def test_help_lists_every_command_and_hints_use_console_names(app: App) -> None:
    """/help names /ask too; a brief with no match points to /feeds, the console's command."""
    console, out = _console(app, "/help\n/brief zeppelin regatta\n/ask\n")
    await console.run()
    text = out.getvalue()
    for command in ("/brief", "/digest", "/feeds", "/ask", "/help", "/quit"):
        assert command in text.split("Anything else")[0], command
    assert "/feeds lists the feeds read here" in text
    assert "Usage: /ask <question>" in text


def test_stories_under_an_overview_are_numbered_from_one() -> None:
    """A brief's overview sentences are not a story: the first story is still 1."""
    message = Message(
        kind=ThreadKind.BRIEF,
        title="Brief: ukraine",
        sections=(
            Section(heading=None, bullets=(Bullet("Across the stories.", (1,)),)),
            Section(heading="First story", bullets=(Bullet("A fact.", (1,)),), citations=(1,)),
            Section(heading="Second story", bullets=(Bullet("B fact.", (2,)),), citations=(2,)),
        ),
        citations=(),
    )
    text = render_text(message)
    assert "1. First story [1]" in text and "2. Second story [2]" in text


async def test_a_grown_story_is_printed_as_an_update_to_the_brief_that_showed_it(app: App) -> None:
    """The next digest prints the story's new report as a follow-on to the brief, once."""
    console, out = _console(app)
    await console.handle("/brief battery")
    feed = (await app.store.polled_feeds())[0]
    assert await app.stories.store(feed, battery_follow_up()) is not None
    subscription = await app.store.upsert_subscription(
        CONSOLE_SCOPE, "console", digest_time="08:00", timezone="UTC", topics=()
    )
    due = utcnow()
    assert await app.chat.digests.deliver(subscription, console, due=due) == "posted"
    text = out.getvalue()
    assert "(in the thread of earlier post console-1)\n== Update: " in text
    assert "followup.example" in text.split("== Update: ")[1]
    assert await app.chat.digests.deliver(subscription, console, due=due) == "already-posted"
    assert out.getvalue().count("== Update: ") == 1
