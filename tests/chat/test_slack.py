"""The Slack adapter end to end: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.chat.slack import SlackAdapter
from bot.chat.slack_blocks import BLOCKS_PER_MESSAGE, HEADER_LIMIT, TEXT_LIMIT
from bot.domain import Scope, ThreadKind
from bot.services.chat import Chat
from bot.timeutil import utcnow
from tests.chat.conftest import SECRET, SlackRig, slack_rig
from tests.fakes.slack_api import (
    RESPONSE_URL_METHOD,
    SlackCall,
    app_mention_event,
    message_event,
    sign,
    slash_command_body,
)
from tests.fakes.summarizers import SlowSummarizer
from tests.helpers import add_article, battery_follow_up, until

TEAM = Scope("slack", "T0001")
# A link we make ourselves, `<https://x|label>`: the one place `<` may reach Slack.
_OUR_LINK = re.compile(r"<https?://[^|<>]*\|[^<>]*>")


def _all_text(blocks: list[dict]) -> str:  # type: ignore[type-arg]
    return json.dumps(blocks, ensure_ascii=False)


def _texts(call: SlackCall) -> list[str]:
    """Every text a call carries: the message text, block texts, context elements."""
    texts = [call.text or ""]
    for block in call.blocks or []:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    return texts


def _private(slack: SlackRig) -> list[SlackCall]:
    """Replies only the user sees: response_url posts, then chat.postEphemeral calls."""
    methods = (RESPONSE_URL_METHOD, "chat.postEphemeral")
    return [c for c in slack.fake.calls if c.method in methods]


async def test_brief_posts_blocks_with_linked_citations_and_opens_a_thread(
    slack: SlackRig,
) -> None:
    """/brief ukraine posts a Block Kit brief; its ts is a thread the bot can answer in."""
    status, body, _ = await slack.command("/brief", "ukraine")
    assert status == 200 and body == ""
    (post,) = slack.fake.posted()
    assert post.body["channel"] == "C0001"
    assert post.body["unfurl_links"] is False and post.body["unfurl_media"] is False
    blocks = post.blocks
    assert blocks is not None
    assert blocks[0]["type"] == "header" and "Brief: ukraine" in blocks[0]["text"]["text"]
    sections = [b for b in blocks if b["type"] == "section"]
    assert sections and "<https://" in sections[0]["text"]["text"]
    assert "|[1]>" in _all_text(blocks)
    context = [b for b in blocks if b["type"] == "context"]
    assert "Extractive summary" in _all_text(context)
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    threads = [t for t in await _threads(slack)]
    assert threads and threads[0].kind is ThreadKind.BRIEF


async def _threads(slack: SlackRig) -> list:  # type: ignore[type-arg]
    found = []
    for call in slack.fake.posted():
        ts = call.ts
        if ts is None:
            continue
        thread = await slack.app.store.get_thread(TEAM, call.body["channel"], ts)
        if thread:
            found.append(thread)
    return found


async def test_ack_arrives_within_three_seconds_while_the_summarizer_is_slow(
    tmp_path: Path,
) -> None:
    """Slack's 3-second limit holds even when the brief takes longer to write."""
    async with slack_rig(tmp_path, summarizer=SlowSummarizer(3.5)) as slack:
        body = slash_command_body("/brief", "ukraine", response_url=slack.fake.response_url)
        status, _, seconds = await slack.send(body)
        assert status == 200
        assert seconds < 3.0
        assert slack.fake.posted() == []
        await slack.adapter.drain()
        assert len(slack.fake.posted()) == 1


async def test_a_reply_in_the_thread_is_answered_in_the_thread(slack: SlackRig) -> None:
    """A thread reply gets a cited answer posted with thread_ts; earlier turns are kept."""
    await slack.command("/brief", "ukraine")
    parent = slack.fake.posted()[0]
    parent_ts = parent.ts
    assert parent_ts
    await slack.event(
        message_event("what happens next?", ts="1800000000.000001", thread_ts=parent_ts)
    )
    await until(lambda: len(slack.fake.posted()) == 2)
    answer = slack.fake.posted()[1]
    assert answer.body["thread_ts"] == parent_ts
    assert "envoy is expected to travel" in _all_text(answer.blocks or [])
    assert "|[1]>" in _all_text(answer.blocks or [])
    await slack.event(
        message_event("and who said so?", ts="1800000000.000002", thread_ts=parent_ts)
    )
    await until(lambda: len(slack.fake.posted()) == 3)
    thread = await slack.app.store.get_thread(TEAM, "C0001", parent_ts)
    assert thread is not None
    turns = await slack.app.store.recent_turns(thread, 10)
    assert [t.question for t in turns] == ["what happens next?", "and who said so?"]


