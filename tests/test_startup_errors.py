"""The first mistakes an operator makes, as `python -m bot run` meets them against the
loopback Slack and Discord: one line naming the setting and what to do, exit 1 (2 for a
malformed value), no traceback, nothing left open."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from bot.chat import reach as reach_module
from bot.chat.reach import reach
from bot.domain import StartupError
from bot.services.retry import Backoff
from tests.fakes.discord_api import fake_discord
from tests.fakes.slack_api import fake_slack
from tests.helpers import bot_env, closed_port


async def _run(tmp_path: Path, **settings: str) -> tuple[int, str]:
    """`python -m bot run` with `settings`: its exit code and everything it printed."""
    env = bot_env(NEWSBRIEF_DB=str(tmp_path / "bot.db"), **settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def _one_clean_line(output: str, *needles: str) -> None:
    """The failure is one line holding every needle; no traceback, no leak warnings."""
    assert "Traceback" not in output and "Unclosed" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("newsbrief: cannot start")]
    assert len(lines) == 1, output
    for needle in needles:
        assert needle in lines[0], output


async def test_a_refused_slack_bot_token_names_it(tmp_path: Path) -> None:
    """auth.test says invalid_auth: one line naming SLACK_BOT_TOKEN and where to get it."""
    async with fake_slack() as fake:
        fake.fail_next("auth.test", status=200, error="invalid_auth")
        code, output = await _run(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-revoked",
            SLACK_SIGNING_SECRET="secret",
            SLACK_API_URL=fake.base_url,
            SLACK_PORT="0",
        )
    assert code == 1
    _one_clean_line(output, "SLACK_BOT_TOKEN", "invalid_auth", "xoxb-")


async def test_a_refused_slack_app_token_names_it(tmp_path: Path) -> None:
    """Socket Mode's apps.connections.open refuses the app token: it is named."""
    async with fake_slack() as fake:
        fake.fail_next("apps.connections.open", status=200, error="invalid_auth")
        code, output = await _run(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-good",
            SLACK_APP_TOKEN="xapp-revoked",
            SLACK_API_URL=fake.base_url,
        )
    assert code == 1
    _one_clean_line(output, "SLACK_APP_TOKEN", "xapp-")


async def test_swapped_slack_tokens_are_refused_before_anything_starts(tmp_path: Path) -> None:
    """xapp- as the bot token and xoxb- as the app token: exit 2 naming both."""
    code, output = await _run(
        tmp_path, SLACK_BOT_TOKEN="xapp-1-A-2-abc", SLACK_APP_TOKEN="xoxb-1-2-abc"
    )
    assert code == 2
    assert "SLACK_BOT_TOKEN: holds an app-level token" in output
    assert "SLACK_APP_TOKEN: holds a bot token" in output
    assert "Traceback" not in output


async def test_a_slack_port_in_use_names_the_setting(tmp_path: Path) -> None:
    """HTTP mode on a port another program holds: one line naming SLACK_PORT."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with fake_slack() as fake:
            code, output = await _run(
                tmp_path,
                SLACK_BOT_TOKEN="xoxb-good",
                SLACK_SIGNING_SECRET="secret",
                SLACK_API_URL=fake.base_url,
                SLACK_HOST="127.0.0.1",
                SLACK_PORT=str(port),
            )
    assert code == 1
    _one_clean_line(output, "SLACK_PORT", str(port))


async def test_a_refused_discord_token_names_it(tmp_path: Path) -> None:
    """Discord answers 401 to the login: one line naming DISCORD_TOKEN, nothing left open."""
    async with fake_discord() as fake:
        code, output = await _run(
            tmp_path, DISCORD_TOKEN="not-the-token", DISCORD_API_URL=fake.api_base
        )
    assert code == 1
    _one_clean_line(output, "DISCORD_TOKEN", "Reset Token")


async def test_a_refused_privileged_intent_names_the_portal_switch(tmp_path: Path) -> None:
    """Message Content asked for but not granted (4014): the switch and the setting named."""
    async with fake_discord() as fake:
        fake.privileged_intents_allowed = 0
        code, output = await _run(
            tmp_path,
            DISCORD_TOKEN=fake.token,
            DISCORD_API_URL=fake.api_base,
            DISCORD_MESSAGE_CONTENT="true",
        )
    assert code == 1
    _one_clean_line(output, "Message Content Intent", "DISCORD_MESSAGE_CONTENT=false")


async def test_an_unreachable_platform_is_tried_again_then_given_up_in_one_line(
    tmp_path: Path,
) -> None:
    """Nothing listening at SLACK_API_URL: each try logged, then one line naming it."""
    port = closed_port()
    code, output = await _run(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-good",
        SLACK_SIGNING_SECRET="secret",
        SLACK_API_URL=f"http://127.0.0.1:{port}/api/",
        NEWSBRIEF_START_TRIES="3",
    )
    assert code == 1
    _one_clean_line(output, "cannot reach Slack after 3 tries", "SLACK_API_URL")
    assert output.count("cannot reach Slack (") == 2  # each try before the last, logged


async def test_reach_stops_at_a_refusal_and_retries_only_what_is_unreachable() -> None:
    """A refusal is raised at once; an unreachable attempt is tried again with backoff."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError("refused")
        return "up"

    fast = Backoff(first=1.0, cap=4.0, jitter=0.0)
    assert await reach("X", flaky, unreachable=(OSError,), advice="", backoff=fast, sleep=sleep)
    assert waits == [1.0, 2.0]

    async def refusing() -> str:
        raise StartupError("X refused the token")

    with pytest.raises(StartupError, match="refused the token"):
        await reach("X", refusing, unreachable=(OSError,), advice="", sleep=sleep)
    assert reach_module.TRIES >= 3


async def test_a_model_server_that_cannot_be_reached_is_one_warning_at_start(
    tmp_path: Path,
) -> None:
    """OPENAI_BASE_URL with nothing listening: one warning naming it; the bot still runs."""
    port = closed_port()
    code, output = await _run(
        tmp_path, OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", NEWSBRIEF_LLM_MAX_RETRIES="0"
    )
    assert code == 0  # the console ends at the end of its input
    warnings = [line for line in output.splitlines() if "model server cannot be reached" in line]
    assert len(warnings) == 1 and "OPENAI_BASE_URL" in warnings[0], output
    assert "Traceback" not in output
