"""`dnf5 install @fex-x86-emulation` on a host of real DNF 5 and rpm 6, as a Fedora user runs it.

fexpkg is installed from RPMs built in that host; its rpm file triggers and its DNF 5 actions
file run for real. Each scenario checks the packages, the handlers in effect for x86 and x86-64,
the RootFS in effect, `fexpkg doctor`, and that removal gives the tree back.
"""

from __future__ import annotations

from debroot import SystemRoot

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
    out = root.dnf5("install", GROUP).stdout
    assert "Traceback" not in out

    installed = root.installed()
    assert installed >= COMMON
    assert "muvm" not in installed
    # A DNF 5-only host gets neither the DNF 4 plugin nor the DNF 4 stack.
    assert "python3-dnf-plugin-fex" not in installed
    assert not any(name.startswith("python3-dnf") and name != "python3-dnf-plugin-fex"
                   for name in installed)
    status = root.status()
    assert status["page_size"] == 4096 and status["mode"] == "native"
    assert takes(root) == {"x86": "FEX-x86", "x86_64": FEX_X86_64}
    assert status["rootfs"]["path"] == ROOTFS and status["rootfs"]["exists"]
    root.doctor()

    root.dnf5("group", "remove", "fex-x86-emulation")
    assert root.installed() & COMMON == set()
    assert root.snapshot() == before
