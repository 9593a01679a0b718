"""Benchmark: what the `fex` DNF plugin costs.

1. DNF's CPU time (user + system, of the dnf processes: steadier than wall time on a shared
   machine) with the plugin against without it (`--disableplugin=fex`, as issue 11 measures:
   DNF's plugin machinery runs on both sides, so the ratio is this plugin's own cost), on a real
   transaction that does not touch FEX (install then remove a kernel stand-in in an installroot
   where FEX is configured); rounds alternate which side goes first. Goal: ratio < 1.02.
2. The post-transaction actions: `fexpkg setup` on a root where FEX was just installed (first
   run writes, second run finds nothing to do), against the baseline of reading the root's
   status, measured in the same run.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from timing import timed

from fexpkg.dev import checkout, harness
from fexpkg.system import actions

ROUNDS = 15


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def transaction(root: harness.Installroot, plugins: bool) -> float:
    """CPU seconds of one install + remove of a package that has nothing to do with FEX."""
    start = children_cpu()
    off = () if plugins else ("--disableplugin=fex",)
    root.dnf("install", "kernel", *off)
    root.dnf("remove", "kernel", *off)
    return children_cpu() - start


def main() -> int:
    reason = harness.dnf_available()
    if reason:
        print(f"skipped: {reason}")
        return 0
    repo_dir = harness.build_test_repo(checkout.BUILD / "bench")
    work = Path(tempfile.mkdtemp(prefix="fexpkg-bench-"))
    try:
        root = harness.Installroot(work / "root", repo_dir, home=work / "home")
        root.dnf("install", "filesystem", "busybox")
        root.dnf("install", "@fex-x86-emulation", plugins=False)
        transaction(root, True)  # warm caches for both sides
        with_plugin, without = [], []
        for i in range(ROUNDS):  # alternate which side goes first
            for plugins in (False, True) if i % 2 else (True, False):
                (with_plugin if plugins else without).append(transaction(root, plugins))
        base, plug = statistics.median(without), statistics.median(with_plugin)
        print(f"dnf install+remove (no FEX change), CPU time, median of {ROUNDS}:")
        print(f"  without plugin {base * 1000:8.1f} ms")
        print(f"  with plugin    {plug * 1000:8.1f} ms")
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
