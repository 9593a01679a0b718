"""fexpkg.packaging.specs: project macros, rpm parse errors, project checks, `fexpkg spec lint`."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from fexpkg import cli
from fexpkg.cli import spec as spec_cli
from fexpkg.packaging import specs

CHECKOUT = Path(__file__).resolve().parents[2]
BAD = CHECKOUT / "tests" / "fixtures" / "bad-specs"
GOOD = sorted((CHECKOUT / "specs").glob("*.spec")) + sorted(
    (CHECKOUT / "tests" / "fixtures" / "specs").glob("*.spec")
)


def rpmlint_missing() -> bool:
    try:
        specs.find_rpmlint()
    except specs.SpecError:
        return True
    return False


needs_rpmlint = pytest.mark.skipif(rpmlint_missing(), reason="rpmlint missing")

BAD_MESSAGES = {
    "bad-parse.spec": ["9: rpm: Unknown tag: Frobnicate:     yes"],
    "bad-license.spec": [
        "6: License 'MIT-ish or GPLv2+' is not a valid SPDX expression: "
        "Unknown license key(s): MIT-ish, GPLv2+"
    ],
    "bad-exclusivearch.spec": [
        "2: package bad-exclusivearch is arch-specific but the spec has "
        "no ExclusiveArch: add ExclusiveArch: aarch64 or BuildArch: noarch"
    ],
    "bad-owned-dir.spec": [
        "23: /usr/share/fex-emu/overlays is owned by fex-emu-filesystem: "
        "Require fex-emu-filesystem instead of owning it"
    ],
    "bad-image-path.spec": [
        "23: /usr/share/fex-emu/rootfs/bad.erofs is outside "
        "/usr/share/fex-emu/RootFS and /usr/share/fex-emu/overlays, the "
        "image directories fex-emu-filesystem owns"
    ],
    "bad-config.spec": ["23: /etc/bad.conf is under /etc but not %config(noreplace)"],
    "bad-changelog.spec": ["23: no %changelog section (or %autochangelog)"],
}


def test_every_bad_spec_has_an_expected_message() -> None:
    assert sorted(p.name for p in BAD.glob("*.spec")) == sorted(BAD_MESSAGES)


@needs_rpmlint
@pytest.mark.parametrize("name", sorted(BAD_MESSAGES))
def test_bad_spec_gives_exactly_its_message(name: str) -> None:
    path = BAD / name
    assert [str(p) for p in specs.lint([path])] == [f"{path}:{m}" for m in BAD_MESSAGES[name]]


@needs_rpmlint
def test_project_and_stand_in_specs_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    spec_cli.register(parser.add_subparsers())
    args = parser.parse_args(["spec", "lint", *map(str, GOOD)])
    assert args.func(args) == 0
    assert capsys.readouterr().out == ""


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_rpmlint_beside_the_interpreter_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venv's rpmlint (2.10 from the test extra) before PATH's (Debian 12's 2.4)."""
    venv = executable(tmp_path / "venv/bin/rpmlint")
    system = executable(tmp_path / "usr/bin/rpmlint")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv/bin/python"))
    monkeypatch.setenv("PATH", str(system.parent))
    assert specs.find_rpmlint() == venv
    venv.unlink()
    assert specs.find_rpmlint() == system


def test_no_rpmlint_is_an_error_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable(tmp_path / "venv/bin/python")
    (tmp_path / "venv/bin/rpmlint").write_text("not executable\n")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv/bin/python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(specs.SpecError, match=r"^rpmlint is not installed: sudo dnf install"):
        specs.find_rpmlint()
    with pytest.raises(specs.SpecError, match="rpmlint is not installed"):
        specs.lint([BAD / "bad-config.spec"])


def test_parse_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.spec"
    bad.write_text(
        "Name: x\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\nBogus: 1\n%description\nd\n"
    )
    with pytest.raises(specs.SpecError, match=rf"^{bad}:6: Unknown tag: Bogus: 1$"):
        specs.parse(bad, tmp_path / "home")


