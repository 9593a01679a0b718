"""`fexpkg comps ...` through the real command line parser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fexpkg import cli
from fexpkg.dev import checkout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "comps"


def test_validate_clean_and_bad(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["comps", "validate", str(checkout.FIXTURE_COMPS), str(checkout.PROJECT_COMPS)])
        == 0
    )
    assert capsys.readouterr().out == ""
    bad = FIXTURES / "bad-package-twice.xml.in"
    assert cli.main(["comps", "validate", str(bad)]) == 1
    assert capsys.readouterr().out == (
        f"{bad}:11: package 'busybox' listed twice in group 'core' (first at line 10)\n"
    )


def test_merge_check_and_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "comps-f42.xml.in"
    shutil.copy(checkout.FIXTURE_COMPS, target)
    assert cli.main(["comps", "merge", "--into", str(target), "--check"]) == 1
    assert cli.main(["comps", "merge", "--into", str(target)]) == 0
    assert (
        cli.main(["comps", "merge", "--into", str(target), "--check", str(checkout.PROJECT_COMPS)])
        == 0
    )
    out = tmp_path / "comps.xml"
    assert cli.main(["comps", "render", str(target), "-o", str(out)]) == 0
    assert "<name>x86 Emulation</name>" in out.read_text()
    capsys.readouterr()


def test_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.xml.in"
    bad.write_text("<comps>\n")
    assert cli.main(["comps", "merge", "--into", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fexpkg: error: {bad}:") and err.count("\n") == 1


def test_validate_warnings_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "bad-unknown-group.xml.in"
    assert cli.main(["comps", "validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:18: warning: environment 'e1' refers to unknown group 'missing-env-group'",
        f"{path}:27: warning: category 'c1' refers to unknown group 'missing-cat-group'",
    ]


def test_validate_against_a_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = FIXTURES / "bad-unknown-group.xml.in"
    new = tmp_path / "comps.xml.in"
    new.write_text(
        old.read_text().replace(
            "<groupid>missing-cat-group</groupid>",
            "<groupid>missing-cat-group</groupid>\n      <groupid>zz-gone</groupid>",
        )
    )
    args = ["comps", "validate", "--baseline", str(old), str(new)]
    assert cli.main(args) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1] for line in out] == [
        "notice: pre-existing: environment 'e1' refers to unknown group 'missing-env-group'",
        "notice: pre-existing: category 'c1' refers to unknown group 'missing-cat-group'",
        "category 'c1' refers to unknown group 'zz-gone'",
    ]
    assert cli.main(["comps", "validate", "--baseline", str(old), str(old)]) == 0
    capsys.readouterr()


def test_validate_formats(capsys: pytest.CaptureFixture[str]) -> None:
    bad = FIXTURES / "bad-package-twice.xml.in"
    assert cli.main(["comps", "validate", "--format=github", str(bad)]) == 1
    assert capsys.readouterr().out.startswith(f"::error file={bad},line=11,title=")
    assert cli.main(["comps", "validate", "--format=json", str(checkout.PROJECT_COMPS)]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--baseline", "OLD", "A", "B"],
        ["--baseline", "/nonexistent/old.xml.in", str(checkout.PROJECT_COMPS)],
    ],
)
def test_validate_baseline_misuse_is_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["comps", "validate", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fexpkg: error: ") and err.count("\n") == 1
