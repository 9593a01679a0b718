"""`fexpkg comps validate | merge | render`: check, extend and render comps files.

`fexpkg spin check`: resolve the AArch64 KDE spin's package set with and without the FEX option.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fexpkg import comps, comps_merge, comps_validate, spin


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `comps` command and its sub-commands."""
    parser = sub.add_parser(
        "comps", help="validate, merge and render comps files", description=__doc__
    )
    actions = parser.add_subparsers(dest="comps_command", required=True, metavar="ACTION")

    val = actions.add_parser(
        "validate",
        help="check comps files (schema, libcomps, fedora-comps "
        "rules); one FILE:LINE: message per problem",
    )
    val.add_argument("files", nargs="+", type=Path, metavar="FILE")
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
        default=comps.PROJECT_COMPS,
        metavar="ADDITION",
        help=f"fragment to merge (default: {comps.PROJECT_COMPS})",
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
        description=spin.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="spin_command", required=True, metavar="ACTION")
    chk = actions.add_parser(
        "check",
        help=f"resolve {spin.ENVIRONMENT} for {spin.ARCH} with and without "
        f"{spin.OPTION} (real DNF, nothing installed), print what the option adds, write the "
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
        default=spin.DEFAULT_OUT,
        metavar="DIR",
        help="where to write the .ks and .kiwi.xml fragments (default: comps/spin)",
    )
    chk.set_defaults(func=_spin_check)


def _validate(args: argparse.Namespace) -> int:
    problems = comps_validate.validate_files(args.files, args.repo, args.fragment)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def _merge(args: argparse.Namespace) -> int:
    changed = comps_merge.merge(args.into, args.addition, check=args.check)
    if args.check:
        print(f"{args.into}: {'would change' if changed else 'up to date'}")
        return 1 if changed else 0
    print(f"{args.into}: {'merged' if changed else 'already merged'}")
    return 0


def _render(args: argparse.Namespace) -> int:
    comps.render(args.src, args.output)
    return 0


def _spin_check(args: argparse.Namespace) -> int:
    result = spin.check(args.repos)
    if not result.ok:
        for problem in result.problems:
            print(f"fexpkg: error: {problem}", file=sys.stderr)
        return 1
    print(spin.report(result), end="")
    for path in spin.write_outputs(args.out):
        print(f"wrote {path}")
    return 0
