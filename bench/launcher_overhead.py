"""Benchmark: what the muvm launcher (fex-muvm) adds to each exec of an x86 program.

`true` is FEX and the program; only the launcher differs between the two sides of a pair:
1. end to end, with the muvm stand-in (tests/fixtures/specs/sources/muvm-stand-in.sh) and a VM
   "already running": `muvm -i -- FEX PROGRAM ARGS` (what the old launcher ran) against
   `fex-muvm PROGRAM ARGV0 ARGS` as binfmt_misc runs it, which adds its checks, the environment
   as `-e NAME` (more work for the stand-in too) and the shell it starts in the VM;
2. the launcher alone: the same pair with a muvm that exits at once.
Rounds alternate which side goes first; median wall time per exec. Goal: the launcher adds at
most 2 ms per exec.
muvm refuses root, so as root the benchmark runs itself as uid 1000 in a user namespace.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fexpkg.system.plan import launcher_script

ROUNDS = 200
GOAL_MS = 2.0
STAND_IN = Path(__file__).parents[1] / "tests/fixtures/specs/sources/muvm-stand-in.sh"
ARGS = ["--level", "3", "save file.dat"]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    if os.getuid() == 0:
        unshare = shutil.which("unshare")
        if unshare is None:
            print("skipped: running as root and unshare is missing (muvm refuses root)")
            return 0
        argv = [unshare, "--user", "--map-user=1000", "--map-group=1000", sys.executable, __file__]
        return subprocess.run(argv).returncode
    work = Path(tempfile.mkdtemp(prefix="fexpkg-bench-launcher-"))
    try:
        bindir = work / "bin"
        bindir.mkdir()
        shutil.copy(STAND_IN, bindir / "muvm")
        (bindir / "muvm").chmod(0o755)
        (bindir / "FEX").symlink_to(shutil.which("true") or "/bin/true")
        (work / "home").mkdir()
        (work / "run/krun").mkdir(parents=True)
        (work / "run/krun/server").touch()  # a VM is running: the -i path
        (work / "passwd").write_text(f"u:x:{os.getuid()}:{os.getgid()}::{work / 'home'}:/bin/sh\n")
        (work / "noop").mkdir()
        (work / "noop/muvm").write_text("#!/bin/sh\nexit 0\n")
        (work / "noop/muvm").chmod(0o755)
        (work / "noop/FEX").symlink_to(bindir / "FEX")
        for name, muvm_dir in (("fex-muvm", bindir), ("fex-muvm-noop", work / "noop")):
            (work / name).write_bytes(launcher_script(str(muvm_dir / "muvm"), str(muvm_dir)))
            (work / name).chmod(0o755)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work / "home"),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "XDG_RUNTIME_DIR": str(work / "run"),
            "MUVM_STAND_IN_PASSWD": str(work / "passwd"),
        }
        program = shutil.which("true") or "/bin/true"
        pairs = {
            "end to end (muvm stand-in)": (
                [str(bindir / "muvm"), "-i", "--", str(bindir / "FEX"), program, *ARGS],
                [str(work / "fex-muvm"), program, "game", *ARGS],
            ),
            "launcher alone (muvm exits at once)": (
                [str(work / "noop/muvm"), "-i", "--", str(bindir / "FEX"), program, *ARGS],
                [str(work / "fex-muvm-noop"), program, "game", *ARGS],
            ),
        }
        for label, sides in pairs.items():
            report(label, measure(sides, env, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def measure(sides: tuple[list[str], list[str]], env: dict[str, str], cwd: Path) -> list[float]:
    """Median seconds per exec of (direct, launcher), rounds alternating which goes first."""
    times: list[list[float]] = [[], []]
    for argv in sides:  # warm up
        timed(argv, env, cwd)
    for i in range(ROUNDS):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            times[side].append(timed(sides[side], env, cwd))
    return [statistics.median(t) for t in times]


def report(label: str, medians: list[float]) -> None:
    base, launcher = (m * 1000 for m in medians)
    extra = launcher - base
    verdict = "OK" if extra <= GOAL_MS else "OVER"
    print(
        f"{label}: muvm directly {base:.2f} ms, through fex-muvm {launcher:.2f} ms per exec "
        f"(median of {ROUNDS}): +{extra:.2f} ms, ratio {launcher / base:.2f} "
        f"(goal +{GOAL_MS:.1f} ms: {verdict})"
    )


if __name__ == "__main__":
    sys.exit(main())
