"""Confined path resolution, atomic writes, hostile symlinks and the lock."""

import errno
import fcntl
import logging
import os
import re
import threading
import time
import types
from pathlib import Path

import pytest

from fexpkg import confined as rootfs
from fexpkg.confined import Root
from fexpkg.errors import RootWriteError, UnsafePathError


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
    assert root.lexists("usr/share/fex-emu/Config.json")
    (root.path / "dangling").symlink_to("/nonexistent-anywhere")
    assert root.lexists("dangling") and not root.exists("dangling")
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


def test_file_changed_into_a_symlink_while_in_use_is_not_followed(root, outside, monkeypatch):
    """The walk saw a file; opened, it is a symlink (to the host's file): refused, not read."""
    (root.path / "etc").mkdir()
    (root.path / "etc/Config.json").symlink_to(outside / "Config.json")
    monkeypatch.setattr(rootfs, "_readlink", lambda dir_fd, name: None)  # looked at before
    with pytest.raises(UnsafePathError) as info:
        root.read_bytes("etc/Config.json")
    assert str(info.value) == f"{root.path}/etc/Config.json changed into a symlink while in use"


def test_resolve_names_directories_without_a_dot(root):
    (root.path / "etc/binfmt.d").mkdir(parents=True)
    (root.path / "link").symlink_to("etc")
    assert root.resolve("link/binfmt.d") == "etc/binfmt.d"
    assert root.resolve("link") == "etc" and root.resolve("/") == ""
    assert root.resolve("./etc/./binfmt.d/.") == "etc/binfmt.d"


def test_display_is_under_the_root_for_absolute_paths_too(root):
    assert root.display("/etc/binfmt.d/") == f"{root.path}/etc/binfmt.d"
    assert root.display("etc/x") == f"{root.path}/etc/x"


def test_forty_symlinks_are_followed_and_not_one_more(root):
    (root.path / "target").write_bytes(b"end")
    for i in range(41):
        (root.path / f"l{i}").symlink_to(f"l{i + 1}" if i < 40 else "target")
    assert root.read_bytes("l1") == b"end"  # l1 .. l40: 40 links
    with pytest.raises(UnsafePathError) as info:
        root.read_bytes("l0")
    assert str(info.value) == f"{root.path}/l0: too many levels of symbolic links"


def test_listdir_of_a_directory_changed_into_a_symlink_while_in_use_is_empty(root, monkeypatch):
    (root.path / "d").mkdir()
    (root.path / "d/x").write_text("")
    (root.path / "link").symlink_to("d")
    monkeypatch.setattr(rootfs, "_readlink", lambda dir_fd, name: None)  # looked at before
    assert root.listdir("link") == []


def test_listdir_of_a_file_is_empty(root):
    (root.path / "file").write_text("")
    assert root.listdir("file") == [] and root.listdir("file/") == []


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
    assert root.makedirs("var/lib/fexpkg/backup") == [
        "var",
        "var/lib",
        "var/lib/fexpkg",
        "var/lib/fexpkg/backup",
    ]
    assert root.listdir("var/lib/fexpkg") == ["backup"]
    assert root.exists("var/lib") and not root.exists("var/x")
    assert root.makedirs("var/lib/fexpkg/backup") == []
    assert root.makedirs("var/lib/x") == ["var/lib/x"]


def test_directories_are_made_0755_whatever_the_umask(root):
    umask = os.umask(0)
    try:
        root.write_atomic("etc/binfmt.d/a.conf", b"x")
        root.makedirs("var/lib")
    finally:
        os.umask(umask)
    modes = [(root.path / d).stat().st_mode & 0o7777 for d in ("etc", "etc/binfmt.d", "var/lib")]
    assert modes == [0o755, 0o755, 0o755]


def test_writes_report_the_directories_they_created(root):
    (root.path / "etc").mkdir()
    assert root.write_atomic("etc/binfmt.d/a.conf", b"x") == ["etc/binfmt.d"]
    assert root.write_atomic("etc/binfmt.d/b.conf", b"x") == []
    assert root.symlink_atomic("usr/libexec/fexpkg/l", "/dev/null") == [
        "usr",
        "usr/libexec",
        "usr/libexec/fexpkg",
    ]


def test_directory_someone_else_makes_meanwhile_is_not_reported(root, monkeypatch):
    def made_meanwhile(dir_fd, name, mode):
        os.mkdir(name, dir_fd=dir_fd)
        return False  # as when it exists by the time fexpkg makes it

    monkeypatch.setattr(rootfs, "_mkdir", made_meanwhile)
    assert root.write_atomic("etc/binfmt.d/a.conf", b"x") == []
    assert (root.path / "etc/binfmt.d/a.conf").read_bytes() == b"x"


