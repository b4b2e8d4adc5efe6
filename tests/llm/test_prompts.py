from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.app import App
from bot.domain import CONSOLE_SCOPE
from bot.llm.openai_client import PROMPT_NAMES
from bot.llm.prompts import DEFAULT_PROMPTS_DIR, PromptLibrary
from tests.fakes.openai_server import FakeOpenAI
from tests.llm.conftest import llm_app_with


def test_every_prompt_is_a_file_in_prompts() -> None:
    """The system rules and each task prompt live in prompts/, one file each."""
    library = PromptLibrary()
    library.check(PROMPT_NAMES)
    assert {p.stem for p in DEFAULT_PROMPTS_DIR.glob("*.md")} >= {"system", *PROMPT_NAMES}


def test_editing_a_prompt_changes_its_version(tmp_path: Path) -> None:
    """The version is the hash of the text: an edit is a new version, a revert the old one."""
    shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "prompts")
    library = PromptLibrary(tmp_path / "prompts")
    before = library.get("article_digest").version
    path = tmp_path / "prompts" / "article_digest.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\nWrite for engineers.\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert library.get("article_digest").version != before
    path.write_text(original, encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert library.get("article_digest").version == before
    (tmp_path / "prompts" / "system.md").write_text("Be terse.", encoding="utf-8")
    assert library.get("article_digest").version != before


def test_a_missing_prompt_file_is_reported_at_start(tmp_path: Path) -> None:
    """A prompts folder without a needed file fails early with its path."""
    shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "p")
    (tmp_path / "p" / "thread_answer.md").unlink()
    with pytest.raises(FileNotFoundError, match=r"thread_answer\.md"):
        PromptLibrary(tmp_path / "p").check(PROMPT_NAMES)


async def test_a_prompt_edit_changes_behaviour_and_invalidates_the_cache(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    """After an edit the model gets the new text, and cached output of the old one is not reused."""
    shutil.copytree(DEFAULT_PROMPTS_DIR, tmp_path / "prompts")
    async with llm_app_with(fake, tmp_path, NEWSBRIEF_PROMPTS_DIR=tmp_path / "prompts") as app:
        await _brief_edit_brief(app, fake, tmp_path)


async def _brief_edit_brief(llm_app: App, fake: FakeOpenAI, tmp_path: Path) -> None:
    await llm_app.chat.briefs.brief(CONSOLE_SCOPE, "measles")
    await llm_app.chat.briefs.brief(CONSOLE_SCOPE, "measles")
    assert fake.calls == 1  # the second brief came from the cache
    path = tmp_path / "prompts" / "article_digest.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nAlways name the region.\n", "utf-8")
    os.utime(path, ns=(5, 5))
    await llm_app.chat.briefs.brief(CONSOLE_SCOPE, "measles")
    assert fake.calls == 2
    assert "Always name the region." in fake.requests[1].body["messages"][1]["content"]
