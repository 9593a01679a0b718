"""A comps file shaped like Fedora's real ones (comps_synth's fedora_quirks): validate passes it,
and a merge into it passes what fedora-comps' CI runs (the sort check, xmllint with a schema)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fexpkg.comps import document as comps_doc
from fexpkg.comps import merge as comps_merge
from fexpkg.comps import validate as comps_validate
from fexpkg.dev import checkout
from fexpkg.dev.comps_synth import DANGLING, synthetic_comps
from fexpkg.errors import requires

SORT_XSL = Path(__file__).resolve().parents[1] / "fixtures" / "comps" / "comps-sort.xsl"
GROUPS = 160  # comps-f41.xml.in: 159 groups, 21 environments, 326 KB


@pytest.fixture(scope="module")
def fedora_text() -> str:
    return synthetic_comps(groups=GROUPS, environments=21, packagereqs=3800, fedora_quirks=True)


@pytest.fixture
def fedora(tmp_path: Path, fedora_text: str) -> Path:
    path = tmp_path / "comps-f41.xml.in"
    path.write_text(fedora_text)
    return path


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install libxml2-utils xsltproc)")
    return path


def sorted_by_cleanup(path: Path) -> bytes:
    """What fedora-comps' sort check would make of the file (comps-sort.xsl, our stand-in)."""
    cmd = [tool("xsltproc"), "--novalid", str(SORT_XSL), str(path)]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def xmllint_relaxng(path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [tool("xmllint"), "--noout", "--relaxng", str(comps_doc.schema_path()), str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_it_is_shaped_like_fedoras(fedora_text: str) -> None:
    assert 300_000 < len(fedora_text.encode()) < 360_000
    assert fedora_text.count("<_description/>") == GROUPS // 10
    assert 'arch="aarch64,x86_64"' in fedora_text
    assert '<groupid default="true">' in fedora_text


def test_validate_passes_it_with_warnings_for_fedoras_debt(fedora: Path) -> None:
    problems = comps_validate.validate(fedora)
    assert not comps_validate.failed(problems)
    messages = sorted({p.message for p in problems})
    assert messages == sorted(
        {"libcomps: empty <description>: DNF shows no description (comps.rng allows it)"}
        | {f"category 'category-00' refers to unknown group '{g}'" for g in DANGLING}
        | {f"environment 'env-001-environment' refers to unknown group '{DANGLING[1]}'"}
    )
    assert len(problems) == GROUPS // 10 + 3


def test_fedoras_checks_pass_it(fedora: Path) -> None:
    assert sorted_by_cleanup(fedora) == fedora.read_bytes()
    assert xmllint_relaxng(fedora).returncode == 0


def test_the_sort_check_stand_in_does_sort() -> None:
    bad = Path(__file__).resolve().parents[1] / "fixtures" / "comps" / "bad-order.xml.in"
    assert sorted_by_cleanup(bad) != bad.read_bytes()
    assert b'<packagereq arch="aarch64" type="default">busybox' in sorted_by_cleanup(bad)


def test_merge_into_it_passes_fedoras_checks(fedora: Path, tmp_path: Path) -> None:
    before = fedora.read_bytes()
    assert comps_merge.merge(fedora, checkout.PROJECT_COMPS) is True
    after = fedora.read_bytes()
    added = len(after.splitlines()) - len(before.splitlines())
    group_lines = checkout.PROJECT_COMPS.read_text().split("  <group>", 1)[1].split("</group>")[0]
    assert added == group_lines.count("\n") + 1 + 1  # the group, and the KDE option
    assert sorted_by_cleanup(fedora) == after
    rendered = tmp_path / "comps-f41.xml"
    comps_doc.render(fedora, rendered)
    for path in (fedora, rendered):
        result = xmllint_relaxng(path)
        assert result.returncode == 0, result.stderr
    assert comps_validate.introduced(before, after, str(fedora)) == []
    with requires("python3-libcomps"):
        import libcomps
    loaded = libcomps.Comps()
    loaded.fromxml_f(str(rendered))
    group = loaded.groups["fex-x86-emulation"]
    assert len(group.packages) == group_lines.count("<packagereq")
    kde = loaded.environments["kde-desktop-environment"]
    assert "fex-x86-emulation" in [o.name for o in kde.option_ids]
