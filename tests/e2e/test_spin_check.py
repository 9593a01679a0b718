"""End to end: `fexpkg spin check` resolves the AArch64 KDE spin with real DNF depsolving."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fexpkg.cli import main
from fexpkg.dev import checkout, repo
from fexpkg.packaging import spin

pytestmark = pytest.mark.e2e

KDE_ALONE = {"busybox", "kernel"}
#: What the option adds: the group's mandatory and default packages (muvm is conditional on
#: kernel-16k, which the KDE environment does not bring) and what they require.
FEX_ADDS = [
    "erofs-fuse",
    "fex-emu",
    "fex-emu-filesystem",
    "fex-emu-rootfs-fedora",
    "fex-emu-thunks",
    "mesa-fex-emu-overlay-i386",
    "mesa-fex-emu-overlay-x86_64",
    "python3",
    "python3-dnf-plugin-fex",
    "python3-fexpkg",
]
WITH = "kde-desktop-environment + fex-x86-emulation"


def variant(fex_repo: Path, dst: Path, *, drop: str = "", comps_edit=None) -> Path:
    """A copy of the session repository, minus the RPM of `drop`, with its comps edited."""
    dst.mkdir()
    for rpm in fex_repo.glob("*.rpm"):
        if not (drop and re.fullmatch(re.escape(drop) + r"-[^-]+-[^-]+\.rpm", rpm.name)):
            shutil.copy(rpm, dst)
    assert len(list(dst.glob("*.rpm"))) == len(list(fex_repo.glob("*.rpm"))) - bool(drop)
    comps_text = (fex_repo / "repodata" / "comps.xml").read_text()
    if comps_edit:
        edited = comps_edit(comps_text)
        assert edited != comps_text
        comps_text = edited
    comps_xml = dst.parent / f"{dst.name}-comps.xml"
    comps_xml.write_text(comps_text)
    repo.createrepo(dst, comps_xml)
    return dst


def add_packagereq(group: str, name: str):
    """A comps edit adding a default packagereq `name` to `group`."""

    def edit(text: str) -> str:
        head, sep, tail = text.partition(f"<id>{group}</id>")
        assert sep
        return (
            head
            + sep
            + tail.replace(
                "<packagelist>",
                f'<packagelist>\n      <packagereq type="default">{name}</packagereq>',
                1,
            )
        )

    return edit


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["spin", "check", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_option_adds_exactly_the_fex_packages(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check = spin.check([fex_repo])
    assert check.ok, check.problems
    assert check.without.packages == KDE_ALONE
    assert check.added == FEX_ADDS
    assert check.with_option.packages == KDE_ALONE | set(FEX_ADDS)

    rc, out, err = run_cli(capsys, "--repo", str(fex_repo), "--out", str(tmp_path / "o"))
    assert (rc, err) == (0, "")
    assert out == (
        "kde-desktop-environment (aarch64): 2 packages\n"
        f"{WITH} (aarch64): {len(KDE_ALONE) + len(FEX_ADDS)} packages\n"
        f"fex-x86-emulation adds {len(FEX_ADDS)} packages:\n"
        + "".join(f"{name}\n" for name in FEX_ADDS)
        + f"wrote {tmp_path / 'o' / spin.KICKSTART_NAME}\n"
        f"wrote {tmp_path / 'o' / spin.KIWI_NAME}\n"
    )


def test_kde_alone_resolves_without_any_fex_package(fex_repo: Path) -> None:
    check = spin.check([fex_repo])
    assert check.without.ok
    assert check.without.packages == KDE_ALONE
    assert not {n for n in check.without.packages if "fex" in n}


def test_written_files_are_identical_on_a_second_run_and_committed(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "spin"
    assert run_cli(capsys, "--repo", str(fex_repo), "--out", str(out))[0] == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == sorted([spin.KICKSTART_NAME, spin.KIWI_NAME])
    assert run_cli(capsys, "--repo", str(fex_repo), "--out", str(out))[0] == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    committed = checkout.SPIN_DIR
    assert {name: (committed / name).read_bytes() for name in first} == first


def test_repository_missing_a_group_package_fails(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = variant(fex_repo, tmp_path / "repo", drop="fex-emu-thunks")
    out = tmp_path / "out"
    rc, stdout, err = run_cli(capsys, "--repo", str(broken), "--out", str(out))
    assert (rc, stdout) == (1, "")
    assert err == (
        "fexpkg: error: group fex-x86-emulation: packagereq fex-emu-thunks (default) is offered "
        "by no repository for aarch64\n"
    )
    assert not out.exists()
    # The KDE environment alone still resolves: only the option's set is affected.
    assert spin.check([broken]).without.packages == KDE_ALONE


def test_bogus_packagereq_of_the_kde_group_fails(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = variant(
        fex_repo,
        tmp_path / "repo",
        comps_edit=add_packagereq("kde-desktop", "plasma-no-such-package"),
    )
    rc, _, err = run_cli(capsys, "--repo", str(broken), "--out", str(tmp_path / "out"))
    assert rc == 1
    assert err == (
        "fexpkg: error: group kde-desktop: packagereq plasma-no-such-package (default) is offered "
        "by no repository for aarch64\n"
    )


def test_missing_dependency_is_a_solver_problem(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = variant(fex_repo, tmp_path / "repo", drop="fex-emu-filesystem")
    check = spin.check([broken])
    assert check.without.ok and check.without.packages == KDE_ALONE
    assert not check.with_option.ok
    rc, _, err = run_cli(capsys, "--repo", str(broken), "--out", str(tmp_path / "out"))
    assert rc == 1
    lines = err.splitlines()
    pattern = re.compile(
        rf"fexpkg: error: {re.escape(WITH)}: conflicting requests; nothing provides "
        r"fex-emu-filesystem needed by (\S+)-[^-]+-[^-]+\.(aarch64|noarch)"
    )
    needers = sorted(m.group(1) for m in map(pattern.fullmatch, lines) if m)
    assert len(needers) == len(lines)
    assert needers == [
        "fex-emu",
        "fex-emu-rootfs-fedora",
        "fex-emu-thunks",
        "mesa-fex-emu-overlay-i386",
        "mesa-fex-emu-overlay-x86_64",
    ]


CONFLICTING_SPEC = """\
Name: kde-fex-clash
Version: 1
Release: 1
Summary: Test stand-in: a KDE package that conflicts with fex-emu
License: MIT
BuildArch: noarch
Conflicts: fex-emu

