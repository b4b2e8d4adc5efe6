"""Kill soak: the real bot killed with SIGKILL mid-digest, restarted, the platform checked.

For each platform (loopback Slack in HTTP mode, loopback Discord), `--trials` times:
a digest of several messages falls due, the bot posts it to a slow platform (0.3 s a
message), is killed at a random moment while posting, and is started again. Prints
each trial and the totals: parts posted twice, parts never posted, and the time from
the restart to the digest complete. See tests/kill_rig.py for one trial.

Run: .venv/bin/python bench/soak_kill.py [--trials 20] [--platform slack|discord]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kill_rig import Trial, TrialFailed, trial


def _show(t: Trial) -> None:
    print(
        f"  {t.platform:<7} parts {t.parts:>2}  killed {t.kill_after:4.2f} s in, "
        f"{t.on_platform_at_kill:>2} parts on the platform then  ->  duplicated {t.duplicated}, "
        f"lost {t.lost}, complete {t.complete_after_restart:5.1f} s after restart",
        flush=True,
    )


async def main(count: int, platforms: list[str], seed: int) -> int:
    failed = 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="soak_kill_") as tmp:
        for platform in platforms:
            print(f"{platform}: {count} trials", flush=True)
            rng = random.Random(seed)
            done, hung = [], 0
            for n in range(count):
                where = Path(tmp) / f"{platform}-{n}"
                where.mkdir()
                try:
                    done.append(await trial(platform, where, rng))
                except TrialFailed as exc:
                    hung += 1
                    print(f"  {platform} trial {n} did not finish: {exc}", flush=True)
                    continue
                _show(done[-1])
            complete = [t.complete_after_restart for t in done]
            mid = [t for t in done if 0 < t.on_platform_at_kill < t.parts]
            rows.append(
                (
                    platform,
                    len(done),
                    sum(t.duplicated for t in done),
                    sum(t.lost for t in done),
                    sum(t.lost > 0 or t.duplicated > 0 for t in done) + hung,
                    len(mid),
                    statistics.median(complete),
                    max(complete),
                )
            )
            failed += rows[-1][4]
    print()
    print(
        "| platform | trials | parts duplicated | parts lost | trials incomplete or doubled "
        "| killed with some parts posted | complete after restart, median / max |"
    )
    print("|---|---|---|---|---|---|---|")
    for p, n, dup, lost, bad, mid, med, worst in rows:
        print(f"| {p} | {n} | {dup} | {lost} | {bad} | {mid} | {med:.1f} s / {worst:.1f} s |")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--platform", choices=["slack", "discord"], action="append")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(main(args.trials, args.platform or ["slack", "discord"], args.seed))
    )