async def test_a_mention_in_the_thread_is_answered_once(slack: SlackRig) -> None:
    """A reply that mentions the bot arrives as two events (and maybe a retry): one answer."""
    await slack.command("/brief", "ukraine")
    parent_ts = slack.fake.posted()[0].ts
    text = "<@UBOT> how many North Korean soldiers are serving with Russian forces?"
    ts = "1800000000.000010"
    await slack.event(message_event(text, ts=ts, thread_ts=parent_ts))
    await slack.event(app_mention_event(text, ts=ts, thread_ts=parent_ts))
    await slack.event(app_mention_event(text, ts=ts, thread_ts=parent_ts))  # a redelivery
    await slack.adapter.drain()  # each event's work had started before its 200 came back
    answers = slack.fake.posted()[1:]
    assert len(answers) == 1
    assert "11,000" in _all_text(answers[0].blocks or [])
    assert answers[0].body["thread_ts"] == parent_ts


async def test_a_top_level_mention_is_answered_in_a_thread_under_it(slack: SlackRig) -> None:
    """@newsbrief with a question, outside any thread, answers from the whole store."""
    ts = "1800000000.000020"
    await slack.event(
        app_mention_event("<@UBOT> How did the board vote on the rate reduction?", ts=ts)
    )
    await until(lambda: len(slack.fake.posted()) == 1)
    answer = slack.fake.posted()[0]
    assert answer.body["thread_ts"] == ts
    assert "6-3" in _all_text(answer.blocks or [])


async def test_bots_edits_and_threads_we_did_not_open_are_ignored(slack: SlackRig) -> None:
    """The bot's own messages, other bots, edits, chatter and others' threads get no answer."""
    await slack.command("/brief", "ukraine")
    parent_ts = slack.fake.posted()[0].ts
    assert parent_ts
    chatter = "1800000000.000035"  # a member's top-level message: its thread is not ours
    ignored = [
        message_event(
            "echo", user="UBOT", bot_id="BBOT", thread_ts=parent_ts, ts="1800000000.000031"
        ),
        message_event(
            "beep", user="UOTHERBOT", bot_id="BOTHER", thread_ts=parent_ts, ts="1800000000.000032"
        ),
        message_event(
            "edited", subtype="message_changed", thread_ts=parent_ts, ts="1800000000.000033"
        ),
        message_event("what happens next?", ts=chatter),
        message_event("what happens next?", thread_ts=chatter, ts="1800000000.000036"),
        # The brief's ts in another channel is another thread, and not one of ours.
        message_event(
            "what happens next?", channel="C0002", thread_ts=parent_ts, ts="1800000000.000037"
        ),
    ]
    for event in ignored:
        assert (await slack.event(event))[0] == 200
    answered = message_event("what happens next?", thread_ts=parent_ts, ts="1800000000.000038")
    assert (await slack.event(answered))[0] == 200
    await slack.adapter.drain()  # every event's work had started before its 200 came back
    _, answer = slack.fake.posted()
    assert answer.body["thread_ts"] == parent_ts and answer.channel == "C0001"
    assert slack.fake.count("chat.postEphemeral") == 0


async def test_mentions_in_a_hostile_article_are_escaped(slack: SlackRig) -> None:
    """<!everyone>, <!channel>, <@U…> and & < > from a feed reach Slack as inert text."""
    title = "Zeppelin club <!everyone> says <!channel> & <@U0ADMIN> won"
    text = (
        "The zeppelin club told <!here> and @everyone that its airship won the lake race. "
        "Organisers said the <https://evil.example|prize> would be <b>doubled</b> next year."
    )
    await add_article(slack.app.store, title=title, text=text, url="https://z.example/1")
    await slack.command("/brief", "zeppelin")
    (post,) = slack.fake.posted()
    sent = _all_text(post.blocks or []) + str(post.body.get("text"))
    for raw in ("<!everyone>", "<!channel>", "<!here>", "<@U0ADMIN>", "<https://evil", "<b>"):
        assert raw not in sent
    assert "&lt;!everyone&gt;" in sent and "&lt;@U0ADMIN&gt;" in sent and "&amp;" in sent
    assert post.body.get("link_names") in (None, False)


