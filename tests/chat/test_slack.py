"""The Slack adapter end to end: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from bot.app import build_scheduler
from bot.domain import Message, Scope, ThreadKind
from bot.services.brief import BriefService
from tests.chat.conftest import SlackRig
from tests.fakes.slack_api import app_mention_event, message_event, slash_command_body
from tests.helpers import add_article

TEAM = Scope("slack", "T0001")


def _all_text(blocks: list[dict]) -> str:  # type: ignore[type-arg]
    return json.dumps(blocks, ensure_ascii=False)


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


class SlowBriefs:
    """A brief service that takes longer than Slack waits for an ack."""

    def __init__(self, real: BriefService, seconds: float) -> None:
        self.real, self.seconds = real, seconds

    async def brief(self, scope: Scope, topic: str) -> Message:
        await asyncio.sleep(self.seconds)
        return await self.real.brief(scope, topic)


async def test_ack_arrives_within_three_seconds_while_the_summarizer_is_slow(
    slack: SlackRig,
) -> None:
    """Slack's 3-second limit holds even when the brief takes longer to write."""
    slack.adapter._briefs = SlowBriefs(slack.app.briefs, 3.5)  # type: ignore[assignment]
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
    await slack.until(lambda: len(slack.fake.posted()) == 2)
    answer = slack.fake.posted()[1]
    assert answer.body["thread_ts"] == parent_ts
    assert "envoy is expected to travel" in _all_text(answer.blocks or [])
    assert "|[1]>" in _all_text(answer.blocks or [])
    await slack.event(
        message_event("and who said so?", ts="1800000000.000002", thread_ts=parent_ts)
    )
    await slack.until(lambda: len(slack.fake.posted()) == 3)
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
    await slack.until(lambda: len(slack.fake.posted()) >= 2)
    await asyncio.sleep(0.3)
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
    await slack.until(lambda: len(slack.fake.posted()) == 1)
    answer = slack.fake.posted()[0]
    assert answer.body["thread_ts"] == ts
    assert "6-3" in _all_text(answer.blocks or [])


async def test_bots_and_other_threads_are_ignored(slack: SlackRig) -> None:
    """The bot's own messages, other bots, edits and unrelated threads get no answer."""
    await slack.command("/brief", "ukraine")
    parent_ts = slack.fake.posted()[0].ts
    await slack.event(
        message_event(
            "echo", user="UBOT", bot_id="BBOT", thread_ts=parent_ts, ts="1800000000.000031"
        )
    )
    await slack.event(
        message_event(
            "beep", user="UOTHERBOT", bot_id="BOTHER", thread_ts=parent_ts, ts="1800000000.000032"
        )
    )
    await slack.event(
        message_event(
            "edited", subtype="message_changed", thread_ts=parent_ts, ts="1800000000.000033"
        )
    )
    await slack.event(
        message_event("what happens next?", thread_ts="1600000000.000001", ts="1800000000.000034")
    )
    await slack.event(message_event("top-level chatter", ts="1800000000.000035"))
    await asyncio.sleep(0.5)
    assert len(slack.fake.posted()) == 1


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
    assert status == 200 and "Usage: `/brief <topic>`" in body
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
    assert "ok (last fetched" in slack.responses()[-1]


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
    first = build_scheduler(slack.app, [slack.adapter])
    assert [r for _, r in await first.catch_up()] == ["posted"]
    restarted = build_scheduler(slack.app, [slack.adapter])
    assert [r for _, r in await restarted.catch_up()] == ["already-posted"]
    assert len(slack.fake.posted()) >= 1
    channels = {c.body["channel"] for c in slack.fake.posted()}
    assert channels == {"C0001"}
    count = len(slack.fake.posted())
    await restarted.post_digest((await slack.app.store.list_subscriptions())[0].id)
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
