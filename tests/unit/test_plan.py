"""The desired state of a root per mode (pure: nothing is written)."""

import json
from importlib import resources
from pathlib import Path

import pytest

from fexpkg.system.binfmt import BinfmtEntry
from fexpkg.system.plan import (
    LAUNCHER_SCRIPT,
    ROOTFS_IMAGE,
    SetJsonKey,
    Symlink,
    WriteFile,
    launcher_script,
    make_plan,
)
from fexpkg.system.target import Target

HOME = Path("/home/u")


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def plan_for(root, page_size, env=None):
    return make_plan(Target(root, page_size), env or {}, HOME)


def by_path(plan):
    return {a.relpath: a for a in plan.changes}


def test_native_masks_fex_files_and_readds_them_last(root):
    before = tree(root)
    plan = plan_for(root, 4096)
    assert tree(root) == before  # pure
    changes = by_path(plan)
    package = (root / "usr/lib/binfmt.d/FEX-x86_64.conf").read_text().strip()
    assert changes["etc/binfmt.d/FEX-x86_64.conf"] == Symlink(
        "etc/binfmt.d/FEX-x86_64.conf", "/dev/null"
    )
    text = changes["etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"].data.decode()
    assert text.splitlines()[-1] == package
    assert [line for line in text.splitlines() if not line.startswith("#")] == [package]
    assert (
        changes["etc/binfmt.d/zz-fexpkg-FEX-x86.conf"]
        .data.decode()
        .endswith((root / "usr/lib/binfmt.d/FEX-x86.conf").read_text())
    )
    assert changes["usr/share/fex-emu/Config.json"] == SetJsonKey(
        "usr/share/fex-emu/Config.json", ("Config", "RootFS"), "/" + ROOTFS_IMAGE
    )
    assert [e.name for e in plan.register] == ["FEX-x86", "FEX-x86_64"]
    assert plan.warnings == []


def test_native_file_says_where_its_entry_comes_from(root):
    package = (root / "usr/lib/binfmt.d/FEX-x86.conf").read_text().strip()
    assert (
        by_path(plan_for(root, 4096))["etc/binfmt.d/zz-fexpkg-FEX-x86.conf"].data
        == (
            "# Written by fexpkg: FEX's entry from /usr/lib/binfmt.d/FEX-x86.conf, applied after "
            "qemu/box64\n# (whose files sort after FEX-*) so that FEX handles x86 programs.\n"
            f"{package}\n"
        ).encode()
    )


def test_native_takes_the_interpreter_from_the_package(root):
    conf = root / "usr/lib/binfmt.d/FEX-x86_64.conf"
    conf.write_text(conf.read_text().replace("FEXInterpreter", "FEX"))
    text = by_path(plan_for(root, 4096))["etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"].data.decode()
    assert ":/usr/bin/FEX:POCF" in text


def test_arch_without_package_file_is_skipped(root):
    (root / "usr/lib/binfmt.d/FEX-x86.conf").unlink()
    paths = set(by_path(plan_for(root, 4096)))
    assert not any("FEX-x86.conf" in p for p in paths)
    assert "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf" in paths


def test_users_own_etc_file_is_left_alone(root):
    (root / "etc/binfmt.d").mkdir(parents=True)
    (root / "etc/binfmt.d/FEX-x86.conf").write_text("# mine\n")
    plan = plan_for(root, 4096)
    assert [a.id for a in plan.changes] == [
        "etc/binfmt.d/FEX-x86_64.conf",
        "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf",
        "usr/share/fex-emu/Config.json#Config.RootFS",
    ]
    mine = (
        f"{root}/etc/binfmt.d/FEX-x86.conf is not fexpkg's: left alone, FEX's x86 handler is "
        "configured by it"
    )
    assert plan.warnings == [mine]
    (root / "usr/bin/muvm").write_text("#!/bin/sh\n")
    plan = plan_for(root, 16384)  # the launcher's entry is still written
    assert [a.id for a in plan.changes] == [
        "usr/libexec/fexpkg/fex-muvm",
        "etc/binfmt.d/zz-fexpkg-muvm-x86.conf",
        "etc/binfmt.d/FEX-x86_64.conf",
        "etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf",
    ]
    assert plan.warnings == [mine]


def test_missing_image_warns_and_sets_no_rootfs(root):
    (root / "usr/share/fex-emu/RootFS/default.erofs").unlink()
    plan = plan_for(root, 4096)
    assert not any(isinstance(a, SetJsonKey) for a in plan.changes)
    assert plan.warnings == ["no RootFS image: /usr/share/fex-emu/RootFS/default.erofs is missing"]


def write_config(root, config):
    (root / "usr/share/fex-emu/Config.json").write_text(json.dumps(config))


def test_existing_rootfs_is_kept_with_warning(root):
    (root / "opt/rootfs").mkdir(parents=True)
    write_config(root, {"Config": {"RootFS": "/opt/rootfs"}})
    plan = plan_for(root, 4096)
    assert not any(isinstance(a, SetJsonKey) for a in plan.changes)
    assert plan.warnings == [
        f"{root}/usr/share/fex-emu/Config.json: RootFS '/opt/rootfs' differs from "
        "'/usr/share/fex-emu/RootFS/default.erofs': kept"
    ]


def test_rootfs_in_the_users_home_is_kept(root):
    (root / "home/u/r").mkdir(parents=True)
    write_config(root, {"Config": {"RootFS": "~/r"}})
    plan = plan_for(root, 4096)
    assert not any(isinstance(a, SetJsonKey) for a in plan.changes)
    assert plan.warnings == [
        f"{root}/usr/share/fex-emu/Config.json: RootFS '~/r' differs from "
        "'/usr/share/fex-emu/RootFS/default.erofs': kept"
    ]


