"""Kill setup and teardown at random instants and check that the next run converges.

A round: a forked `actions.setup` is sent SIGKILL at a random instant, setup runs again to the
end, and the tree must be what an uninterrupted setup leaves; then a forked `actions.teardown` is
killed at random, teardown runs again, and the tree must be byte-identical to the start.
Shared by tests/unit/test_crashtest.py and bench/kill_stress.py.
"""

from __future__ import annotations

import logging
import os
import random
import select
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fexpkg.dev.harness import snapshot
from fexpkg.errors import FexpkgError
from fexpkg.system import actions

#: A global Config.json with keys of the user's, which teardown must give back byte for byte.
USER_CONFIG = b'{\n    "Config": {"Multiblock": "1"},\n    "ThunksDB": {"GL": 1}\n}\n'
CONFIG = "usr/share/fex-emu/Config.json"
#: Kill instants are drawn over this many times a run's usual length: a few runs end first.
TAIL = 1.25


@dataclass
class Outcome:
    """Rounds run and the bad ones, each with what differed."""

    rounds: int = 0
    kills: int = 0  # runs killed before their end (the others finished first)
    unrestored: int = 0  # rounds whose final teardown did not give the start back
    bad: list[str] = field(default_factory=list)


def _killed(run: Callable[[], object], delay: float) -> bool:
    """Run `run` in a child killed after `delay` seconds; True when the kill came first."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            logging.disable(logging.CRITICAL)
            run()
            code = 0
        finally:
            os._exit(code)
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], delay)[0]:  # still running at the instant
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status)


def _timed(run: Callable[[], object]) -> float:
    """How long a whole run takes in a child (fork included)."""
    start = time.perf_counter()
    _killed(run, 60.0)  # finishes long before
    return time.perf_counter() - start


def _diff(expected: dict[str, str], got: dict[str, str]) -> str:
    paths = sorted(p for p in expected.keys() | got.keys() if expected.get(p) != got.get(p))
    return ", ".join(paths[:4]) + (" ..." if len(paths) > 4 else "")


def prepare(source: Path, root: Path) -> Path:
    """Copy `source` to `root` (replacing it) with a global Config.json holding user keys."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(source, root, symlinks=True)
    (root / CONFIG).write_bytes(USER_CONFIG)
    return root


def run_rounds(
    source: Path, root: Path, page_sizes: tuple[int, ...], rounds: int, seed: int
) -> Outcome:
    """Run `rounds` kill rounds on a copy of `source` at `root`, cycling through `page_sizes`."""
    rng = random.Random(seed)
    start = snapshot(prepare(source, root))

    def setup(size: int) -> Callable[[], object]:
        return lambda: actions.setup(root, size, live=False, env={})

    def teardown() -> object:
        return actions.teardown(root, live=False, env={})

    after_setup: dict[int, dict[str, str]] = {}
    times: dict[int, list[float]] = {}
    for size in (*page_sizes,) * 3:  # each run's length: the median of three
        times.setdefault(size, []).append(_timed(setup(size)))
        after_setup[size] = snapshot(root)
        times.setdefault(-size, []).append(_timed(teardown))
        if snapshot(root) != start:
            raise FexpkgError(f"setup then teardown changes {_diff(start, snapshot(root))}")
    spans = {key: sorted(values)[1] for key, values in times.items()}
    outcome = Outcome()
    for n in range(rounds):
        size = page_sizes[n % len(page_sizes)]
        outcome.kills += _killed(setup(size), rng.random() * TAIL * spans[size])
        setup(size)()
        bad = []
        if snapshot(root) != after_setup[size]:
            bad.append(f"setup after a killed one: {_diff(after_setup[size], snapshot(root))}")
        outcome.kills += _killed(teardown, rng.random() * TAIL * spans[-size])
        teardown()
        if snapshot(root) != start:
            bad.append(f"teardown after a killed one: {_diff(start, snapshot(root))}")
            outcome.unrestored += 1
            prepare(source, root)
        if bad:
            outcome.bad.append(f"round {n} ({size}): " + "; ".join(bad))
        outcome.rounds += 1
    return outcome
