"""Links to a post on its platform, made from ids alone (no API call): what `why` shows
beside each digest or brief that carried an article."""

from __future__ import annotations

from bot.domain import Scope


def message_link(scope: Scope, channel: str, message_id: str) -> str | None:
    """A URL that opens the message; None where the platform has none (the console)."""
    if scope.platform == "slack":
        # Slack's archive links open in whichever workspace the reader is signed in to.
        return f"https://slack.com/archives/{channel}/p{message_id.replace('.', '')}"
    if scope.platform == "discord":
        server = "@me" if scope.workspace == "dm" else scope.workspace
        return f"https://discord.com/channels/{server}/{channel}/{message_id}"
    return None
