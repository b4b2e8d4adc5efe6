"""/healthz and /metrics on Slack's HTTP-mode server."""

from __future__ import annotations

import aiohttp

from tests.chat.conftest import SlackRig


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_slack_http_mode_serves_the_probes_on_its_own_port(slack: SlackRig) -> None:
    """Beside /slack/events: /healthz and /metrics, no second port needed."""
    base = slack.url.removesuffix("/slack/events")
    assert (await _get(f"{base}/healthz"))[0] == 200
    status, text = await _get(f"{base}/metrics")
    assert status == 200 and "newsbrief_feeds" in text