async def test_a_bad_signature_is_rejected(slack: SlackRig) -> None:
    """Requests not signed with the signing secret get 401 and do nothing."""
    body = slash_command_body("/brief", "ukraine", response_url=slack.fake.response_url)
    status, _, _ = await slack.send(body, secret="wrong-secret")
    assert status == 401
    await slack.adapter.drain()
    assert slack.fake.posted() == []


async def test_empty_or_unmatched_topic_gets_a_private_reply(slack: SlackRig) -> None:
    """No topic: usage in the ack. No match: an ephemeral reply; nothing in the channel."""
    status, body, _ = await slack.command("/brief", "   ")
    assert status == 200 and "Usage: `/brief &lt;topic&gt;`, e.g. `/brief ukraine`." in body
    await slack.command("/brief", "zeppelin racing")
    assert slack.fake.posted() == []
    (reply,) = slack.responses()
    assert "zeppelin racing" in reply
    ephemeral = next(c for c in slack.fake.calls if c.method == "response_url")
    assert ephemeral.body["response_type"] == "ephemeral"


async def test_non_admin_cannot_change_feeds_or_the_digest(slack: SlackRig) -> None:
    """A plain member is refused politely; nothing changes."""
    for text in ("subscribe https://example.com/feed.xml", "digest 08:00 UTC", "digest off"):
        await slack.command("/newsbrief", text, user_id="UMEMBER")
    replies = slack.responses()
    assert len(replies) == 3 and all("only workspace admins and owners" in r for r in replies)
    assert await slack.app.store.feeds_for_scope(TEAM) == await slack.app.store.feeds_for_scope(
        Scope("slack", "T-NOBODY")
    )
    assert await slack.app.store.list_subscriptions() == []


async def test_admin_subscribes_a_feed_for_this_workspace_only(slack: SlackRig) -> None:
    """An admin's new feed is fetched at once and seen by this workspace, not another."""
    from tests.fakes.feed_server import feed_server
    from tests.ingest.feeds import rss_feed, rss_item, static

    async with feed_server() as server:
        url = server.serve(
            "/zeppelin.xml",
            static(
                rss_feed(
                    rss_item(
                        "Zeppelin racing returns to the lake",
                        "https://z.example/1",
                        guid="z1",
                        description="Airships raced again on Sunday.",
                    )
                )
            ),
        )
        await slack.command("/newsbrief", f"subscribe <{url}>", user_id="UADMIN")
    assert "Added" in slack.responses()[-1]
    await slack.command("/brief", "zeppelin", team_id="T0001")
    assert len(slack.fake.posted()) == 1
    await slack.command("/brief", "zeppelin", team_id="T0002")
    assert len(slack.fake.posted()) == 1
    assert "zeppelin" in slack.responses()[-1].lower()
    await slack.command("/newsbrief", "feeds", user_id="UMEMBER")
    feeds = "\n".join(_texts(_private(slack)[-1]))
    assert f"*<{url}|" in feeds and "ok (last fetched" in feeds


async def test_allowlisted_user_may_set_the_digest_and_it_is_scheduled(slack: SlackRig) -> None:
    """SLACK_ADMIN_USERS may configure; the schedule is validated and stored."""
    await slack.command("/newsbrief", "digest 25:00 UTC", user_id="UALLOWED")
    assert "HH:MM" in slack.responses()[-1]
    await slack.command("/newsbrief", "digest 07:30 Mars/Olympus", user_id="UALLOWED")
    assert "IANA" in slack.responses()[-1]
    await slack.command(
        "/newsbrief", "digest 07:30 Europe/Kyiv ukraine, energy", user_id="UALLOWED"
    )
    assert "07:30 Europe/Kyiv" in slack.responses()[-1]
    (subscription,) = await slack.app.store.list_subscriptions()
    assert subscription.topics == ("ukraine", "energy")
    assert subscription.scope == TEAM and subscription.channel == "C0001"


async def test_digest_now_posts_block_kit_digest(slack: SlackRig) -> None:
    """/newsbrief digest now posts today's digest in the channel."""
    await slack.command("/newsbrief", "digest now", user_id="UOWNER")
    (post,) = slack.fake.posted()
    assert "Daily digest" in post.blocks[0]["text"]["text"]  # type: ignore[index]


