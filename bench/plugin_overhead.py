"""Benchmark: what the `fex` DNF plugin costs.

1. The instructions DNF executes (valgrind's callgrind counts them: the same for the same run
   whatever else the machine does, where CPU time on this shared machine swings by 6 %) with
   the plugin against without it (`--disableplugin=fex`, as issue 11 measures: DNF's plugin
   machinery runs on both sides, so the ratio is this plugin's own cost), on a real
   transaction that does not touch FEX: install then remove a kernel stand-in in an installroot
   where FEX is configured. The modules are byte-compiled first, as the RPMs install them.
   Goal: ratio < 1.02.
2. The post-transaction actions: `fexpkg setup` on a root where FEX was just installed (first
   run writes, second run finds nothing to do), against the baseline of reading the root's
   status, measured in the same run.
Run: .venv/bin/python bench/plugin_overhead.py (needs valgrind: apt-get install valgrind)
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from timing import CALLGRIND, REPEATABLE, collected, timed

from fexpkg.dev import checkout, harness
from fexpkg.system import actions

ROUNDS = 3
#: Python writes the plugin's and fexpkg's bytecode on the first run, as RPM installs it.
ENV = {"PYTHONDONTWRITEBYTECODE": "", **REPEATABLE}


def instructions(root: harness.Installroot, plugins: bool) -> int:
    """Instructions of DNF's two processes for one install + remove of a package that has
    nothing to do with FEX."""
    off = () if plugins else ("--disableplugin=fex",)
    total = 0
    for command in ("install", "remove"):
        result = root.dnf(command, "kernel", *off, env=ENV, wrapper=CALLGRIND)
        total += collected(result.output)
    return total


def main() -> int:
    reason = harness.dnf_available()
    if reason or shutil.which("valgrind") is None:
        print(f"skipped: {reason or 'valgrind is not installed (apt-get install valgrind)'}")
        return 0
    repo_dir = harness.build_test_repo(checkout.BUILD / "bench")
    work = Path(tempfile.mkdtemp(prefix="fexpkg-bench-"))
    try:
        root = harness.Installroot(work / "root", repo_dir, home=work / "home")
        root.dnf("install", "filesystem", "busybox")
        root.dnf("install", "@fex-x86-emulation", plugins=False)
        root.dnf("install", "kernel", env=ENV)  # warm caches, write the bytecode
        root.dnf("remove", "kernel", env=ENV)
        with_plugin, without = [], []
        for i in range(ROUNDS):  # alternate which side goes first
            for plugins in (False, True) if i % 2 else (True, False):
                (with_plugin if plugins else without).append(instructions(root, plugins))
        base, plug = statistics.median(without), statistics.median(with_plugin)
        print(f"dnf install+remove (no FEX change), instructions, median of {ROUNDS}:")
        print(f"  without plugin {base / 1e6:8.1f} M")
        print(f"  with plugin    {plug / 1e6:8.1f} M")
        print(f"  ratio          {plug / base:8.3f}   (goal < 1.02)")

        status = statistics.median(
            timed(lambda: actions.status(root.path, env={})) for _ in range(5)
        )
        first = timed(lambda: actions.setup(root.path, env={}))
        again = statistics.median(timed(lambda: actions.setup(root.path, env={})) for _ in range(5))
        print("post-transaction actions:")
        print(f"  status (baseline)      {status * 1000:8.2f} ms")
        print(f"  setup, first run       {first * 1000:8.2f} ms   ratio {first / status:6.2f}")
        print(f"  setup, nothing to do   {again * 1000:8.2f} ms   ratio {again / status:6.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
