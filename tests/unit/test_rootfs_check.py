"""fexpkg.rootfs.check: good and bad RootFS images made with mkfs.erofs, one bad image per check."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from fexpkg.confined import Root
from fexpkg.dev import repo
from fexpkg.rootfs import check as rootfs_check
from fexpkg.rootfs import ldcache

pytestmark = pytest.mark.skipif(shutil.which("mkfs.erofs") is None, reason="no mkfs.erofs")

Mutation = Callable[[Path], None]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the test RootFS tree (the one `repo build` packages)."""
    return shutil.copytree(repo.ROOTFS_TREE, tmp_path / "tree", symlinks=True)


def image_of(tree: Path) -> Path:
    """The EroFS image of tree, made as `repo build` makes the test RootFS."""
    image = tree.parent / "rootfs.erofs"
    repo.make_erofs(image, tree)
    return image


def problems(report: rootfs_check.Report) -> set[tuple[str, str, str]]:
    """(severity, check, path) of every finding but the layout information."""
    return {
        (f.severity.value, f.check, f.path) for f in report.findings if f.check != "library-layout"
    }


def write(path: Path, text: str = "stand-in\n", mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def unmerged_bin(t: Path) -> None:
    (t / "bin").unlink()
    write(t / "bin/sh")


def icd_elsewhere(t: Path) -> None:
    icd = t / "usr/share/vulkan/icd.d/lvp_icd.i686.json"
    icd.write_text(icd.read_text().replace("libvulkan_lvp.so", "libvulkan_radeon.so"))


def cache_without_x86_libgl(t: Path) -> None:
    cache = t / "etc/ld.so.cache"
    kept = [e for e in ldcache.parse(cache.read_bytes()) if e.path != "/usr/lib/libGL.so.1"]
    cache.write_bytes(ldcache.build(kept))


def unix_socket(t: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(t / "usr/share/fex-rootfs/sock"))


BAD: dict[str, tuple[Mutation, set[tuple[str, str, str]]]] = {
    "not usr-merged": (unmerged_bin, {("error", "layout", "/bin")}),
    "top-level directory": (
        lambda t: write(t / "opt/game/run.sh"),
        {("error", "layout", "/opt")},
    ),
    "api directory": (
        lambda t: write(t / "run/dbus/system_bus_socket"),
        {("error", "api-dirs", "/run/dbus")},
    ),
    "var/run directory": (
        lambda t: write(t / "var/run/x.pid"),
        {("error", "api-dirs", "/var/run/x.pid")},
    ),
    "etc identity": (lambda t: write(t / "etc/passwd"), {("error", "etc", "/etc/passwd")}),
    "etc unlisted": (lambda t: write(t / "etc/foo.conf"), {("warning", "etc", "/etc/foo.conf")}),
    "x86 loader": (
        lambda t: (t / "usr/lib/ld-linux.so.2").unlink(),
        {("error", "libraries", "/lib/ld-linux.so.2")},
    ),
    "x86 libGL": (
        lambda t: (t / "usr/lib/libGL.so.1").unlink(),
        {
            ("error", "libraries", "/usr/lib/libGL.so.1"),
            ("warning", "ld.so.cache", "/etc/ld.so.cache"),
        },
    ),
    "dri driver": (
        lambda t: (t / "usr/lib64/dri/swrast_dri.so").unlink(),
        {("error", "graphics", "/usr/lib64/dri/*_dri.so")},
    ),
    "vulkan icd": (
        icd_elsewhere,
        {
            ("error", "graphics", "/usr/share/vulkan/icd.d/lvp_icd.i686.json"),
            ("error", "graphics", "/usr/share/vulkan/icd.d"),
        },
    ),
    "no ld.so.cache": (
        lambda t: (t / "etc/ld.so.cache").unlink(),
        {("error", "ld.so.cache", "/etc/ld.so.cache")},
    ),
    "stale ld.so.cache": (cache_without_x86_libgl, {("error", "ld.so.cache", "/etc/ld.so.cache")}),
    "setuid": (
        lambda t: write(t / "usr/bin/su", mode=0o4755),
        {("error", "special-files", "/usr/bin/su")},
    ),
    "socket": (unix_socket, {("error", "special-files", "/usr/share/fex-rootfs/sock")}),
    "symlink climbing out": (
        lambda t: (t / "usr/share/escape").symlink_to("../../../etc/shadow"),
        {("error", "symlinks", "/usr/share/escape")},
    ),
    "absolute symlink to the host": (
        lambda t: (t / "usr/lib64/libfoo.so").symlink_to("/usr/lib64/libfoo.so.1"),
        {("error", "symlinks", "/usr/lib64/libfoo.so")},
    ),
}


def test_the_test_rootfs_passes(tree: Path) -> None:
    report = rootfs_check.check(image_of(tree))
    assert report.ok
    assert problems(report) == set()
    assert report.layout == "fedora"
    [info] = report.findings
    assert info.path == "/usr/lib64" and "Fedora lib/lib64" in info.message


def test_a_directory_tree_gives_the_same_report(tree: Path) -> None:
    (tree / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    from_dir = rootfs_check.check(tree)
    from_image = rootfs_check.check(image_of(tree))
    assert problems(from_dir) == problems(from_image) == {("error", "etc", "/etc/passwd")}


@pytest.mark.parametrize("case", BAD, ids=str)
def test_each_bad_image_has_its_finding(tree: Path, case: str) -> None:
    mutate, expected = BAD[case]
    mutate(tree)
    report = rootfs_check.check(image_of(tree))
    assert problems(report) == expected
    assert report.ok == all(severity != "error" for severity, _, _ in expected)
    assert all(f.message and (f.fix or f.severity.value == "info") for f in report.findings)


def test_findings_say_what_to_change_in_kiwi_terms(tree: Path) -> None:
    (tree / "usr/lib/libGL.so.1").unlink()
    (tree / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    report = rootfs_check.check(image_of(tree))
    by_path = {f.path: f for f in report.findings}
    assert by_path["/usr/lib/libGL.so.1"].fix == (
        'add <package name="libglvnd-glx.i686"/> to fex-rootfs.kiwi'
    )
    assert '<file name="/etc/passwd"/>' in by_path["/etc/passwd"].fix
    assert "users" in by_path["/etc/passwd"].message


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_node(tree: Path) -> None:
    os.mknod(tree / "usr/share/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    report = rootfs_check.check(image_of(tree))
    assert problems(report) == {("error", "special-files", "/usr/share/null")}


def test_debian_multiarch_layout_is_reported(tree: Path) -> None:
    for world, arch in (("lib64", "x86_64-linux-gnu"), ("lib", "i386-linux-gnu")):
        dest = tree / "usr/lib" / arch
        dest.mkdir()
        for item in list((tree / "usr" / world).iterdir()):
            if item.name not in ("x86_64-linux-gnu", "i386-linux-gnu"):
                shutil.move(item, dest / item.name)
    (tree / "usr/lib/ld-linux.so.2").symlink_to("i386-linux-gnu/ld-linux.so.2")
    (tree / "usr/lib64/ld-linux-x86-64.so.2").symlink_to(
        "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )
    for icd in (tree / "usr/share/vulkan/icd.d").iterdir():
        text = icd.read_text().replace("/usr/lib64/", "/usr/lib/x86_64-linux-gnu/")
        icd.write_text(text.replace('"/usr/lib/lib', '"/usr/lib/i386-linux-gnu/lib'))
    cache = tree / "etc/ld.so.cache"
    moved = [
        ldcache.Entry(
            e.soname,
            e.path.replace("/usr/lib64/", "/usr/lib/x86_64-linux-gnu/")
            if e.x86_64
            else e.path.replace("/usr/lib/", "/usr/lib/i386-linux-gnu/"),
            e.flags,
        )  # fmt: skip
        for e in ldcache.parse(cache.read_bytes())
    ]
    cache.write_bytes(ldcache.build(moved))
    report = rootfs_check.check(image_of(tree))
    assert problems(report) == set()
    assert report.layout == "debian"
    assert report.findings[-1].path == "/usr/lib/x86_64-linux-gnu"


def test_cli_exit_code_and_json(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fexpkg.cli import main

    image = image_of(tree)
    assert main(["rootfs", "check", str(image)]) == 0
    (tree / "etc/hosts").write_text("127.0.0.1 localhost\n")
    image = image_of(tree)
    capsys.readouterr()
    assert main(["rootfs", "check", "--json", str(image)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert [f["path"] for f in data["findings"] if f["severity"] == "error"] == ["/etc/hosts"]


def test_missing_rootfs_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(rootfs_check.RootfsCheckError, match="no such RootFS"):
        rootfs_check.check(tmp_path / "missing.erofs")


def test_cached_check_reuses_the_report_until_the_image_changes(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    image = root / "usr/share/fex-emu/RootFS/default.erofs"
    image.parent.mkdir(parents=True)
    shutil.copyfile(image_of(tree), image)
    relpath = "usr/share/fex-emu/RootFS/default.erofs"
    cache_dir = tmp_path / "cache"
    assert rootfs_check.cached_check(Root(root), relpath, cache_dir).ok
    (cache,) = cache_dir.glob("rootfs-check-*.json")
    data = json.loads(cache.read_text())
    data["report"]["layout"] = "marked"
    cache.write_text(json.dumps(data))
    assert rootfs_check.cached_check(Root(root), relpath, cache_dir).layout == "marked"
    (tree / "etc/hosts").write_text("127.0.0.1 localhost\n")
    shutil.copyfile(image_of(tree), image)
    os.utime(image, ns=(1, 1))
    again = rootfs_check.cached_check(Root(root), relpath, cache_dir)
    assert again.layout == "fedora" and not again.ok