async def test_a_restart_does_not_repeat_a_posted_digest(slack: SlackRig) -> None:
    """The daily job posts once; a restarted scheduler's catch-up finds it posted."""
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=5)).strftime("%H:%M")
    await slack.command("/newsbrief", f"digest {due} UTC", user_id="UADMIN")
    # The scheduler keeps nothing of its own: what was posted is in the store, so a
    # second catch-up is what a restarted process's would be.
    scheduler = slack.app.scheduler
    assert [r for _, r in await scheduler.catch_up()] == ["posted"]
    assert [r for _, r in await scheduler.catch_up()] == ["already-posted"]
    assert len(slack.fake.posted()) >= 1
    channels = {c.body["channel"] for c in slack.fake.posted()}
    assert channels == {"C0001"}
    count = len(slack.fake.posted())
    await scheduler.post_digest((await slack.app.store.list_subscriptions())[0].id)
    assert len(slack.fake.posted()) == count


async def test_a_rate_limited_post_is_retried_after_retry_after(slack: SlackRig) -> None:
    """HTTP 429 from chat.postMessage is retried after Retry-After, and the post lands."""
    slack.fake.fail_next("chat.postMessage", retry_after=1)
    await slack.command("/brief", "measles")
    calls = slack.fake.posted()
    assert len(calls) == 2
    assert calls[0].ts is None and calls[1].ts is not None


async def test_a_channel_the_bot_cannot_post_in_gets_a_clear_reply(slack: SlackRig) -> None:
    """not_in_channel becomes an ephemeral hint to invite the bot, not a silent failure."""
    await slack.command("/brief", "ukraine", channel_id="CNOTIN")
    assert "/invite @newsbrief" in slack.responses()[-1]


async def test_an_unmatched_brief_points_to_newsbrief_feeds(slack: SlackRig) -> None:
    """A brief with no match names Slack's `/newsbrief feeds`, never a bare `/feeds`."""
    await slack.command("/brief", "zeppelin racing")
    (reply,) = slack.responses()
    assert "No article" in reply and "Try fewer or broader words." in reply
    assert "`/newsbrief feeds` lists the feeds read here and their health." in reply
    assert not re.search(r"(?<!newsbrief )/feeds", reply)


async def test_a_thread_question_with_no_answer_points_to_brief(slack: SlackRig) -> None:
    """An answer that found nothing, posted in the thread, points to `/brief <topic>`."""
    await slack.command("/brief", "ukraine")
    parent_ts = slack.fake.posted()[0].ts
    question = "what about the quorbly frindlewicks?"
    await slack.event(message_event(question, ts="1800000000.000040", thread_ts=parent_ts))
    await slack.adapter.drain()
    _, answer = slack.fake.posted()
    assert answer.body["thread_ts"] == parent_ts
    sent = "\n".join(_texts(answer))
    assert "don't answer that" in sent
    assert "`/brief &lt;topic&gt;` shows what the sources do cover." in sent


async def test_a_feed_change_shows_its_hint_after_the_text(slack: SlackRig) -> None:
    """Removing a feed not followed says so, then points to `/newsbrief feeds`."""
    await slack.command(
        "/newsbrief", "unsubscribe https://nothing.example/feed.xml", user_id="UADMIN"
    )
    (reply,) = slack.responses()
    assert reply == (
        "https://nothing.example/feed.xml is not a followed feed. "
        "`/newsbrief feeds` lists the feeds read here and their health."
    )


async def test_a_brief_on_a_topic_with_the_word_payload_is_posted(slack: SlackRig) -> None:
    """`/brief payload prices` is a command like any other (Bolt alone would 404 it)."""
    await add_article(
        slack.app.store,
        title="Launch firms cut payload prices again",
        text="Two launch firms cut their payload prices for small satellites this week, "
        "and a third said its payload prices would follow in the spring.",
        url="https://space.example/payload",
    )
    status, _, _ = await slack.command("/brief", "payload prices")
    assert status == 200
    (post,) = slack.fake.posted()
    assert "Brief: payload prices" in post.blocks[0]["text"]["text"]  # type: ignore[index]
    assert slack.responses() == []


