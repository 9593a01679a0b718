"""`fexpkg comps ...` through the real command line parser."""

from __future__ import annotations

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
