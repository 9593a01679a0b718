"""comps_validate: each check against a bad fixture, with its exact FILE:LINE: message."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_comps import STAND_INS

from fexpkg.comps import document as comps_doc
from fexpkg.comps import validate as comps_validate
from fexpkg.comps.merge import build_repo_comps
from fexpkg.comps.repodata import repo_packages
from fexpkg.dev import checkout
from fexpkg.dev import repo as repo_build
from fexpkg.dev.comps_synth import synthetic_comps
from fexpkg.errors import CompsError
from fexpkg.packaging import specs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "comps"


def messages(name: str, **kwargs) -> list[str]:
    path = FIXTURES / name
    return [str(p).removeprefix(f"{path}:") for p in comps_validate.validate(path, **kwargs)]


@pytest.mark.parametrize("path", [checkout.FIXTURE_COMPS, checkout.PROJECT_COMPS])
def test_shipped_files_are_clean(path: Path) -> None:
    assert comps_validate.validate(path) == []


def test_rendered_and_merged_files_are_clean(tmp_path: Path) -> None:
    rendered = tmp_path / "comps-f42.xml"
    comps_doc.render(checkout.FIXTURE_COMPS, rendered)
    merged = build_repo_comps(
        tmp_path / "comps.xml", checkout.FIXTURE_COMPS, checkout.PROJECT_COMPS
    )
    assert comps_validate.validate_files([rendered, merged]) == []


def test_generated_fedora_size_file_is_clean(tmp_path: Path) -> None:
    big = tmp_path / "comps-big.xml.in"
    big.write_text(synthetic_comps(groups=80, environments=10, packagereqs=2000))
    assert comps_validate.validate(big) == []


def test_not_well_formed() -> None:
    assert messages("bad-not-well-formed.xml.in") == [
        "4: not well-formed XML: Opening and ending tag mismatch: id line 4 and ident, "
        "line 4, column 21"
    ]


def test_schema_errors_carry_lines() -> None:
    assert messages("bad-schema.xml.in") == [
        "8: schema: Extra element uservisible in interleave",
        "8: schema: Element group failed to validate content",
        "8: libcomps: WARNING: Wrong default param value 'yes' at line:8 col:20",
    ]


def test_libcomps_rejection() -> None:
    assert messages("bad-libcomps.xml.in") == [
        "11: libcomps: Element description is required at line:11 column :2 but missing"
    ]


def test_duplicate_ids() -> None:
    assert messages("bad-duplicate-ids.xml.in") == [
        "13: duplicate group id 'core' (first at line 3)",
        "31: duplicate environment id 'e1' (first at line 23)",
        "48: duplicate category id 'c1' (first at line 39)",
    ]


def test_unknown_group_references() -> None:
    assert messages("bad-unknown-group.xml.in") == [
        "18: environment 'e1' refers to unknown group 'missing-env-group'",
        "27: category 'c1' refers to unknown group 'missing-cat-group'",
    ]


def test_unknown_group_references_are_not_checked_in_fragments() -> None:
    assert messages("bad-unknown-group.xml.in", fragment=True) != []
    assert not any(
        "unknown group" in m for m in messages("bad-unknown-group.xml.in", fragment=True)
    )


def test_package_listed_twice() -> None:
    assert messages("bad-package-twice.xml.in") == [
        "11: package 'busybox' listed twice in group 'core' (first at line 10)"
    ]


def test_unknown_type() -> None:
    assert (
        "10: packagereq 'busybox' has unknown type 'bogus'; use one of mandatory, default, "
        "optional, conditional" in messages("bad-type.xml.in")
    )


def test_conditional_without_requires() -> None:
    assert "10: conditional packagereq 'muvm' has no requires attribute" in messages(
        "bad-conditional.xml.in"
    )


def test_sort_order() -> None:
    assert messages("bad-order.xml.in") == [
        "13: group 'core' is out of order: it sorts before 'kde-desktop' (comps-cleanup.xsl order)",
        "21: packagereq 'busybox' in group 'core' is out of order: it sorts before 'kernel' "
        "(comps-cleanup.xsl order)",
        "33: category 'c1' is out of order: it sorts before 'c2' (comps-cleanup.xsl order)",
        "40: groupid 'core' in category 'c1' is out of order: it sorts before 'kde-desktop' "
        "(comps-cleanup.xsl order)",
    ]


def test_plain_tags_in_source_file() -> None:
    assert "5: <name> in a .xml.in file: write <_name> so that it is translated" in messages(
        "bad-translatable.xml.in"
    )


def test_source_tags_in_rendered_file() -> None:
    assert (
        "5: <_name> in a rendered file: render the .xml.in with 'fexpkg comps render'"
        in messages("bad-untranslated.xml")
    )


def test_fragment_without_marker_needs_the_flag(tmp_path: Path) -> None:
    unmarked = tmp_path / "fex.xml.in"
    unmarked.write_text(checkout.PROJECT_COMPS.read_text().replace("<?fexpkg-comps fragment?>", ""))
    assert any("schema:" in str(p) for p in comps_validate.validate(unmarked))
    assert comps_validate.validate(unmarked, fragment=True) == []


def tiny_spec(packages: list[str], arch: str) -> str:
    """A spec whose (sub)packages are `packages`, empty, built for `arch`."""
    head = {
        "noarch": "BuildArch: noarch\n",
        specs.TARGET_ARCH: "",  # the arch repo.build_repo builds for
    }.get(arch, f"%global _target_cpu {arch}\n")  # any other arch, whatever the host
    first, *rest = packages
    text = f"{head}Name: {first}\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\n"
    text += "%description\nd\n%files\n"
    for name in rest:
        text += f"%package -n {name}\nSummary: s\n%description -n {name}\nd\n%files -n {name}\n"
    return text


def make_repo(root: Path, packages: list[tuple[str, str]]) -> Path:
    """A real rpm-md repository (rpmbuild + createrepo_c) of empty packages (name, arch)."""
    if reason := repo_build.tool_missing():
        pytest.skip(reason)
    spec_dir = root.parent / f"{root.name}.specs"
    spec_dir.mkdir(parents=True)
    for arch in sorted({a for _, a in packages}):
        names = [n for n, a in packages if a == arch]
        (spec_dir / f"{names[0]}.spec").write_text(tiny_spec(names, arch))
    return repo_build.build_repo(root, spec_dirs=[spec_dir])


def test_repo_membership(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo", [("busybox", "aarch64"), ("not-in-repo", "x86_64"), ("kernel", "noarch")]
    )
    assert repo_packages(repo, ("x86_64",)) == {"not-in-repo"}  # there, for another arch
    path = FIXTURES / "bad-repo-missing.xml.in"
    problems = comps_validate.validate_files([path], repo=repo)
    assert [str(p) for p in problems] == [
        f"{path}:12: package 'not-in-repo' of group 'core' is not in {repo} for aarch64 or noarch"
    ]


def test_repo_merged_comps_against_stand_ins(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [(n, "aarch64") for n in sorted(STAND_INS)])
    merged = build_repo_comps(
        tmp_path / "comps.xml", checkout.FIXTURE_COMPS, checkout.PROJECT_COMPS
    )
    assert comps_validate.validate_files([merged], repo=repo) == []


def test_repo_without_repodata_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CompsError, match="is .* a repository"):
        comps_validate.validate_files([checkout.FIXTURE_COMPS], repo=tmp_path)
