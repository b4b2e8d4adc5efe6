"""The real bot killed with SIGKILL while it posts a digest, then started again: every
part is on the platform once (the soak with 20 trials each: bench/soak_kill.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.kill_rig import trial


@pytest.mark.slow(15)
@pytest.mark.parametrize("platform", ["slack", "discord"])
async def test_a_digest_killed_midway_is_finished_after_restart_without_duplicates(
    platform: str, tmp_path: Path
) -> None:
    """Killed at random moments mid-digest, restarted: no part twice, none missing."""
    rng = random.Random(20261201)
    for n in range(2):
        where = tmp_path / str(n)
        where.mkdir()
        result = await trial(platform, where, rng)
        log = (where / "bot.log").read_text()
        assert (result.duplicated, result.lost) == (0, 0), (result, log[-3000:])
        assert result.parts >= 2
        assert "Traceback" not in log