def test_created_directories_are_resolved_inside_root(root, outside):
    (root.path / "etc").mkdir()
    (root.path / "etc/binfmt.d").symlink_to("/srv/binfmt")
    assert root.write_atomic("etc/binfmt.d/a.conf", b"x") == ["srv", "srv/binfmt"]
    assert (root.path / "srv/binfmt/a.conf").read_bytes() == b"x"


def test_rmdir_removes_only_empty_directories(root, outside):
    root.write_atomic("etc/binfmt.d/a.conf", b"x")
    assert not root.rmdir("etc/binfmt.d")  # not empty
    assert not root.rmdir("etc/binfmt.d/a.conf")  # not a directory
    assert not root.rmdir("nope/deeper")
    assert not root.rmdir("")  # the root itself
    assert (root.path / "etc/binfmt.d/a.conf").read_bytes() == b"x"
    root.remove("etc/binfmt.d/a.conf")
    assert root.rmdir("etc/binfmt.d") and not (root.path / "etc/binfmt.d").exists()
    (root.path / "etc/empty").mkdir()
    (root.path / "etc/link").symlink_to("/etc/empty")
    assert not root.rmdir("etc/link")  # a final symlink is not followed
    (root.path / "etc/out").symlink_to(outside)
    (outside / "empty").mkdir()
    assert root.rmdir("etc/out/empty") is False  # resolved inside the root: missing there
    assert (outside / "empty").is_dir()
    assert (root.path / "etc/empty").is_dir()


def test_read_only_asks_the_file_system_of_the_path_resolved_inside_root(root, monkeypatch):
    (root.path / "etc/ro").mkdir(parents=True)
    (root.path / "etc/link").symlink_to("/etc/ro")
    assert not root.read_only("etc/link")  # a real, writable file system
    read_only_dir = (root.path / "etc/ro").stat().st_ino
    real_statvfs = os.statvfs

    def statvfs(fd):
        flags = os.ST_RDONLY if os.fstat(fd).st_ino == read_only_dir else 0
        return types.SimpleNamespace(f_flag=real_statvfs(fd).f_flag | flags)

    monkeypatch.setattr(os, "statvfs", statvfs)
    assert root.read_only("etc/link") and root.read_only("etc/ro")
    assert not root.read_only("etc") and not root.read_only("etc/missing")


def test_replace_file_keeps_the_mode_of_the_file_it_replaces(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comps.xml").write_bytes(b"old")
    (tmp_path / "comps.xml").chmod(0o600)
    rootfs.replace_file(Path("comps.xml"), b"new")
    rootfs.replace_file(Path("sub/new.xml"), b"created")
    assert (tmp_path / "comps.xml").read_bytes() == b"new"
    assert (tmp_path / "sub/new.xml").read_bytes() == b"created"
    modes = [(tmp_path / p).stat().st_mode & 0o7777 for p in ("comps.xml", "sub/new.xml")]
    assert modes == [0o600, 0o644]
    assert sorted(os.listdir(tmp_path)) == ["comps.xml", "sub"]


def test_repr_names_the_path():
    assert repr(Root("/mnt/image")) == "Root('/mnt/image')"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (OSError(errno.ENOSPC, "x"), "no space left on the file system: free some and run again"),
        (OSError(errno.EDQUOT, "x"), "disk quota exceeded: free some and run again"),
        (OSError(errno.EROFS, "x"), "read-only file system: remount it read-write and run again"),
        (OSError(errno.EACCES, "x"), "permission denied: run as root"),
        (OSError(errno.EPERM, "x"), "operation not permitted: run as root"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("no errno"), "no errno"),
    ],
)
@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named-temporary"])
def test_failed_write_is_one_line_naming_the_file_and_the_cause(
    root, monkeypatch, error, cause, unnamed
):
    def fail(fd, data, mode):
        raise error

    if not unnamed:
        monkeypatch.setattr(rootfs, "_unnamed_file", lambda dir_fd: None)
    monkeypatch.setattr(rootfs, "_fill", fail)
    with pytest.raises(RootWriteError) as info:
        root.write_atomic("etc/a.conf", b"x")
    assert str(info.value) == f"cannot write {root.path}/etc/a.conf: {cause}"
    assert os.listdir(root.path / "etc") == []  # nothing half-written left


def test_lock_writes_nothing_into_the_root(root):
    with root.lock():
        assert list(root.path.iterdir()) == []
    assert list(root.path.iterdir()) == []


