"""The Discord adapter end to end: discord.py's real client against the loopback Discord."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import Message, Scope, ThreadKind
from tests.chat.discord_rig import MANAGE_GUILD, DiscordRig, discord_rig
from tests.fakes.summarizers import SlowSummarizer
from tests.helpers import add_article, battery_follow_up, interaction_key, until


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[DiscordRig]:
    async with discord_rig(tmp_path) as running:
        yield running


async def _post(rig: DiscordRig, message: Message) -> str:
    """Post as the bot posts everything: through the outbox."""
    scope, channel = Scope("discord", str(rig.fake.guild_id)), str(rig.fake.channel_id)
    sent = await rig.app.chat.outbox.send(rig.adapter, "test-post", scope, channel, message)
    return sent.status


def _embeds(call) -> list[dict]:  # type: ignore[no-untyped-def]
    return list((call.body or {}).get("embeds") or [])


def _text(call) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(call.body, ensure_ascii=False)


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)


async def _brief_thread(rig: DiscordRig) -> int:
    """Run /brief ukraine and return the id of the thread the bot opens on it, once the
    bot has recorded the thread (a question asked sooner would be in a thread unknown)."""
    brief = await rig.fake.interaction("brief", [{"name": "topic", "value": "ukraine"}])
    key = interaction_key(brief)

    async def posted() -> bool:
        sent = await rig.app.chat.outbox.get(key)
        return sent is not None and sent.status == "posted"

    await until(posted, "the brief posted")
    return int(_thread_of(rig))


async def test_commands_are_synced_to_the_guild_on_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Start-up registers /brief, /ask, /digest and /feeds, config groups behind Manage Server,
    and logs at INFO who the bot is, in how many servers, and where the commands went."""
    with caplog.at_level(logging.INFO, logger="bot.chat.discord"):
        async with discord_rig(tmp_path) as rig:
            names = {c["name"]: c for c in rig.fake.commands[rig.fake.guild_id]}
    assert {"brief", "ask", "digest", "feeds"} <= set(names)
    assert str(names["feeds"]["default_member_permissions"]) == MANAGE_GUILD
    assert str(names["digest"]["default_member_permissions"]) == MANAGE_GUILD
    infos = [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.chat.discord" and r.levelno == logging.INFO
    ]
    bot = rig.fake.bot_name
    assert f"Discord: connected as {bot} (id {rig.fake.bot_user_id}) to 1 servers" in infos
    assert f"Discord: commands synced to server {rig.fake.guild_id}" in infos


async def test_without_a_server_id_commands_sync_globally_and_it_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No DISCORD_GUILD_ID: commands go out globally and the log warns of Discord's delay."""
    with caplog.at_level(logging.INFO, logger="bot.chat.discord"):
        async with discord_rig(tmp_path, guild_commands=False) as rig:
            names = {c["name"] for c in rig.fake.commands[None]}
    assert {"brief", "ask", "digest", "feeds"} <= names
    assert rig.fake.guild_id not in rig.fake.commands
    assert any(
        r.levelno == logging.INFO
        and r.getMessage()
        == "Discord: commands synced globally (Discord may take up to an hour to show them)"
        for r in caplog.records
    )


async def test_brief_defers_at_once_while_the_summarizer_is_slow(tmp_path: Path) -> None:
    """The deferral reaches Discord within 3 seconds; the brief follows when ready."""
    async with discord_rig(tmp_path, summarizer=SlowSummarizer(3.5)) as rig:
        sent = time.monotonic()
        await rig.fake.interaction("brief", [{"name": "topic", "value": "ukraine"}])
        callback = await until(lambda: rig.callbacks())
        assert callback[0].body["type"] == 5  # deferred channel message
        assert callback[0].at - sent < 3.0
        assert rig.posts() == []
        await until(lambda: rig.posts())


async def test_brief_follow_up_has_cited_embeds_and_opens_a_thread(rig: DiscordRig) -> None:
    """The follow-up carries one embed per story with linked citations, then a thread opens."""
    await rig.fake.interaction("brief", [{"name": "topic", "value": "ukraine"}])
    thread_call = await until(lambda: rig.fake.rest("POST", "/threads"))
    (follow_up,) = rig.posts("/webhooks/")
    embeds = _embeds(follow_up)
    assert embeds and all(e.get("url", "").startswith("https://") for e in embeds)
    assert "[\\\\[1\\\\]](https://" in _text(follow_up)
    assert "Extractive summary" in _text(follow_up)
    assert follow_up.body["allowed_mentions"] == {"parse": []}
    assert "Brief: ukraine" in follow_up.body["content"]
    opened_in = thread_call[0].path.split("/")[2]
    scope, channel = Scope("discord", str(rig.fake.guild_id)), str(rig.fake.channel_id)
    # The bot records the thread once Discord has answered the thread's creation.
    thread = await until(lambda: rig.app.store.get_thread(scope, channel, _thread_of(rig)))
    assert thread.kind is ThreadKind.BRIEF
    assert opened_in == str(rig.fake.channel_id)


