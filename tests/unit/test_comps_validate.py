"""comps_validate: each check against a bad fixture, with its exact FILE:LINE: message."""

from __future__ import annotations

import json
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
        "8: libcomps: 'yes' is not a boolean: DNF uses its default "
        "(default: false, uservisible: true)",
    ]


def test_missing_description_is_a_warning_at_its_group() -> None:
    assert messages("bad-libcomps.xml.in") == [
        "3: warning: libcomps: no <description>: DNF shows none (comps.rng allows it)"
    ]


def test_duplicate_ids() -> None:
    assert messages("bad-duplicate-ids.xml.in") == [
        "13: duplicate group id 'core' (first at line 3)",
        "31: duplicate environment id 'e1' (first at line 23)",
        "48: duplicate category id 'c1' (first at line 39)",
    ]


def test_unknown_group_references_are_warnings() -> None:
    assert messages("bad-unknown-group.xml.in") == [
        "18: warning: environment 'e1' refers to unknown group 'missing-env-group'",
        "27: warning: category 'c1' refers to unknown group 'missing-cat-group'",
    ]
    assert not comps_validate.failed(comps_validate.validate(FIXTURES / "bad-unknown-group.xml.in"))


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
        "10: packagereq 'busybox' has its attributes out of order: type, arch "
        "(comps-cleanup.xsl order: arch, type)",
        "13: group 'core' is out of order: it sorts before 'kde-desktop' (comps-cleanup.xsl order)",
        "21: packagereq 'busybox' in group 'core' is out of order: it sorts before 'kernel' "
        "(comps-cleanup.xsl order)",
        "33: category 'c1' is out of order: it sorts before 'c2' (comps-cleanup.xsl order)",
        "40: groupid 'core' in category 'c1' is out of order: it sorts before 'kde-desktop' "
        "(comps-cleanup.xsl order)",
    ]


