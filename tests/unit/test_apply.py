"""Applying and undoing plans with the manifest: idempotence, convergence, user changes."""

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

from fexpkg.confined import Root
from fexpkg.dev.harness import snapshot
from fexpkg.errors import FexpkgError, RootWriteError
from fexpkg.system import apply as apply_mod
from fexpkg.system.apply import MANIFEST, Pending, apply_plan, pending, undo_all
from fexpkg.system.plan import Plan, SetJsonKey, Symlink, WriteFile, make_plan
from fexpkg.system.target import Target

FIXTURE = Path(__file__).parents[1] / "fixtures/roots/fex-installed"
CONFIG = "usr/share/fex-emu/Config.json"
ROOTFS = "/usr/share/fex-emu/RootFS/default.erofs"  # what setup writes


def setup(root, page_size=4096):
    return apply_plan(make_plan(Target(root, page_size), {}, Path("/home/u")))


def state(root):
    """Every file and link with its content or target (fexpkg's own state aside)."""
    result = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.startswith("var/lib/fexpkg"):
            continue
        if p.is_symlink():
            result[rel] = ("->", os.readlink(p))
        elif p.is_file():
            result[rel] = (p.read_bytes(), p.stat().st_mode & 0o777)
    return result


def test_setup_then_teardown_restores_the_tree(root):
    before = state(root)
    result = setup(root)
    assert len(result.changes) == 5
    assert os.readlink(root / "etc/binfmt.d/FEX-x86.conf") == "/dev/null"
    assert json.loads((root / CONFIG).read_text()) == {"Config": {"RootFS": ROOTFS}}
    teardown = undo_all(Root(root))
    assert teardown.warnings == []
    assert state(root) == before
    assert not (root / MANIFEST).exists()
    assert not (root / "var").exists() and not (root / "etc").exists()


def test_changes_are_described_exactly_before_and_as_they_are_made(root):
    plan = make_plan(Target(root, 4096), {}, Path("/home/u"))
    binfmt_d = root / "etc/binfmt.d"
    made = [
        f"linked {binfmt_d}/FEX-x86.conf -> /dev/null",
        f"wrote {binfmt_d}/zz-fexpkg-FEX-x86.conf",
        f"linked {binfmt_d}/FEX-x86_64.conf -> /dev/null",
        f"wrote {binfmt_d}/zz-fexpkg-FEX-x86_64.conf",
        f"set Config.RootFS = {ROOTFS!r} in {root / CONFIG}",
    ]
    assert pending(plan) == Pending(made, [])
    assert apply_plan(plan).changes == made
    assert (root / CONFIG).read_bytes() == (
        b'{\n  "Config": {\n    "RootFS": "/usr/share/fex-emu/RootFS/default.erofs"\n  }\n}\n'
    )
    assert (root / CONFIG).stat().st_mode & 0o7777 == 0o644
    undone = [
        f"undo {binfmt_d}/FEX-x86.conf",
        f"undo {binfmt_d}/zz-fexpkg-FEX-x86.conf",
        f"undo {binfmt_d}/FEX-x86_64.conf",
        f"undo {binfmt_d}/zz-fexpkg-FEX-x86_64.conf",
        f"undo Config.RootFS in {root / CONFIG}",
    ]
    assert pending(Plan(plan.target, installed=False)) == Pending(undone, [])
    assert undo_all(Root(root)).changes == [
        f"removed {root / CONFIG}",
        f"removed {binfmt_d}/zz-fexpkg-FEX-x86_64.conf",
        f"removed {binfmt_d}/FEX-x86_64.conf",
        f"removed {binfmt_d}/zz-fexpkg-FEX-x86.conf",
        f"removed {binfmt_d}/FEX-x86.conf",
    ]


def _older_fexpkg_setup(root):
    """Set up as fexpkg did before it wrote an absolute RootFS: the bare name."""
    plan = make_plan(Target(root, 4096), {}, Path("/home/u"))
    plan.changes = [
        dataclasses.replace(a, value="default.erofs") if isinstance(a, SetJsonKey) else a
        for a in plan.changes
    ]
    apply_plan(plan)
    assert json.loads((root / CONFIG).read_text())["Config"]["RootFS"] == "default.erofs"


@pytest.mark.parametrize(
    "before",
    [None, '{"Config": {"Multiblock": "1"}}\n', '{ "Config": { "RootFS": "default.erofs" } }'],
)
def test_root_set_up_by_an_older_fexpkg_converges(root, before):
    if before is not None:
        (root / CONFIG).write_text(before)
    tree = state(root)
    _older_fexpkg_setup(root)
    result = setup(root)
    assert result.changes == [f"set Config.RootFS = {ROOTFS!r} in {root / CONFIG}"]
    assert result.warnings == []
    assert json.loads((root / CONFIG).read_text())["Config"]["RootFS"] == ROOTFS
    assert setup(root).changes == []
    assert undo_all(Root(root)).warnings == []
    assert state(root) == tree
    assert not (root / MANIFEST).exists()


