"""Confined path resolution, atomic writes, hostile symlinks and the lock."""

import os
import threading
import time

import pytest

from fexpkg.errors import UnsafePathError
from fexpkg.rootfs import Root


@pytest.fixture
def outside(tmp_path):
    """A host directory outside the root, with a file that must stay untouched."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "Config.json").write_text('{"host": true}\n')
    return path


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return Root(path)


def snapshot(path):
    return sorted(
        (p.relative_to(path), p.read_bytes() if p.is_file() else None) for p in path.rglob("*")
    )


def test_write_atomic_creates_parents_and_sets_mode(root):
    root.write_atomic("etc/binfmt.d/a.conf", b"x\n", 0o600)
    path = root.path / "etc/binfmt.d/a.conf"
    assert path.read_bytes() == b"x\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["a.conf"]  # no temp file left


def test_absolute_dir_symlink_is_resolved_inside_root(root, outside):
    """A naive open(root / path, 'w') would write into `outside`."""
    before = snapshot(outside)
    (root.path / "usr/share").mkdir(parents=True)
    (root.path / "usr/share/fex-emu").symlink_to(outside)
    root.write_atomic("usr/share/fex-emu/Config.json", b"{}\n")
    assert snapshot(outside) == before
    assert (root.path / outside.relative_to("/") / "Config.json").read_bytes() == b"{}\n"
    assert (
        root.resolve("usr/share/fex-emu/Config.json") == f"{str(outside).lstrip('/')}/Config.json"
    )


def test_dotdot_symlink_cannot_climb_above_root(root, tmp_path, outside):
    before = snapshot(outside)
    (root.path / "etc").mkdir()
    (root.path / "etc/binfmt.d").symlink_to("../../../../../../..")
    root.write_atomic("etc/binfmt.d/zz.conf", b"line\n")
    assert (root.path / "zz.conf").read_bytes() == b"line\n"
    assert not (tmp_path / "zz.conf").exists()
    assert snapshot(outside) == before
    assert root.resolve("etc/binfmt.d/../../../x") == "x"


def test_relative_dotdot_symlink_to_host_path(root, outside):
    before = snapshot(outside)
    (root.path / "etc").mkdir()
    rel = os.path.relpath(outside, root.path / "etc")
    (root.path / "etc/binfmt.d").symlink_to(rel)
    root.write_atomic("etc/binfmt.d/zz.conf", b"line\n")
    assert snapshot(outside) == before
    assert root.resolve("etc/binfmt.d/zz.conf").endswith(f"{outside.name}/zz.conf")
    assert (root.path / root.resolve("etc/binfmt.d/zz.conf")).is_file()


def test_final_symlink_to_host_file_is_followed_inside_root(root, outside):
    before = snapshot(outside)
    (root.path / "usr/share/fex-emu").mkdir(parents=True)
    (root.path / "usr/share/fex-emu/Config.json").symlink_to(outside / "Config.json")
    assert not root.exists("usr/share/fex-emu/Config.json")  # dangling inside the root
    root.write_atomic("usr/share/fex-emu/Config.json", b"{}\n")
    assert snapshot(outside) == before
    assert root.read_bytes("usr/share/fex-emu/Config.json") == b"{}\n"
    assert (root.path / "usr/share/fex-emu/Config.json").is_symlink()


def test_reads_follow_the_same_rules(root, outside):
    (root.path / "etc").mkdir()
    (root.path / "etc/link").symlink_to(outside / "Config.json")
    with pytest.raises(FileNotFoundError):
        root.read_bytes("etc/link")
    assert root.readlink("etc/link") == str(outside / "Config.json")


def test_file_component_is_unsafe(root, outside):
    (root.path / "etc").mkdir()
    (root.path / "etc/binfmt.d").write_text("not a dir")
    with pytest.raises(UnsafePathError, match="not a directory"):
        root.write_atomic("etc/binfmt.d/zz.conf", b"x")


def test_symlink_loop_is_unsafe(root):
    (root.path / "a").symlink_to("b")
    (root.path / "b").symlink_to("a")
    with pytest.raises(UnsafePathError, match="too many levels"):
        root.write_atomic("a/x", b"x")
    assert not root.exists("a/x")


def test_symlink_atomic_replaces_link_not_target(root, outside):
    before = snapshot(outside)
    (root.path / "etc/binfmt.d").mkdir(parents=True)
    (root.path / "etc/binfmt.d/FEX-x86.conf").symlink_to(outside / "Config.json")
    root.symlink_atomic("etc/binfmt.d/FEX-x86.conf", "/dev/null")
    assert root.readlink("etc/binfmt.d/FEX-x86.conf") == "/dev/null"
    assert root.remove("etc/binfmt.d/FEX-x86.conf")
    assert not root.remove("etc/binfmt.d/FEX-x86.conf")
    assert snapshot(outside) == before


def test_listdir_exists_makedirs(root):
    assert root.listdir("nope") == []
    root.makedirs("var/lib/fexpkg/backup")
    assert root.listdir("var/lib/fexpkg") == ["backup"]
    assert root.exists("var/lib") and not root.exists("var/x")


def test_lock_serialises_threads(root, caplog):
    events = []

    def worker(tag):
        with root.lock():
            events.append(f"{tag}-in")
            time.sleep(0.2)
            events.append(f"{tag}-out")

    threads = [threading.Thread(target=worker, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events[0][0] == events[1][0] and events[2][0] == events[3][0]
    assert "waiting for" in caplog.text and "lock" in caplog.text