def test_plain_tags_in_source_file() -> None:
    assert (
        "5: warning: <name> in a .xml.in file: write <_name> so that it is translated"
        in messages("bad-translatable.xml.in")
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


# -- libcomps' notices: what each means for DNF ------------------------------------------------

VALID = """<?xml version="1.0" encoding="UTF-8"?>
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <description>Core group.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="mandatory">busybox</packagereq>
    </packagelist>
  </group>
  <group>
    <id>extra</id>
    <name>Extra</name>
    <description>Extra group.</description>
    <packagelist>
      <packagereq type="default">kernel</packagereq>
    </packagelist>
  </group>
</comps>
"""

SCHEMA_ALLOWED = [
    (
        "<description>Core group.</description>",
        "<description/>",
        [
            "6: warning: libcomps: empty <description>: DNF shows no description "
            "(comps.rng allows it)"
        ],
    ),
    (
        "    <description>Core group.</description>\n",
        "",
        ["3: warning: libcomps: no <description>: DNF shows none (comps.rng allows it)"],
    ),
    (
        "<name>Core</name>",
        "<name> </name>",
        ["5: libcomps: empty <name>: DNF has no name to list, or install, the entry by"],
    ),
    (
        "<id>core</id>",
        "<id/>",
        [
            "4: libcomps: empty <id>: DNF cannot install the entry, nor find it from an "
            "environment or category"
        ],
    ),
    (
        ">busybox<",
        "><",
        ["10: libcomps: empty <packagereq>: DNF gets a package without a name"],
    ),
    (
        '      <packagereq type="mandatory">busybox</packagereq>\n',
        "",
        ["10: warning: libcomps: empty <packagelist>: the group installs nothing"],
    ),
    (
        "<default>false</default>",
        "<default>True</default>",
        [
            "7: warning: libcomps: libcomps does not read the capitalised boolean 'True' "
            "(comps.rng allows it): DNF uses its default (default: false, uservisible: true); "
            "write 'true'"
        ],
    ),
    (
        "<group>\n    <id>extra",
        '<group variant="Server">\n    <id>extra',
        ["13: warning: libcomps: variant= is read by pungi only: DNF ignores it"],
    ),
]


def write(tmp_path: Path, text: str, name: str = "comps.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("old", "new", "expected"), SCHEMA_ALLOWED)
def test_what_the_schema_allows_and_libcomps_remarks_on(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    problems = comps_validate.validate(path)
    assert [str(p).removeprefix(f"{path}:") for p in problems] == expected
    assert comps_validate.failed(problems) == any(p.severity == "error" for p in problems)


@pytest.mark.parametrize(("old", "new", "expected"), SCHEMA_ALLOWED)
def test_libcomps_on_the_entries_alone_says_what_it_says_on_the_whole_file(
    old: str, new: str, expected: list[str]
) -> None:
    """libcomps runs on the entries that draw a notice only: the same notices, the same lines."""
    text = VALID.replace(old, new, 1)
    root = comps_doc.parse_bytes(text.encode(), "c.xml").getroot()
    entries = [e.sourceline for e in root]
    subset = comps_validate._libcomps_subset(root, source=False, fragment=False)
    assert subset is not None and subset.count("<group") == 1
    whole = comps_validate._libcomps(text, "c.xml", entries)
    assert whole != [] and comps_validate._libcomps(subset, "c.xml", entries) == whole


def test_libcomps_does_not_run_on_a_file_that_draws_no_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("libcomps loaded a file the schema accepts")

    monkeypatch.setattr(comps_validate, "_libcomps", fail)
    assert comps_validate.validate(write(tmp_path, VALID)) == []
    assert comps_validate.validate(checkout.FIXTURE_COMPS) == []


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        ("'stray' found between elements at line:8 column :0\n", "text 'stray' between elements"),
        ("ERROR: <foo> found with no suitable parent at line:7 col:0\n", "<foo> where libcomps"),
        ("WARNING: Element <name> at line:6 col:7 has been already found\n", "a second <name>"),
        ("WARNING: Element <> at line:8 col:16 has been already found\n", "second <display_order>"),
        ("WARNING: Unknown elemenet 'foo' at line:7\n", "<foo> is unknown to libcomps"),
        ("WARNING: Unkonwn package type 'x' at line:7 col:1\n", "package type 'x' unknown"),
        (
            "ERROR: Parser error at line:7 col:1\n    mismatched tag\n",
            "not well-formed for libcomps",
        ),
        ("grouplist is empty at line:7 column :0\n", "empty <grouplist>"),
        (
            "WARNING: Unknown attribute 'zzz' in element 'group' at line:7 col: 0\n",
            "'zzz' of <group>",
        ),
        ("Malloc failed. Cannot continue\n", "libcomps: Malloc failed. Cannot continue"),
    ],
)
def test_every_other_notice_is_an_error(notice: str, expected: str) -> None:
    (problem,) = comps_validate._notices([notice], "c.xml", [3])
    assert problem.severity == "error" and expected in problem.message


def test_a_notice_about_an_empty_element_is_given_once(tmp_path: Path) -> None:
    """libcomps says `<id> content missing`, then `Element id is required` at the group's end."""
    text = VALID.replace("<id>core</id>", "<id/>").replace("<name>Extra</name>", "<name/>")
    messages = [p.message for p in comps_validate.validate(write(tmp_path, text))]
    assert [m.split(":")[1] for m in messages] == [" empty <id>", " empty <name>"]


# -- against a baseline, and output formats ----------------------------------------------------


def test_against_a_baseline_only_what_the_change_brings_fails(tmp_path: Path) -> None:
    old = VALID.replace("<description>Core group.</description>", "<description/>")
    new = old.replace("<name>Extra</name>", "<name>Extra</name>\n    <name>Again</name>")
    old_problems = comps_validate.validate(write(tmp_path, old, "old.xml"))
    new_problems = comps_validate.validate(write(tmp_path, new, "new.xml"))
    marked = comps_validate.against_baseline(old_problems, new_problems)
    assert [(p.line, p.severity) for p in marked] == [(6, "notice")] + [(13, "error")] * 2 + [
        (16, "error")
    ] * 3
    assert marked[0].message.startswith("pre-existing: libcomps: empty <description>")
    assert marked[-1].message == "libcomps: a second <name>: DNF reads only one"
    assert comps_validate.failed(marked)
    assert not comps_validate.failed(comps_validate.against_baseline(old_problems, old_problems))


def test_a_new_warning_is_an_error_against_a_baseline(tmp_path: Path) -> None:
    path = FIXTURES / "bad-unknown-group.xml.in"
    fixed = path.read_text().replace("missing-cat-group", "core")
    old = comps_validate.validate(write(tmp_path, fixed, "old.xml.in"))
    (new_ref,) = [
        p
        for p in comps_validate.against_baseline(old, comps_validate.validate(path))
        if p.severity == "error"
    ]
    assert new_ref.message == "category 'c1' refers to unknown group 'missing-cat-group'"


def test_pre_existing_problems_match_whatever_lines_moved() -> None:
    old = [comps_validate.Problem("a", 3, "duplicate group id 'x' (first at line 1)")]
    new = [comps_validate.Problem("b", 9, "duplicate group id 'x' (first at line 7)")] * 2
    assert [p.severity for p in comps_validate.against_baseline(old, new)] == ["notice", "error"]


def test_formats() -> None:
    problems = [
        comps_validate.Problem("d/c,1.xml", 4, "50% of: it\nbroke"),
        comps_validate.Problem("c.xml", 5, "style", "warning"),
    ]
    assert comps_validate.format_problems(problems, "text") == (
        "d/c,1.xml:4: 50% of: it\nbroke\nc.xml:5: warning: style"
    )
    assert comps_validate.format_problems(problems, "github").splitlines() == [
        "::error file=d/c%2C1.xml,line=4,title=fexpkg comps validate::50%25 of: it%0Abroke",
        "::warning file=c.xml,line=5,title=fexpkg comps validate::style",
    ]
    assert json.loads(comps_validate.format_problems(problems, "json"))[1] == {
        "path": "c.xml",
        "line": 5,
        "severity": "warning",
        "message": "style",
    }
