"""Mutation score of the modules that write to users' systems (issue 12's standing measure).

Runs mutmut from scratch (its configuration: pyproject.toml's [tool.mutmut], the six modules and
the unit tests that cover them) in a copy of the checkout, then prints killed / total, the score
and every surviving mutant, marking as new those bench/mutation-survivors.md does not explain.
The copy leaves out symbolic links: mutmut copies tests/ following them, and the RootFS tree
fixture's usrmerge links dangle. The tests' temporary roots go to /dev/shm when it is there: the
writes fsync, which a tmpfs makes free (4 times faster here). The copy is kept, to look at a mutant:
`cd build/mutation && ../../.venv/bin/mutmut show NAME`. Exit status 1 when a survivor is new.
Run: .venv/bin/python bench/mutation_score.py [--jobs 1] [--work build/mutation]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
KNOWN = CHECKOUT / "bench/mutation-survivors.md"
TMPFS = Path("/dev/shm")
# mutmut's exit codes of a mutant's test run (mutmut.stats.status_by_exit_code): a mutant is
# killed when its tests fail, time out or crash; anything else is counted as surviving.
KILLED = {
    1: "killed",
    3: "killed",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "crashed",
    -9: "crashed",
}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 35: "suspicious"}


def stage(work: Path) -> None:
    """A fresh copy of what mutmut needs (pyproject.toml, src/, tests/) in `work`."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy2(CHECKOUT / "pyproject.toml", work)

    def skipped(directory: str, names: list[str]) -> set[str]:
        return {
            n
            for n in names
            if n in ("__pycache__", "mutants") or os.path.islink(os.path.join(directory, n))
        }

    for tree in ("src", "tests"):
        shutil.copytree(CHECKOUT / tree, work / tree, symlinks=True, ignore=skipped)


def outcomes(work: Path) -> dict[str, str]:
    """Each mutant's name -> its status, from the .meta files mutmut wrote in `work`/mutants."""
    found: dict[str, str] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = KILLED.get(code) or SURVIVED.get(code) or f"exit code {code}"
    return found


def known_survivors(text: str) -> set[str]:
    """The mutant names listed in mutation-survivors.md (lines "- `NAME`: why ...")."""
    return set(re.findall(r"^- `([^`]+__mutmut_\d+)`", text, re.MULTILINE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="mutmut workers (default 1)")
    parser.add_argument("--work", type=Path, default=CHECKOUT / "build/mutation")
    parser.add_argument("--show", type=int, default=20, help="new survivors to diff (default 20)")
    args = parser.parse_args()
    work = args.work.resolve()
    stage(work)
    started = time.perf_counter()
    env = dict(os.environ)
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK):
        env["TMPDIR"] = str(TMPFS)
    with open(work / "mutmut.log", "wb") as log:
        run = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        tail = (work / "mutmut.log").read_bytes()[-3000:].decode(errors="replace")
        sys.stderr.write(
            f"{tail}\nmutmut run failed (exit status {run.returncode}), log in "
            f"{work / 'mutmut.log'}\n"
        )
        return 2
    found = outcomes(work)
    counts = Counter(found.values())
    killed = sum(n for status, n in counts.items() if status in KILLED.values())
    survivors = sorted(name for name, status in found.items() if status not in KILLED.values())
    known = known_survivors(KNOWN.read_text()) if KNOWN.exists() else set()
    new = [name for name in survivors if name not in known]
    out = sys.stdout
    detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.write(f"mutants: {len(found)} ({detail})\n")
    out.write(
        f"killed: {killed} of {len(found)}, score {100 * killed / max(len(found), 1):.1f} %"
        f" ({elapsed:.0f} s, {args.jobs} worker{'s' if args.jobs > 1 else ''})\n"
    )
    out.write(f"survivors: {len(survivors)}, {len(new)} of them new (not in {KNOWN.name})\n")
    for name in survivors:
        out.write(f"  {'NEW ' if name in new else '    '}{name}: {found[name]}\n")
    stale = sorted(known - set(survivors))
    if stale:
        out.write(f"listed in {KNOWN.name} but not surviving (remove them): {', '.join(stale)}\n")
    for name in new[: args.show]:
        diff = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        out.write(diff.stdout)
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
