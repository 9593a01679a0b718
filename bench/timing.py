"""What the benchmarks share: fexpkg run as installed, wall times of sides taken in turn."""

from __future__ import annotations

import compileall
import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
#: A command under valgrind's callgrind: its instructions counted (the same for the same run,
#: whatever else the machine does), no profile written.
CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
#: Python's hash seed fixed: the counts repeat from run to run.
REPEATABLE = {"PYTHONHASHSEED": "0"}
_COLLECTED = re.compile(r"Collected : (\d+)")
ENTRY = "import sys; from fexpkg.cli import main; sys.exit(main())"
"""What fexpkg's console script runs."""


def installed_python(python: str | None = None) -> list[str]:
    """The interpreter an installed fexpkg runs under (or `python`, e.g. another version), with
    the flags of Fedora's shebangs.

    It is the system one, not the checkout's venv: in a venv with certifi, this sandbox's
    _sandboxing_egress_ca.pth (which no Fedora user has) imports certifi and importlib.resources
    at every start, some 35 ms on `-c pass`. The system interpreter sees the system site-packages
    (lxml, libcomps, rpm) as the RPM's does.
    """
    if python is None:
        base = Path(getattr(sys, "_base_executable", "")).resolve()
        python = str(base) if base.is_file() else "/usr/bin/python3"
    return [python, "-sP"]


def fexpkg_command(*args: str, python: str | None = None) -> list[str]:
    """The argv of `fexpkg ARGS` as its console script runs it (with `installed_env`)."""
    return [*installed_python(python), "-c", ENTRY, *args]


def compiled_src(dest: Path, rev: str | None = None) -> Path:
    """src/ of the working tree (rev None) or of a git revision, in dest, compiled to bytecode,
    without fexpkg.dev (the RPM leaves it out: with it, fexpkg acts as in its checkout)."""
    if rev is None:
        shutil.copytree(CHECKOUT / "src", dest / "src")
    else:
        archive = subprocess.run(
            ["git", "-C", str(CHECKOUT), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        dest.mkdir()
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    if (dev := dest / "src/fexpkg/dev").exists():
        shutil.rmtree(dev)
    compileall.compile_dir(dest / "src", quiet=1)
    return dest / "src"


def installed_env(src: Path, **extra: str) -> dict[str, str]:
    """This environment with fexpkg importable from `src` (see compiled_src), bytecode allowed."""
    env = {**os.environ, "PYTHONPATH": str(src), **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def process(argv: list[str], env: dict[str, str] | None = None) -> Callable[[], object]:
    """A call running argv to its end, output discarded; CalledProcessError if it fails."""
    return functools.partial(
        subprocess.run,
        argv,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def timed(func: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def alternate(runs: int, sides: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """One warm-up call of each side, then `runs` rounds calling each side once in turn, so that
    all see the same load on the machine."""
    for func in sides.values():
        func()
    times: dict[str, list[float]] = {label: [] for label in sides}
    for _ in range(runs):
        for label, func in sides.items():
            times[label].append(timed(func))
    return times


def describe(times: dict[str, list[float]]) -> str:
    """A line per side: median, best and worst run, in ms, labels aligned."""
    width = max(map(len, times))
    lines = []
    for label, values in times.items():
        ms = sorted(t * 1000 for t in values)
        lines.append(
            f"{label:<{width}}  median {statistics.median(ms):7.1f} ms "
            f"(min {ms[0]:.1f}, max {ms[-1]:.1f}, {len(ms)} runs)"
        )
    return "\n".join(lines)


def collected(output: str) -> int:
    """The instruction count in callgrind's report (the last one: the command's own process)."""
    return int(_COLLECTED.findall(output)[-1])


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions one run of argv executes, by callgrind, with REPEATABLE in its environment."""
    proc = subprocess.run(
        [*CALLGRIND, *argv],
        env={**env, **REPEATABLE},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return collected(proc.stderr)
