"""`fexpkg comps validate | merge | render`: check, extend and render comps files.

`fexpkg spin check`: resolve the AArch64 KDE spin's package set with and without the FEX option.

The library modules (lxml, libcomps, rpm bindings) are imported when a command runs, not before.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = ("comps", "spin")
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `comps` command and its sub-commands."""
    parser = sub.add_parser(
        "comps",
        help="validate, merge and render comps files",
        description="Check comps files as fedora-comps' CI does (RelaxNG schema, libcomps, "
        "fedora-comps' rules), merge the FEX group and its place in the KDE environment into a "
        "comps file, and render a .xml.in file. Problems print as FILE:LINE: MESSAGE (or, with "
        "--format, as GitHub annotations or JSON).",
    )
    actions = parser.add_subparsers(dest="comps_command", required=True, metavar="ACTION")

    val = actions.add_parser(
        "validate",
        help="check comps files (schema, libcomps, fedora-comps "
        "rules); one FILE:LINE: message per problem; exit 1 on an error (warnings do not fail)",
    )
    val.add_argument("files", nargs="+", type=Path, metavar="FILE")
    val.add_argument(
        "--baseline",
        type=Path,
        metavar="OLD",
        help="the FILE before the change: fail only on what the change brings; what OLD "
        "already had is listed as pre-existing (one FILE only)",
    )
    val.add_argument(
        "--format",
        choices=("text", "github", "json"),
        default="text",
        help="text (FILE:LINE: message), github (workflow commands: annotations), json",
    )
    val.add_argument(
        "--repo",
        type=Path,
        metavar="DIR",
        help="also require every packagereq in this repository (aarch64/noarch)",
    )
    val.add_argument(
        "--fragment",
        action="store_true",
        help="treat the files as fragments even without the fragment marker",
    )
    val.set_defaults(func=_validate)

    mrg = actions.add_parser("merge", help="merge the FEX group and KDE option into a comps file")
    mrg.add_argument(
        "addition",
        nargs="?",
        type=Path,
        metavar="ADDITION",
        help="fragment to merge (default: the project's comps/comps-fex.xml.in)",
    )
    mrg.add_argument("--into", type=Path, required=True, metavar="FILE.xml.in")
    mrg.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the merge would change the file",
    )
    mrg.set_defaults(func=_merge)

    ren = actions.add_parser("render", help="render a .xml.in to plain comps (untranslated)")
    ren.add_argument("src", type=Path, metavar="SRC")
    ren.add_argument("-o", "--output", type=Path, required=True, metavar="DST")
    ren.set_defaults(func=_render)

    _register_spin(sub)


def _register_spin(sub: argparse._SubParsersAction) -> None:
    """Add the `spin` command (the AArch64 KDE spin's package set)."""
    parser = sub.add_parser(
        "spin",
        help="check the AArch64 KDE spin's package set",
        description="Resolve, with DNF's real depsolver and installing nothing, the packages a "
        "fresh aarch64 installation of the KDE environment gets without and with the FEX option "
        "group; print what the option adds and write the spin's kickstart and Kiwi fragments.",
    )
    actions = parser.add_subparsers(dest="spin_command", required=True, metavar="ACTION")
    chk = actions.add_parser(
        "check",
        help="resolve kde-desktop-environment for aarch64 with and without "
        "fex-x86-emulation (real DNF, nothing installed), print what the option adds, write the "
        "kickstart and Kiwi fragments; exit 1 with one line per problem",
    )
    chk.add_argument(
        "--repo",
        type=Path,
        nargs="+",
        action="extend",
        required=True,
        metavar="DIR",
        dest="repos",
        help="rpm-md repositories (with comps)",
    )
    chk.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the .ks and .kiwi.xml fragments (default: comps/spin)",
    )
    chk.set_defaults(func=_spin_check)


def _validate(args: argparse.Namespace) -> int:
    from fexpkg.comps import document as comps_doc
    from fexpkg.comps import validate as comps_validate
    from fexpkg.errors import CompsError

    if args.baseline is None:
        problems = comps_validate.validate_files(args.files, args.repo, args.fragment)
    elif len(args.files) != 1:
        raise CompsError("--baseline OLD is compared with one FILE; give one FILE")
    else:
        new = args.files[0]
        try:
            before = args.baseline.read_bytes()
        except OSError as exc:
            raise CompsError(f"cannot read {args.baseline}: {exc.strerror}") from exc
        available = comps_validate.available_packages(args.repo)
        old = comps_validate.validate_bytes(
            before,
            str(args.baseline),
            comps_doc.is_source(new),
            available,
            args.fragment,
            args.repo,
        )
        now = comps_validate.validate(new, available, args.fragment, args.repo)
        problems = comps_validate.against_baseline(old, now)
    if problems or args.format == "json":
        print(comps_validate.format_problems(problems, args.format))
    return 1 if comps_validate.failed(problems) else 0


def _merge(args: argparse.Namespace) -> int:
    from fexpkg.cli import checkout_path
    from fexpkg.comps import merge as comps_merge

    try:
        changed = comps_merge.merge(
            args.into,
            args.addition or checkout_path("PROJECT_COMPS", "the FRAGMENT to merge"),
            check=args.check,
        )
    except comps_merge.MergeWouldBreak as exc:
        for problem in exc.problems:
            print(problem)
        raise
    if args.check:
        print(f"{args.into}: {'would change' if changed else 'up to date'}")
        return 1 if changed else 0
    print(f"{args.into}: {'merged' if changed else 'already merged'}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from fexpkg.comps import document as comps_doc

    comps_doc.render(args.src, args.output)
    return 0


def _spin_check(args: argparse.Namespace) -> int:
    from fexpkg.cli import checkout_path
    from fexpkg.packaging import spin

    result = spin.check(args.repos)
    if not result.ok:
        for problem in result.problems:
            print(f"fexpkg: error: {problem}", file=sys.stderr)
        return 1
    print(spin.report(result), end="")
    for path in spin.write_outputs(args.out or checkout_path("SPIN_DIR", "--out DIR")):
        print(f"wrote {path}")
    return 0