def test_rootfs_naming_a_missing_path_is_replaced(root):
    write_config(root, {"Config": {"RootFS": "/nope"}, "ThunksDB": {"GL": 1}})
    assert "usr/share/fex-emu/Config.json" in by_path(plan_for(root, 4096))


def test_broken_config_is_a_warning_not_an_action(root):
    (root / "usr/share/fex-emu/Config.json").write_text("{\n oops\n")
    plan = plan_for(root, 4096)
    assert "usr/share/fex-emu/Config.json" not in by_path(plan)
    assert plan.warnings == [
        f"{root}/usr/share/fex-emu/Config.json:2: invalid JSON (Expecting property name enclosed "
        "in double quotes); fix it, fexpkg leaves it alone"
    ]


@pytest.mark.parametrize("page_size", [16384, 65536])
def test_muvm_masks_fex_and_installs_launcher(root, page_size):
    (root / "usr/bin/muvm").write_text("#!/bin/sh\n")
    plan = plan_for(root, page_size)
    changes = by_path(plan)
    assert list(changes) == [
        "usr/libexec/fexpkg/fex-muvm",
        "etc/binfmt.d/FEX-x86.conf",
        "etc/binfmt.d/zz-fexpkg-muvm-x86.conf",
        "etc/binfmt.d/FEX-x86_64.conf",
        "etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf",
    ]
    assert changes["usr/libexec/fexpkg/fex-muvm"] == WriteFile(
        "usr/libexec/fexpkg/fex-muvm", LAUNCHER_SCRIPT, 0o755
    )
    for arch in ("x86", "x86_64"):
        assert changes[f"etc/binfmt.d/FEX-{arch}.conf"].target == "/dev/null"
        lines = changes[f"etc/binfmt.d/zz-fexpkg-muvm-{arch}.conf"].data.decode().splitlines()
        entry = BinfmtEntry.parse_line(lines[-1])
        package = BinfmtEntry.parse_line((root / f"usr/lib/binfmt.d/FEX-{arch}.conf").read_text())
        assert entry.name == f"fexpkg-muvm-{arch}"
        assert (entry.magic, entry.mask) == (package.magic, package.mask)
        assert (entry.interpreter, entry.flags) == ("/usr/libexec/fexpkg/fex-muvm", "PF")
    assert not any(isinstance(a, SetJsonKey) for a in plan.changes)
    assert plan.unregister == ["FEX-x86", "FEX-x86_64"]
    assert plan.warnings == []


def test_muvm_warnings(root):
    (root / "home/u/.fex-emu").mkdir(parents=True)
    (root / "home/u/.fex-emu/Config.json").write_text('{"Config": {"RootFS": "/x"}}')
    (root / "usr/share/fex-emu/RootFS/default.erofs").unlink()
    plan = plan_for(root, 16384, {"FEX_ROOTFS": "/y"})  # the launcher keeps it out of the VM
    no_muvm = "muvm is not installed: x86 programs cannot run on 16384-byte pages"
    no_image = "no RootFS image: /usr/share/fex-emu/RootFS/default.erofs is missing"
    assert plan.warnings == [
        no_muvm,
        no_image,
        "/home/u/.fex-emu/Config.json sets RootFS '/x': it overrides muvm's RootFS and FEX fails "
        "in the microVM",
    ]
    (root / "home/u/.fex-emu/Config.json").write_text("[1]")
    assert plan_for(root, 16384).warnings == [
        no_muvm,
        no_image,
        f'{root}/home/u/.fex-emu/Config.json: expected {{"Config": {{...}}}}; fix it, fexpkg '
        "leaves it alone",
    ]


def test_installed_when_only_a_binfmt_d_file_of_fex_is_there(tmp_path):
    (tmp_path / "usr/lib/binfmt.d").mkdir(parents=True)
    (tmp_path / "usr/lib/binfmt.d/FEX-x86_64.conf").write_text("")
    assert plan_for(tmp_path, 4096).installed


def test_home_comes_from_the_environment(root):
    (root / "usr/bin/muvm").write_text("#!/bin/sh\n")
    (root / "home/v/.fex-emu").mkdir(parents=True)
    (root / "home/v/.fex-emu/Config.json").write_text('{"Config": {"RootFS": "/x"}}')
    plan = make_plan(Target(root, 16384), {"HOME": "/home/v"})
    assert plan.warnings == [
        "/home/v/.fex-emu/Config.json sets RootFS '/x': it overrides muvm's RootFS and FEX fails "
        "in the microVM"
    ]


def test_not_installed_plans_nothing(tmp_path):
    plan = plan_for(tmp_path, 4096)
    assert not plan.installed and plan.changes == [] and plan.warnings == []


def test_launcher_script_is_the_shipped_file_with_the_paths_given_quoted():
    shipped = resources.files("fexpkg.system").joinpath("data/fex-muvm.sh").read_bytes()
    assert launcher_script() == LAUNCHER_SCRIPT == shipped
    assert launcher_script("/opt/my muvm", "/opt/fex bin") == shipped.replace(
        b"\nmuvm=/usr/bin/muvm\n", b"\nmuvm='/opt/my muvm'\n"
    ).replace(b"\nbindir=/usr/bin\n", b"\nbindir='/opt/fex bin'\n")
