"""`dnf5 install @fex-x86-emulation` on a host of real DNF 5 and rpm 6, as a Fedora user runs it.

fexpkg is installed from RPMs built in that host; its rpm file triggers and its DNF 5 actions
file run for real. Each scenario checks the packages, the handlers in effect for x86 and x86-64,
the RootFS in effect, `fexpkg doctor`, and that removal gives the tree back.
"""

from __future__ import annotations

import shutil

import pytest

import fexpkg
from fexpkg.dev import repo
from fexpkg.dev.dnf5host import FEXPKG_SPEC, REPO_MOUNT, WORK, SystemRoot, build_rpms, sources_of
from fexpkg.system import messages

GROUP = "@fex-x86-emulation"
FEX_X86_64 = "FEX-x86_64"
ROOTFS = "/usr/share/fex-emu/RootFS/default.erofs"
#: What the group brings on every DNF 5 system, whatever its page size.
COMMON = {
    "fex-emu",
    "fex-emu-filesystem",
    "fex-emu-rootfs-fedora",
    "fex-emu-thunks",
    "erofs-fuse",
    "mesa-fex-emu-overlay-i386",
    "mesa-fex-emu-overlay-x86_64",
    "python3-fexpkg",
    "libdnf5-plugin-fex",
}


def takes(root: SystemRoot, where: str = "/") -> dict[str, str | None]:
    """Which handler takes x86 and x86-64 programs in where (per the installed fexpkg)."""
    status = root.status(where)
    return {arch: (h or {}).get("name") for arch, h in status["takes"].items()}


def test_first_install_is_configured_by_the_rpm_triggers(make_system):
    """No fexpkg yet: the actions plugin read its files before fexpkg's came, so the rpm file
    triggers of python3-fexpkg alone configure FEX in this transaction."""
    root = make_system("kernel")
    before = root.snapshot()
    mark = root.log_size()
    root.dnf5("install", GROUP)
    assert root.scriptlet_lines(mark)[-1] == "setup /: 5 changes, 0 warnings"

    installed = root.installed()
    assert installed >= COMMON
    assert "muvm" not in installed
    # A DNF 5-only host gets neither the DNF 4 plugin nor the DNF 4 stack.
    assert "python3-dnf-plugin-fex" not in installed
    assert not any(
        name.startswith("python3-dnf") and name != "python3-dnf-plugin-fex" for name in installed
    )
    status = root.status()
    assert status["page_size"] == 4096 and status["mode"] == "native"
    assert takes(root) == {"x86": "FEX-x86", "x86_64": FEX_X86_64}
    assert status["rootfs"]["path"] == ROOTFS and status["rootfs"]["exists"]
    root.doctor()
    # The RPM ships no development modules, so no checkout commands; its version is pyproject's.
    probe = "import importlib.util as u; print(u.find_spec('fexpkg.dev'))"
    assert root.run("python3", "-c", probe).stdout == "None\n"
    assert "demo" not in root.run("fexpkg", "--help").stdout
    assert root.run("fexpkg", "--version").stdout == f"fexpkg {fexpkg.version()}\n"

    root.dnf5("group", "remove", "fex-x86-emulation")
    assert root.installed() & COMMON == set()
    assert root.snapshot() == before


def test_later_transactions_converge_through_the_actions_file(make_system):
    """Once libdnf5-plugin-fex is installed, DNF 5 runs its actions: qemu-user-static-x86 arriving
    after FEX does not take x86-64 programs, and a 64 KiB kernel (which no file trigger watches)
    moves x86 programs to the muvm launcher. muvm does not come with that kernel: DNF 5 weighs
    python3-fexpkg's `Recommends: (muvm if (kernel-16k or kernel-64k))` only when it installs
    python3-fexpkg, so setup says to install muvm, and muvm's arrival converges."""
    root = make_system("kernel")
    root.dnf5("install", GROUP)

    root.dnf5("install", "qemu-user-static-x86")
    assert takes(root) == {"x86": "FEX-x86", "x86_64": FEX_X86_64}
    root.doctor()

    mark = root.log_size()
    out = root.dnf5("install", "kernel-64k").stdout
    assert "muvm" not in root.installed()
    assert messages.muvm_missing(65536) in out  # the action's stderr, which DNF 5 passes through
    out = root.dnf5("install", "muvm").stdout
    assert "setup /: " in out
    assert root.scriptlet_lines(mark) == []  # no file trigger watches kernels or muvm
    status = root.status()
    assert (status["page_size"], status["mode"]) == (65536, "muvm"), out
    assert takes(root) == {"x86": "fexpkg-muvm-x86", "x86_64": "fexpkg-muvm-x86_64"}
    root.doctor()


def test_dnf5_remove_fex_emu_takes_fexpkg_state_away(make_system):
    """`dnf5 remove fex-emu` undoes fexpkg's setup though the rest of the group stays; the
    group's removal then gives the tree back."""
    root = make_system("kernel")
    before = root.snapshot()
    root.dnf5("install", GROUP)
    assert (root.path / "var/lib/fexpkg/manifest.json").is_file()
    assert (root.path / "usr/share/fex-emu/Config.json").is_file()

    root.dnf5("remove", "fex-emu")
    assert "python3-fexpkg" in root.installed()
    for written in ("var/lib/fexpkg", "usr/share/fex-emu/Config.json", "usr/libexec/fexpkg"):
        assert not (root.path / written).exists(), written
    assert not list((root.path / "etc/binfmt.d").glob("*"))
    assert takes(root) == {"x86": None, "x86_64": None}

    root.dnf5("group", "remove", "fex-x86-emulation")
    assert root.snapshot() == before