def test_parse_error_without_line() -> None:
    assert specs.parse_error("warning: x\n") == (1, "rpm cannot parse this spec")
    assert specs.parse_error("error: line 3: Bad\n") == (3, "Bad")


def test_fedora_host_keeps_only_the_rpmdb_path_and_no_debuginfo() -> None:
    assert specs.macros_text(fedora_host=True) == (
        "%_dbpath\t\t/usr/lib/sysimage/rpm\n%debug_package\t\t%{nil}\n"
    )
    assert "%dist\t\t\t.fc42" in specs.macros_text(fedora_host=False)


def test_project_macros_are_seen_in_process(tmp_path: Path) -> None:
    import rpm

    with specs.project_macros(tmp_path):
        assert rpm.expandMacro("%{_binfmtdir} %{dist} %{_dbpath}") == (
            "/usr/lib/binfmt.d .fc42 /usr/lib/sysimage/rpm"
        )


def test_rpm_env_writes_the_macros_once(tmp_path: Path) -> None:
    env = specs.rpm_env(tmp_path)
    macros = tmp_path / ".rpmmacros"
    assert env["HOME"] == str(tmp_path)
    assert macros.read_text() == specs.macros_text()
    mtime = macros.stat().st_mtime_ns
    specs.rpm_env(tmp_path)
    assert macros.stat().st_mtime_ns == mtime


def test_filesystem_stand_in_owns_exactly_the_owned_dirs() -> None:
    lines = (CHECKOUT / "tests/fixtures/specs/fex-emu-filesystem.spec").read_text().splitlines()
    owned = {
        entry.removeprefix("%dir ")
        for _n, _p, entry in specs.files_entries(
            lines, lambda s: s.replace("%{_datadir}", "/usr/share")
        )
    }
    assert owned == set(specs.FEX_OWNED_DIRS)


@pytest.mark.parametrize(
    ("package", "entry", "expected"),
    [
        ("fex-emu-rootfs-fedora", "/usr/share/fex-emu/RootFS/default.erofs", []),
        ("fex-emu-thunks", "/usr/share/fex-emu/ThunksDB.json", []),
        (
            "x",
            "%dir /usr/share/fex-emu/",
            [
                "/usr/share/fex-emu is owned by fex-emu-filesystem: "
                "Require fex-emu-filesystem instead of owning it"
            ],
        ),
        (
            "x",
            "/usr/share/fex-emu/default.erofs",
            [
                "/usr/share/fex-emu/default.erofs is outside /usr/share/fex-emu/RootFS and "
                "/usr/share/fex-emu/overlays, the image directories fex-emu-filesystem owns"
            ],
        ),
        ("x", "%config(noreplace) /etc/dnf/plugins/fex.conf", []),
        ("x", "%dir /etc/fex", []),
        (
            "x",
            "%attr(0644,root,root) /etc/fex/a",
            ["/etc/fex/a is under /etc but not %config(noreplace)"],
        ),
    ],
)
def test_file_entry_checks(package: str, entry: str, expected: list[str]) -> None:
    assert specs.check_file_entry(package, entry) == expected


def test_files_sections_name_their_package() -> None:
    lines = [
        "Name: main",
        "%files",
        "/a",
        "%files -n other",
        "/b",
        "%files sub -f list",
        "/c",
        "%changelog",
        "- /d",
    ]
    assert specs.files_entries(lines, str) == [
        (3, "main", "/a"),
        (5, "other", "/b"),
        (7, "main-sub", "/c"),
    ]


def test_noarch_subpackage_does_not_need_exclusive_arch() -> None:
    lines = ["Name: main", "%package -n tools", "%package data"]
    problems = specs.check_exclusive_arch(Path("s.spec"), lines, str, {"main", "main-data"})
    assert [(p.line, p.message.split(" is ")[0]) for p in problems] == [(2, "package tools")]


def test_the_rpm_version_is_pyprojects_and_the_cli_reports_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]["version"]
    spec = (CHECKOUT / "specs" / "fexpkg.spec").read_text()
    assert re.search(r"^Version:\s+(\S+)$", spec, re.M)[1] == project
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert (exited.value.code, capsys.readouterr().out) == (0, f"fexpkg {project}\n")
