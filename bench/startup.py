"""Benchmark: start-up of `fexpkg status` and of a `fexpkg setup` with nothing to do, against
`python3 -c pass`.

`fexpkg setup` runs from rpm file triggers and DNF 5 actions on every transaction that touches
FEX, so its start-up counts. Both sides are new processes of the same interpreter with the same
environment; fexpkg runs as its console script does (`from fexpkg.cli import main`) on a copy of
tests/fixtures/roots/fex-installed, from a copy of src/ compiled to bytecode as an installed
package is. After one warm-up run of each, the runs alternate; the script prints the median of
each side, their spread, and fexpkg's cost over bare Python.
Run: .venv/bin/python bench/startup.py [--runs N] [--against GIT-REVISION]
"""

from __future__ import annotations

import argparse
import compileall
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
GOAL_RATIO = 5.0  # issue 11: fexpkg status and a setup with nothing to do, over bare Python
ENTRY = "import sys; from fexpkg.cli import main; sys.exit(main())"


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run, in seconds."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def describe(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    median = statistics.median(ms)
    return f"{label:<32} median {median:6.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def compiled_src(dest: Path, rev: str | None) -> Path:
    """src/ of the working tree (rev None) or of a git revision, in dest, compiled to bytecode."""
    if rev is None:
        shutil.copytree(CHECKOUT / "src", dest / "src")
    else:
        archive = subprocess.run(
            ["git", "-C", str(CHECKOUT), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        dest.mkdir()
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    compileall.compile_dir(dest / "src", quiet=1)
    return dest / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--against", metavar="REV", help="also time the src/ of this git revision, in turn"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = shutil.copytree(FIXTURE, Path(tmp) / "root", symlinks=True)
        trees = {"fexpkg status --root R": compiled_src(Path(tmp) / "here", None)}
        if args.against:
            label = f"... at {args.against}"
            trees[label] = compiled_src(Path(tmp) / "against", args.against)
        status = [sys.executable, "-c", ENTRY, "status", "--root", str(root)]
        setup = [sys.executable, "-c", ENTRY, "setup", "--root", str(root), "--no-live"]
        sides = {"python3 -c pass": ([sys.executable, "-c", "pass"], os.environ)}
        for label, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(src), "FEXPKG_PAGE_SIZE": "4096"}
            sides[label] = (status, env)
            sides[label.replace("status", "setup (nothing to do)", 1)] = (setup, env)
        for argv, env in sides.values():
            timed(argv, env)
        times: dict[str, list[float]] = {label: [] for label in sides}
        for _ in range(args.runs):
            for label, (argv, env) in sides.items():
                times[label].append(timed(argv, env))
    for label, values in times.items():
        print(describe(label, values))
    base = statistics.median(times.pop("python3 -c pass")) * 1000
    for label, values in times.items():
        median = statistics.median(values) * 1000
        print(
            f"{label}: {median - base:.1f} ms over bare Python, ratio {median / base:.2f} "
            f"(goal <= {GOAL_RATIO:.0f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
