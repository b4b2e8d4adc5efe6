"""Prompts as files: `prompts/*.md`, versioned by the hash of their text.

Editing a file changes what the bot asks the model on the next call, with no
code change or restart; the new version is stored with everything it produces,
so cached output from an older prompt is never reused.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# `bot/prompts` links to the top-level `prompts/` in a checkout and is a copy in a wheel.
DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
SYSTEM = "system"


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    task: str

    @property
    def version(self) -> str:
        """The hash of everything the model is told before the variable part."""
        digest = hashlib.sha256(f"{self.system}\n\x00\n{self.task}".encode())
        return f"{self.name}@{digest.hexdigest()[:12]}"


class PromptLibrary:
    def __init__(self, directory: Path = DEFAULT_PROMPTS_DIR) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[int, str]] = {}

    def _read(self, name: str) -> str:
        path = self.directory / f"{name}.md"
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise FileNotFoundError(
                f"prompt file {path} is missing; NEWSBRIEF_PROMPTS_DIR must point at prompts/"
            ) from exc
        cached = self._cache.get(name)
        if cached and cached[0] == stamp:
            return cached[1]
        text = path.read_text(encoding="utf-8").strip()
        self._cache[name] = (stamp, text)
        return text

    def get(self, name: str) -> Prompt:
        return Prompt(name=name, system=self._read(SYSTEM), task=self._read(name))

    def check(self, names: tuple[str, ...]) -> None:
        """Fail at start, not at the first digest, when a prompt file is missing."""
        for name in (SYSTEM, *names):
            self._read(name)
