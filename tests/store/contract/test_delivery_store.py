"""The DeliveryStore contract: a post is claimed before it is made, so it is made at most once."""

from __future__ import annotations

from bot.domain import Scope
from bot.services.ports import DeliveryStore

A = Scope("slack", "TA")
B = Scope("discord", "GB")


async def test_a_key_is_claimed_once(deliveries: DeliveryStore) -> None:
    """The second claim of a key fails, whoever asks; other keys are independent."""
    assert await deliveries.claim_delivery("digest:1:2025-03-01", A, "C1")
    assert not await deliveries.claim_delivery("digest:1:2025-03-01", A, "C1")
    assert not await deliveries.claim_delivery("digest:1:2025-03-01", B, "C9")
    assert await deliveries.claim_delivery("digest:1:2025-03-02", A, "C1")


async def test_a_released_claim_can_be_claimed_again(deliveries: DeliveryStore) -> None:
    """Releasing a pending claim (the post failed) lets the next attempt claim it."""
    assert await deliveries.claim_delivery("k", A, "C")
    await deliveries.release_delivery("k")
    assert await deliveries.claim_delivery("k", A, "C")


async def test_a_completed_delivery_stays_claimed(deliveries: DeliveryStore) -> None:
    """Once posted, the key can be neither released nor claimed again."""
    assert await deliveries.claim_delivery("k", A, "C")
    await deliveries.complete_delivery("k", "ts-1")
    await deliveries.release_delivery("k")
    assert not await deliveries.claim_delivery("k", A, "C")


async def test_completing_without_a_message_ref_still_completes(deliveries: DeliveryStore) -> None:
    """Platforms that return no reference still mark the post made."""
    await deliveries.claim_delivery("k", A, "C")
    await deliveries.complete_delivery("k", None)
    await deliveries.release_delivery("k")
    assert not await deliveries.claim_delivery("k", A, "C")


async def test_unknown_keys_are_no_ops(deliveries: DeliveryStore) -> None:
    """Releasing or completing a key nobody claimed changes nothing: it can still be claimed."""
    await deliveries.release_delivery("k")
    await deliveries.complete_delivery("k", "ts-1")
    assert await deliveries.claim_delivery("k", A, "C")
