"""Aware datetimes only: one way to get "now", one way to store a moment, and the
checks for the times and zones people type."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """A fixed-width UTC string, so SQLite can compare and sort moments as text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the bot only stores timezone-aware moments")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def from_db_optional(value: str | None) -> datetime | None:
    return None if value is None else from_db(value)


def parse_hhmm(value: str) -> time:
    """`"07:30"` -> time(7, 30); a clear ValueError for anything else."""
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day as HH:MM (24-hour), e.g. 07:30")
    return time(int(match.group(1)), int(match.group(2)))


def check_timezone(value: str) -> str:
    """Accept only IANA names (`Europe/Kyiv`), which zoneinfo can resolve offline."""
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone name, e.g. Europe/Kyiv") from exc
    return value.strip()
