"""`fexpkg kiwi check`: validate Kiwi image descriptions and `<packages>` fragments with Kiwi."""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS = ("kiwi",)
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `kiwi` command and its sub-commands."""
    parser = sub.add_parser(
        "kiwi",
        help="validate Kiwi descriptions",
        description="Validate Kiwi image descriptions and <packages> fragments with the real "
        "Kiwi, without building an image. Problems print as FILE:LINE: MESSAGE.",
    )
    actions = parser.add_subparsers(dest="kiwi_command", required=True, metavar="ACTION")

    chk = actions.add_parser(
        "check",
        help="load with the real Kiwi (schema, schematron, a build type per profile); "
        "*.kiwi.xml files are <packages> fragments; one FILE:LINE: message per problem",
    )
    chk.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="default: specs/sources/*.kiwi and comps/spin/*.kiwi.xml",
    )
    chk.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from fexpkg.cli import checkout_path
    from fexpkg.packaging import kiwi  # lazily: Kiwi and its schema cost ~1 s

    files = args.files or kiwi.files_in(
        checkout_path("KIWI_DIR", "the FILEs to check"),
        checkout_path("SPIN_DIR", "the FILEs to check"),
    )
    problems = kiwi.check_files(files)
    for problem in problems:
        print(problem)
    return 1 if problems else 0
