"""Benchmark: start-up of `fexpkg status --root R` against `python3 -c pass`.

`fexpkg setup` runs from rpm file triggers and DNF 5 actions on every transaction that touches
FEX, so its start-up counts. Both sides are new processes of the same interpreter with the same
environment; fexpkg runs as its console script does (`from fexpkg.cli import main`) on a copy of
tests/fixtures/roots/fex-installed, with its bytecode cached as an installed package has it (in a
scratch PYTHONPYCACHEPREFIX). After one warm-up run of each, the runs alternate; the script
prints the median of each side, their spread, and fexpkg's cost over bare Python.
Run: .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
FIXTURE = CHECKOUT / "tests/fixtures/roots/fex-installed"
ENTRY = "import sys; from fexpkg.cli import main; sys.exit(main())"


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run, in seconds."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def describe(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    median = statistics.median(ms)
    return f"{label:<24} median {median:6.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(CHECKOUT / "src"), "PYTHONPYCACHEPREFIX": tmp}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        root = shutil.copytree(FIXTURE, Path(tmp) / "root", symlinks=True)
        sides = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "fexpkg status --root R": [sys.executable, "-c", ENTRY, "status", "--root", str(root)],
        }
        for argv in sides.values():
            timed(argv, env)
        times: dict[str, list[float]] = {label: [] for label in sides}
        for _ in range(runs):
            for label, argv in sides.items():
                times[label].append(timed(argv, env))
    for label, values in times.items():
        print(describe(label, values))
    base, ours = (statistics.median(v) * 1000 for v in times.values())
    print(f"fexpkg's own start-up: {ours - base:.1f} ms (median over bare Python)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