def test_lock_is_a_flock_on_the_root_directory(root, caplog):
    """Another process holding flock on the root directory makes lock() wait for it."""
    fd = os.open(root.path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    taken = threading.Event()

    def worker():
        with root.lock():
            taken.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not taken.wait(0.3)
    os.close(fd)  # releases the flock
    assert taken.wait(5)
    thread.join()
    assert f"waiting for the fexpkg lock on {root.path}" in caplog.text


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


def test_write_atomic_without_o_tmpfile_or_proc(root, monkeypatch):
    """Where the file system has no O_TMPFILE, or /proc is missing, a named temporary serves."""
    r, root = root, root.path
    r.write_atomic("a/unnamed", b"1", 0o600)
    monkeypatch.setattr(rootfs, "_link_unnamed", lambda fd, dir_fd, name: False)
    r.write_atomic("a/no-proc", b"2", 0o640)
    monkeypatch.setattr(rootfs, "_unnamed_file", lambda dir_fd: None)
    r.write_atomic("a/named", b"3")
    assert sorted(os.listdir(root / "a")) == ["named", "no-proc", "unnamed"]
    modes = [(root / "a" / n).stat().st_mode & 0o777 for n in ("unnamed", "no-proc", "named")]
    assert modes == [0o600, 0o640, 0o644]
    assert [(root / "a" / n).read_bytes() for n in ("unnamed", "no-proc", "named")] == [
        b"1",
        b"2",
        b"3",
    ]


def test_temporaries_have_the_names_sweep_removes(root, monkeypatch):
    monkeypatch.setattr(rootfs, "_unnamed_file", lambda dir_fd: None)
    real_rename, renamed = os.rename, []

    def rename(src, dst, **kwargs):
        renamed.append(src)
        return real_rename(src, dst, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    root.write_atomic("d/x.conf", b"1")
    root.symlink_atomic("d/l", "/dev/null")
    assert [re.fullmatch(r"\.(x\.conf|l)\.fexpkg-[0-9a-f]{8}", n) is not None for n in renamed] == [
        True,
        True,
    ]


def test_o_tmpfile_is_used_where_the_file_system_has_it(root):
    fd = os.open(root.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        unnamed = rootfs._unnamed_file(fd)
        assert unnamed is not None
        os.close(unnamed)
    finally:
        os.close(fd)
    assert os.listdir(root.path) == []


@pytest.mark.parametrize(
    ("code", "fallback"),
    [(errno.EOPNOTSUPP, True), (errno.EISDIR, True), (errno.EINVAL, True), (errno.EIO, False)],
)
def test_no_o_tmpfile_falls_back_to_a_named_temporary(root, monkeypatch, code, fallback):
    real_open = os.open

    def fs_open(path, flags, *args, **kwargs):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fs_open)
    if fallback:
        root.write_atomic("a/x", b"named")
        assert (root.path / "a/x").read_bytes() == b"named"
    else:
        with pytest.raises(RootWriteError, match=os.strerror(code)):
            root.write_atomic("a/x", b"named")
    assert os.listdir(root.path / "a") == (["x"] if fallback else [])


def test_no_proc_falls_back_to_a_named_temporary(root, monkeypatch):
    def link(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "no /proc")

    monkeypatch.setattr(os, "link", link)
    root.write_atomic("a/x", b"named", 0o600)
    assert (root.path / "a/x").read_bytes() == b"named"
    assert os.listdir(root.path / "a") == ["x"]


def test_sweep_removes_only_fexpkg_temporary_names(root):
    r, root = root, root.path
    for name in (".x.conf.fexpkg-0123abcd", "x.conf.fexpkg-0123abcd", ".x.fexpkg-0123abcg"):
        r.write_atomic(f"d/{name}", b"")
    assert r.sweep("d") == ["d/.x.conf.fexpkg-0123abcd"]
    assert sorted(os.listdir(root / "d")) == [".x.fexpkg-0123abcg", "x.conf.fexpkg-0123abcd"]


def test_sweep_names_what_it_removed_as_given(root, caplog):
    caplog.set_level(logging.DEBUG, logger=rootfs.__name__)
    for relpath in (".a.fexpkg-0123abcd", "X/.b.fexpkg-0123abcd"):
        root.write_atomic(relpath, b"")
    assert root.sweep("/") == [".a.fexpkg-0123abcd"]
    assert root.sweep("X/") == ["X/.b.fexpkg-0123abcd"]
    assert os.listdir(root.path) == ["X"] and os.listdir(root.path / "X") == []
    assert caplog.messages == [
        f"removed {root.path}/{p}, left by an interrupted fexpkg"
        for p in (".a.fexpkg-0123abcd", "X/.b.fexpkg-0123abcd")
    ]


def test_missing_dirs_are_those_a_write_would_create(root):
    r, root = root, root.path
    (root / "etc").mkdir()
    (root / "link").symlink_to("/etc")
    assert r.missing_dirs("etc/binfmt.d/x.conf") == ["etc/binfmt.d"]
    assert r.missing_dirs("link/a/b/x") == ["etc/a", "etc/a/b"]
    assert r.missing_dirs("etc/x") == [] and r.missing_dirs("x") == []
    (root / "etc/binfmt.d").mkdir()
    assert r.missing_dirs("link/binfmt.d/sub/x") == ["etc/binfmt.d/sub"]
    assert r.write_atomic("link/a/b/x", b"") == ["etc/a", "etc/a/b"]
