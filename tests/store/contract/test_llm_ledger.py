"""The LlmLedger contract: model output cached by key, and model calls counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.ledgers import LlmCall, LlmStats
from bot.services.ports import LlmLedger

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def call(status: str, tokens_in: int = 0, tokens_out: int = 0, error: str | None = None) -> LlmCall:
    return LlmCall(
        kind="digest_item",
        model="m",
        prompt_version="v1",
        status=status,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_ms=10,
        error=error,
    )


async def test_cached_output_round_trips_and_is_replaced(ledger: LlmLedger) -> None:
    """An unknown key has no output; caching again under a key replaces its output."""
    assert await ledger.cached_output("k") is None
    await ledger.cache_output("k", kind="digest_item", model="m", prompt_version="v1", output="a")
    assert await ledger.cached_output("k") == "a"
    await ledger.cache_output("k", kind="digest_item", model="m", prompt_version="v2", output="b")
    assert await ledger.cached_output("k") == "b"
    assert await ledger.cached_output("other") is None


async def test_tokens_used_since_sums_both_directions_from_a_moment_on(ledger: LlmLedger) -> None:
    """Input plus output tokens of calls at or after `since`, whatever their status."""
    assert await ledger.tokens_used_since(T0) == 0
    await ledger.record_call(call("ok", 100, 20), T0 - timedelta(seconds=1))
    await ledger.record_call(call("ok", 10, 5), T0)
    await ledger.record_call(call("invalid", 7, 3), T0 + timedelta(hours=1))
    await ledger.record_call(call("error"), T0 + timedelta(hours=2))
    assert await ledger.tokens_used_since(T0) == 25
    assert await ledger.tokens_used_since(T0 - timedelta(days=1)) == 145


async def test_llm_stats_counts_each_status(ledger: LlmLedger) -> None:
    """Requests are ok plus error; invalid, fallback and cache-hit are counted apart."""
    assert await ledger.llm_stats(None) == LlmStats(0, 0, 0, 0, 0, 0, 0, 0, ())
    for status, tin, tout in [
        ("ok", 100, 40),
        ("ok", 50, 10),
        ("error", 30, 0),
        ("invalid", 20, 5),
        ("cache-hit", 0, 0),
        ("cache-hit", 0, 0),
        ("budget", 0, 0),
    ]:
        await ledger.record_call(call(status, tin, tout), T0)
    await ledger.record_call(call("fallback", error="timeout"), T0)
    stats = await ledger.llm_stats(None)
    assert stats == LlmStats(
        requests=3,
        ok=2,
        errors=1,
        invalid=1,
        fallbacks=1,
        cache_hits=2,
        tokens_in=200,
        tokens_out=55,
        fallback_reasons=(("timeout", 1),),
    )


async def test_llm_stats_since_leaves_older_calls_out(ledger: LlmLedger) -> None:
    """Only calls at or after `since` count; None means all of them."""
    await ledger.record_call(call("ok", 1, 1), T0 - timedelta(days=2))
    await ledger.record_call(call("fallback", error="old"), T0 - timedelta(days=2))
    await ledger.record_call(call("ok", 2, 2), T0)
    recent = await ledger.llm_stats(T0)
    assert (recent.requests, recent.tokens_in, recent.fallbacks) == (1, 2, 0)
    assert recent.fallback_reasons == ()
    everything = await ledger.llm_stats(None)
    assert (everything.requests, everything.tokens_in, everything.fallbacks) == (2, 3, 1)


async def test_fallback_reasons_are_the_top_five_by_count_then_text(ledger: LlmLedger) -> None:
    """The most frequent reasons first, ties alphabetical, five at most, fallbacks only."""
    counts = {"timeout": 3, "bad json": 2, "zero claims": 2, "a": 1, "b": 1, "c": 1}
    for reason, n in counts.items():
        for _ in range(n):
            await ledger.record_call(call("fallback", error=reason), T0)
    await ledger.record_call(call("error", error="timeout"), T0)
    stats = await ledger.llm_stats(None)
    assert stats.fallbacks == 10
    assert stats.fallback_reasons == (
        ("timeout", 3),
        ("bad json", 2),
        ("zero claims", 2),
        ("a", 1),
        ("b", 1),
    )


async def test_long_errors_are_cut_to_500_characters(ledger: LlmLedger) -> None:
    """An error is stored to its first 500 characters, so reasons group by that."""
    await ledger.record_call(call("fallback", error="x" * 600), T0)
    await ledger.record_call(call("fallback", error="x" * 500 + "y"), T0)
    assert (await ledger.llm_stats(None)).fallback_reasons == (("x" * 500, 2),)
