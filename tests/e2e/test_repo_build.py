"""End to end: build the whole repository with real rpmbuild and createrepo_c, once per module."""

from __future__ import annotations

import gzip
import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from fexpkg.comps import validate as comps_validate
from fexpkg.dev import checkout, repo
from fexpkg.dev.harness import snapshot
from fexpkg.packaging import specs

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(repo.tool_missing() is not None, reason=str(repo.tool_missing())),
]

FEX_BINFMT = {
    "FEX-x86.conf": rb":FEX-x86:M:0:\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    rb"\x02\x00\x03\x00:\xff\xff\xff\xff\xff\xfe\xfe\x00\x00\x00\x00\xff\xff\xff\xff\xff\xfe"
    rb"\xff\xff\xff:/usr/bin/FEXInterpreter:POCF" + b"\n",
    "FEX-x86_64.conf": rb":FEX-x86_64:M:0:\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00"
    rb"\x00\x02\x00\x3e\x00:\xff\xff\xff\xff\xff\xfe\xfe\x00\x00\x00\x00\xff\xff\xff\xff\xff\xfe"
    rb"\xff\xff\xff:/usr/bin/FEXInterpreter:POCF" + b"\n",
}
EXPECTED = {
    "aarch64": {
        "busybox",
        "erofs-fuse",
        "fex-emu",
        "fex-emu-rootfs-fedora",
        "fex-emu-sysroot",
        "fex-emu-thunks",
        "kernel",
        "kernel-16k",
        "kernel-64k",
        "muvm",
        "qemu-user-static-x86",
    },
    "noarch": {
        "fex-emu-filesystem",
        "mesa-fex-emu-overlay-i386",
        "mesa-fex-emu-overlay-x86_64",
        "python3-fexpkg",
        "python3-dnf-plugin-fex",
        "libdnf5-plugin-fex",
    },
}
COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>fex-x86-emulation</id>
    <name>x86 Emulation</name>
    <description>Run x86 programs with FEX</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">fex-emu</packagereq>
    </packagelist>
  </group>
</comps>
"""
SCRIPTLET_SPEC = """Name: scriptlet-probe
Version: 1
Release: 1
Summary: Probe that rpm scriptlets run with busybox's /bin/sh
License: MIT
BuildArch: noarch
%description
Probe.
%install
mkdir -p %{buildroot}/etc
echo probe > %{buildroot}/etc/probe
%post
mkdir -p /var/probe
cat /etc/probe > /var/probe/copy
rm -f /etc/probe.missing
%files
/etc/probe
%changelog
* Mon Sep 01 2025 fexpkg developers <fexpkg@example.org> - 1-1
- Probe
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The repository (with a comps file), its workdir and the comps file."""
    base = tmp_path_factory.mktemp("repo")
    comps = base / "comps.xml"
    comps.write_text(COMPS)
    out = repo.build_repo(base / "repo", comps_xml=comps, workdir=base / "work")
    return out, base / "work", comps


def rpm_query(rpm_file: Path, fmt: str) -> str:
    """`rpm -qp --qf FMT` of one package file."""
    return subprocess.run(
        ["rpm", "-qp", "--qf", fmt, str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout


def extract(rpm_file: Path, dest: Path) -> Path:
    """Unpack an RPM's payload under dest with rpm2cpio | cpio."""
    dest.mkdir(parents=True)
    payload = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=payload, cwd=dest, check=True)
    return dest


def test_all_packages_built_for_aarch64_and_noarch(built: tuple[Path, Path, Path]) -> None:
    """Every package of specs/ and the stand-ins above (other stand-ins may be added)."""
    out, _, _ = built
    found: dict[str, set[str]] = {"aarch64": set(), "noarch": set()}
    for rpm_file in out.glob("*.rpm"):
        name, arch = rpm_query(rpm_file, "%{NAME} %{ARCH}").split()
        found.setdefault(arch, set()).add(name)
    for arch, names in EXPECTED.items():
        assert names <= found[arch], f"missing {arch} packages: {names - found[arch]}"


