"""What a root configured by fexpkg must report: shared by the tests that install FEX into one
(DNF 4 with the plugin, Kiwi). The root is read as an image: no user's Config.json, no FEX_ROOTFS.
"""

from __future__ import annotations

import json
from pathlib import Path

from fexpkg.system import actions, doctor
from fexpkg.system.fexconfig import DEFAULT_ROOTFS_PATH


def state(root: Path, page_size: int | None = None) -> dict:
    """What `fexpkg status` reports for the root (never the test runner's own home)."""
    return actions.status(root, env={}, home=root / "root", page_size=page_size).as_dict()


def assert_doctor_passes(root: Path, cache: Path, page_size: int | None = None) -> None:
    """No doctor check fails; `cache` is the user's cache (doctor's RootFS check result), outside
    the root as a user's home is."""
    env = {"XDG_CACHE_HOME": str(cache)}
    diagnosis = doctor.diagnose(root, env=env, home=root / "root", page_size=page_size)
    assert not diagnosis.failed, [
        c for c in diagnosis.checks if c.result is not doctor.Outcome.PASS
    ]
    # muvm's guest (the stand-in's strings) and fex-emu's binaries pair up by name.
    (pair,) = [c for c in diagnosis.checks if c.name == "muvm-fex"]
    assert pair.result is doctor.Outcome.PASS, pair


def assert_native(root: Path, cache: Path) -> None:
    """FEX runs x86 and x86-64 programs directly, from its RootFS."""
    st = state(root)
    assert st["mode"] == "native"
    for arch in ("x86", "x86_64"):
        taker = st["takes"][arch]
        assert taker["name"] == f"FEX-{arch}", st["takes"]
        assert taker["interpreter"] == "/usr/bin/FEXInterpreter"
        assert taker["source"] == f"/etc/binfmt.d/zz-fexpkg-FEX-{arch}.conf"
    # Written absolute: no file named default.erofs in the current or a user directory shadows it.
    assert st["rootfs"]["value"] == st["rootfs"]["path"] == DEFAULT_ROOTFS_PATH
    assert st["rootfs"]["exists"] is True
    assert st["warnings"] == []
    assert_doctor_passes(root, cache)


def assert_muvm(root: Path, cache: Path, page_size: int) -> None:
    """x86 and x86-64 programs go to the muvm launcher; nothing on the host starts FEX."""
    st = state(root, page_size)
    assert st["mode"] == "muvm"
    for arch in ("x86", "x86_64"):
        assert st["takes"][arch]["name"] == f"fexpkg-muvm-{arch}"
        assert st["takes"][arch]["interpreter"] == "/usr/libexec/fexpkg/fex-muvm"
    # No handler that would start FEX directly on a kernel it cannot run on.
    assert not [h for h in st["handlers"] if h["interpreter"].startswith("/usr/bin/FEX")]
    assert st["rootfs"]["value"] is None, "a host RootFS would override muvm's"
    assert st["warnings"] == []
    config = root / "usr/share/fex-emu/Config.json"
    assert not config.exists() or "RootFS" not in json.loads(config.read_text()).get("Config", {})
    assert_doctor_passes(root, cache, page_size)
