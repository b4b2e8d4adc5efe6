"""The services a chat adapter calls, handed over as one bundle by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.ask import AskService
from bot.services.brief import BriefService
from bot.services.digest import DigestService
from bot.services.feeds import FeedService
from bot.services.outbox import Outbox
from bot.services.subscriptions import SubscriptionService


@dataclass(frozen=True)
class ChatServices:
    briefs: BriefService
    digests: DigestService
    asks: AskService
    feeds: FeedService
    subscriptions: SubscriptionService
    outbox: Outbox  # what adapters post in reply goes through it too
