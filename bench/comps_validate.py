"""Benchmark: `fexpkg comps validate` (in-process) against `xmllint --relaxng` on one
Fedora-size comps file (400 groups, 60 environments, 20,000 packagereqs).

Prints both times (best of several runs) and their ratio; the goal is a ratio under 1.5.
Run: .venv/bin/python bench/comps_validate.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fexpkg import comps
from fexpkg.comps_synth import synthetic_comps
from fexpkg.comps_validate import validate

GOAL = 1.5


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Shortest wall time of `runs` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        print("xmllint not found (apt-get install libxml2-utils)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "comps-bench.xml.in"
        path.write_text(synthetic_comps(groups=400, environments=60, packagereqs=20000))
        problems = validate(path)
        if problems:
            print(f"generated file is not clean: {problems[0]}", file=sys.stderr)
            return 2
        cmd = [xmllint, "--noout", "--relaxng", str(comps.schema_path()), str(path)]
        ours = best_of(args.runs, lambda: validate(path))
        theirs = best_of(args.runs, lambda: subprocess.run(cmd, check=True, capture_output=True))
    ratio = ours / theirs
    print(f"fexpkg comps validate: {ours * 1000:.1f} ms")
    print(f"xmllint --relaxng:     {theirs * 1000:.1f} ms")
    print(f"ratio: {ratio:.2f} (goal < {GOAL}) {'OK' if ratio < GOAL else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
