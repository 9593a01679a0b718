"""fexpkg.packaging.kiwi against the real Kiwi: shipped descriptions, spin fragment, broken ones."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kiwi.xml_description", reason="Kiwi is not installed (pip install kiwi)")

from fexpkg.dev import checkout  # noqa: E402
from fexpkg.errors import MissingDependency  # noqa: E402
from fexpkg.packaging import kiwi, spin  # noqa: E402

SHIPPED = kiwi.files_in(checkout.KIWI_DIR, checkout.SPIN_DIR)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kiwi"
BAD_LOCALE = FIXTURES / "bad-locale.kiwi"


def test_default_files_are_the_shipped_descriptions_and_the_spin_fragment() -> None:
    names = [p.name for p in SHIPPED]
    assert names == ["fex-rootfs.kiwi", "fex-sysroot.kiwi", spin.KIWI_NAME]
    assert [kiwi.is_fragment(p) for p in SHIPPED] == [False, False, True]


def test_every_shipped_description_and_the_spin_fragment_pass() -> None:
    assert kiwi.check_files(SHIPPED) == []


def test_the_old_rootfs_locale_fails_at_its_line() -> None:
    problems = kiwi.check_files([BAD_LOCALE])
    locale_line = next(
        n
        for n, text in enumerate(BAD_LOCALE.read_text().splitlines(), 1)
        if text.strip().startswith("<locale>")
    )
    assert [str(p) for p in problems] == [
        f"{BAD_LOCALE}:{locale_line}: Kiwi schema: Extra element locale in interleave",
        f"{BAD_LOCALE}:{locale_line}: Kiwi schema: Element preferences failed to validate content",
    ]


def test_a_description_is_checked_whatever_its_file_name(tmp_path: Path) -> None:
    config = tmp_path / "config.kiwi"
    shutil.copy(BAD_LOCALE, config)
    assert [p.path for p in kiwi.check_files([config])] == [config, config]


def test_a_profile_without_a_build_type_fails(tmp_path: Path) -> None:
    text = (checkout.KIWI_DIR / "fex-rootfs.kiwi").read_text()
    no_type = tmp_path / "no-type.kiwi"
    no_type.write_text(text.replace('<type image="erofs" erofscompression="lz4"/>', ""))
    profile_line = next(
        n for n, line in enumerate(text.splitlines(), 1) if "<profile name=" in line
    )
    assert [str(p) for p in kiwi.check_files([no_type])] == [
        f"{no_type}:{profile_line}: Kiwi, profile FEX-RootFS on x86_64: "
        "No build type defined with applied profiles: ['FEX-RootFS']"
    ]


def test_not_well_formed_description(tmp_path: Path) -> None:
    broken = tmp_path / "broken.kiwi"
    broken.write_text('<image schemaversion="7.5" name="x">\n  <preferences>\n</image>\n')
    [problem] = kiwi.check_files([broken])
    assert (problem.path, problem.line) == (broken, 3)
    assert problem.message.startswith("not well-formed XML: Opening and ending tag mismatch")


def test_the_committed_spin_fragment_is_render_kiwi_and_passes(tmp_path: Path) -> None:
    fragment = tmp_path / spin.KIWI_NAME
    fragment.write_text(spin.render_kiwi())
    assert kiwi.validate_fragment(fragment) == []


def test_a_bad_fragment_fails_at_its_own_lines(tmp_path: Path) -> None:
    fragment = tmp_path / "bad.kiwi.xml"
    fragment.write_text(
        spin.render_kiwi().replace('<namedCollection name="kde', '<namedCollection nmae="kde')
    )
    problems = kiwi.check_files([fragment])
    assert problems[:2] == [
        kiwi.Problem(fragment, 4, "Kiwi schema: Invalid sequence in interleave"),
        kiwi.Problem(
            fragment, 4, "Kiwi schema: Element namedCollection failed to validate attributes"
        ),
    ]
    assert {p.line for p in problems} <= {1, 2, 3, 4, 5, 6}


ONLY_REQUIRED = (
    "with patternType onlyRequired{profiles}, Kiwi installs no weak dependency here and, with "
    "dnf5, only the mandatory packages of {group}: python3-fexpkg, which configures FEX, the "
    'thunks and muvm would be left out; set patternType="plusRecommended" on this <packages>, as '
    "Fedora's KDE description does"
)


@pytest.mark.parametrize("group", ["fex-x86-emulation", "x86-emulation"])
def test_fex_group_in_an_only_required_section_fails_at_its_line(tmp_path: Path, group) -> None:
    fragment = tmp_path / "only-required.kiwi.xml"
    fragment.write_text(
        spin.render_kiwi()
        .replace(' patternType="plusRecommended"', "")
        .replace('"fex-x86-emulation"', f'"{group}"')
    )
    assert kiwi.check_files([fragment]) == [
        kiwi.Problem(fragment, 5, ONLY_REQUIRED.format(group=group, profiles=""))
    ]
    explicit = tmp_path / "explicit.kiwi.xml"
    explicit.write_text(spin.render_kiwi().replace('"plusRecommended"', '"onlyRequired"', 1))
    assert [p.line for p in kiwi.check_files([explicit])] == [5]


def test_the_pattern_type_of_an_earlier_section_of_the_type_counts(tmp_path: Path) -> None:
    """Kiwi takes the first patternType among the sections of a type (get_collection_type)."""
    description = tmp_path / "config.kiwi"
    body = (
        '    <packages type="image" patternType="plusRecommended">\n'
        '        <package name="kernel"/>\n'
        "    </packages>\n"
        '    <packages type="image">\n'
        '        <namedCollection name="fex-x86-emulation"/>\n'
        "    </packages>\n"
    )
    text = kiwi._WRAPPER_HEAD + body + kiwi._WRAPPER_TAIL
    description.write_text(text)
    assert kiwi.check_files([description]) == []
    description.write_text(text.replace(' patternType="plusRecommended"', ""))
    line = text.splitlines().index('        <namedCollection name="fex-x86-emulation"/>') + 1
    assert [p.line for p in kiwi.check_files([description])] == [line]


# A description split as Fedora's fedora-kiwi-descriptions is: the top file includes a part
# (`<include from="this://...">`) holding the profiles, their build types and packages.
SPLIT_TOP = """\
<?xml version="1.0" encoding="utf-8"?>
<image schemaversion="7.5" name="fexpkg-split-check">
    <description type="system">
        <author>fexpkg</author>
        <contact>fexpkg@example.org</contact>
        <specification>a description split with includes</specification>
    </description>
    <preferences>
        <version>1</version>
        <packagemanager>dnf5</packagemanager>
    </preferences>
    <repository type="rpm-md">
        <source path="https://example.org/repo"/>
    </repository>
    <include from="this://./parts/images.xml"/>
    <packages type="bootstrap">
        <package name="filesystem"/>
    </packages>
