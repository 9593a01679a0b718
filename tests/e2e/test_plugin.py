"""The DNF 4 plugin with real DNF: `dnf install @fex-x86-emulation`, then `dnf group remove`.

Each test builds a scratch installroot from the session's repository and runs the system's
`dnf` with the plugin loaded from this checkout's dnf-plugins/.
"""

from __future__ import annotations

import re
import shutil

import pytest
from expect import assert_muvm, assert_native

from fexpkg.dev.harness import BOOKKEEPING, Installroot
from fexpkg.system import actions

pytestmark = pytest.mark.e2e

GROUP = "@fex-x86-emulation"
FEX_SET = {"fex-emu", "fex-emu-rootfs-fedora", "fex-emu-thunks", "erofs-fuse"}


@pytest.mark.parametrize("qemu", ["before", "after"])
def test_native_install_configures_fex_and_group_remove_restores(make_root, qemu):
    root = make_root(*(["qemu-user-static-x86"] if qemu == "before" else []))
    before = root.snapshot()

    out = root.dnf("install", GROUP).output
    assert "fex: page size 4096" in out
    installed = root.installed()
    assert installed >= FEX_SET and "muvm" not in installed
    if qemu == "after":
        root.dnf("install", "qemu-user-static-x86")
    assert_native(root.path, root.home / ".cache")

    configured = root.snapshot()
    again = root.dnf("install", GROUP).output
    assert "\nInstalling:" not in again and "fex: " not in again, again
    assert root.snapshot() == configured, "installing twice changed the root"

    root.dnf("group", "remove", "fex-x86-emulation")
    assert not root.installed() & FEX_SET
    if qemu == "after":
        root.dnf("remove", "qemu-user-static-x86")
    assert root.snapshot() == before


@pytest.mark.parametrize("qemu", ["before", "after"])
@pytest.mark.parametrize(
    ("kernel", "env", "page_size"),
    [
        ("kernel-16k", {}, 16384),
        ("kernel-64k", {}, 65536),
        (None, {"FEXPKG_PAGE_SIZE": "16384"}, 16384),
    ],
    ids=["kernel-16k", "kernel-64k", "env-16k"],
)
def test_non_4k_install_goes_through_muvm_and_group_remove_restores(
    make_root, kernel, env, page_size, qemu
):
    root = make_root(
        *([kernel] if kernel else []), *(["qemu-user-static-x86"] * (qemu == "before"))
    )
    before = root.snapshot()

    out = root.dnf("install", GROUP, env=env).output
    assert f"fex: page size {page_size}" in out
    assert root.installed() >= FEX_SET | {"muvm"}
    if qemu == "after":
        root.dnf("install", "qemu-user-static-x86", env=env)
    assert_muvm(root.path, root.home / ".cache", page_size)

    configured = root.snapshot()
    root.dnf("install", GROUP, env=env)
    assert root.snapshot() == configured

    root.dnf("group", "remove", "fex-x86-emulation", env=env)
    assert not root.installed() & (FEX_SET | {"muvm"})
    if qemu == "after":
        root.dnf("remove", "qemu-user-static-x86", env=env)
    assert root.snapshot() == before


def test_broken_config_json_is_reported_kept_and_does_not_fail_dnf(make_root):
    root = make_root("fex-emu-filesystem")
    config = root.path / "usr/share/fex-emu/Config.json"
    config.write_text('{"Config": {"RootFS": "mine.erofs",}\n')
    broken = config.read_bytes()

    result = root.dnf("install", GROUP)
    assert result.returncode == 0
    warnings = [line for line in result.output.splitlines() if str(config) in line]
    assert warnings == [
        f"fex: {config}:1: invalid JSON (Expecting property name enclosed in double quotes);"
        " fix it, fexpkg leaves it alone"
    ]
    assert config.read_bytes() == broken
    assert root.installed() >= FEX_SET


