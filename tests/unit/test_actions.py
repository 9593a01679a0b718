"""setup / teardown / status entry points, live registration against a stand-in directory, CLI."""

import argparse
import json
import logging
import shutil
from pathlib import Path

import pytest

from fexpkg.cli import root as cli_root
from fexpkg.confined import Root
from fexpkg.dev.harness import snapshot
from fexpkg.errors import FexpkgError
from fexpkg.system import actions
from fexpkg.system.apply import MANIFEST
from fexpkg.system.binfmt import BinfmtMisc, effective_handlers
from fexpkg.system.target import Mode

FIXTURE = Path(__file__).parents[1] / "fixtures/roots/fex-installed"
HOME = Path("/home/u")


@pytest.fixture
def misc(tmp_path):
    """A directory shaped like binfmt_misc: writes land in plain files we can read back."""
    path = tmp_path / "binfmt_misc"
    path.mkdir()
    (path / "register").write_text("")
    (path / "status").write_text("enabled\n")
    return path


def test_setup_not_installed_does_nothing(tmp_path):
    report = actions.setup(tmp_path, 4096, env={})
    assert report.changes == [] and report.warnings == []
    assert report.notes == [f"fex-emu is not installed in {tmp_path}: nothing to set up"]
    assert list(tmp_path.iterdir()) == []


def test_setup_detects_page_size_from_the_root(root):
    (root / "usr/lib/modules/6.17.1-300.fc42.aarch64+16k").mkdir(parents=True)
    report = actions.setup(root, env={})
    assert (report.page_size, report.mode) == (16384, Mode.MUVM)
    assert report.page_size_source == f"from usr/lib/modules/6.17.1-300.fc42.aarch64+16k in {root}"
    assert (root / "usr/libexec/fexpkg/fex-muvm").stat().st_mode & 0o777 == 0o755


NO_IMAGE = "no RootFS image: /usr/share/fex-emu/RootFS/default.erofs is missing"


def test_report_logs_changes_and_warnings(root, caplog):
    caplog.set_level(logging.INFO)
    (root / "usr/share/fex-emu/RootFS/default.erofs").unlink()
    report = actions.setup(root, "4096", env={})
    assert report.warnings == [
        "no RootFS image: /usr/share/fex-emu/RootFS/default.erofs is missing"
    ]
    report.log()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [NO_IMAGE]
    assert "zz-fexpkg-FEX-x86.conf" in caplog.text


def test_live_native_reregisters_fex_last(root, misc):
    (misc / "fexpkg-muvm-x86").write_text("enabled\n")
    report = actions.setup(root, 4096, live=True, env={}, binfmt_misc=BinfmtMisc(misc))
    assert f"unregistered fexpkg-muvm-x86 from {misc}" in report.changes
    assert (misc / "fexpkg-muvm-x86").read_text().startswith("-1")
    # the stand-in keeps only the last write: FEX-x86_64 registered last
    assert (misc / "register").read_text().startswith(":FEX-x86_64:M:0:")
    assert f"registered FEX-x86 in {misc}" in report.changes


def test_live_muvm_registers_launcher_entries(root, misc):
    (misc / "FEX-x86").write_text("enabled\n")
    report = actions.setup(root, 16384, live=True, env={}, binfmt_misc=BinfmtMisc(misc))
    assert (misc / "FEX-x86").read_text().startswith("-1")
    assert (misc / "register").read_text() == (
        (root / "etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf").read_text().splitlines()[-1] + "\n"
    )
    assert f"registered fexpkg-muvm-x86_64 in {misc}" in report.changes


def _boot(root: Path, misc: BinfmtMisc) -> None:
    """Register the root's binfmt.d entries as systemd-binfmt does at boot (FEX, then qemu)."""
    for applied in effective_handlers(Root(root)):
        misc.register(applied.entry)


def test_live_native_takes_x86_64_back_from_qemu(root, kernel_misc):
    _boot(root, kernel_misc)
    assert kernel_misc.runs("x86_64") == "qemu-x86_64"
    report = actions.setup(root, 4096, live=True, env={}, binfmt_misc=kernel_misc)
    assert report.warnings == []
    assert (kernel_misc.runs("x86"), kernel_misc.runs("x86_64")) == ("FEX-x86", "FEX-x86_64")
    report = actions.teardown(root, live=True, env={}, binfmt_misc=kernel_misc)
    assert report.warnings == []
    # as the next boot leaves it: qemu's file sorts after FEX's
    assert [e.entry.name for e in kernel_misc.entries] == ["qemu-x86_64", "FEX-x86_64", "FEX-x86"]


