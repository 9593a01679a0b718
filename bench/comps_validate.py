"""Benchmark: `fexpkg comps validate` as a process against `xmllint --relaxng` on one comps file
shaped like Fedora's comps-f41.xml.in (160 groups, 21 environments, about 330 KB, with its quirks:
empty descriptions, dangling references; see comps_synth).

Both sides validate the same file, each a new process (what a CI job or a release engineer
runs); a third side is the same validation in-process, to tell start-up from work, and a
fourth the floor of any validator built on Python and lxml: a process that only imports
lxml.etree. After one warm-up run of each, the runs alternate (ours, xmllint, in-process, floor,
ours, ...) so that all see the same load on the machine; the script prints the median of each
side, their spread, and the ratios of the process against xmllint: of the best runs (timeit's
convention: the run least disturbed by the rest of the machine) and of the medians. The goal
is a ratio under 2.
Run: .venv/bin/python bench/comps_validate.py [--runs N]
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
from collections.abc import Callable
from pathlib import Path

from fexpkg.comps import document as comps_doc
from fexpkg.comps.validate import failed, validate
from fexpkg.dev.comps_synth import synthetic_comps

GOAL = 2.0


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
        f"{label:<30} median {statistics.median(ms):6.1f} ms "
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
        source = Path(tmp) / "comps-f41.xml.in"
        source.write_text(
            synthetic_comps(groups=160, environments=21, packagereqs=3800, fedora_quirks=True)
        )
        path = Path(tmp) / "comps-f41.xml"
        comps_doc.render(source, path)
        if failed(validate(path)):
            print(f"generated file has errors: {validate(path)[0]}", file=sys.stderr)
            return 2
        ours = [sys.executable, "-s", "-m", "fexpkg", "comps", "validate", str(path)]
        theirs = [xmllint, "--noout", "--relaxng", str(comps_doc.schema_path()), str(path)]
        floor = [sys.executable, "-s", "-c", "import lxml.etree"]
        # As installed (the RPM ships bytecode): cached after the warm-up run, whatever
        # PYTHONDONTWRITEBYTECODE this shell has.
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print(f"{path.stat().st_size // 1024} KB, {sys.executable} -s -m fexpkg")
        times = alternate(
            args.runs,
            {
                "fexpkg comps validate": lambda: subprocess.run(
                    ours, check=True, capture_output=True, env=env
                ),
                "xmllint --relaxng": lambda: subprocess.run(
                    theirs, check=True, capture_output=True
                ),
                "(validate() in-process)": lambda: validate(path),
                "(python3 -s -c 'import lxml.etree')": lambda: subprocess.run(
                    floor, check=True, capture_output=True, env=env
                ),
            },
        )
    for label, label_times in times.items():
        print(describe(label, label_times))
    process, xml, _, lxml_floor = times.values()
    best = min(process) / min(xml)
    print(f"ratio of best runs: {best:.2f} (goal < {GOAL}) {'OK' if best < GOAL else 'OVER'}")
    print(f"ratio of medians:   {statistics.median(process) / statistics.median(xml):.2f}")
    floor = min(lxml_floor) / min(xml)
    print(f"floor (Python + lxml import) against xmllint, best runs: {floor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
