"""How structured output is asked of a server (a setting, so kept free of the SDK)."""

from __future__ import annotations

from enum import StrEnum


class OutputMode(StrEnum):
    """`auto` starts with json_schema and steps down when the server refuses it."""

    AUTO = "auto"
    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"