def test_second_apply_changes_nothing(root):
    setup(root)
    paths = [root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf", root / CONFIG, root / MANIFEST]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    result = setup(root)
    assert result.changes == [] and result.warnings == []
    assert [p.stat().st_mtime_ns for p in paths] == mtimes


def test_user_keys_survive_setup_and_teardown(root):
    user = {"Config": {"Multiblock": "1", "RootFS": ""}, "ThunksDB": {"GL": 1, "Vulkan": 0}}
    (root / CONFIG).write_text(json.dumps(user))
    setup(root)
    written = json.loads((root / CONFIG).read_text())
    assert written == {**user, "Config": {"Multiblock": "1", "RootFS": ROOTFS}}
    undo_all(Root(root))
    assert json.loads((root / CONFIG).read_text()) == user


def test_key_added_after_setup_survives_teardown(root):
    """Teardown puts the user's bytes back only when nothing but RootFS changed since setup."""
    original = b'{"Config": {"Multiblock": "1"}}\n'
    (root / CONFIG).write_bytes(original)
    setup(root)
    config = json.loads((root / CONFIG).read_text())
    config["ThunksDB"] = {"GL": 1}
    (root / CONFIG).write_text(json.dumps(config))
    assert undo_all(Root(root)).warnings == []
    assert json.loads((root / CONFIG).read_text()) == {
        "Config": {"Multiblock": "1"},
        "ThunksDB": {"GL": 1},
    }
    before_second = (root / CONFIG).read_bytes()
    setup(root)
    assert undo_all(Root(root)).warnings == []  # unchanged since setup this time: bytes back
    assert (root / CONFIG).read_bytes() == before_second


def test_created_config_the_user_added_keys_to_is_kept(root):
    setup(root)  # no Config.json before: setup creates it
    config = json.loads((root / CONFIG).read_text())
    config["ThunksDB"] = {"GL": 1}
    (root / CONFIG).write_text(json.dumps(config))
    assert undo_all(Root(root)).warnings == []
    assert json.loads((root / CONFIG).read_text()) == {"ThunksDB": {"GL": 1}}
    (root / CONFIG).unlink()
    setup(root)
    undo_all(Root(root))
    assert not (root / CONFIG).exists()  # nothing of the user's in it: removed


def test_managed_file_deleted_by_the_admin_is_not_recreated(root):
    setup(root)
    mask = root / "etc/binfmt.d/FEX-x86.conf"
    mask.unlink()  # the admin wants FEX's x86 entry from the package file back
    again = setup(root)
    assert again.changes == []
    assert again.warnings == [f"{mask} was changed since fexpkg wrote it: left alone"]
    assert not mask.is_symlink()


def test_user_change_after_setup_is_left_alone(root):
    setup(root)
    (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").write_text("# mine now\n")
    config = json.loads((root / CONFIG).read_text())
    config["Config"]["RootFS"] = "/opt/mine"
    config["Config"]["Other"] = "x"
    (root / CONFIG).write_text(json.dumps(config))
    again = setup(root)
    assert any(
        "zz-fexpkg-FEX-x86.conf was changed since fexpkg wrote it" in w for w in again.warnings
    )
    assert (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").read_text() == "# mine now\n"
    result = undo_all(Root(root))
    assert (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").read_text() == "# mine now\n"
    assert json.loads((root / CONFIG).read_text())["Config"] == {
        "RootFS": "/opt/mine",
        "Other": "x",
    }
    assert len(result.warnings) == 2
    assert not (root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf").exists()
    kept = json.loads((root / MANIFEST).read_text())["items"]  # not undone: record kept
    assert sorted(i["id"] for i in kept) == [
        "etc/binfmt.d/zz-fexpkg-FEX-x86.conf",
        f"{CONFIG}#Config.RootFS",
    ]


def test_preexisting_file_is_backed_up_and_restored(root):
    (root / "etc/binfmt.d").mkdir(parents=True)
    (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").write_text("# old\n")
    os.chmod(root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf", 0o600)
    setup(root)
    assert "FEX-x86:M" in (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").read_text()
    undo_all(Root(root))
    path = root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf"
    assert path.read_text() == "# old\n" and path.stat().st_mode & 0o777 == 0o600
    assert not (root / "var").exists()  # backups, manifest and the var/ setup created: gone


def test_switching_mode_converges(root):
    (root / "usr/bin/muvm").write_text("#!/bin/sh\n")
    fresh_muvm = shutil.copytree(root, root.parent / "fresh", symlinks=True)
    setup(root, 4096)
    setup(root, 16384)
    setup(fresh_muvm, 16384)
    assert state(root) == state(fresh_muvm)
    assert not (root / CONFIG).exists()
    assert not (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").exists()
    setup(root, 4096)
    assert not (root / "usr/libexec/fexpkg/fex-muvm").exists()
    undo_all(Root(root))
    undo_all(Root(fresh_muvm))
    assert state(root) == state(fresh_muvm)


def test_interrupted_setup_is_completed(root, monkeypatch):
    real_write = apply_mod._write
    calls = []

    def dying_write(r, change):
        calls.append(change)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed between the manifest's pending record and the write
        return real_write(r, change)

    monkeypatch.setattr(apply_mod, "_write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.setattr(apply_mod, "_write", real_write)
    pending = [i for i in json.loads((root / MANIFEST).read_text())["items"] if not i["done"]]
    assert len(pending) == 1
    assert len(setup(root).changes) == 3
    assert all(i["done"] for i in json.loads((root / MANIFEST).read_text())["items"])
    before_setup = shutil.copytree(FIXTURE, root.parent / "pristine", symlinks=True)
    undo_all(Root(root))
    assert state(root) == state(before_setup)


def test_interrupted_setup_then_teardown(root, monkeypatch):
    def dying_write(r, change):
        raise KeyboardInterrupt

    monkeypatch.setattr(apply_mod, "_write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.undo()
    result = undo_all(Root(root))
    assert result.warnings == [] and result.changes == []
    assert not (root / MANIFEST).exists()


def test_broken_config_is_never_overwritten(root):
    (root / CONFIG).write_text('{"Config": \n')
    plan = make_plan(Target(root, 4096), {}, Path("/home/u"))
    assert any("Config.json:2: invalid JSON" in w for w in plan.warnings)
    apply_plan(plan)
    assert (root / CONFIG).read_text() == '{"Config": \n'


def test_hostile_config_symlink_stays_inside_root(root, tmp_path):
    outside = tmp_path / "host-config.json"
    outside.write_text('{"host": 1}')
    (root / CONFIG).symlink_to(outside)
    setup(root)
    assert outside.read_text() == '{"host": 1}'
    inside = root / str(outside).lstrip("/")
    assert json.loads(inside.read_text()) == {"Config": {"RootFS": ROOTFS}}
    undo_all(Root(root))
    assert outside.read_text() == '{"host": 1}'
    assert not inside.exists()
    assert not (root / str(outside).lstrip("/").split("/")[0]).exists()  # the dirs made for it


def _setup_in_process(root):
    setup(Path(root))


def test_concurrent_setups_in_two_processes(root):
    before = snapshot(root)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_setup_in_process, args=(str(root),)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    items = json.loads((root / MANIFEST).read_text())["items"]
    assert len(items) == 5 and all(i["done"] for i in items)
    assert all(i["before"]["state"] == "absent" for i in items)
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


def _setup_or_teardown_in_process(root, n):
    for i in range(5):
        setup(Path(root), 4096 if (n + i) % 2 else 16384) if i < 4 else undo_all(Root(root))


def test_concurrent_setups_and_teardowns_leave_a_consistent_root(root):
    """Processes mixing setups for both page sizes and teardowns: every run sees a whole state."""
    before = snapshot(root)
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_setup_or_teardown_in_process, args=(str(root), n)) for n in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert setup(root).warnings == []
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


def test_package_update_rewrites_our_file_without_warning(root):
    setup(root)
    conf = root / "usr/lib/binfmt.d/FEX-x86_64.conf"
    conf.write_text(conf.read_text().replace("FEXInterpreter", "FEX"))
    result = setup(root)
    assert result.warnings == []
    assert result.changes == [f"wrote {root}/etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"]
    assert ":/usr/bin/FEX:POCF" in (root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf").read_text()
    undo_all(Root(root))
    assert not (root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf").exists()


def test_teardown_with_broken_config_keeps_the_record(root):
    setup(root)
    (root / CONFIG).write_text("{broken")
    result = undo_all(Root(root))
    assert any("not undone, run teardown again" in w for w in result.warnings)
    assert (root / CONFIG).read_text() == "{broken"
    items = json.loads((root / MANIFEST).read_text())["items"]
    assert [i["kind"] for i in items] == ["json"]
    (root / CONFIG).write_text(json.dumps({"Config": {"RootFS": ROOTFS}}))
    assert undo_all(Root(root)).warnings == []
    assert not (root / CONFIG).exists() and not (root / MANIFEST).exists()
    assert not (root / "var").exists() and not (root / "etc").exists()


@pytest.mark.parametrize("link", ["absolute", "../../../../../.."])
@pytest.mark.parametrize("where", ["etc/binfmt.d", "usr/share/fex-emu"])
def test_setup_and_teardown_through_hostile_dir_symlinks(root, tmp_path, link, where):
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    hostile = root / where
    if hostile.exists():  # usr/share/fex-emu: move the RootFS image to where the link leads
        shutil.rmtree(hostile)
    hostile.parent.mkdir(parents=True, exist_ok=True)
    hostile.symlink_to(outside if link == "absolute" else link)
    if where == "usr/share/fex-emu":
        inside = root / (str(outside).lstrip("/") if link == "absolute" else "")
        (inside / "RootFS").mkdir(parents=True)
        (inside / "RootFS/default.erofs").write_text("image")
        assert Root(root).resolve(f"{where}/RootFS") == str((inside / "RootFS").relative_to(root))
    setup(root)
    undo_all(Root(root))
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert (outside / "keep").read_text() == "host file"


def test_directory_left_by_an_undone_item_goes_with_the_last_item_in_it(tmp_path):
    """A stale item that created a directory still used by another item hands the directory on."""
    before = snapshot(tmp_path)
    target = Target(tmp_path, 4096)
    first, second = WriteFile("etc/a/b/one", b"1"), WriteFile("etc/a/b/two", b"2")
    apply_plan(Plan(target, True, [first, second]))
    items = json.loads((tmp_path / MANIFEST).read_text())["items"]
    assert [i.get("created_dirs") for i in items] == [["etc", "etc/a", "etc/a/b"], None]
    apply_plan(Plan(target, True, [second]))
    items = json.loads((tmp_path / MANIFEST).read_text())["items"]
    assert [i.get("created_dirs") for i in items] == [["etc", "etc/a", "etc/a/b"]]
    assert undo_all(Root(tmp_path)).warnings == []
    assert snapshot(tmp_path) == before == {}


def test_state_dirs_are_recorded_and_only_those_are_removed(root):
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/fexpkg").mkdir()
    (root / "var/lib/fexpkg/lock").write_text("")  # left by a fexpkg that used a lock file
    before = snapshot(root, ["var/lib/fexpkg"])
    setup(root)
    assert json.loads((root / MANIFEST).read_text())["created_dirs"] == []
    undo_all(Root(root))
    assert snapshot(root) == before  # var/lib kept (not fexpkg's), var/lib/fexpkg gone
    (root / "var/lib").rmdir()
    (root / "var").rmdir()
    setup(root)
    assert json.loads((root / MANIFEST).read_text())["created_dirs"] == [
        "var",
        "var/lib",
        "var/lib/fexpkg",
    ]


def test_leftovers_of_a_killed_run_are_removed_under_the_lock(root, caplog):
    """Temporary files, an unreferenced backup and a stale parked manifest go; users' stay."""
    (root / CONFIG).write_text('{"Config": {}}')
    setup(root)
    leftovers = [
        root / "etc/binfmt.d/.zz-fexpkg-muvm-x86_64.conf.fexpkg-ae6e52a0",
        root / "var/lib/fexpkg/.manifest.json.fexpkg-c24d1575",
        root / "var/lib/fexpkg/backup/usr/share/fex-emu/.x.fexpkg-0123abcd",
        root / "var/lib/fexpkg/backup/etc/binfmt.d/FEX-x86.conf",  # backup of no item
        root / "var/lib/.fexpkg-manifest.json",  # parked copy, the manifest being in place
        root / ".fexpkg-manifest.json.fexpkg-0123abcd",  # temporary of a manifest parked there
    ]
    users = [root / "etc/binfmt.d/.mine.fexpkg-notours", root / "etc/binfmt.d/mine.fexpkg-0123abcd"]
    for path in leftovers + users:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("left")
    caplog.set_level(logging.DEBUG, logger=apply_mod.__name__)
    assert setup(root).changes == []
    assert [p for p in leftovers if p.exists()] == []
    assert caplog.messages == [
        f"removed {leftovers[3]}, left by an interrupted fexpkg"  # the others by Root.sweep
    ]
    assert not (root / "var/lib/fexpkg/backup/etc").exists()
    assert all(p.read_text() == "left" for p in users)
    undo_all(Root(root))
    assert sorted(p.name for p in (root / "etc/binfmt.d").iterdir()) == sorted(
        p.name for p in users
    )
    assert not (root / "var").exists()


def test_manifest_parked_by_a_killed_run_is_found_and_finished(root):
    """Killed while var/lib/fexpkg was being made: the manifest waits beside its parent."""
    before = snapshot(root)
    (root / "var/lib").mkdir(parents=True)
    parked = {"version": 1, "created_dirs": ["var", "var/lib", "var/lib/fexpkg"], "items": []}
    (root / "var/lib/.fexpkg-manifest.json").write_text(json.dumps(parked))
    undo_all(Root(root))
    assert snapshot(root) == before  # var and var/lib were recorded as fexpkg's: gone too
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/.fexpkg-manifest.json").write_text(json.dumps(parked))
    setup(root)
    assert not (root / "var/lib/.fexpkg-manifest.json").exists()
    assert json.loads((root / MANIFEST).read_text())["created_dirs"] == parked["created_dirs"]
    undo_all(Root(root))
    assert snapshot(root) == before


def test_teardown_killed_while_removing_state_dirs_is_finished(root, monkeypatch):
    """The manifest moves up beside each directory as it goes; the next teardown ends the job."""
    before = snapshot(root)
    setup(root)
    real_rmdir = Root.rmdir

    def dying_rmdir(self, relpath):
        if relpath == "var/lib":
            raise KeyboardInterrupt
        return real_rmdir(self, relpath)

    monkeypatch.setattr(Root, "rmdir", dying_rmdir)
    with pytest.raises(KeyboardInterrupt):
        undo_all(Root(root))
    monkeypatch.setattr(Root, "rmdir", real_rmdir)
    assert sorted(str(p.relative_to(root / "var")) for p in (root / "var").rglob("*")) == [
        ".fexpkg-manifest.json",
        "lib",
    ]
    assert undo_all(Root(root)) == apply_mod.Result([], [])
    assert snapshot(root) == before


def test_manifest_parked_above_directories_already_removed_is_finished(root):
    before = snapshot(root)
    (root / "var").mkdir()
    parked = {"version": 1, "created_dirs": ["var", "var/lib", "var/lib/fexpkg"], "items": []}
    (root / "var/.fexpkg-manifest.json").write_text(json.dumps(parked))
    assert undo_all(Root(root)) == apply_mod.Result([], [])
    assert snapshot(root) == before


def test_state_dir_parent_holding_something_else_is_kept_without_the_manifest(root):
    setup(root)
    (root / "var/lib/other").write_text("theirs")
    assert undo_all(Root(root)).warnings == []
    assert sorted(str(p.relative_to(root / "var")) for p in (root / "var").rglob("*")) == [
        "lib",
        "lib/other",
    ]


def test_rootfs_value_replaced_by_setup_is_restored_beside_later_keys(root):
    (root / CONFIG).write_text(json.dumps({"Config": {"RootFS": "/gone", "Multiblock": "1"}}))
    setup(root)
    config = json.loads((root / CONFIG).read_text())
    assert config == {"Config": {"RootFS": ROOTFS, "Multiblock": "1"}}
    (root / CONFIG).write_text(json.dumps({**config, "ThunksDB": {"GL": 1}}))
    assert undo_all(Root(root)).changes[0] == f"restored Config.RootFS in {root / CONFIG}"
    assert json.loads((root / CONFIG).read_text()) == {
        "Config": {"RootFS": "/gone", "Multiblock": "1"},
        "ThunksDB": {"GL": 1},
    }


def test_users_bytes_and_mode_come_back(root):
    original = b'{ "Config": { "Multiblock": "1" } }\n'
    (root / CONFIG).write_bytes(original)
    (root / CONFIG).chmod(0o600)
    setup(root)
    assert (root / CONFIG).stat().st_mode & 0o7777 == 0o600
    assert undo_all(Root(root)).changes[0] == f"restored Config.RootFS in {root / CONFIG}"
    assert (root / CONFIG).read_bytes() == original
    assert (root / CONFIG).stat().st_mode & 0o7777 == 0o600


def test_link_replaced_by_a_file_and_file_replaced_by_a_link_come_back(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/link").symlink_to("/usr/lib/somewhere")
    (tmp_path / "etc/file").write_bytes(b"mine\n")
    (tmp_path / "etc/file").chmod(0o640)
    plan = Plan(
        Target(tmp_path, 4096),
        True,
        [WriteFile("etc/link", b"x"), Symlink("etc/file", "/dev/null")],
    )
    apply_plan(plan)
    assert (tmp_path / "etc/link").read_bytes() == b"x" and not (tmp_path / "etc/link").is_symlink()
    assert os.readlink(tmp_path / "etc/file") == "/dev/null"
    assert undo_all(Root(tmp_path)).changes == [
        f"restored {tmp_path}/etc/file",
        f"restored {tmp_path}/etc/link",
    ]
    assert os.readlink(tmp_path / "etc/link") == "/usr/lib/somewhere"
    assert not (tmp_path / "etc/file").is_symlink()
    assert (tmp_path / "etc/file").read_bytes() == b"mine\n"
    assert (tmp_path / "etc/file").stat().st_mode & 0o7777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["etc"]


def test_directory_the_admin_removed_is_not_handed_on(tmp_path):
    """A directory an undone item made, gone since, is not given to another item to remove."""
    target = Target(tmp_path, 4096)
    one, two = WriteFile("etc/a/one", b"1"), WriteFile("etc/a/two", b"2")
    apply_plan(Plan(target, True, [one, two]))
    shutil.rmtree(tmp_path / "etc")
    assert apply_plan(Plan(target, True, [two])).warnings == [
        f"{tmp_path}/etc/a/two was changed since fexpkg wrote it: left alone"
    ]
    (tmp_path / "etc/a").mkdir(parents=True)  # the admin's own, made later
    assert undo_all(Root(tmp_path)).warnings == []
    assert (tmp_path / "etc/a").is_dir()


@pytest.mark.parametrize("then", ["setup", "teardown"])
@pytest.mark.parametrize("wrote", [False, True], ids=["before-the-write", "after-the-write"])
def test_setup_killed_while_rewriting_after_a_package_update_is_completed(
    root, monkeypatch, wrote, then
):
    """The pending write replaces what fexpkg wrote earlier: that is not a change of the user's."""
    pristine = state(root)
    setup(root)
    conf = root / "usr/lib/binfmt.d/FEX-x86_64.conf"
    conf.write_text(conf.read_text().replace("FEXInterpreter", "FEX"))
    real_write = apply_mod._write

    def dying_write(r, change):
        if wrote:
            real_write(r, change)
        raise KeyboardInterrupt  # killed before the write, or before it was marked done

    monkeypatch.setattr(apply_mod, "_write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.undo()
    ours = root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"
    if then == "setup":
        assert setup(root) == apply_mod.Result([] if wrote else [f"wrote {ours}"], [])
        assert ":/usr/bin/FEX:POCF" in ours.read_text()
        manifest = (root / MANIFEST).read_bytes()
        assert setup(root) == apply_mod.Result([], [])
        assert (root / MANIFEST).read_bytes() == manifest
        uninterrupted = shutil.copytree(FIXTURE, root.parent / "uninterrupted", symlinks=True)
        setup(uninterrupted)
        conf_there = uninterrupted / "usr/lib/binfmt.d/FEX-x86_64.conf"
        conf_there.write_text(conf_there.read_text().replace("FEXInterpreter", "FEX"))
        setup(uninterrupted)
        assert (uninterrupted / MANIFEST).read_bytes() == manifest  # the same record
        ours.unlink()  # by the admin, now that the write is done: not fexpkg's to put back
        assert setup(root).warnings == [f"{ours} was changed since fexpkg wrote it: left alone"]
    assert undo_all(Root(root)).warnings == []
    conf.write_text(conf.read_text().replace(":/usr/bin/FEX:", ":/usr/bin/FEXInterpreter:"))
    assert state(root) == pristine


def test_path_already_as_wanted_is_recorded_once_and_kept_on_teardown(root):
    (root / "etc/binfmt.d").mkdir(parents=True)
    (root / "etc/binfmt.d/FEX-x86.conf").symlink_to("/dev/null")
    assert len(setup(root).changes) == 4  # the mask was there
    manifest = root / MANIFEST
    recorded = (manifest.stat().st_ino, manifest.read_bytes())
    assert setup(root) == apply_mod.Result([], [])
    assert (manifest.stat().st_ino, manifest.read_bytes()) == recorded  # not rewritten
    assert undo_all(Root(root)).warnings == []
    assert os.readlink(root / "etc/binfmt.d/FEX-x86.conf") == "/dev/null"


def test_file_that_already_holds_the_updated_entry_is_taken_as_ours(root):
    pristine = state(root)
    setup(root)
    conf = root / "usr/lib/binfmt.d/FEX-x86_64.conf"
    conf.write_text(conf.read_text().replace("FEXInterpreter", "FEX"))
    ours = root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"
    updated = make_plan(Target(root, 4096), {}, Path("/home/u"))
    ours.write_bytes(
        next(a.data for a in updated.changes if a.relpath == str(ours.relative_to(root)))
    )
    assert setup(root) == apply_mod.Result([], [])
    assert undo_all(Root(root)).warnings == []
    conf.write_text(conf.read_text().replace(":/usr/bin/FEX:", ":/usr/bin/FEXInterpreter:"))
    assert state(root) == pristine


def test_backups_are_no_more_readable_than_their_originals(root):
    (root / "etc/binfmt.d").mkdir(parents=True)
    for path in (root / CONFIG, root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf"):
        path.write_text('{"Config": {}}\n')
        path.chmod(0o600)
    setup(root)
    backups = sorted(p for p in (root / "var/lib/fexpkg/backup").rglob("*") if p.is_file())
    assert len(backups) == 2
    assert [p.stat().st_mode & 0o7777 for p in backups] == [0o600, 0o600]


def test_setup_killed_between_two_directories_it_makes_is_undone_whole(tmp_path, monkeypatch):
    """The directories recorded before the write stay recorded when the next run makes fewer."""
    real_write = apply_mod._write

    def dying_write(r, change):
        r.makedirs("etc")
        raise KeyboardInterrupt  # killed after making etc, before etc/binfmt.d

    plan = Plan(Target(tmp_path, 4096), True, [WriteFile("etc/binfmt.d/a.conf", b"a\n")])
    monkeypatch.setattr(apply_mod, "_write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        apply_plan(plan)
    monkeypatch.setattr(apply_mod, "_write", real_write)
    assert apply_plan(plan).changes == [f"wrote {tmp_path}/etc/binfmt.d/a.conf"]
    assert undo_all(Root(tmp_path)).warnings == []
    assert os.listdir(tmp_path) == []


def test_manifest_has_the_format_older_and_newer_fexpkg_read(root):
    """One item per path or key: what fexpkg wrote, what was there before, done, created dirs."""
    (root / CONFIG).write_text('{"Config": {}}')
    setup(root)

    def mask(arch: str) -> dict:
        path = f"etc/binfmt.d/FEX-{arch}.conf"
        wrote = {"state": "symlink", "target": "/dev/null"}
        return {"id": path, "kind": "symlink", "path": path, "wrote": wrote}

    def ours(arch: str) -> dict:
        path = f"etc/binfmt.d/zz-fexpkg-FEX-{arch}.conf"
        sha256 = hashlib.sha256((root / path).read_bytes()).hexdigest()
        wrote = {"state": "file", "sha256": sha256, "mode": 0o644}
        return {"id": path, "kind": "file", "path": path, "wrote": wrote}

    assert (root / MANIFEST).stat().st_mode & 0o7777 == 0o644
    manifest = json.loads((root / MANIFEST).read_text())
    assert (root / MANIFEST).read_text() == json.dumps(manifest, indent=2) + "\n"
    absent, done = {"before": {"state": "absent"}}, {"done": True}
    key = "usr/share/fex-emu/Config.json#Config.RootFS"
    assert manifest == {
        "version": 1,
        "created_dirs": ["var", "var/lib", "var/lib/fexpkg"],
        "items": [
            {**mask("x86"), **absent, **done, "created_dirs": ["etc", "etc/binfmt.d"]},
            {**ours("x86"), **absent, **done},
            {**mask("x86_64"), **absent, **done},
            {**ours("x86_64"), **absent, **done},
            {
                "id": key,
                "kind": "json",
                "path": CONFIG,
                "key": ["Config", "RootFS"],
                "wrote": {"state": "value", "value": ROOTFS},
                "created_file": False,
                "before": {"state": "absent", "backup": f"var/lib/fexpkg/backup/{key}"},
                **done,
            },
        ],
    }


def test_config_broken_between_plan_and_apply_is_a_warning(root):
    plan = make_plan(Target(root, 4096), {}, Path("/home/u"))
    (root / CONFIG).write_text("{\n")
    result = apply_plan(plan)
    assert result.warnings == [
        f"{root / CONFIG}:2: invalid JSON (Expecting property name enclosed in double quotes); "
        "fix it, fexpkg leaves it alone"
    ]
    assert len(result.changes) == 4 and (root / CONFIG).read_text() == "{\n"


def test_binfmt_d_replaced_by_a_file_is_left_alone(root):
    setup(root)
    shutil.rmtree(root / "etc/binfmt.d")
    (root / "etc/binfmt.d").write_text("the admin's\n")
    binfmt_d = root / "etc/binfmt.d"
    assert setup(root) == apply_mod.Result(
        [],
        [
            f"{binfmt_d}/{name} was changed since fexpkg wrote it: left alone"
            for name in ("FEX-x86.conf", "zz-fexpkg-FEX-x86.conf")
            + ("FEX-x86_64.conf", "zz-fexpkg-FEX-x86_64.conf")
        ],
    )
    assert undo_all(Root(root)).changes == [f"removed {root / CONFIG}"]
    assert binfmt_d.read_text() == "the admin's\n" and not (root / "var").exists()


def test_top_of_the_root_read_only_var_writable(root, monkeypatch):
    """As on an image-based system: fexpkg's state goes under /var, nothing at the top."""
    (root / "var").mkdir()
    before = snapshot(root)

    def refuse_top(*names: str) -> None:
        if any("/" not in name.strip("/") for name in names):
            raise RootWriteError(f"cannot write {names}: read-only file system")

    real_write, real_rename = Root.write_atomic, Root.rename

    def write_atomic(self, relpath, *args):
        refuse_top(relpath)
        return real_write(self, relpath, *args)

    def rename(self, relpath, new):
        refuse_top(relpath, new)
        return real_rename(self, relpath, new)

    monkeypatch.setattr(Root, "write_atomic", write_atomic)
    monkeypatch.setattr(Root, "rename", rename)
    assert setup(root).warnings == []
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


@pytest.mark.parametrize("killed_at", ["var/lib", "var/lib/fexpkg"])
def test_setup_killed_while_making_the_state_directories_is_undone_whole(
    root, monkeypatch, killed_at
):
    before = snapshot(root)
    real_makedirs = Root.makedirs

    def dying_makedirs(self, relpath, *args):
        if relpath == killed_at:
            raise KeyboardInterrupt
        return real_makedirs(self, relpath, *args)

    monkeypatch.setattr(Root, "makedirs", dying_makedirs)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.undo()
    setup(root)
    assert json.loads((root / MANIFEST).read_text())["created_dirs"] == [
        "var",
        "var/lib",
        "var/lib/fexpkg",
    ]
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


def test_setup_killed_as_it_first_saves_the_manifest_in_place_is_undone_whole(root, monkeypatch):
    before = snapshot(root)
    real_write = Root.write_atomic

    def dying_write(self, relpath, *args):
        if relpath == MANIFEST:
            raise KeyboardInterrupt
        return real_write(self, relpath, *args)

    monkeypatch.setattr(Root, "write_atomic", dying_write)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.undo()
    assert (root / MANIFEST).exists()  # made beside var/lib/fexpkg, moved into it, not yet saved
    setup(root)
    assert os.listdir(root / "var/lib/fexpkg") == ["manifest.json"]  # no stray copy
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


def test_only_the_state_directory_missing_is_the_only_one_recorded(root):
    (root / "var/lib").mkdir(parents=True)
    setup(root)
    assert json.loads((root / MANIFEST).read_text())["created_dirs"] == ["var/lib/fexpkg"]
    undo_all(Root(root))
    assert os.listdir(root / "var") == ["lib"] and os.listdir(root / "var/lib") == []


def test_backup_directory_made_a_symlink_leads_nowhere(root):
    """Leftover backups are looked for in var/lib/fexpkg/backup itself, never through a link."""
    setup(root)
    (root / "etc/keep").mkdir()
    (root / "etc/keep/important").write_text("the admin's\n")
    (root / "var/lib/fexpkg/backup").symlink_to("/etc/keep")
    assert setup(root).changes == []
    assert (root / "etc/keep/important").read_text() == "the admin's\n"


def test_pending_item_of_an_older_manifest_changed_by_the_user_is_left_alone(root):
    """Manifests of fexpkg before "replaced" was recorded: a pending write replaces "before"."""
    setup(root)
    manifest = json.loads((root / MANIFEST).read_text())
    ours = "etc/binfmt.d/zz-fexpkg-FEX-x86.conf"
    next(i for i in manifest["items"] if i["id"] == ours)["done"] = False
    (root / MANIFEST).write_text(json.dumps(manifest))
    (root / ours).write_text("# the admin's\n")
    assert setup(root) == apply_mod.Result(
        [], [f"{root / ours} was changed since fexpkg wrote it: left alone"]
    )
    assert (root / ours).read_text() == "# the admin's\n"


def test_setup_killed_before_moving_the_manifest_into_its_directory_is_undone_whole(
    root, monkeypatch
):
    before = snapshot(root)
    real_move = apply_mod.Manifest._move

    def dying_move(self, location):
        if location == MANIFEST:
            raise KeyboardInterrupt  # var/lib/fexpkg made, the manifest still beside it
        return real_move(self, location)

    monkeypatch.setattr(apply_mod.Manifest, "_move", dying_move)
    with pytest.raises(KeyboardInterrupt):
        setup(root)
    monkeypatch.undo()
    assert sorted(os.listdir(root / "var/lib")) == [".fexpkg-manifest.json", "fexpkg"]
    setup(root)
    assert sorted(os.listdir(root / "var/lib")) == ["fexpkg"]
    assert undo_all(Root(root)).warnings == []
    assert snapshot(root) == before


def test_corrupt_manifest_is_one_line_saying_what_to_do(root):
    (root / "var/lib/fexpkg").mkdir(parents=True)
    (root / MANIFEST).write_text("{")
    with pytest.raises(FexpkgError) as info:
        undo_all(Root(root))
    assert str(info.value) == (
        f"{root / MANIFEST} is corrupt (Expecting property name enclosed in double quotes: line 1 "
        "column 2 (char 1)); remove it and check /etc/binfmt.d and "
        "/usr/share/fex-emu/Config.json by hand"
    )


def test_manifest_without_created_dirs_is_read(root):
    """As fexpkg wrote it before it recorded the directories it made for its state."""
    setup(root)
    manifest = json.loads((root / MANIFEST).read_text())
    del manifest["created_dirs"]
    (root / MANIFEST).write_text(json.dumps(manifest))
    assert undo_all(Root(root)).warnings == []
    assert os.listdir(root / "var/lib") == []  # var/lib/fexpkg is fexpkg's own: removed


def test_key_the_user_removed_after_setup_is_not_a_change_to_keep(root):
    """The user took RootFS out again: as before setup, so teardown has nothing to restore."""
    (root / CONFIG).write_text('{"Config": {"Multiblock": "1"}}')
    setup(root)
    (root / CONFIG).write_text('{"Config": {"Multiblock": "0"}}')
    result = undo_all(Root(root))
    assert result.warnings == [] and len(result.changes) == 4
    assert (root / CONFIG).read_text() == '{"Config": {"Multiblock": "0"}}'
    assert not (root / "var").exists()