%description
Test stand-in for a conflict between the KDE environment and the FEX option.

%files
"""


def test_conflict_with_the_option_fails(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = tmp_path / "rpmbuild"
    spec = tmp_path / "kde-fex-clash.spec"
    spec.write_text(CONFLICTING_SPEC)
    proc = subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)],
        env=repo.rpm_env(tmp_path / "home"),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    broken = variant(
        fex_repo, tmp_path / "repo", comps_edit=add_packagereq("kde-desktop", "kde-fex-clash")
    )
    shutil.copy(next(top.glob("RPMS/noarch/kde-fex-clash-*.rpm")), broken)
    repo.createrepo(broken, tmp_path / "repo-comps.xml")

    check = spin.check([broken])
    assert check.without.ok and "kde-fex-clash" in check.without.packages
    rc, _, err = run_cli(capsys, "--repo", str(broken), "--out", str(tmp_path / "out"))
    assert rc == 1
    lines = err.splitlines()
    assert lines and all(line.startswith(f"fexpkg: error: {WITH}: ") for line in lines)
    assert any("kde-fex-clash-1-1.noarch conflicts with fex-emu" in line for line in lines), err


def test_environment_naming_a_group_no_comps_has_fails(
    fex_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rename_group(text: str) -> str:
        return text.replace("<groupid>kde-desktop</groupid>", "<groupid>kde-gone</groupid>")

    broken = variant(fex_repo, tmp_path / "repo", comps_edit=rename_group)
    rc, _, err = run_cli(capsys, "--repo", str(broken), "--out", str(tmp_path / "out"))
    assert rc == 1
    assert err == "fexpkg: error: group kde-gone is in no repository's comps\n"
