"""The runtime closure: `fexpkg setup | teardown | status | doctor` need only the standard library.

python3-fexpkg's file triggers and DNF 5 actions run `fexpkg setup` on systems that hold exactly
what the package requires. Each test runs the CLI in a fresh interpreter where the tooling's
optional modules cannot be imported, as on such a system.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

OPTIONAL = ("lxml", "rpm", "libcomps", "license_expression", "dnf", "libdnf5", "kiwi")
"""What the tooling commands import and python3-fexpkg does not require."""

TOOLING = (
    "fexpkg.comps.document",
    "fexpkg.comps.merge",
    "fexpkg.comps.repodata",
    "fexpkg.comps.validate",
    "fexpkg.dev.crashtest",
    "fexpkg.dev.harness",
    "fexpkg.dev.repo",
    "fexpkg.packaging.kiwi",
    "fexpkg.packaging.specs",
    "fexpkg.packaging.spin",
)
"""fexpkg's tooling library modules: a root command has no use for them."""

# Block the modules named in $BLOCK, run fexpkg's console script, then write to $REPORT the
# modules imported after start-up (those site imported before are not fexpkg's doing).
BOOTSTRAP = """
import json, os, sys
before = set(sys.modules)
blocked = set(os.environ["BLOCK"].split())

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, os.environ["SRC"])
try:
    from fexpkg.cli import main
    code = main(sys.argv[1:])
finally:
    with open(os.environ["REPORT"], "w") as report:
        json.dump({"new": sorted(set(sys.modules) - before),
                   "fexpkg": sys.modules["fexpkg"].__file__}, report)
sys.exit(code)
"""


def fexpkg(tmp_path: Path, *argv: str, block: tuple[str, ...] = OPTIONAL):
    """Run `fexpkg ARGV` with `block` unimportable: (process, modules it imported)."""
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "BLOCK": " ".join(block),
        "SRC": str(SRC),
        "REPORT": str(report),
        "HOME": str(tmp_path / "home"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *argv], capture_output=True, text=True, env=env
    )
    imported = json.loads(report.read_text())
    assert Path(imported["fexpkg"]).is_relative_to(SRC)
    return proc, set(imported["new"])


@pytest.mark.parametrize(
    "argv",
    [
        ("setup", "--page-size", "4096"),
        ("status", "--page-size", "4096"),
        ("status", "--json"),
        ("doctor", "--page-size", "4096"),
        ("teardown",),
    ],
    ids=" ".join,
)
def test_root_commands_need_only_the_standard_library(root: Path, tmp_path: Path, argv) -> None:
    if argv[0] in ("doctor", "teardown"):  # on a complete, configured root: doctor finds no fault
        (root / "usr/bin/erofsfuse").write_bytes(b"stand-in\n")
        (root / "usr/lib64/fex-emu/HostThunks").mkdir(parents=True)
        proc, _ = fexpkg(tmp_path, "setup", "--root", str(root), "--page-size", "4096")
        assert proc.returncode == 0, proc.stderr
    proc, imported = fexpkg(tmp_path, *argv, "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    outside = {
        name
        for name in imported
        if name.partition(".")[0] not in sys.stdlib_module_names
        and name.partition(".")[0] != "fexpkg"
    }
    assert outside == set()
    assert imported.isdisjoint(TOOLING)
    if argv[0] in ("setup", "teardown"):  # at every transaction that touches FEX: no checks
        assert "fexpkg.system.doctor" not in imported


@pytest.mark.parametrize(
    ("argv", "block", "package"),
    [
        (("spec", "lint", "{specs}/fex-emu.spec"), ("rpm",), "python3-rpm"),
        (
            ("spec", "lint", "{specs}/fex-emu.spec"),
            ("license_expression",),
            "python3-license-expression",
        ),
        (("comps", "validate", "{comps}/comps-f42.xml.in"), ("lxml",), "python3-lxml"),
        # libcomps loads only entries that draw a notice: this file's group has no description
        (("comps", "validate", "{comps}/bad-libcomps.xml.in"), ("libcomps",), "python3-libcomps"),
        (
            ("comps", "render", "{comps}/comps-f42.xml.in", "-o", "{tmp}/c.xml"),
            ("lxml",),
            "python3-lxml",
        ),
        (("repo", "build", "--out", "{tmp}/repo"), ("rpm",), "python3-rpm"),
        (("demo", "--work", "{tmp}/demo"), ("lxml",), "python3-lxml"),
        (("kiwi", "check", "{kiwi}/fex-sysroot.kiwi"), ("lxml",), "python3-lxml"),
        (("kiwi", "check", "{kiwi}/fex-sysroot.kiwi"), ("kiwi",), "python3-kiwi"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_tooling_names_the_package_it_misses(tmp_path: Path, argv, block, package) -> None:
    paths = {
        "specs": FIXTURES / "specs",
        "comps": FIXTURES / "comps",
        "kiwi": SRC.parent / "specs/sources",
        "tmp": tmp_path,
    }
    proc, imported = fexpkg(tmp_path, *(a.format(**paths) for a in argv), block=block)
    assert proc.returncode == 1
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("fexpkg: error: ")
    assert package in line
    assert imported.isdisjoint(block)


def test_tooling_with_everything_missing_still_says_one_line(tmp_path: Path) -> None:
    spec = str(FIXTURES / "specs/fex-emu.spec")
    proc, _ = fexpkg(tmp_path, "spec", "lint", spec)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert line.startswith("fexpkg: error: ") and "python3-" in line


def test_comps_validate_of_a_clean_file_needs_no_libcomps(tmp_path: Path) -> None:
    proc, imported = fexpkg(
        tmp_path, "comps", "validate", str(FIXTURES / "comps/comps-f42.xml.in"), block=("libcomps",)
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert "libcomps" not in imported
