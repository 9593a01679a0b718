"""The pure parts of fexpkg.packaging.spin: package-set diffs, problems, report, ks/Kiwi text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from fexpkg import cli
from fexpkg.packaging import spin
from fexpkg.packaging.spin import Resolution, SpinCheck

CHECKOUT = Path(__file__).resolve().parents[2]
WITHOUT = "kde-desktop-environment"
WITH = "kde-desktop-environment + fex-x86-emulation"


def test_added_is_the_sorted_difference() -> None:
    assert spin.added({"busybox", "kernel"}, {"kernel", "fex-emu", "busybox", "erofs-fuse"}) == [
        "erofs-fuse",
        "fex-emu",
    ]
    assert spin.added({"a"}, {"a"}) == []
    assert spin.added({"busybox", "kernel"}, {"kernel"}) == []


def test_merge_problems_prefixes_labels_and_drops_repeats() -> None:
    without = Resolution(WITHOUT, problems=("nothing provides x needed by y",))
    with_option = Resolution(WITH, problems=("nothing provides x needed by y", "conflict z"))
    extra = ("group g: packagereq p (default) is offered by no repository for aarch64",) * 2
    assert spin.merge_problems([without, with_option], extra) == [
        extra[0],
        f"{WITHOUT}: nothing provides x needed by y",
        f"{WITH}: conflict z",
    ]
    check = SpinCheck(without, with_option, extra)
    assert not check.ok and len(check.problems) == 3


def test_one_line_collapses_dnf_messages() -> None:
    assert spin.one_line(" Problem: conflicting requests\n  - nothing provides a\n") == (
        "Problem: conflicting requests - nothing provides a"
    )


def test_report_lists_what_the_option_adds_with_counts() -> None:
    check = SpinCheck(
        Resolution(WITHOUT, frozenset({"busybox", "kernel"})),
        Resolution(WITH, frozenset({"busybox", "kernel", "fex-emu", "erofs-fuse"})),
    )
    assert check.ok
    assert check.added == ["erofs-fuse", "fex-emu"]
    assert spin.report(check) == (
        "kde-desktop-environment (aarch64): 2 packages\n"
        "kde-desktop-environment + fex-x86-emulation (aarch64): 4 packages\n"
        "fex-x86-emulation adds 2 packages:\n"
        "erofs-fuse\n"
        "fex-emu\n"
    )
    one = SpinCheck(Resolution(WITHOUT, frozenset()), Resolution(WITH, frozenset({"a"})))
    assert "fex-x86-emulation adds 1 package:\na\n" in spin.report(one)


def test_kickstart_selects_environment_and_option() -> None:
    text = spin.render_kickstart()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["%packages", "@^kde-desktop-environment", "@fex-x86-emulation", "%end"]
    assert text.endswith("%end\n")


def test_kickstart_parses_with_pykickstart_as_the_environment_and_the_whole_group() -> None:
    """Anaconda's own parser, at the spin's release: `@group` means mandatory and default
    packages (DNF adds the conditional ones), the same set `spin check` resolves."""
    from pykickstart.constants import GROUP_DEFAULT
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion, stringToVersion

    handler = makeVersion(stringToVersion(f"F{spin.RELEASEVER}"))
    KickstartParser(handler).readKickstartFromString(spin.render_kickstart())
    packages = handler.packages
    assert packages.environment == "kde-desktop-environment"
    assert [(g.name, g.include) for g in packages.groupList] == [
        ("fex-x86-emulation", GROUP_DEFAULT)
    ]
    assert (packages.packageList, packages.excludeWeakdeps, packages.nocore) == ([], False, False)


def test_kiwi_fragment_names_one_collection_per_group() -> None:
    text = spin.render_kiwi()
    root = etree.fromstring(text.encode())
    # Kiwi's default, onlyRequired, would take only the group's mandatory packages
    assert root.tag == "packages"
    assert root.attrib == {"type": "image", "patternType": "plusRecommended"}
    assert [dict(e.attrib) for e in root.iterchildren("namedCollection")] == [
        {"name": "kde-desktop-environment"},
        {"name": "fex-x86-emulation", "arch": "aarch64"},
    ]


def test_write_outputs_is_atomic_and_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "spin"
    first = spin.write_outputs(out)
    assert [p.name for p in first] == ["fex-kde-aarch64.ks", "fex-kde-aarch64.kiwi.xml"]
    data = {p: p.read_bytes() for p in first}
    assert spin.write_outputs(out) == first
    assert {p: p.read_bytes() for p in first} == data
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in first)  # no temp left


def test_committed_fragments_are_current() -> None:
    committed = CHECKOUT / "comps" / "spin"
    assert (committed / spin.KICKSTART_NAME).read_text() == spin.render_kickstart()
    assert (committed / spin.KIWI_NAME).read_text() == spin.render_kiwi()


def test_check_needs_a_repository() -> None:
    with pytest.raises(spin.SpinError, match="no repository given"):
        spin.check([])


def test_library_does_not_import_dnf() -> None:
    code = "import sys, fexpkg.packaging.spin, fexpkg.cli; print('dnf' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_cli_prints_one_line_per_problem_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = SpinCheck(
        Resolution(WITHOUT, frozenset({"busybox"})),
        Resolution(WITH, problems=("nothing provides a needed by b",)),
        ("group g: packagereq p (default) is offered by no repository for aarch64",),
    )
    monkeypatch.setattr(spin, "check", lambda repos: failed)
    out = tmp_path / "out"
    assert cli.main(["spin", "check", "--repo", str(tmp_path), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "fexpkg: error: group g: packagereq p (default) is offered by no repository for aarch64\n"
        f"fexpkg: error: {WITH}: nothing provides a needed by b\n"
    )
    assert not out.exists()


def test_cli_requires_a_repo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["spin", "check"])
    assert exc.value.code == 2
    assert "--repo" in capsys.readouterr().err


def test_check_rejects_a_directory_that_is_no_repository(tmp_path: Path) -> None:
    with pytest.raises(spin.SpinError, match=r"is not an rpm-md repository \(no repodata/"):
        spin.check([tmp_path])
