"""Stress: setup and teardown killed (SIGKILL) at random instants, then run again, N rounds.

Each round kills a setup, runs setup to the end, kills a teardown and runs teardown to the end, on a
copy of tests/fixtures/roots/fex-installed with user keys in Config.json, alternating 4 KiB and 16
KiB page sizes (see fexpkg.dev.crashtest). Prints the count of bad rounds: a tree that differs from
an uninterrupted setup's, or from the start after teardown. Exit status 1 when any is bad.
Run: .venv/bin/python bench/kill_stress.py [--rounds 1000] [--seed 1]"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from fexpkg import confined
from fexpkg.dev.crashtest import run_rounds

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/roots/fex-installed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--named", action="store_true", help="temporary files by name only (no O_TMPFILE)"
    )
    parser.add_argument("--show", type=int, default=10, help="bad rounds to list (default 10)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.named:
        confined._unnamed_file = lambda dir_fd: None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fexpkg-kill-") as work:
        outcome = run_rounds(FIXTURE, Path(work) / "root", (4096, 16384), args.rounds, args.seed)
    for line in outcome.bad[: args.show]:
        logging.getLogger("kill_stress").error("%s", line)
    elapsed = time.perf_counter() - started
    sys.stdout.write(
        f"bad rounds: {len(outcome.bad)} of {outcome.rounds}, {outcome.unrestored} of them not "
        f"back to the start after teardown ({outcome.kills} of "
        f"{2 * outcome.rounds} runs killed before their end; seed {args.seed}, {elapsed:.1f} s)\n"
    )
    return 1 if outcome.bad else 0


if __name__ == "__main__":
    sys.exit(main())