def _thread_of(rig: DiscordRig) -> str:
    return str(next(iter(rig.fake.threads)))


async def test_a_message_in_the_thread_is_answered_there(rig: DiscordRig) -> None:
    """A question typed in the brief's thread gets a cited answer in that thread."""
    thread_id = await _brief_thread(rig)
    await rig.fake.message("what happens next?", channel_id=thread_id)
    answer = await until(lambda: rig.posts(f"/channels/{thread_id}/messages"))
    assert "envoy is expected to travel" in _text(answer[0])
    assert answer[0].body["allowed_mentions"]["parse"] == []
    await rig.fake.message("and who said so?", channel_id=thread_id)
    await until(lambda: len(rig.posts(f"/channels/{thread_id}/messages")) == 2)
    thread = await rig.app.store.get_thread(
        Scope("discord", str(rig.fake.guild_id)), str(rig.fake.channel_id), str(thread_id)
    )
    assert thread is not None
    turns = await rig.app.store.recent_turns(thread, 5)
    assert [t.question for t in turns] == ["what happens next?", "and who said so?"]


async def test_bots_and_unknown_threads_get_no_answer(
    rig: DiscordRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Other bots, plain channel chatter and a thread a member opened are ignored: the
    question sent after them in our thread is the only thing the bot posts."""
    caplog.set_level(logging.DEBUG, logger="bot.chat.discord")
    thread_id = await _brief_thread(rig)
    theirs = await rig.fake.user_thread("members only")
    await until(lambda: rig.adapter.client.get_channel(theirs))
    before = len(rig.posts())
    await rig.fake.message("beep", channel_id=thread_id, author_id=7777, bot=True)
    await rig.fake.message("what happens next?", channel_id=rig.fake.channel_id)
    await rig.fake.message("what happens next?", channel_id=theirs)
    await until(lambda: _logged(caplog, f"in thread {theirs}: not for us"))
    await rig.fake.message("what happens next?", channel_id=thread_id)
    await until(lambda: len(rig.posts()) > before)
    (answer,) = rig.posts()[before:]
    assert answer.path == f"/channels/{thread_id}/messages"
    assert "envoy is expected to travel" in _text(answer)


async def test_an_empty_message_with_the_intent_gets_nothing(rig: DiscordRig) -> None:
    """With the intent on, empty content is an image or sticker: no answer and no how-to-ask
    note; the question sent after it is the only thing posted."""
    thread_id = await _brief_thread(rig)
    in_thread = f"/channels/{thread_id}/messages"
    await rig.fake.message("", channel_id=thread_id)
    await rig.fake.message("what happens next?", channel_id=thread_id)
    await until(lambda: rig.posts(in_thread))
    (answer,) = rig.posts(in_thread)
    assert "envoy is expected to travel" in _text(answer)


async def test_unmentioned_replies_without_the_intent_get_one_note_on_how_to_ask(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the intent, replies not mentioning the bot arrive empty: the thread gets one
    note (mention the bot or /ask), however many come; a reply that mentions it is answered."""
    caplog.set_level(logging.DEBUG, logger="bot.chat.discord")
    async with discord_rig(tmp_path, message_content=False) as rig:
        thread_id = await _brief_thread(rig)
        in_thread = f"/channels/{thread_id}/messages"
        me = f"<@{rig.fake.bot_user_id}>"
        await rig.fake.message("what happens next?", channel_id=thread_id)
        (note,) = await until(lambda: rig.posts(in_thread))
        assert me in note.body["content"] and "`/ask question:…`" in note.body["content"]
        assert note.body["allowed_mentions"]["parse"] == []
        await rig.fake.message("hello? anyone?", channel_id=thread_id)
        await rig.fake.message(f"{me} what happens next?", channel_id=thread_id)
        await until(lambda: _logged(caplog, f"in thread {thread_id}: not for us"))
        await until(lambda: len(rig.posts(in_thread)) >= 2)
        posts = rig.posts(in_thread)
        assert len(posts) == 2
        assert "envoy is expected to travel" in _text(posts[1])
        # The note is claimed in the database, so a restarted bot does not repeat it.
        scope = Scope("discord", str(rig.fake.guild_id))
        again = await rig.app.chat.asks.reply_in_thread(
            scope,
            str(rig.fake.channel_id),
            thread_key=str(thread_id),
            message_key="a-later-message",
            question=None,
        )
        assert again is None


async def test_without_the_intent_threads_we_did_not_open_get_no_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A member's reply in a thread the bot did not open gets no note on how to ask."""
    caplog.set_level(logging.DEBUG, logger="bot.chat.discord")
    async with discord_rig(tmp_path, message_content=False) as rig:
        thread_id = await _brief_thread(rig)
        theirs = await rig.fake.user_thread("members only")
        await until(lambda: rig.adapter.client.get_channel(theirs))
        before = len(rig.posts())
        await rig.fake.message("what happens next?", channel_id=theirs)
        await until(lambda: _logged(caplog, f"in thread {theirs}: not for us"))
        await rig.fake.message(f"<@{rig.fake.bot_user_id}> what next?", channel_id=thread_id)
        await until(lambda: len(rig.posts()) > before)
        (answer,) = rig.posts()[before:]
        assert answer.path == f"/channels/{thread_id}/messages"


async def test_ask_inside_the_thread_answers_without_message_content(rig: DiscordRig) -> None:
    """/ask in the thread does what a typed question does, for bots without the intent."""
    thread_id = await _brief_thread(rig)
    await rig.fake.interaction(
        "ask", [{"name": "question", "value": "what happens next?"}], channel_id=thread_id
    )
    follow_ups = await until(lambda: len(rig.posts("/webhooks/")) == 2 and rig.posts("/webhooks/"))
    assert "envoy is expected to travel" in _text(follow_ups[-1])


async def test_no_match_gets_an_ephemeral_reply(rig: DiscordRig) -> None:
    """A topic nothing matches is answered privately at once, and nothing is posted."""
    await rig.fake.interaction("brief", [{"name": "topic", "value": "zeppelin racing"}])
    (callback,) = await until(lambda: rig.callbacks())
    assert callback.body["type"] == 4
    assert callback.body["data"]["flags"] & 64
    assert "zeppelin racing" in callback.body["data"]["content"]
    assert rig.posts() == []


async def test_no_match_reply_names_feeds_list_unescaped_and_escapes_the_topic(
    rig: DiscordRig,
) -> None:
    """The private no-match reply points server managers to `/feeds list` with working
    backticks, while Markdown in the topic the user typed is escaped."""
    await rig.fake.interaction("brief", [{"name": "topic", "value": "**zeppelin** racing"}])
    (callback,) = await until(lambda: rig.callbacks())
    content = callback.body["data"]["content"]
    assert "Server managers can see the feeds read here with `/feeds list`." in content
    assert "\\`" not in content
    assert "\\*\\*zeppelin\\*\\* racing" in content
    assert "**zeppelin**" not in content  # no unescaped bold anywhere, title included


async def test_an_answer_that_found_nothing_points_to_brief(rig: DiscordRig) -> None:
    """/ask the sources cannot answer: the answer's embed ends with how `/brief` helps."""
    await rig.fake.interaction(
        "ask", [{"name": "question", "value": "who won the zeppelin regatta on mars?"}]
    )
    (follow_up,) = await until(lambda: rig.posts("/webhooks/"))
    (embed,) = _embeds(follow_up)
    assert "don't answer that" in embed["description"]
    assert embed["description"].endswith("`/brief` shows what the sources do cover.")


async def test_mentions_in_articles_never_ping(rig: DiscordRig) -> None:
    """An article with @everyone is posted with allowed_mentions that parse nothing."""
    title = "Zeppelin club tells @everyone and @here it won"
    text = "The zeppelin club told @everyone and <@5001> that its airship won the race on the lake."
    await add_article(rig.app.store, title=title, text=text, url="https://z.example/1")
    await rig.fake.interaction("brief", [{"name": "topic", "value": "zeppelin"}])
    (post,) = await until(lambda: rig.posts())
    assert "@everyone" in _text(post)
    assert post.body["allowed_mentions"] == {"parse": []}


async def test_non_admin_cannot_add_feeds(rig: DiscordRig) -> None:
    """Without Manage Server, /feeds add is refused at run time and nothing changes."""
    before = await rig.app.store.polled_feeds()
    await rig.fake.interaction(
        "feeds",
        [{"name": "url", "value": "https://example.com/f.xml"}],
        subcommand="add",
        permissions="0",
    )
    reply = await until(lambda: rig.posts("/webhooks/"))
    assert "Manage Server" in _text(reply[0])
    assert reply[0].body.get("flags", 0) & 64
    assert await rig.app.store.polled_feeds() == before


async def _schedule_digest_due_now(rig: DiscordRig) -> str:
    """An admin's `/digest schedule` for five minutes ago: due at once. Returns the time."""
    due = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
    await rig.fake.interaction(
        "digest",
        [{"name": "time", "value": due}, {"name": "timezone", "value": "UTC"}],
        subcommand="schedule",
        permissions=MANAGE_GUILD,
    )
    return due


async def test_admin_schedules_a_digest_and_a_restart_does_not_repeat_it(rig: DiscordRig) -> None:
    """/digest schedule stores the channel's digest; posted once, never again after restart."""
    due = await _schedule_digest_due_now(rig)
    reply = await until(lambda: rig.posts("/webhooks/"))
    assert f"{due} UTC" in _text(reply[0])
    (subscription,) = await rig.app.store.list_subscriptions()
    assert subscription.channel == str(rig.fake.channel_id)
    # The scheduler keeps nothing of its own: what was posted is in the store, so a
    # second catch-up is what a restarted process's would be.
    assert [r for _, r in await rig.app.scheduler.catch_up()] == ["posted"]
    posted = rig.posts(f"/channels/{rig.fake.channel_id}/messages")
    assert posted and "Daily digest" in posted[0].body["content"]
    assert rig.fake.rest("POST", "/threads")
    assert [r for _, r in await rig.app.scheduler.catch_up()] == ["already-posted"]
    assert len(rig.posts(f"/channels/{rig.fake.channel_id}/messages")) == len(posted)


async def test_a_long_digest_is_split_across_messages_within_limits(rig: DiscordRig) -> None:
    """A digest too big for one message goes out as several, each within Discord's limits."""
    from tests.chat.test_discord_embeds import _digest

    message = _digest(stories=25, bullet_words=300)
    assert await _post(rig, message) == "posted"
    posts = rig.posts(f"/channels/{rig.fake.channel_id}/messages")
    assert len(posts) > 1 and rig.fake.threads
    for post in posts:
        embeds = _embeds(post)
        assert len(embeds) <= 10 and len(post.body.get("content", "")) <= 2000
        total = sum(
            len(e.get("title", ""))
            + len(e.get("description", ""))
            + len(e.get("footer", {}).get("text", ""))
            for e in embeds
        )
        assert total <= 6000


async def test_a_rate_limited_post_is_retried_by_discord_py(rig: DiscordRig) -> None:
    """A 429 on sending is waited out and retried; the message lands."""
    rig.fake.fail_next("POST", f"/channels/{rig.fake.channel_id}/messages", retry_after=0.2)
    message = await rig.app.chat.digests.digest(Scope("discord", str(rig.fake.guild_id)))
    assert await _post(rig, message) == "posted"
    statuses = [c.status for c in rig.posts(f"/channels/{rig.fake.channel_id}/messages")]
    assert statuses[0] == 429 and statuses[-1] == 200


async def test_missing_permission_gets_a_clear_message(rig: DiscordRig) -> None:
    """When Discord refuses the follow-up (403), the user is told what the bot needs."""
    rig.fake.fail_next("POST", "/webhooks/", status=403, code=50013, message="Missing Permissions")
    await rig.fake.interaction("brief", [{"name": "topic", "value": "ukraine"}])
    await until(lambda: len(rig.posts("/webhooks/")) >= 2)
    assert "I can't post here" in _text(rig.posts("/webhooks/")[-1])


async def test_a_dropped_gateway_resumes_and_keeps_answering(rig: DiscordRig) -> None:
    """After a disconnect discord.py resumes, and thread questions are still answered."""
    thread_id = await _brief_thread(rig)
    await rig.fake.disconnect(code=None)
    await rig.fake.resumed()
    await rig.fake.message("what happens next?", channel_id=thread_id)
    await until(lambda: rig.posts(f"/channels/{thread_id}/messages"))


async def test_a_grown_story_is_posted_in_the_thread_opened_on_the_brief(rig: DiscordRig) -> None:
    """The next digest posts the story's new report into the brief's thread, once."""
    await rig.fake.interaction("brief", [{"name": "topic", "value": "battery"}])
    await until(lambda: rig.fake.threads)
    thread_id = _thread_of(rig)
    scope, channel = Scope("discord", str(rig.fake.guild_id)), str(rig.fake.channel_id)
    # Recorded once Discord has answered the thread's creation.
    await until(lambda: rig.app.store.get_thread(scope, channel, thread_id))
    feed = (await rig.app.store.polled_feeds())[0]
    assert await rig.app.stories.store(feed, battery_follow_up()) is not None
    await _schedule_digest_due_now(rig)
    await until(lambda: rig.posts("/webhooks/")[1:])
    assert [r for _, r in await rig.app.scheduler.catch_up()] == ["posted"]
    in_thread = rig.posts(f"/channels/{thread_id}/messages")
    (update,) = in_thread
    assert "Update: " in _text(update) and "followup.example" in _text(update)
    assert update.body["allowed_mentions"]["parse"] == []
    assert [r for _, r in await rig.app.scheduler.catch_up()] == ["already-posted"]
    assert rig.posts(f"/channels/{thread_id}/messages") == in_thread