async def test_an_interactivity_payload_is_still_read_as_one(slack: SlackRig) -> None:
    """A form whose `payload` field is JSON reaches the action listener, parsed."""
    seen: list[dict[str, Any]] = []

    @slack.adapter.app.action("more")
    async def more(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    payload = {
        "type": "block_actions",
        "token": "verification-token",
        "api_app_id": "A1",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": "UMEMBER", "team_id": "T0001"},
        "channel": {"id": "C0001", "name": "general"},
        "trigger_id": "123.456",
        "response_url": slack.fake.response_url,
        "actions": [
            {"type": "button", "action_id": "more", "block_id": "b1", "value": "payload prices"}
        ],
    }
    status, _, _ = await slack.send(urlencode({"payload": json.dumps(payload)}))
    assert status == 200
    (body,) = seen
    assert body["type"] == "block_actions" and body["actions"][0]["value"] == "payload prices"


async def test_our_usage_and_help_texts_are_escaped(slack: SlackRig) -> None:
    """Help, usage and hint texts reach Slack with `<` escaped: none reads as a broken link."""
    acks = []
    for command, text, user in [
        ("/newsbrief", "help", "UMEMBER"),
        ("/newsbrief", "", "UMEMBER"),
        ("/brief", "  ", "UMEMBER"),
        ("/newsbrief", "subscribe", "UADMIN"),
        ("/newsbrief", "unsubscribe", "UADMIN"),
        ("/newsbrief", "digest 08:00", "UADMIN"),
        ("/newsbrief", "digest 25:00 UTC", "UADMIN"),
        ("/newsbrief", "digest 07:30 Mars/Olympus", "UADMIN"),
    ]:
        status, body, _ = await slack.command(command, text, user_id=user)
        assert status == 200
        acks.append(body)
    assert len(slack.responses()) == 5  # each admin command got its private reply
    help_text = acks[0]
    for escaped in ("`/brief &lt;topic&gt;`", "&lt;IANA zone&gt;", "&lt;feed url&gt;"):
        assert escaped in help_text
    assert "&lt;feed url&gt;" in slack.responses()[0]
    sent = acks + [t for call in slack.fake.calls for t in _texts(call)]
    for text in sent:
        assert "<" not in _OUR_LINK.sub("", text), text


async def _follow_feeds(slack: SlackRig, count: int) -> dict[str, int]:
    """Subscribe the workspace to `count` feeds: every third failing, every other one ok.

    Returns each feed's URL with its number, which its title and error repeat.
    """
    store, now = slack.app.store, utcnow()
    urls = {}
    for n in range(count):
        url = f"https://feeds{n}.example/rss.xml"
        feed = await store.add_feed(url)
        await store.subscribe_feed(TEAM, feed, channel="C0001", added_by="UADMIN")
        if n % 3 == 0:
            await store.record_fetch_failure(
                feed, at=now, next_poll_at=now + timedelta(hours=1), error=f"HTTP 404 (feed {n})"
            )
        elif n % 2 == 0:
            await store.record_fetch_success(
                feed,
                at=now,
                next_poll_at=now + timedelta(hours=1),
                etag=None,
                last_modified=None,
                title=f"Feed {n}",
            )
        urls[url] = n
    return urls


def _within_slack_limits(calls: list[SlackCall]) -> None:
    for call in calls:
        blocks = call.blocks or []
        assert len(blocks) <= BLOCKS_PER_MESSAGE
        assert all(len(text) <= TEXT_LIMIT for text in _texts(call))
        headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
        assert all(len(h) <= HEADER_LIMIT for h in headers)


async def test_feeds_lists_every_feed_uncut_each_in_its_own_section(slack: SlackRig) -> None:
    """40 feeds: all are listed within Slack's limits; each status follows its own feed."""
    urls = await _follow_feeds(slack, 40)
    await slack.command("/newsbrief", "feeds", user_id="UMEMBER")
    replies = _private(slack)
    assert replies and all(c.body["response_type"] == "ephemeral" for c in replies)
    _within_slack_limits(replies)
    sent = "\n".join(t for call in replies for t in _texts(call))
    assert all(url in sent for url in urls)
    sections = [
        b["text"]["text"].split("\n")
        for call in replies
        for b in call.blocks or []
        if b["type"] == "section"
    ]
    ours = {}
    for heading, *lines in sections:
        linked = [u for u in urls if f"*<{u}|" in heading]  # a heading links its own feed
        if not linked:
            continue  # an operator's default feed, a local file
        (url,) = linked
        ours[url] = lines
        n = urls[url]
        titled = n % 6 in (2, 4)
        assert heading == (f"*<{url}|Feed {n}>*" if titled else f"*<{url}|{url}>*")
        assert not any(line.startswith("*") for line in lines)  # no other feed's heading
        status = next(i for i, line in enumerate(lines) if line.startswith("• Status: "))
        assert lines[:status] == ([f"• {url}"] if titled else [])  # only its own URL before
        if n % 3 == 0:
            assert lines[status].startswith("• Status: failing (1 in a row")
            assert lines[status + 1] == f"• Last error: HTTP 404 (feed {n})"
        elif titled:
            assert lines[status].startswith("• Status: ok (last fetched")
        else:
            assert lines[status] == "• Status: not fetched yet"
    assert set(ours) == set(urls)


async def test_a_reply_longer_than_five_parts_goes_on_by_chat_post_ephemeral(
    slack: SlackRig,
) -> None:
    """response_url takes five parts; the rest go privately by chat.postEphemeral."""
    urls = await _follow_feeds(slack, 230)
    await slack.command("/newsbrief", "feeds", user_id="UMEMBER")
    responded = slack.fake.posted(RESPONSE_URL_METHOD)
    later = slack.fake.posted("chat.postEphemeral")
    assert len(responded) == 5 and later
    assert all((c.channel, c.body["user"]) == ("C0001", "UMEMBER") for c in later)
    _within_slack_limits(responded + later)
    sent = "\n".join(t for call in responded + later for t in _texts(call))
    assert all(url in sent for url in urls)
    headers = [c.blocks[0]["text"]["text"] for c in responded + later]  # type: ignore[index]
    parts = len(headers)
    assert headers[0].endswith(f"(1/{parts})") and headers[-1].endswith(f"({parts}/{parts})")


async def test_a_token_in_the_environment_draws_no_bolt_warning(
    slack: SlackRig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With SLACK_BOT_TOKEN set, Bolt warns of nothing; calls go to our API URL and token."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    caplog.set_level(logging.INFO)
    adapter = SlackAdapter(
        bot_token="xoxb-test",
        app_token=None,
        signing_secret=SECRET,
        api_url=slack.fake.base_url.rstrip("/"),  # the client adds the slash it needs
        admin_users=[],
        chat=Chat(slack.app.chat),
        host="127.0.0.1",
        port=0,
    )
    await adapter.start()
    try:
        url = f"http://127.0.0.1:{adapter.bound_port}/slack/events"
        body = slash_command_body("/brief", "ukraine", response_url=slack.fake.response_url)
        async with slack.http.post(url, data=body.encode(), headers=sign(SECRET, body)) as r:
            assert r.status == 200
        await adapter.drain()
    finally:
        await adapter.stop()
    warnings = [
        r for r in caplog.records if r.name.startswith("slack") and r.levelno >= logging.WARNING
    ]
    assert warnings == []
    (post,) = slack.fake.posted()
    auth = slack.fake.posted("auth.test")  # the adapter's own, and Bolt's per request
    assert len(auth) >= 2
    assert {c.headers["Authorization"] for c in [post, *auth]} == {"Bearer xoxb-test"}
    started = [r for r in caplog.records if r.name == "bot.chat.slack" and "HTTP mode" in r.message]
    assert [r.levelno for r in started] == [logging.INFO]
    assert started[0].message == f"Slack: HTTP mode on 127.0.0.1:{adapter.bound_port}/slack/events"


async def test_a_bare_mention_is_told_how_to_ask(slack: SlackRig) -> None:
    """@newsbrief with no question gets, in a thread under it, how to ask one."""
    ts = "1800000000.000050"
    await slack.event(app_mention_event("<@UBOT>  ", ts=ts))
    await slack.adapter.drain()
    (reply,) = slack.fake.posted()
    assert reply.body["thread_ts"] == ts
    sent = "\n".join(_texts(reply))
    assert "Mention me with a question, or reply in the thread under a brief or digest." in sent


async def test_a_grown_story_is_posted_in_the_thread_of_the_brief_that_showed_it(
    slack: SlackRig,
) -> None:
    """The next digest replies under the brief with the story's new report, once."""
    await slack.command("/brief", "battery")
    (brief,) = slack.fake.posted()
    feed = (await slack.app.store.polled_feeds())[0]
    assert await slack.app.stories.store(feed, battery_follow_up()) is not None
    due = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
    await slack.command("/newsbrief", f"digest {due} UTC", user_id="UADMIN")
    assert [r for _, r in await slack.app.scheduler.catch_up()] == ["posted"]
    replies = [c for c in slack.fake.posted() if c.body.get("thread_ts") == brief.ts]
    (update,) = replies
    assert "Update: " in str(update.body["text"])
    assert "followup.example" in json.dumps(update.blocks)
    digest = next(c for c in slack.fake.posted() if "Daily digest" in str(c.body["text"]))
    assert "updated" in json.dumps(digest.blocks)
    assert [r for _, r in await slack.app.scheduler.catch_up()] == ["already-posted"]
    assert [c for c in slack.fake.posted() if c.body.get("thread_ts") == brief.ts] == replies
