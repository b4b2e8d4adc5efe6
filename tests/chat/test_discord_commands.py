"""Unit tests of the slash commands: real discord.Interaction objects built from payloads,
run through the CommandTree (`_call` in discord.py 2.7, the `call` its own tests use).
REST goes to the loopback fake; no gateway connection is made."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.http
import pytest

from bot.app import App, bootstrap
from bot.chat.discord import DiscordAdapter
from bot.config import Settings
from tests.chat.discord_rig import MANAGE_GUILD
from tests.fakes.discord_api import FakeDiscord, _Interaction, fake_discord

GUILD, CHANNEL = 1000, 2000


@pytest.fixture
async def unit(tmp_path: Path) -> AsyncIterator[tuple[DiscordAdapter, FakeDiscord, App]]:
    saved = discord.http.Route.BASE
    try:
        async with fake_discord() as fake:
            settings = Settings(NEWSBRIEF_DB=tmp_path / "unit.db", DISCORD_TOKEN=fake.token)
            app = await bootstrap(settings)
            await app.ingest.poll_all()
            (adapter,) = app.adapters
            assert isinstance(adapter, DiscordAdapter)
            discord.http.Route.BASE = fake.api_base
            await adapter.client.login(fake.token)
            try:
                yield adapter, fake, app
            finally:
                await adapter.client.close()
                await app.close()
    finally:
        discord.http.Route.BASE = saved


def _interaction(
    unit: tuple[DiscordAdapter, FakeDiscord, App],
    name: str,
    options: list[dict[str, Any]],
    permissions: str = "0",
) -> discord.Interaction:
    """A real Interaction from a payload shaped like Discord's (member and channel objects
    come from the fake, which builds them the way the gateway sends them)."""
    adapter, fake, _ = unit
    interaction_id = fake.snowflake()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(fake.application_id),
        "type": 2,
        "token": f"unit-token-{interaction_id}",
        "version": 1,
        "guild_id": str(GUILD),
        "channel_id": str(CHANNEL),
        "channel": {**fake._channel_object(CHANNEL), "permissions": permissions},
        "member": {**fake._member(5001), "permissions": permissions},
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
        "data": {"id": "1", "name": name, "type": 1, "options": options},
    }
    # The fake answers callbacks only for interactions it knows, as Discord does.
    fake._interactions[interaction_id] = _Interaction(payload=payload, channel_id=CHANNEL)
    return discord.Interaction(data=payload, state=adapter.client._connection)  # type: ignore[arg-type]


def _string(name: str, value: str) -> dict[str, Any]:
    return {"type": 3, "name": name, "value": value}


async def test_brief_defers_then_follows_up_with_embeds(unit) -> None:  # type: ignore[no-untyped-def]
    """/brief topic:ukraine defers (type 5) and follows up with cited embeds, no pings."""
    adapter, fake, _ = unit
    await adapter.tree._call(_interaction(unit, "brief", [_string("topic", "ukraine")]))
    callback, follow_up = [
        c for c in fake.calls if "/interactions/" in c.path or "/webhooks/" in c.path
    ]
    assert callback.body["type"] == 5
    assert follow_up.body["embeds"] and follow_up.body["allowed_mentions"] == {"parse": []}


async def test_brief_without_a_match_answers_privately(unit) -> None:  # type: ignore[no-untyped-def]
    """No match: an ephemeral message (flags 64) straight away, no deferral."""
    adapter, fake, _ = unit
    await adapter.tree._call(_interaction(unit, "brief", [_string("topic", "zeppelin racing")]))
    (callback,) = [c for c in fake.calls if "/interactions/" in c.path]
    assert callback.body["type"] == 4 and callback.body["data"]["flags"] == 64


async def test_feeds_add_is_refused_without_manage_server(unit) -> None:  # type: ignore[no-untyped-def]
    """The Manage Server check runs again inside the bot, whatever Discord let through."""
    adapter, fake, app = unit
    options = [{"type": 1, "name": "add", "options": [_string("url", "https://example.com/f")]}]
    await adapter.tree._call(_interaction(unit, "feeds", options, permissions="0"))
    follow_up = [c for c in fake.calls if "/webhooks/" in c.path][-1]
    assert "Manage Server" in json.dumps(follow_up.body)
    assert all(f.is_default for f in await app.store.polled_feeds())


async def test_digest_schedule_validates_time_and_zone(unit) -> None:  # type: ignore[no-untyped-def]
    """A bad time or zone gets a clear private reply; a good one is stored."""
    adapter, fake, app = unit
    for time, zone, expected in (
        ("8am", "UTC", "HH:MM"),
        ("08:00", "Kyiv", "IANA"),
        ("08:00", "Europe/Kyiv", "08:00 Europe/Kyiv"),
    ):
        options = [
            {
                "type": 1,
                "name": "schedule",
                "options": [_string("time", time), _string("timezone", zone)],
            }
        ]
        await adapter.tree._call(_interaction(unit, "digest", options, MANAGE_GUILD))
        assert expected in json.dumps([c.body for c in fake.calls if "/webhooks/" in c.path][-1])
    (subscription,) = await app.store.list_subscriptions()
    assert (subscription.digest_time, subscription.timezone) == ("08:00", "Europe/Kyiv")


async def test_feeds_change_reply_escapes_what_the_user_typed_but_not_our_hint(unit) -> None:  # type: ignore[no-untyped-def]
    """/feeds remove of an unknown feed: the typed text is escaped (a URL stays a link), and
    the hint after it names `/feeds list` with its backticks intact."""
    adapter, fake, _ = unit
    for typed, shown in (
        ("**nope**", "\\*\\*nope\\*\\* is not a followed feed."),
        ("https://nope.example/a_feed", "https://nope.example/a_feed is not a followed feed."),
    ):
        options = [{"type": 1, "name": "remove", "options": [_string("url", typed)]}]
        await adapter.tree._call(_interaction(unit, "feeds", options, MANAGE_GUILD))
        content = [c for c in fake.calls if "/webhooks/" in c.path][-1].body["content"]
        assert content == f"{shown} Server managers can see the feeds read here with `/feeds list`."


async def test_digest_schedule_reply_escapes_the_topics_typed(unit) -> None:  # type: ignore[no-untyped-def]
    """Markdown in the topics given to /digest schedule is shown literally, not as bold."""
    adapter, fake, _ = unit
    options = [
        {
            "type": 1,
            "name": "schedule",
            "options": [
                _string("time", "08:00"),
                _string("timezone", "UTC"),
                _string("topics", "**energy**"),
            ],
        }
    ]
    await adapter.tree._call(_interaction(unit, "digest", options, MANAGE_GUILD))
    content = [c for c in fake.calls if "/webhooks/" in c.path][-1].body["content"]
    assert "\\*\\*energy\\*\\*" in content and "**energy**" not in content