def test_live_teardown_registers_again_only_registered_x86_entries(root, kernel_misc):
    """An entry unregistered since boot stays so, one for other programs keeps its place."""
    (root / "etc/binfmt.d").mkdir(parents=True)
    (root / "etc/binfmt.d/zz-wasm.conf").write_text(":wasm:M::\\x00asm::/usr/bin/wasm:F\n")
    _boot(root, kernel_misc)
    kernel_misc.unregister("qemu-x86_64")
    actions.setup(root, 4096, live=True, env={}, binfmt_misc=kernel_misc)
    report = actions.teardown(root, live=True, env={}, binfmt_misc=kernel_misc)
    assert report.warnings == []
    assert [c for c in report.changes if c.startswith("registered")] == [
        f"registered FEX-x86 in {kernel_misc.path}",
        f"registered FEX-x86_64 in {kernel_misc.path}",
    ]
    assert [e.entry.name for e in kernel_misc.entries] == ["FEX-x86_64", "FEX-x86", "wasm"]


def test_live_muvm_replaces_fex_and_teardown_gives_x86_64_back(root, kernel_misc):
    _boot(root, kernel_misc)
    env = {"FEXPKG_PAGE_SIZE": "16384"}
    report = actions.setup(root, None, live=True, env=env, binfmt_misc=kernel_misc)
    assert report.warnings == ["muvm is not installed: x86 programs cannot run on 16384-byte pages"]
    assert [e.entry.name for e in kernel_misc.entries] == [
        "fexpkg-muvm-x86_64",
        "fexpkg-muvm-x86",
        "qemu-x86_64",
    ]
    report = actions.teardown(root, live=True, env=env, binfmt_misc=kernel_misc)
    assert report.warnings == []
    assert [e.entry.name for e in kernel_misc.entries] == ["qemu-x86_64"]


