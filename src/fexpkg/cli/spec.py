"""`fexpkg spec lint`: rpm's parser, the project's checks and rpmlint on spec files.

The library (rpm bindings, license-expression) is imported when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS = ("spec",)
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `spec` command and its sub-commands."""
    parser = sub.add_parser(
        "spec",
        help="check spec files",
        description="Check spec files: rpm's own parser with Fedora's macros, the project's "
        "checks (SPDX License:, %changelog, ExclusiveArch:, %files paths) and rpmlint with the "
        "project's "
        "configuration. Problems print as SPEC:LINE: MESSAGE.",
    )
    actions = parser.add_subparsers(dest="spec_command", required=True, metavar="ACTION")

    lint = actions.add_parser(
        "lint",
        help="parse with rpm (project macros), run the project "
        "checks and rpmlint; one SPEC:LINE: message per problem",
    )
    lint.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    lint.set_defaults(func=_lint)


def _lint(args: argparse.Namespace) -> int:
    from fexpkg.packaging import specs

    problems = specs.lint(args.specs)
    for problem in problems:
        print(problem)
    return 1 if problems else 0
