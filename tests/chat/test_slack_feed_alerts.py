"""Feed-down alerts and `/newsbrief resume` on Slack, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

from bot.services.feed_alerts import FeedAlerts
from bot.services.outbox import Outbox
from bot.timeutil import utcnow
from tests.chat.conftest import SlackRig
from tests.fakes.feed_server import feed_server
from tests.ingest.feeds import rss_feed, rss_item, static


async def test_a_paused_feed_is_told_in_its_channel_and_resumed_by_an_admin(
    slack: SlackRig,
) -> None:
    """The channel that added a feed hears it was paused and how to resume it; an admin's
    `/newsbrief resume` fetches it again, and the channel hears it works."""
    async with feed_server() as server:
        url = server.serve(
            "/port.xml",
            static(rss_feed(rss_item("Port strike ends", "https://p.example/1", guid="p1"))),
        )
        await slack.command(
            "/newsbrief", f"subscribe <{url}>", user_id="UADMIN", channel_id="C0042"
        )
        store = slack.app.store
        feed = await store.get_feed(url)
        assert feed is not None
        week_ago = utcnow() - timedelta(days=8)
        await store.record_fetch_failure(
            feed, at=week_ago, next_poll_at=week_ago, error="HTTP 404 Not Found"
        )
        alerts = FeedAlerts(
            store,
            Outbox(store),
            {"slack": slack.adapter},
            down_after=timedelta(hours=24),
            pause_after=timedelta(days=7),
        )
        await alerts.check()
        (paused,) = [c for c in slack.fake.posted() if c.response and c.response.get("ok")]
        assert paused.body["channel"] == "C0042"
        text = str(paused.body)
        assert "Feed paused" in text and "not-found" in text and "/newsbrief resume" in text

        await slack.command("/newsbrief", f"resume <{url}>", user_id="UMEMBER")
        assert "only workspace admins" in slack.responses()[-1]
        await slack.command("/newsbrief", f"resume <{url}>", user_id="UADMIN")
        assert slack.responses()[-1].startswith(f"Resumed {url}")
        await alerts.check()
    made = [c for c in slack.fake.posted() if c.response and c.response.get("ok")]
    assert len(made) == 2 and "Feed works again" in str(made[1].body)
