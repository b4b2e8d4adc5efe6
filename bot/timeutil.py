"""Aware datetimes only: one way to get "now" and one way to store a moment."""

from __future__ import annotations

from datetime import UTC, datetime


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
