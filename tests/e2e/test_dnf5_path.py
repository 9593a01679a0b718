"""The DNF 5 path: the group installed with no plugin, then the actions file's commands run as
libdnf5's actions plugin runs them; the root must end as it does with the DNF 4 plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fexpkg.confined import Root
from fexpkg.dev import dnf5_actions
from fexpkg.dev.checkout import PLUGIN_DIR
from fexpkg.dev.harness import Installroot
from fexpkg.system.fexconfig import (
    DEFAULT_ROOTFS_PATH,
    GLOBAL_CONFIG,
    MISSING,
    ROOTFS_KEY,
    get_key,
    load,
)

pytestmark = pytest.mark.e2e

ACTIONS = PLUGIN_DIR / "fexpkg.actions"
FEXPKG = Path(sys.executable).with_name("fexpkg")
FEXPKG_STATE = "var/lib/fexpkg"


def dnf5_like(root: Installroot, *args: str) -> None:
    """Run `dnf ARGS` with no plugin, wrapped in the actions libdnf5 would run around it."""
    plan = root.dnf(*args, "--assumeno", plugins=False, check=False)
    changes = [dnf5_actions.PackageChange(n, d) for n, d in plan.changes()]
    assert changes, plan.output
    actions = dnf5_actions.parse(ACTIONS)
    conf = {"installroot": str(root.path)}
    run(actions, "pre_transaction", changes, conf)
    root.dnf(*args, plugins=False)
    run(actions, "post_transaction", changes, conf)


def run(actions, callback, changes, conf) -> None:
    for argv in dnf5_actions.commands(actions, callback, changes, conf):
        assert argv[0] == "/usr/bin/fexpkg", argv
        proc = subprocess.run([str(FEXPKG), *argv[1:]], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "", "libdnf5 would read this as variable assignments"


@pytest.mark.parametrize("kernel", ["kernel", "kernel-16k"])
def test_dnf5_actions_end_like_the_dnf4_plugin(make_root, kernel):
    with_plugin = make_root(kernel, name="dnf4")
    with_plugin.dnf("install", "@fex-x86-emulation")

    root = make_root(kernel, name="dnf5")
    before = root.snapshot()
    dnf5_like(root, "install", "@fex-x86-emulation")
    assert root.snapshot() == with_plugin.snapshot()
    assert (root.path / FEXPKG_STATE / "manifest.json").is_file()
    rootfs = get_key(load(Root(root.path), GLOBAL_CONFIG), ROOTFS_KEY)
    assert rootfs == (DEFAULT_ROOTFS_PATH if kernel == "kernel" else MISSING)

    dnf5_like(root, "group", "remove", "fex-x86-emulation")
    assert root.snapshot() == before
