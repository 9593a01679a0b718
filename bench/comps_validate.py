"""Benchmark: `fexpkg comps validate` as a process against `xmllint --relaxng` on one comps file:
by default one shaped like Fedora's comps-f41.xml.in (160 groups, 21 environments, about 330 KB,
with its quirks: empty descriptions, dangling references; see comps_synth), or --file (a `.xml`,
or a `.xml.in` rendered first) with no errors.

Both sides validate the same file, each a new process (what a CI job or a release engineer
runs). fexpkg runs as installed: its console script's code under the system interpreter with the
flags of Fedora's shebangs (`python3 -sP`; the checkout's venv would add a start-up cost of this
sandbox's, see timing.installed_python), from a copy of src/ compiled to bytecode, and so do the
Python floors. A third side is the same validation in-process, to tell start-up from work (its
RelaxNG schema compiled once, at the warm-up, and cached); a fourth the floor of any validator
built on Python and lxml: a process that only imports lxml.etree; a fifth the floor of any Python
validator doing xmllint's work: a process that loads libxml2 with ctypes, compiles the RelaxNG
schema, reads the file and validates it, nothing else. After one warm-up run of each, the runs
alternate (ours, xmllint, in-process, floors, ours, ...) so that all see the same load on the
machine; the script prints the median of each side, their spread, and the ratios against
xmllint: of the best runs (timeit's convention: the run least disturbed by the rest of the
machine) and, for the process, of the medians. The goal is a ratio under 2.
Run: .venv/bin/python bench/comps_validate.py [--runs N] [--file COMPS]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from timing import (
    alternate,
    compiled_src,
    describe,
    fexpkg_command,
    installed_env,
    installed_python,
    process,
)

from fexpkg.comps import document as comps_doc
from fexpkg.comps.validate import validate
from fexpkg.dev.comps_synth import synthetic_comps
from fexpkg.errors import CompsError
from fexpkg.problem import ERROR

GOAL = 2.0
LIBXML2_VALIDATE = """\
import ctypes, sys
lib, ptr = ctypes.CDLL("libxml2.so.2"), ctypes.c_void_p
for name, restype, argtypes in (
    ("xmlRelaxNGNewParserCtxt", ptr, [ctypes.c_char_p]),
    ("xmlRelaxNGParse", ptr, [ptr]),
    ("xmlReadFile", ptr, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]),
    ("xmlRelaxNGNewValidCtxt", ptr, [ptr]),
    ("xmlRelaxNGValidateDoc", ctypes.c_int, [ptr, ptr]),
):
    getattr(lib, name).restype, getattr(lib, name).argtypes = restype, argtypes
schema = lib.xmlRelaxNGParse(lib.xmlRelaxNGNewParserCtxt(sys.argv[1].encode()))
doc = lib.xmlReadFile(sys.argv[2].encode(), None, 0)
sys.exit(lib.xmlRelaxNGValidateDoc(lib.xmlRelaxNGNewValidCtxt(schema), doc))
"""
"""xmllint --relaxng's work from Python: 0 if the file (argv 2) is valid against the schema
(argv 1); a schema or file libxml2 cannot read makes the validation fail too."""


def comps_file(tmp: Path, given: Path | None) -> Path:
    """The plain comps file to validate: `given`, rendered into tmp if a `.xml.in`, or the
    synthetic Fedora-shaped one."""
    if given is None:
        given = tmp / "comps-f41.xml.in"
        given.write_text(
            synthetic_comps(groups=160, environments=21, packagereqs=3800, fedora_quirks=True)
        )
    if not given.name.endswith(".xml.in"):
        return given
    path = tmp / given.name.removesuffix(".in")
    comps_doc.render(given, path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--file", type=Path, help="a comps file (.xml or .xml.in) instead of the synthetic one"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    xmllint = shutil.which("xmllint")
    if xmllint is None:
        print("xmllint not found (apt-get install libxml2-utils)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = comps_file(Path(tmp), args.file)
        except CompsError as exc:
            print(exc, file=sys.stderr)
            return 2
        if errors := [p for p in validate(path) if p.severity == ERROR]:
            print(f"{args.file or 'generated file'} has errors: {errors[0]}", file=sys.stderr)
            return 2
        env = installed_env(compiled_src(Path(tmp)))
        schema = str(comps_doc.schema_path())
        python = installed_python()
        print(f"{path.stat().st_size // 1024} KB, fexpkg and the floors run by {' '.join(python)}")
        times = alternate(
            args.runs,
            {
                "fexpkg comps validate": process(
                    fexpkg_command("comps", "validate", str(path)), env
                ),
                "xmllint --relaxng": process([xmllint, "--noout", "--relaxng", schema, str(path)]),
                "(validate() in-process)": lambda: validate(path),
                "(python3 -sP -c 'import lxml.etree')": process(
                    [*python, "-c", "import lxml.etree"], env
                ),
                "(python3 -sP: libxml2 by ctypes)": process(
                    [*python, "-c", LIBXML2_VALIDATE, schema, str(path)], env
                ),
            },
        )
    print(describe(times))
    ours, xml, _, lxml_floor, ctypes_floor = times.values()
    best = min(ours) / min(xml)
    print(f"ratio of best runs: {best:.2f} (goal < {GOAL}) {'OK' if best < GOAL else 'OVER'}")
    print(f"ratio of medians:   {statistics.median(ours) / statistics.median(xml):.2f}")
    floor = min(lxml_floor) / min(xml)
    print(f"floor (Python + lxml import) against xmllint, best runs: {floor:.2f}")
    floor = min(ctypes_floor) / min(xml)
    print(
        "floor of a Python validator doing xmllint's work (libxml2 by ctypes) against xmllint, "
        f"best runs: {floor:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
