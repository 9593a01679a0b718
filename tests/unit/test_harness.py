"""The DNF harness's reading of DNF's output (the runs themselves are tested in tests/e2e)."""

from fexpkg.dev.harness import DnfResult, snapshot

TABLE = """\
Dependencies resolved.
================================================================================
 Package                      Arch     Version              Repository     Size
================================================================================
Removing:
 fex-emu                      aarch64  2508-1.fc42          @fexpkg-test  613
Removing unused dependencies:
 fex-emu-filesystem           noarch   2508-1.fc42          @fexpkg-test    0
Removing Groups:
 x86 Emulation

Transaction Summary
================================================================================
Remove  2 Packages
"""

INSTALL = """\
Installing group/module packages:
 fex-emu                      aarch64  2508-1.fc42          fexpkg-test   613
Installing dependencies:
 fex-emu-filesystem           noarch   2508-1.fc42          fexpkg-test     0
Installing Groups:
 x86 Emulation
"""


def test_changes_reads_every_section_of_the_table():
    assert DnfResult((), 1, TABLE).changes() == [
        ("fex-emu", "out"),
        ("fex-emu-filesystem", "out"),
    ]
    assert DnfResult((), 1, INSTALL).changes() == [
        ("fex-emu", "in"),
        ("fex-emu-filesystem", "in"),
    ]


def test_a_failed_scriptlet_is_a_failure_even_with_exit_0():
    output = "warning: %post(fex-emu-2508-1.fc42.aarch64) scriptlet failed, exit status 1\n"
    assert not DnfResult(("install", "fex-emu"), 0, output).ok
    assert DnfResult(("install", "fex-emu"), 0, "Complete!\n").ok


def test_snapshot_records_files_links_and_dirs_and_skips_ignored(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/a.conf").write_text("x")
    (tmp_path / "etc/mask.conf").symlink_to("/dev/null")
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/dnf.log").write_text("noise")
    state = snapshot(tmp_path, ignore=("var/log",))
    assert state["etc/mask.conf"] == "link /dev/null"
    assert state["etc/a.conf"].startswith("file 100644 ")
    assert state["etc"].startswith("dir ")
    assert "var/log" not in state and "var/log/dnf.log" not in state
