"""Benchmark: the system tier (tests/system, real dnf5 and rpm 6 in a Debian unstable root).

Goals (issue 9, on this machine's 2 cores): at most 90 s with the root cached, at most 150 s
including its first build by mmdebstrap. The baseline, measured in the same run, is the floor
of one scenario: copying the cached root and running `dnf5 --version` in it; the ratio says how
many such floors the whole tier costs.
Run: .venv/bin/python bench/system_tier.py [--cold]
  --cold  also build the root from scratch in a temporary cache (downloads dnf5, rpm, Kiwi and
          their dependencies from Debian unstable).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fexpkg.dev import dnf5host

CHECKOUT = Path(__file__).resolve().parents[1]

GOAL_CACHED = 90.0
GOAL_COLD = 150.0


def tier(env: dict[str, str]) -> float:
    """Wall time of `pytest tests/system`; fails when the tier does."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/system"],
        cwd=CHECKOUT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def floor(base: Path) -> float:
    """Wall time of one scenario's fixed cost: a copy of the root, one command in it."""
    with tempfile.TemporaryDirectory(dir=CHECKOUT / "build") as tmp:
        start = time.perf_counter()
        root = dnf5host.SystemRoot(Path(tmp) / "root", base)
        root.run("dnf5", "--version")
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a first build")
    args = parser.parse_args()
    if reason := dnf5host.unavailable():
        print(f"skipped: {reason}")
        return 0
    (CHECKOUT / "build").mkdir(exist_ok=True)
    env = dict(os.environ)
    dnf5host.base_root()  # cached before timing
    base_floor = floor(dnf5host.base_root())
    cached = tier(env)
    print(f"one scenario's floor (copy + dnf5 --version): {base_floor:5.1f} s")
    print(
        f"system tier, root cached: {cached:5.1f} s = {cached / base_floor:4.1f} floors "
        f"(goal <= {GOAL_CACHED:.0f} s: {'met' if cached <= GOAL_CACHED else 'UNMET'})"
    )
    if args.cold:
        with tempfile.TemporaryDirectory(dir=CHECKOUT / "build") as cache:
            cold = tier({**env, "FEXPKG_SYSTEM_CACHE": cache})
        print(
            f"system tier, root built first: {cold:5.1f} s = {cold / base_floor:4.1f} floors "
            f"(goal <= {GOAL_COLD:.0f} s: {'met' if cold <= GOAL_COLD else 'UNMET'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
