"""Times and zones as people type them, and moments as the store keeps them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.timeutil import check_timezone, from_db, parse_hhmm, to_db


def test_parse_hhmm() -> None:
    """HH:MM in 24-hour time, nothing else."""
    assert parse_hhmm("07:05").minute == 5
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm("24:00")


def test_check_timezone_takes_iana_names_only() -> None:
    """An IANA name comes back trimmed; an abbreviation is refused with an example."""
    assert check_timezone(" Europe/Kyiv ") == "Europe/Kyiv"
    with pytest.raises(ValueError, match="Europe/Kyiv"):
        check_timezone("EEST")


def test_moments_round_trip_and_naive_ones_are_refused() -> None:
    """A stored moment reads back equal; a naive datetime is never stored."""
    moment = datetime(2026, 11, 30, 8, 0, 1, 5, tzinfo=UTC)
    assert from_db(to_db(moment)) == moment
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 11, 30))  # noqa: DTZ001