def test_fex_binfmt_files_are_byte_identical(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    out, _, _ = built
    root = extract(next(out.glob("fex-emu-2*.aarch64.rpm")), tmp_path / "fex-emu")
    for name, line in FEX_BINFMT.items():
        assert (root / "usr/lib/binfmt.d" / name).read_bytes() == line


def test_fex_interpreter_stand_in_prints_its_arguments(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    out, _, _ = built
    root = extract(next(out.glob("fex-emu-2*.aarch64.rpm")), tmp_path / "fex-emu")
    proc = subprocess.run(
        [str(root / "usr/bin/FEXInterpreter"), "/usr/bin/ls", "a b"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == "FEXInterpreter stand-in: '/usr/bin/ls' 'a b'\n"


def test_rootfs_package_holds_an_erofs_image(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The RootFS package's image passes the real fsck.erofs and holds the fixture tree."""
    out, _, _ = built
    rpm_file = next(out.glob("fex-emu-rootfs-fedora-*.rpm"))
    assert "fex-emu-rootfs(fedora)" in rpm_query(rpm_file, "[%{PROVIDES}\n]").split()
    root = extract(rpm_file, tmp_path / "rootfs")
    image = root / "usr/share/fex-emu/RootFS/default.erofs"
    assert image.read_bytes()[1024:1028] == bytes.fromhex("e2e1f5e0")
    if shutil.which("fsck.erofs") is None:
        pytest.skip("fsck.erofs is missing (Debian: apt-get install erofs-utils)")
    # The real checker decodes every file; what it extracts is the tree the image was made from.
    # fsck.erofs 1.5 exits 0 on a bad superblock checksum, having printed an error: none allowed.
    tree = tmp_path / "extracted"
    fsck = subprocess.run(
        ["fsck.erofs", f"--extract={tree}", "--preserve-perms", str(image)],
        capture_output=True,
        text=True,
    )
    assert (fsck.returncode, fsck.stdout + fsck.stderr) == (0, "")
    assert snapshot(tree) == snapshot(repo.ROOTFS_TREE)


def test_fexpkg_ships_its_manual_pages_completions_and_guide(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """At Fedora's paths, generated from this checkout's parser: a page per command."""
    from fexpkg.cli import GROUPS, build_parser, commands

    out, _, _ = built
    root = extract(next(out.glob("python3-fexpkg-*.noarch.rpm")), tmp_path / "fexpkg")
    man1 = root / "usr/share/man/man1"
    pages = {p.name.split(".1")[0] for p in man1.iterdir()}
    assert pages == {"fexpkg", *(f"fexpkg-{name}" for name in commands(build_parser(GROUPS)))}
    for path in (
        "usr/share/bash-completion/completions/fexpkg",
        "usr/share/zsh/site-functions/_fexpkg",
        "usr/share/fish/vendor_completions.d/fexpkg.fish",
        "usr/share/doc/python3-fexpkg/user-guide.adoc",
    ):
        assert (root / path).stat().st_size > 0, path
    if shutil.which("groff") is None:
        pytest.skip("groff is missing (Debian: apt-get install groff-base)")
    page = next(man1.glob("fexpkg-doctor.1*"))
    text = gzip.decompress(page.read_bytes()).decode() if page.suffix == ".gz" else page.read_text()
    groff = subprocess.run(
        ["groff", "-man", "-ww", "-Tascii"], input=text, capture_output=True, text=True
    )
    assert (groff.returncode, groff.stderr) == (0, "")
    assert "fexpkg-doctor - check how x86 programs run in a root" in groff.stdout


def test_repodata_carries_the_comps_group(built: tuple[Path, Path, Path]) -> None:
    out, _, comps = built
    repomd = (out / "repodata" / "repomd.xml").read_text()
    assert '<data type="primary">' in repomd
    assert '<data type="group">' in repomd
    assert (out / "repodata" / "comps.xml").read_text() == comps.read_text()


def test_rpmlint_finds_no_errors(built: tuple[Path, Path, Path]) -> None:
    out, work, _ = built
    rpms = map(str, out.glob("*.rpm"))
    cmd = [str(specs.find_rpmlint()), "-c", str(specs.RPMLINT_CONFIG), *rpms]
    proc = subprocess.run(cmd, env=repo.rpm_env(work / "home"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 errors, 0 warnings" in proc.stdout


def test_second_build_is_fast_and_rebuilds_nothing(
    built: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    out, work, comps = built
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    caplog.set_level(logging.INFO, logger="fexpkg.dev.repo")
    start = time.monotonic()
    repo.build_repo(out, comps_xml=comps, workdir=work)
    elapsed = time.monotonic() - start
    assert [r.message for r in caplog.records if r.message.startswith("built ")] == []
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert elapsed < 2, f"no-op rebuild took {elapsed:.2f} s"


def test_scriptlets_run_with_busybox_in_an_installroot(
    built: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    out, work, _ = built
    probe_dir = tmp_path / "specs"
    probe_dir.mkdir()
    (probe_dir / "scriptlet-probe.spec").write_text(SCRIPTLET_SPEC)
    probe_repo = repo.build_repo(
        tmp_path / "probe", spec_dirs=[probe_dir], workdir=tmp_path / "probe.work"
    )
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.run(
        [
            "rpm",
            f"--root={root}",
            "-i",
            "--nosignature",
            "--ignorearch",
            *map(str, out.glob("busybox-*.rpm")),
            *map(str, probe_repo.glob("*.rpm")),
        ],
        env=repo.rpm_env(work / "home"),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "scriptlet failed" not in proc.stderr
    assert (root / "var/probe/copy").read_text() == "probe\n"
    assert (root / "usr/lib/sysimage/rpm").is_dir()


def test_project_comps_closure_against_the_built_repository(fex_repo):
    """Every packagereq of the project's group and of the merged comps exists in the repository
    built from specs/ and the stand-ins: the closure check a compose would hit late."""
    merged = fex_repo.parent / "comps.xml"
    files = [checkout.PROJECT_COMPS, merged]
    assert comps_validate.validate_files(files, repo=fex_repo) == []


def test_rootfs_spec_checks_the_image_it_packages(built: tuple[Path, Path, Path]) -> None:
    """%check runs `fexpkg rootfs check` on the packaged image, which the test RootFS passes."""
    _, work, _ = built
    log = (work / "rpmbuild/fex-emu-rootfs-fedora/rpmbuild.log").read_text()
    assert "-m fexpkg rootfs check " in log
    assert "/RootFS/default.erofs: 0 errors, 0 warnings" in log
