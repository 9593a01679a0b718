"""comps: parsing, fedora-comps sort keys, rendering, the project's comps files."""

from __future__ import annotations

from pathlib import Path

import libcomps
import pytest

from fexpkg.comps import document as comps_doc
from fexpkg.comps.merge import build_repo_comps
from fexpkg.dev import checkout
from fexpkg.errors import CompsError

STAND_INS = {
    "fex-emu",
    "fex-emu-filesystem",
    "fex-emu-thunks",
    "fex-emu-rootfs-fedora",
    "muvm",
    "erofs-fuse",
    "qemu-user-static-x86",
    "mesa-fex-emu-overlay-i386",
    "mesa-fex-emu-overlay-x86_64",
    "kernel",
    "kernel-16k",
    "kernel-64k",
    "busybox",
    "python3-fexpkg",
    "python3-dnf-plugin-fex",
    "libdnf5-plugin-fex",
    "fex-emu-sysroot",
}


def test_fold_upper_cases_ascii_letters_only() -> None:
    assert comps_doc.fold("kde-Apps_é") == "KDE-APPS_é"


def test_packagereq_key_ranks_types_as_comps_cleanup() -> None:
    reqs = [
        ("optional", "a"),
        ("default", "b"),
        ("conditional", "c"),
        ("mandatory", "d"),
        (None, "e"),
        ("default", "A"),
    ]
    ordered = sorted(reqs, key=lambda r: comps_doc.packagereq_key(*r))
    assert ordered == [
        (None, "e"),
        ("mandatory", "d"),
        ("conditional", "c"),
        ("default", "A"),
        ("default", "b"),
        ("optional", "a"),
    ]


def test_category_key_compares_display_order_as_text() -> None:
    cats = [("5", "gnome"), ("10", "kde"), ("120", "neuro"), (None, "none")]
    assert sorted(cats, key=lambda c: comps_doc.category_key(*c)) == [
        (None, "none"),
        ("10", "kde"),
        ("120", "neuro"),
        ("5", "gnome"),
    ]


def test_fragment_marker() -> None:
    assert comps_doc.is_fragment(comps_doc.parse(checkout.PROJECT_COMPS))
    assert not comps_doc.is_fragment(comps_doc.parse(checkout.FIXTURE_COMPS))


def test_parse_not_well_formed_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml.in"
    bad.write_text("<comps>\n  <group>\n</comps>\n")
    with pytest.raises(CompsError, match=r"bad.xml.in:3: not well-formed XML: "):
        comps_doc.parse(bad)


def test_render_renames_translatable_tags_only(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "comps-f42.xml"
    comps_doc.render(checkout.FIXTURE_COMPS, out)
    src = checkout.FIXTURE_COMPS.read_text().splitlines()
    dst = out.read_text().splitlines()
    assert len(src) == len(dst)
    expected = [
        line.replace("_name>", "name>").replace("_description>", "description>") for line in src
    ]
    assert dst == expected
    assert not list(tmp_path.glob("sub/.*.tmp"))


def test_render_output_loads_in_libcomps(tmp_path: Path) -> None:
    out = tmp_path / "comps.xml"
    comps_doc.render(checkout.FIXTURE_COMPS, out)
    loaded = libcomps.Comps()
    assert loaded.fromxml_f(str(out)) == 0, loaded.get_last_errors()
    assert loaded.groups["kde-desktop"].name == "KDE"


def test_project_group_packagelist() -> None:
    group = comps_doc.parse(checkout.PROJECT_COMPS).getroot().find("group")
    assert group.findtext("id") == "fex-x86-emulation"
    assert group.findtext("_name") == "x86 Emulation"
    assert (group.findtext("default"), group.findtext("uservisible")) == ("false", "true")
    reqs = {
        r.text: (r.get("type"), r.get("requires"), r.get("arch"))
        for r in group.iterfind("packagelist/packagereq")
    }
    assert reqs == {
        "fex-emu": ("mandatory", None, "aarch64"),
        "fex-emu-rootfs-fedora": ("mandatory", None, "aarch64"),
        "muvm": ("conditional", "kernel-16k", "aarch64"),
        "erofs-fuse": ("default", None, "aarch64"),
        "fex-emu-thunks": ("default", None, "aarch64"),
        "mesa-fex-emu-overlay-i386": ("default", None, "aarch64"),
        "mesa-fex-emu-overlay-x86_64": ("default", None, "aarch64"),
        "python3-fexpkg": ("default", None, "aarch64"),
    }


def test_fixture_names_only_stand_in_packages() -> None:
    root = comps_doc.parse(checkout.FIXTURE_COMPS).getroot()
    assert {r.text for r in root.iter("packagereq")} <= STAND_INS
    assert root.find("group[id='fex-x86-emulation']") is None


def test_build_repo_comps_as_dnf_sees_it_on_aarch64(tmp_path: Path) -> None:
    out = build_repo_comps(
        tmp_path / "repo" / "comps.xml", checkout.FIXTURE_COMPS, checkout.PROJECT_COMPS
    )
    loaded = libcomps.Comps()
    assert loaded.fromxml_f(str(out)) == 0, loaded.get_last_errors()
    aarch64 = loaded.arch_filter(["aarch64"])
    fex = aarch64.groups["fex-x86-emulation"]
    assert {p.name for p in fex.packages} <= STAND_INS
    muvm = next(p for p in fex.packages if p.name == "muvm")
    assert (muvm.type, muvm.requires) == (libcomps.PACKAGE_TYPE_CONDITIONAL, "kernel-16k")
    kde = aarch64.environments["kde-desktop-environment"]
    assert "fex-x86-emulation" in [g.name for g in kde.option_ids]
    x86 = loaded.arch_filter(["x86_64"])
    assert list(x86.groups["fex-x86-emulation"].packages) == []