@pytest.mark.parametrize(
    ("kernel", "page_size", "mode", "x86_64"),
    [
        ("kernel", 4096, "native", FEX_X86_64),
        ("kernel-16k", 16384, "muvm", "fexpkg-muvm-x86_64"),
        ("kernel-64k", 65536, "muvm", "fexpkg-muvm-x86_64"),
    ],
)
def test_image_build_into_an_installroot(make_system, kernel, page_size, mode, x86_64):
    """An image composed with the host's configuration (`--use-host-config`, as Kiwi and
    image builders on Fedora do): the image's own rpm triggers cannot run fexpkg (no Python in
    it yet), the host's actions file configures it for the image's kernel; muvm comes on 16 KiB
    and 64 KiB kernels alone."""
    root = make_system("libdnf5-plugin-fex")
    image = "srv/image"
    (root.path / image).mkdir()
    root.mount(image, root.path / image)  # a mount point, as rpm 6's unshare plugin needs
    # The image is Fedora's, with Fedora's python3 (its stand-in), not the host's Debian one.
    root.dnf5(
        f"--installroot=/{image}",
        "--use-host-config",
        "--setopt=excludepkgs=fexpkg-test-host-provides",
        "install",
        "filesystem",
        "busybox",
        kernel,
        GROUP,
    )

    in_image = root.installed(f"/{image}")
    # Which DNF plugin the image gets follows its python3 stand-in, which claims python3-dnf.
    assert COMMON - {"libdnf5-plugin-fex"} <= in_image
    assert ("muvm" in in_image) == (mode == "muvm")
    assert "fexpkg-test-host-provides" not in in_image
    status = root.status(f"/{image}")
    assert (status["page_size"], status["mode"]) == (page_size, mode)
    assert takes(root, f"/{image}")["x86_64"] == x86_64
    root.doctor(f"/{image}")


def rpm_files(root: SystemRoot, *names: str) -> list[str]:
    """Paths inside root of the test repository's RPMs of these package names."""
    repo = root.mounts[REPO_MOUNT]
    found = [f"/{REPO_MOUNT}/{p.name}" for n in names for p in repo.glob(f"{n}-[0-9]*.rpm")]
    assert len(found) == len(names), (names, found)
    return found


def test_plain_rpm_installs_and_erases(make_system):
    """The path of PackageKit and image tools: rpm alone. FEX first, fexpkg in a later
    transaction (its trigger sees the files already there), fexpkg erased first (its %preun
    undoes the setup), then FEX: the tree as it was."""
    root = make_system("kernel")
    before = root.snapshot()
    fex = ("fex-emu-filesystem", "fex-emu", "fex-emu-rootfs-fedora", "erofs-fuse")
    root.rpm("-i", "--ignorearch", *rpm_files(root, *fex))
    assert not (root.path / "usr/share/fex-emu/Config.json").exists()  # FEX alone: no RootFS

    out = root.rpm("-i", "--ignorearch", *rpm_files(root, "python3-fexpkg")).stdout
    assert "setup /:" in out
    assert takes(root) == {"x86": "FEX-x86", "x86_64": FEX_X86_64}
    status = root.status()
    assert status["rootfs"]["path"] == ROOTFS and status["rootfs"]["exists"]
    root.doctor()

    out = root.rpm("-e", "python3-fexpkg").stdout
    assert "teardown /:" in out
    root.rpm("-e", *fex)
    assert root.snapshot() == before


def test_upgrades_keep_fex_set_up(make_system, tmp_path):
    """`dnf5 upgrade` of fex-emu (torn down before, set up after by the actions) and of fexpkg
    itself (its %preun does nothing on upgrade): FEX stays set up."""
    root = make_system("kernel")
    root.dnf5("install", GROUP)
    configured = root.snapshot()

    newer = tmp_path / "newer"
    shutil.copytree(root.mounts[REPO_MOUNT], newer)
    work = tmp_path / "sources"
    for spec in (repo.FIXTURE_SPECS / "fex-emu.spec", FEXPKG_SPEC):
        build_rpms(root, spec, sources_of(spec, work), newer, release="2")
    repo.createrepo(newer, WORK / "comps.xml")
    root.mount(REPO_MOUNT, newer)

    root.dnf5("--refresh", "upgrade", "fex-emu")
    assert root.rpm("-q", "--qf", "%{RELEASE}", "fex-emu").stdout.startswith("2")
    assert root.snapshot() == configured
    root.doctor()

    out = root.dnf5("upgrade", "python3-fexpkg").stdout
    assert "teardown" not in out
    assert root.rpm("-q", "--qf", "%{RELEASE}", "python3-fexpkg").stdout.startswith("2")
    assert takes(root) == {"x86": "FEX-x86", "x86_64": FEX_X86_64}
    assert root.status()["rootfs"]["path"] == ROOTFS
    root.doctor()
