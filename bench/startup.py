"""Benchmark: start-up of `fexpkg status` and of a `fexpkg setup` with nothing to do, against
`python3 -c pass`.

`fexpkg setup` runs from rpm file triggers and DNF 5 actions on every transaction that touches
FEX, so its start-up counts. All sides are new processes of the system interpreter with the flags
of Fedora's shebangs (`python3 -sP`, as installed: the checkout's venv would add a start-up cost
of this sandbox's to each; see timing.installed_python) in the same environment; fexpkg runs as
its console script does (`from fexpkg.cli import main`) on a copy of
tests/fixtures/roots/fex-installed, from a copy of src/ compiled to bytecode as an installed
package is. After one warm-up run of each, the runs alternate; the script prints the median of
each side, their spread, and fexpkg's cost over bare Python. Where valgrind is installed it also
prints each side's instructions (callgrind), which repeat exactly: a change's cost shows there
when wall times on a shared machine drown it.
Run: .venv/bin/python bench/startup.py [--runs N] [--against GIT-REVISION] [--python PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from timing import (
    CHECKOUT,
    alternate,
    compiled_src,
    describe,
    fexpkg_command,
    installed_env,
    installed_python,
    instructions,
    process,
)

FIXTURE = CHECKOUT / "tests/fixtures/roots/fex-installed"
GOAL_RATIO = 5.0  # issue 11: fexpkg status and a setup with nothing to do, over bare Python
BASE = "python3 -sP -c pass"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--against", metavar="REV", help="also time the src/ of this git revision, in turn"
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="run every side with this interpreter (e.g. 3.13, Fedora 41's; `setup` and `status` "
        "need only the standard library)",
    )
    args = parser.parse_args()
    python = installed_python(args.python)
    with tempfile.TemporaryDirectory() as tmp:
        root = str(shutil.copytree(FIXTURE, Path(tmp) / "root", symlinks=True))
        here = compiled_src(Path(tmp) / "here")
        trees = {"": here}
        if args.against:
            trees[f" at {args.against}"] = compiled_src(Path(tmp) / "against", args.against)
        status = fexpkg_command("status", "--root", root, python=args.python)
        setup = fexpkg_command("setup", "--root", root, "--no-live", python=args.python)
        commands = {BASE: ([*python, "-c", "pass"], installed_env(here))}
        for at, src in trees.items():
            env = installed_env(src, FEXPKG_PAGE_SIZE="4096")
            commands[f"fexpkg status --root R{at}"] = (status, env)
            commands[f"fexpkg setup (nothing to do) --root R{at}"] = (setup, env)
        times = alternate(args.runs, {label: process(*cmd) for label, cmd in commands.items()})
        counts = (
            {label: instructions(*cmd) for label, cmd in commands.items()}
            if shutil.which("valgrind")
            else {}
        )
    print(f"interpreter: {' '.join(python)}")
    print(describe(times))
    base = statistics.median(times.pop(BASE)) * 1000
    for label, values in times.items():
        median = statistics.median(values) * 1000
        print(
            f"{label}: {median - base:.1f} ms over bare Python, ratio {median / base:.2f} "
            f"(goal <= {GOAL_RATIO:.0f})"
        )
    if counts:
        base_count = counts.pop(BASE)
        print(f"instructions (callgrind, the same every run): bare Python {base_count / 1e6:.1f} M")
        for label, count in counts.items():
            print(f"  {label}: {count / 1e6:.1f} M, ratio {count / base_count:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
