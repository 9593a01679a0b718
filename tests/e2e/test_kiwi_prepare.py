"""End to end: real `kiwi-ng system prepare` composes a root tree with the KDE spin's packages.

The description is `fexpkg.dev.kiwi_spin`'s: `filesystem`, then the spin's Kiwi fragment
(`comps/spin/fex-kde-aarch64.kiwi.xml`: kde-desktop-environment and fex-x86-emulation), from the
session's repository, with a profile per kernel flavour. Kiwi (PyPI `kiwi`, the test extra) runs
with `--target-arch aarch64`, which its DNF 4 backend writes as `arch=aarch64` and `ignorearch=1`
into the dnf configuration it generates (kiwi/repository/dnf4.py), then the host's DNF 4 with
`--installroot` installs the bootstrap packages (kiwi/package_manager/dnf4.py,
`process_install_requests_bootstrap`).

Where this differs from Fedora's KDE description:
- The fragment is moved from `type="image"` to `type="bootstrap"` (see kiwi_spin): the
  stand-ins' root has no DNF to run Kiwi's image phase.
- `<packagemanager>dnf4`: the host has no DNF 5. Kiwi's dnf configuration sets no `pluginpath`;
  a `dnf4` on PATH (which Kiwi prefers to `dnf-3`) runs `dnf-3` with this checkout's
  `dnf-plugins/` as pluginpath, where a build host would have python3-dnf-plugin-fex installed.
  python3-fexpkg's rpm file triggers run chrooted and find no Python (a stand-in), so the FEX
  configuration in the root is the plugin's, as in tests/e2e/test_plugin.py.

Kiwi needs root (it bind-mounts /proc, /dev, /sys and the repository into the root) and rsync.
It runs in a private mount namespace where /var/log is a directory of tmp_path (DNF's `makecache`,
run without --installroot, logs to the host's /var/log); its shared cache, temporary files, HOME
and TMPDIR are in tmp_path too, so nothing is written outside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from expect import assert_muvm, assert_native

from fexpkg.dev import checkout, harness, kiwi_spin, repo
from fexpkg.dev.harness import SCRIPTLET_FAILURE
from fexpkg.dev.kiwi_spin import DEFAULT, KDE, MANDATORY, REQUIRED, WEAK
from fexpkg.packaging import spin

KIWI_NG = Path(sys.executable).with_name("kiwi-ng")
#: Commands Kiwi or this test runs, with the Debian package that has each.
TOOLS = {"rsync": "rsync", "unshare": "util-linux", "chroot": "coreutils", "dnf-3": "dnf"}


def _cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "kiwi-ng system prepare mounts file systems: run as root"
    if not KIWI_NG.is_file():
        return f"{KIWI_NG} is missing (pip install kiwi: the test extra)"
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install {package})"
    return None


_REASON = _cannot_run()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(_REASON is not None, reason=str(_REASON))]

# In the namespace: /var/log is $1, then Kiwi (the rest of the arguments).
IN_NAMESPACE = 'mount --bind "$1" /var/log && shift && exec "$@"'


def kiwi_prepare(repo_dir: Path, work: Path, profile: str, plugin: bool) -> tuple[Path, str]:
    """Run `kiwi-ng system prepare` for `profile`, with or without the DNF 4 plugin; return the
    root and Kiwi's output."""
    desc = work / "description"
    desc.mkdir()
    (desc / "config.kiwi").write_text(
        kiwi_spin.description("dnf4", f"dir://{repo_dir}"), encoding="utf-8"
    )
    bin_dir = work / "bin"
    bin_dir.mkdir()
    dnf4 = bin_dir / "dnf4"
    plugins = f"--setopt=pluginpath={checkout.PLUGIN_DIR}" if plugin else "--noplugins"
    dnf4.write_text(f'#!/bin/sh\nexec dnf-3 {plugins} "$@"\n')
    dnf4.chmod(0o755)
    for sub in ("var-log", "cache", "tmp"):
        (work / sub).mkdir()

    env = repo.rpm_env(work / "home")
    env.pop("FEXPKG_PAGE_SIZE", None)
    env.update(
        PATH=os.pathsep.join((str(bin_dir), env.get("PATH", os.defpath))),
        PYTHONPATH=str(checkout.SRC),
        TMPDIR=str(work / "tmp"),
    )
    root = work / "root"
    cmd = [
        *("unshare", "--mount", "--propagation", "private", "sh", "-c", IN_NAMESPACE, "sh"),
        str(work / "var-log"),
        str(KIWI_NG),
        "--debug",
        *("--profile", profile),
        *("--target-arch", spin.ARCH),
        *("--shared-cache-dir", str(work / "cache")),
        *("--temp-dir", str(work / "tmp")),
        *("system", "prepare", "--description", str(desc), "--root", str(root)),
    ]
    proc = subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    tail = "\n".join(proc.stdout.splitlines()[-40:])
    assert proc.returncode == 0, f"kiwi-ng exited {proc.returncode}:\n{tail}"
    assert not SCRIPTLET_FAILURE.search(proc.stdout), tail
    # DNF's host-side makecache logged into the namespace's /var/log, not the host's.
    assert (work / "var-log" / "dnf.log").is_file()
    return root, proc.stdout


@pytest.mark.parametrize(
    ("profile", "page_size", "added"),
    [("kernel", 4096, set()), ("kernel-16k", 16384, {"kernel-16k", "muvm"})],
)
def test_kiwi_prepare_installs_the_group_and_configures_fex(
    fex_repo: Path, tmp_path: Path, profile: str, page_size: int, added: set[str]
):
    root, output = kiwi_prepare(fex_repo, tmp_path, profile, plugin=True)
    # The fragment's arch="aarch64" collection was kept: Kiwi filters by --target-arch.
    assert "--> collection: fex-x86-emulation" in output
    # The DNF 4 plugin ran in Kiwi's transaction and read the page size from the root's kernels.
    assert f"fex: page size {page_size} " in output, output

    assert harness.installed(root, repo.rpm_env(tmp_path / "home")) == (
        KDE | MANDATORY | DEFAULT | REQUIRED | WEAK | added
    )

    if page_size == 4096:
        assert_native(root, tmp_path / "cache")
    else:
        assert_muvm(root, tmp_path / "cache", page_size)


def test_kiwi_alone_brings_the_whole_group_and_muvm(fex_repo: Path, tmp_path: Path):
    """Without the DNF 4 plugin, as with DNF 5, which cannot add packages, Kiwi's selection alone
    brings the group's default and conditional packages (python3-fexpkg, the thunks, muvm) and
    the weak dependencies. Without the fragment's patternType="plusRecommended", Kiwi's default
    onlyRequired left out python3-dnf-plugin-fex here (dnf4: no weak dependency) and, with its
    dnf5 manager, leaves out every non-mandatory package of the group
    (tests/system/test_kiwi_dnf5.py, with the real DNF 5)."""
    root, output = kiwi_prepare(fex_repo, tmp_path, "kernel-16k", plugin=False)
    assert "fex: " not in output  # the plugin did not run
    assert harness.installed(root, repo.rpm_env(tmp_path / "home")) == (
        KDE | MANDATORY | DEFAULT | REQUIRED | WEAK | {"kernel-16k", "muvm"}
    )
