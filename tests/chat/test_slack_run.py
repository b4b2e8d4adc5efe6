"""`python -m bot run` with Slack settings, as an operator starts it (HTTP mode)."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp

from tests.fakes.slack_api import event_body, fake_slack, message_event, sign, slash_command_body
from tests.helpers import bot_env, posted, start_bot, until

SECRET = "run-secret"


async def _listening(process: asyncio.subprocess.Process, seen: list[bytes]) -> int:
    """The port the bot says it serves Slack's events on (it binds SLACK_PORT=0: any free
    port); the lines it logged until then go to `seen`."""
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while line := await process.stderr.readline():
            seen.append(line)
            if found := re.search(rb"Slack: HTTP mode on 127\.0\.0\.1:(\d+)/", line):
                return int(found[1])
    raise AssertionError(b"".join(seen).decode())


async def test_run_serves_slack_brief_and_thread_answers(tmp_path: Path) -> None:
    """The bot starts on Slack settings, answers /brief and a thread reply, stops on TERM."""
    async with fake_slack() as fake:
        env = bot_env(
            NEWSBRIEF_DB=str(tmp_path / "run.db"),
            SLACK_BOT_TOKEN="xoxb-run",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.base_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
        )
        process = await start_bot(env, tmp_path)
        seen: list[bytes] = []
        try:
            port = await _listening(process, seen)
            url = f"http://127.0.0.1:{port}/slack/events"
            async with aiohttp.ClientSession() as http:
                body = slash_command_body("/brief", "ukraine", response_url=fake.response_url)
                async with http.post(url, data=body, headers=sign(SECRET, body)) as response:
                    assert response.status == 200
                db = tmp_path / "run.db"
                await until(lambda: posted(db, "command:%"), "the brief posted", seconds=30)
                parent = fake.posted()[0].ts
                event = event_body(
                    message_event("what happens next?", thread_ts=parent, ts="1800000000.000001")
                )
                async with http.post(url, data=event, headers=sign(SECRET, event)) as response:
                    assert response.status == 200
                await until(lambda: len(fake.posted()) >= 2, "the answer posted", seconds=30)
            assert fake.posted()[1].body["thread_ts"] == parent
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)
            err = b"".join(seen) + err
        assert process.returncode == 0, err.decode()
        assert "serving Slack" in out.decode()
        logs = err.decode()
        assert "Traceback" not in logs
        # The operator's lines at INFO; library chatter and unactionable warnings not at all.
        assert f"INFO bot.chat.slack: Slack: HTTP mode on 127.0.0.1:{port}/slack/events" in logs
        assert "INFO bot.app: ingested 4 feeds" in logs
        assert "apscheduler" not in logs and "will be unused" not in logs
        assert " WARNING " not in logs, logs