</image>
"""
SPLIT_PART = """\
<image>
    <profiles>
        <profile name="Base" description="what every image has"/>
        <profile name="Container" description="a container image">
            <requires profile="Base"/>
        </profile>
        <profile name="Tarball" description="a tarball">
            <requires profile="Base"/>
        </profile>
    </profiles>
    <preferences profiles="Container">
        <type image="oci"/>
    </preferences>
    <preferences profiles="Tarball">
        <type image="tbz"/>
    </preferences>
    <packages type="image" profiles="Base">
        <package name="kernel"/>
    </packages>
    <packages type="image" patternType="plusRecommended" profiles="Container">
        <namedCollection name="fex-x86-emulation"/>
    </packages>
    <packages type="image" patternType="plusRecommended" profiles="Tarball">
        <package name="tar"/>
    </packages>
</image>
"""


def _split(tmp_path: Path, part: str = SPLIT_PART, top: str = SPLIT_TOP) -> tuple[Path, Path]:
    (tmp_path / "parts").mkdir(parents=True)
    config = tmp_path / "config.xml"
    config.write_text(top)
    (tmp_path / "parts" / "images.xml").write_text(part)
    return config, tmp_path / "parts" / "images.xml"


def _line(text: str, fragment: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if after in line) if after else 0
    return next(n for n, line in enumerate(lines[start:], start + 1) if fragment in line)


def test_profiles_in_an_included_file_are_the_descriptions_profiles(tmp_path: Path) -> None:
    """Kiwi builds a split description by profile; the profiles are in the included part.

    Read alone, the top file has no profile and no build type: the check used to report "No
    build type defined with applied profiles: []" for Fedora's config.xml. A profile other
    profiles require (Base) is a building block: Kiwi finding no build type for it alone is fine.
    """
    config, part = _split(tmp_path)
    assert kiwi.check_files([config]) == []
    orphan = SPLIT_PART.replace(
        "    </profiles>",
        '        <profile name="Orphan" description="built by nobody"/>\n    </profiles>',
    )
    config, part = _split(tmp_path / "orphan", orphan)
    line = _line(orphan, '<profile name="Orphan"')
    assert [str(p) for p in kiwi.check_files([config])] == [
        f"{part}:{line}: Kiwi, profile Orphan on {_host()}: "
        "No build type defined with applied profiles: ['Orphan']"
    ]


def _host() -> str:
    from kiwi import defaults

    return defaults.PLATFORM_MACHINE


def test_fex_group_in_an_included_section_is_checked_per_profile(tmp_path: Path) -> None:
    """The group usually sits in an included file; each profile has its own collection type.

    Base's section sets no patternType: Container and Tarball each take theirs from their own
    section. Without one on Tarball's, Tarball installs Base's section onlyRequired, Container still
    plusRecommended (the check used to take the first patternType of any profile, and to see
    the top file only).
    """
    in_base = SPLIT_PART.replace(
        '        <package name="kernel"/>',
        '        <package name="kernel"/>\n        <namedCollection name="x86-emulation"/>',
    )
    config, part = _split(tmp_path / "both", in_base)
    assert kiwi.check_files([config]) == []
    tarball_only_required = in_base.replace(
        '<packages type="image" patternType="plusRecommended" profiles="Tarball">',
        '<packages type="image" profiles="Tarball">',
    )
    config, part = _split(tmp_path / "tarball", tarball_only_required)
    message = ONLY_REQUIRED.format(group="x86-emulation", profiles=" (profile Tarball)")
    line = _line(tarball_only_required, 'name="x86-emulation"')
    assert kiwi.check_files([config]) == [kiwi.Problem(part, line, message)]


def test_fex_group_in_the_bootstrap_phase_of_some_profiles(tmp_path: Path) -> None:
    """Sections of the build type count in the bootstrap phase too (Kiwi's get_collection_type):
    a type="oci" section with a patternType makes Container's bootstrap plusRecommended, not
    Tarball's. Fedora's live ISOs are so: their type="iso" sections make it plusRecommended."""
    top = SPLIT_TOP.replace(
        '        <package name="filesystem"/>',
        '        <package name="filesystem"/>\n        <namedCollection name="fex-x86-emulation"/>',
    )
    part = SPLIT_PART.replace(
        "</image>",
        '    <packages type="oci" patternType="plusRecommended" profiles="Container">\n'
        '        <package name="bzip2"/>\n'
        "    </packages>\n"
        "</image>",
    )
    config, _ = _split(tmp_path, part, top)
    message = ONLY_REQUIRED.format(group="fex-x86-emulation", profiles=" (profile Tarball)")
    assert kiwi.check_files([config]) == [
        kiwi.Problem(config, _line(top, "fex-x86-emulation"), message)
    ]


def test_a_schema_error_in_an_included_file_points_into_it(tmp_path: Path) -> None:
    broken = SPLIT_PART.replace('<package name="tar"/>', '<package nmae="tar"/>')
    config, part = _split(tmp_path, broken)
    problems = kiwi.check_files([config])
    assert problems[:2] == [
        kiwi.Problem(part, _line(broken, "nmae"), "Kiwi schema: Invalid sequence in interleave"),
        kiwi.Problem(
            part,
            _line(broken, "nmae"),
            "Kiwi schema: Element package failed to validate attributes",
        ),
    ]
    assert {p.path for p in problems} == {part}


def test_a_missing_or_broken_include_points_at_its_cause(tmp_path: Path) -> None:
    missing = SPLIT_TOP.replace("parts/images.xml", "parts/gone.xml")
    config, _ = _split(tmp_path / "missing", top=missing)
    assert [str(p) for p in kiwi.check_files([config])] == [
        f"{config}:{_line(missing, '<include')}: Kiwi: include reference "
        f"'{tmp_path / 'missing' / 'parts' / 'gone.xml'}' does not exist"
    ]
    config, part = _split(tmp_path / "broken", SPLIT_PART.replace("</profiles>", "</profiles"))
    [problem] = kiwi.check_files([config])
    assert (problem.path, problem.line) == (part, _line(SPLIT_PART, "<preferences"))
    assert problem.message.startswith("not well-formed XML: ")


def test_a_not_well_formed_fragment_reports_its_own_line_numbers(tmp_path: Path) -> None:
    fragment = tmp_path / "open.kiwi.xml"
    fragment.write_text('<packages type="image">\n    <package name="a">\n</packages>\n')
    assert [str(p) for p in kiwi.check_files([fragment])] == [
        f"{fragment}:3: not well-formed XML: Opening and ending tag mismatch: "
        "package line 2 and packages, line 3, column 12"
    ]


def test_kiwi_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    assert len(kiwi.check_files([BAD_LOCALE])) == 2
    assert capfd.readouterr() == ("", "")
    assert logging.getLogger("kiwi").handlers  # Kiwi's own handlers are back


def test_importing_kiwi_leaves_the_logger_class_alone() -> None:
    # `import kiwi` sets a process-wide logger class: check in a process that had not imported it.
    code = (
        "import logging, sys; from pathlib import Path; from fexpkg.packaging import kiwi; "
        "kiwi.check_files([Path(sys.argv[1])]); "
        "print(logging.getLoggerClass() is logging.Logger, 'kiwi.logger' in sys.modules)"
    )
    src = str(Path(kiwi.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": src}
    run = subprocess.run(
        [sys.executable, "-c", code, str(BAD_LOCALE)], capture_output=True, text=True, env=env
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "True True\n", "")


def test_missing_kiwi_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kiwi", None)
    with pytest.raises(MissingDependency) as info:
        kiwi.check_files([BAD_LOCALE])
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "the Python module kiwi is not installed; install it: sudo dnf install python3-kiwi"
    )


def test_cli_kiwi_check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fexpkg import cli

    assert cli.main(["kiwi", "check"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["kiwi", "check", str(BAD_LOCALE)]) == 1
    assert capsys.readouterr().out.count(f"{BAD_LOCALE}:") == 2
    monkeypatch.setitem(sys.modules, "kiwi", None)
    assert cli.main(["kiwi", "check"]) == 1
    assert capsys.readouterr().err == (
        "fexpkg: error: the Python module kiwi is not installed; "
        "install it: sudo dnf install python3-kiwi\n"
    )
