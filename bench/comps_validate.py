"""Benchmark: `fexpkg comps validate` (in-process) against `xmllint --relaxng` on one
Fedora-size comps file (400 groups, 60 environments, 20,000 packagereqs).

Both sides validate the same file. After one warm-up run of each, the runs alternate (ours,
xmllint, ours, ...) so that both see the same load on the machine; the script prints the median
of each side, their spread, and two ratios: of the best runs (timeit's convention: the run least
disturbed by the rest of the machine) and of the medians. The goal is a ratio under 1.5.
Run: .venv/bin/python bench/comps_validate.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fexpkg.comps import document as comps_doc
from fexpkg.comps.validate import validate
from fexpkg.dev.comps_synth import synthetic_comps

GOAL = 1.5


def timed(func: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def alternate(runs: int, sides: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """One warm-up call of each side, then `runs` rounds calling each side once in turn."""
    for func in sides.values():
        func()
    times: dict[str, list[float]] = {label: [] for label in sides}
    for _ in range(runs):
        for label, func in sides.items():
            times[label].append(timed(func))
    return times


def describe(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return (
        f"{label:<22} median {statistics.median(ms):6.1f} ms "
        f"(min {ms[0]:.1f}, max {ms[-1]:.1f}, {len(ms)} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
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
        cmd = [xmllint, "--noout", "--relaxng", str(comps_doc.schema_path()), str(path)]
        times = alternate(
            args.runs,
            {
                "fexpkg comps validate": lambda: validate(path),
                "xmllint --relaxng": lambda: subprocess.run(cmd, check=True, capture_output=True),
            },
        )
    ours, theirs = times.values()
    for label, label_times in times.items():
        print(describe(label, label_times))
    best = min(ours) / min(theirs)
    print(f"ratio of best runs: {best:.2f} (goal < {GOAL}) {'OK' if best < GOAL else 'OVER'}")
    print(f"ratio of medians:   {statistics.median(ours) / statistics.median(theirs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
