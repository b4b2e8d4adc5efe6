"""The claim checker: a claim against the text of the sources it cites."""

from __future__ import annotations

import time

import pytest

from bot.services.claims import check_claim, numbers

SOURCE = (
    "The United States and its partners on Monday denounced what they described as North "
    "Korea's direct military backing for Russia. Roughly 11,000 North Korean soldiers are now "
    "serving alongside Russian units, according to Western estimates. Volodymyr Zelensky said "
    "Ukraine would not give up territory, calling the plan “a reward for the aggressor”. The "
    "Continental Reserve Bank cut its rate to 3.75% and said a further cut was unlikely."
)


@pytest.mark.parametrize(
    "claim",
    [
        "About 11,000 North Korean troops serve with Russian units, Western estimates say.",
        "Western estimates put the North Korean soldiers with Russia at eleven thousand.",
        "Zelensky said Ukraine would not give up territory.",
        "Zelensky called the plan “a reward for the aggressor”.",
        "The Continental Reserve Bank lowered its rate to 3.75%.",
        "The US and partners denounced North Korea's military backing for Russia on Monday.",
    ],
)
def test_supported_paraphrases_pass(claim: str) -> None:
    """Other words, the same facts: supported, with the evidence sentence."""
    verdict = check_claim(claim, [SOURCE])
    assert verdict.supported, verdict.reason
    assert verdict.evidence


@pytest.mark.parametrize(
    ("claim", "why"),
    [
        ("About 77,003 North Korean soldiers serve alongside Russian units.", "77,003"),
        ("Zelensky said Ukraine would give up territory.", "negates"),
        ("Sergei Lavrov said Ukraine would not give up territory.", "Lavrov"),
        ("Zelensky called the plan “a gift to the aggressor”.", "quote"),
        ("The Continental Reserve Bank raised its rate to 4.25%.", "4.25"),
        ("Officials in Geneva denounced North Korea's backing for Russia.", "Geneva"),
        ("Chinese engineers are building a dam on the Mekong river this year.", "Chinese"),
        ("The soldiers are building a dam on the river this year.", "words"),
    ],
)
def test_inventions_are_caught_with_the_reason(claim: str, why: str) -> None:
    """A changed number, a negation, an invented name, quote or place: unsupported, named."""
    verdict = check_claim(claim, [SOURCE])
    assert not verdict.supported
    assert verdict.reason is not None and why in verdict.reason


def test_numbers_are_read_with_their_magnitude() -> None:
    """Separators, words and magnitudes give one value each."""
    assert numbers("11,000 or 11 000 or eleven thousand or 11k") == {11_000.0}
    assert numbers("$2.5 billion and 3.75%") == {2.5e9, 3.75}
    assert numbers("one of the largest") == set()


def test_a_check_costs_well_under_a_millisecond() -> None:
    """Typical claim against a typical source, sources prepared once: far below 1 ms."""
    claim = "About 11,000 North Korean troops serve with Russian units, Western estimates say."
    check_claim(claim, [SOURCE])  # the source is prepared once and cached
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        check_claim(claim, [SOURCE])
    per_check = (time.perf_counter() - started) / runs
    assert per_check < 0.005  # a loose ceiling for a shared machine; the bench measures it
