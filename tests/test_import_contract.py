"""The core imports no adapter and no platform library: the direction of every import.

`bot.domain`, `bot.services` and the pure helpers they use (`bot.placement`,
`bot.text`, `bot.timeutil`) may import each other and the standard library, nothing that
talks to a platform, a database or the network. `make lint` runs this file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
CORE = [
    BOT / "domain.py",
    BOT / "placement.py",
    BOT / "text.py",
    BOT / "timeutil.py",
    *sorted((BOT / "services").rglob("*.py")),
]
FORBIDDEN = (
    # our adapters and the composition around them
    "bot.store", "bot.llm", "bot.ingest", "bot.chat", "bot.config", "bot.app", "bot.cli",
    "bot.scheduler",
    # platform, database and network libraries
    "discord", "slack_bolt", "slack_sdk", "openai", "aiosqlite", "httpx", "aiohttp",
    "feedparser", "trafilatura", "apscheduler", "pydantic_settings", "asyncpg", "psycopg",
)  # fmt: skip


def imported(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import in a module's source, relative ones resolved to bot.*."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module if not node.level else f"bot.{node.module}"))
    return found


def violations(path: Path, source: str) -> list[str]:
    return [
        f"{path.relative_to(BOT.parent)}:{line} imports {module}"
        for line, module in imported(source)
        if any(module == f or module.startswith(f"{f}.") for f in FORBIDDEN)
    ]


def test_the_core_imports_no_adapter_or_platform_library() -> None:
    """No module of the core imports an adapter package or a platform library."""
    problems = [v for path in CORE for v in violations(path, path.read_text(encoding="utf-8"))]
    assert problems == []


@pytest.mark.parametrize(
    "line",
    [
        "import discord",
        "from bot.config import Settings",
        "from bot.store.sqlite import SqliteStore",
        "from openai import AsyncOpenAI",
        "import slack_sdk.web",
    ],
)
def test_the_contract_catches_a_forbidden_import(line: str) -> None:
    """A forbidden import in a core module is reported with its line."""
    assert violations(BOT / "services" / "x.py", f"import os\n{line}\n") == [
        f"bot/services/x.py:2 imports {line.split()[1]}"
    ]