def test_missing_binfmt_misc_is_a_warning(root, tmp_path):
    report = actions.setup(root, 4096, live=True, env={}, binfmt_misc=BinfmtMisc(tmp_path / "no"))
    assert any("binfmt_misc is not available" in w for w in report.warnings)
    assert (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").exists()
    report = actions.teardown(root, live=True, env={}, binfmt_misc=BinfmtMisc(tmp_path / "no"))
    assert any("binfmt_misc is not available" in w for w in report.warnings)
    assert not (root / "etc/binfmt.d/zz-fexpkg-FEX-x86.conf").exists()


def test_teardown_unregisters_launcher_entries(root, misc):
    actions.setup(root, 16384, live=True, env={}, binfmt_misc=BinfmtMisc(misc))
    (misc / "fexpkg-muvm-x86_64").write_text("enabled\n")
    env = {"FEXPKG_PAGE_SIZE": "16384"}
    report = actions.teardown(root, live=True, env=env, binfmt_misc=BinfmtMisc(misc))
    assert f"unregistered fexpkg-muvm-x86_64 from {misc}" in report.changes
    assert not any(c.startswith("registered") for c in report.changes)
    report = actions.teardown(
        root, live=True, env={"FEXPKG_PAGE_SIZE": "4096"}, binfmt_misc=BinfmtMisc(misc)
    )
    assert f"registered FEX-x86_64 in {misc}" in report.changes


def test_status_before_and_after_setup(root):
    (root / "usr/bin/erofsfuse").write_text("")
    before = actions.status(root, {}, HOME, page_size=4096)
    assert before.takes["x86_64"].name == "qemu-x86_64"
    assert before.takes["x86"].name == "FEX-x86"
    assert before.warnings == [  # doctor's findings, in its words
        "x86-64 programs go to qemu-x86_64 (/usr/bin/qemu-x86_64-static), not FEX: "
        "/usr/lib/binfmt.d/qemu-x86_64-static.conf shadows FEX",
        "no RootFS configured: FEX cannot run x86 programs",
    ]
    actions.setup(root, 4096, env={})
    after = actions.status(root, {}, HOME, page_size=4096)
    assert after.takes["x86_64"].source == "/etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"
    assert [h.name for h in after.handlers] == ["qemu-x86_64", "FEX-x86", "FEX-x86_64"]
    assert after.rootfs.path == "/usr/share/fex-emu/RootFS/default.erofs" and after.rootfs.exists
    assert after.warnings == []
    assert after.live is None


def test_setup_writes_a_rootfs_no_user_directory_shadows(root):
    """FEX looks a bare name up in the user's directories after the global one: the last wins."""
    (root / "usr/bin/erofsfuse").write_text("")
    actions.setup(root, 4096, env={})
    for shadow in ("home/u/.local/share/fex-emu/RootFS", "home/u/.config/fex-emu/RootFS"):
        (root / shadow).mkdir(parents=True)
        (root / shadow / "default.erofs").write_text("not the packaged image")
    st = actions.status(root, {}, HOME, page_size=4096)
    assert (st.rootfs.value, st.rootfs.path) == (
        "/usr/share/fex-emu/RootFS/default.erofs",
        "/usr/share/fex-emu/RootFS/default.erofs",
    )
    assert st.warnings == []


def test_status_reports_an_empty_fex_rootfs(root):
    (root / "usr/bin/erofsfuse").write_text("")
    actions.setup(root, 4096, env={})
    st = actions.status(root, {"FEX_ROOTFS": ""}, HOME, page_size=4096)
    assert st.warnings == [
        "FEX_ROOTFS sets an empty RootFS: FEX cannot run x86 programs",
        "FEX_ROOTFS= is set: it overrides the global RootFS",
    ]


def test_status_warnings_for_overrides_and_erofsfuse(root):
    actions.setup(root, 4096, env={})
    (root / "home/u/.fex-emu").mkdir(parents=True)
    (root / "home/u/.fex-emu/Config.json").write_text('{"Config": {"RootFS": "default.erofs"}}')
    assert actions.status(root, {}, HOME, page_size=4096).warnings == [
        "erofs-fuse is not installed: FEX cannot mount the RootFS "
        "/usr/share/fex-emu/RootFS/default.erofs",
        "/home/u/.fex-emu/Config.json sets RootFS 'default.erofs': it overrides the global RootFS",
    ]


def test_status_muvm(root):
    actions.setup(root, 16384, env={})
    st = actions.status(root, {"FEX_ROOTFS": "/x"}, HOME, page_size=16384)
    assert st.takes["x86"].interpreter == "/usr/libexec/fexpkg/fex-muvm"
    text = "\n".join(st.warnings)
    assert "muvm is not installed" in text
    assert "FEX_ROOTFS" not in text  # the launcher keeps it out of the microVM
    data = st.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert sorted(data) == sorted(
        [
            "root",
            "page_size",
            "page_size_source",
            "mode",
            "fex_installed",
            "handlers",
            "live",
            "takes",
            "rootfs",
            "warnings",
        ]
    )


def test_status_on_host_reads_live_entries(misc):
    (misc / "FEX-x86_64").write_text(
        "enabled\ninterpreter /usr/bin/FEX\nflags: POCF\noffset 0\n"
        "magic 7f454c4602010100000000000000000002003e00\n"
        "mask fffffffffffefe00000000fffffffffffeffffff\n"
    )
    st = actions.status(Path("/"), {}, HOME, binfmt_misc=BinfmtMisc(misc))
    assert [h.name for h in st.live] == ["FEX-x86_64"]
    assert st.takes["x86_64"].source == "binfmt_misc"


def cli(*argv):
    parser = argparse.ArgumentParser(prog="fexpkg")
    cli_root.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_setup_status_teardown(root, capsys, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.delenv("FEXPKG_PAGE_SIZE", raising=False)
    assert cli("setup", "--root", str(root), "--page-size", "4096") == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"setup {root}: 5 changes, 0 warnings\n")
    assert "page size 4096 (set explicitly): native mode" in caplog.text
    assert "zz-fexpkg-FEX-x86_64.conf" in caplog.text
    assert cli("status", "--root", str(root), "--page-size", "4096") == 0
    out = capsys.readouterr().out
    assert "x86_64 programs: FEX-x86_64 (/usr/bin/FEXInterpreter POCF" in out
    assert cli("status", "--root", str(root), "--json") == 0
    assert json.loads(capsys.readouterr().out)["page_size"] == 4096
    assert cli("teardown", "--root", str(root), "--no-live") == 0
    assert capsys.readouterr() == ("", f"teardown {root}: 5 changes, 0 warnings\n")
    assert not (root / "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf").exists()


def test_teardown_does_not_reregister_a_user_masked_fex(root, misc):
    actions.setup(root, 4096, env={})
    actions.teardown(root, env={})
    (root / "etc/binfmt.d").mkdir(parents=True)  # teardown removed the etc/ setup created
    (root / "etc/binfmt.d/FEX-x86.conf").symlink_to("/dev/null")
    env = {"FEXPKG_PAGE_SIZE": "4096"}
    report = actions.teardown(root, live=True, env=env, binfmt_misc=BinfmtMisc(misc))
    assert [c for c in report.changes if c.startswith("registered")] == [
        f"registered FEX-x86_64 in {misc}"
    ]


def test_missing_root_is_a_clear_error(tmp_path):
    for call in (actions.setup, actions.teardown, actions.status):
        with pytest.raises(FexpkgError, match="is not a directory"):
            call(tmp_path / "nope")


# -- setup then teardown leaves the root exactly as it was -------------------------------------


def package_only_root(tmp_path):
    """Only what the fex-emu package installs: binaries and binfmt.d files (no etc/, no var/)."""
    root = tmp_path / "package-only"
    (root / "usr/bin").mkdir(parents=True)
    for name in ("FEX", "FEXInterpreter"):
        (root / "usr/bin" / name).write_bytes(b"\x7fELF stand-in")
        (root / "usr/bin" / name).chmod(0o755)
    (root / "usr/lib/binfmt.d").mkdir(parents=True)
    for arch in ("x86", "x86_64"):
        shutil.copy(FIXTURE / f"usr/lib/binfmt.d/FEX-{arch}.conf", root / "usr/lib/binfmt.d")
    return root


@pytest.mark.parametrize("sizes", [[4096], [16384], [4096, 16384]], ids=str)
@pytest.mark.parametrize("kind", ["package-only", "fixture"])
def test_setup_then_teardown_leaves_the_root_as_it_was(tmp_path, root, kind, sizes):
    root = package_only_root(tmp_path) if kind == "package-only" else root
    before = snapshot(root)
    for size in sizes:
        report = actions.setup(root, size, live=False, env={})
        assert report.changes and report.mode is (Mode.NATIVE if size == 4096 else Mode.MUVM)
        assert snapshot(root) != before
    report = actions.teardown(root, live=False, env={})
    assert report.warnings == [] and report.changes
    assert snapshot(root) == before


def test_teardown_keeps_a_created_directory_someone_else_filled(root):
    before = snapshot(root)
    actions.setup(root, 4096, live=False, env={})
    (root / "etc/binfmt.d/mine.conf").write_text(":mine:M::x::/usr/bin/mine:\n")
    report = actions.teardown(root, live=False, env={})
    assert report.warnings == []
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith("etc")} == before
    assert sorted(k for k in after if k.startswith("etc")) == [
        "etc",
        "etc/binfmt.d",
        "etc/binfmt.d/mine.conf",
    ]
    assert (root / "etc/binfmt.d/mine.conf").read_text() == ":mine:M::x::/usr/bin/mine:\n"
    assert not (root / "var").exists()


def test_failed_undo_keeps_the_manifest_until_it_can_finish(root):
    before = snapshot(root)
    actions.setup(root, 16384, live=False, env={})
    launcher = root / "usr/libexec/fexpkg/fex-muvm"
    launcher.write_text("#!/bin/sh\n# edited by the admin\n")
    report = actions.teardown(root, live=False, env={})
    assert len(report.warnings) == 1 and "fex-muvm was changed" in report.warnings[0]
    assert launcher.read_text() == "#!/bin/sh\n# edited by the admin\n"
    items = json.loads((root / MANIFEST).read_text())["items"]
    assert [i["path"] for i in items] == ["usr/libexec/fexpkg/fex-muvm"]
    assert not (root / "etc").exists()  # everything else was undone
    launcher.unlink()  # the admin gives up on it: nothing left to undo
    report = actions.teardown(root, live=False, env={})
    assert report.warnings == []
    assert snapshot(root) == before