def test_64k_gets_muvm_without_the_plugin(make_root):
    """The comps conditional only knows kernel-16k; python3-fexpkg's rich weak dependency
    `(muvm if (kernel-16k or kernel-64k))` brings muvm on kernel-64k to every installer."""
    root = make_root("kernel-64k")
    plain = root.dnf("install", GROUP, "--assumeno", plugins=False, check=False).output
    assert re.search(r"^ muvm ", plain, re.M), plain
    root.dnf("install", GROUP)
    assert "muvm" in root.installed()


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("page_size = 65536", "fex: page size 65536 (set explicitly)"), ("enabled = 0", None)],
    ids=["page_size", "disabled"],
)
def test_fex_conf_settings_are_honoured(make_root, tmp_path, fex_repo, setting, expected):
    conf_dir = tmp_path / "pluginconf"
    conf_dir.mkdir()
    (conf_dir / "fex.conf").write_text(f"[main]\n{setting}\n")
    make_root(name="configured")
    root = Installroot(
        tmp_path / "configured", fex_repo, home=tmp_path / "home", plugin_conf_dir=conf_dir
    )
    out = root.dnf("install", GROUP).output
    if expected:
        assert expected in out
        assert "muvm" in root.installed()
    else:
        assert "fex:" not in out
        assert not (root.path / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf").exists()


def test_installing_fex_alone_brings_companions(make_root):
    root = make_root()
    out = root.dnf("install", "fex-emu", "--setopt=install_weak_deps=False").output
    assert "adding fex-emu-rootfs-fedora, fex-emu-thunks, erofs-fuse" in out
    assert root.installed() >= FEX_SET
    assert_native(root.path, root.home / ".cache")


def test_fex_alone_on_16k_then_removed_leaves_nothing_behind(make_root):
    root = make_root()
    before_packages, before = root.installed(), root.snapshot()
    env = {"FEXPKG_PAGE_SIZE": "16384"}
    root.dnf("install", "fex-emu", env=env)
    assert root.installed() >= FEX_SET | {"muvm"}
    out = root.dnf("remove", "fex-emu", env=env).output
    assert "fex: removing muvm, added for fex-emu" in out
    assert root.installed() == before_packages
    assert root.snapshot() == before


def test_removing_fex_keeps_a_muvm_the_user_installed(make_root):
    root = make_root("muvm")
    env = {"FEXPKG_PAGE_SIZE": "16384"}
    root.dnf("install", "fex-emu", env=env)
    out = root.dnf("remove", "fex-emu", env=env).output
    assert "removing muvm" not in out
    assert "muvm" in root.installed()


def test_rpm_verify_is_clean_after_setup(make_root):
    root = make_root()
    root.dnf("install", GROUP)
    verify = root.rpm("-Va")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout == ""


def test_unrelated_transaction_leaves_fex_configuration_alone(make_root):
    root = make_root()
    root.dnf("install", GROUP)
    ignore = (*BOOKKEEPING, "usr/lib/modules")
    configured = root.snapshot(ignore)
    out = root.dnf("install", "kernel").output
    assert "fex:" not in out
    assert root.snapshot(ignore) == configured


def test_hostile_symlinks_in_the_root_never_lead_writes_outside_it(make_root, tmp_path):
    root = make_root()
    outside = tmp_path / "outside"
    outside.mkdir()
    binfmt_d = root.path / "etc/binfmt.d"
    binfmt_d.rmdir()
    binfmt_d.symlink_to(outside)  # absolute: means <root>/<outside> from inside the root
    (root.path / "usr/libexec/fexpkg").symlink_to("../../../../../../../../..")

    result = root.dnf("install", GROUP, env={"FEXPKG_PAGE_SIZE": "16384"})
    assert result.returncode == 0
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "fex-muvm").exists()
    assert (root.path / "fex-muvm").is_file()  # the link climbs no higher than the root
    assert (root.path / str(outside).lstrip("/") / "zz-fexpkg-muvm-x86_64.conf").is_file()


# Mount a 16 KiB tmpfs on $1, fill it, then run the rest of the arguments (in the namespace).
FULL = (
    'mount -t tmpfs -o size=16k fexpkg-full "$1" && '
    '{ cat /dev/zero >"$1/.fill" 2>/dev/null; shift; exec "$@"; }'
)


def test_a_full_file_system_never_fails_the_transaction(make_root):
    """Disk full under DNF 4: the transaction succeeds, fexpkg names the file and the cause,
    nothing is half-written, and the next setup completes."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    root = make_root()
    binfmt_d = root.path / "etc/binfmt.d"
    binfmt_d.mkdir(parents=True, exist_ok=True)
    in_namespace = ("unshare", "--mount", "--propagation", "private", "sh", "-c", FULL, "sh")
    result = root.dnf("install", GROUP, wrapper=(*in_namespace, str(binfmt_d)), check=False)
    if result.returncode and "mount:" in result.output:
        pytest.skip(f"cannot mount a tmpfs here: {result.output.strip()}")

    assert result.returncode == 0, result.output
    assert root.installed() >= FEX_SET
    errors = [line for line in result.output.splitlines() if "cannot write" in line]
    assert errors == [
        f"fex: cannot write {binfmt_d}/zz-fexpkg-FEX-x86.conf: "
        "no space left on the file system: free some and run again"
    ], result.output
    # Outside the namespace the directory is as it was: nothing half-written, no temporary file.
    assert list(binfmt_d.iterdir()) == []
    actions.setup(root.path, env={})  # the next run completes what the full one could not
    assert_native(root.path, root.home / ".cache")
