"""The DeliveryStore contract: an event's key is claimed once, so it is handled once."""

from __future__ import annotations

from bot.domain import Scope
from bot.services.ports import DeliveryStore

A = Scope("slack", "TA")
B = Scope("discord", "GB")


async def test_a_key_is_claimed_once(deliveries: DeliveryStore) -> None:
    """The second claim of a key fails, whoever asks; other keys are independent."""
    assert await deliveries.claim_delivery("reply:slack:TA:C1:1.1", A, "C1")
    assert not await deliveries.claim_delivery("reply:slack:TA:C1:1.1", A, "C1")
    assert not await deliveries.claim_delivery("reply:slack:TA:C1:1.1", B, "C9")
    assert await deliveries.claim_delivery("reply:slack:TA:C1:1.2", A, "C1")
