"""`fexpkg repo build`: build the RPM repository of specs/ and the test stand-ins.

The library (rpm bindings) is imported when the command runs, not to build the parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS = ("repo",)
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `repo` command and its sub-commands."""
    parser = sub.add_parser(
        "repo",
        help="build the RPM repository",
        description="Build an RPM repository from the project's specs/ and its test stand-ins "
        "of Fedora's FEX packages, with rpmbuild and createrepo_c.",
    )
    actions = parser.add_subparsers(dest="repo_command", required=True, metavar="ACTION")

    bld = actions.add_parser(
        "build",
        help="rpmbuild every spec for aarch64 (unchanged ones are skipped) and run createrepo_c",
    )
    bld.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="repository directory (RPMs and repodata/)",
    )
    bld.add_argument(
        "--comps",
        type=Path,
        metavar="FILE",
        help="rendered comps.xml to publish as the repository's groups",
    )
    bld.add_argument(
        "--spec-dir",
        type=Path,
        action="append",
        dest="spec_dirs",
        metavar="DIR",
        help="directory of specs to build (repeatable; default: the project's specs/ and "
        "tests/fixtures/specs/)",
    )
    bld.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="rpmbuild trees and build stamps (default: DIR.work beside --out)",
    )
    bld.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from fexpkg.dev import checkout, repo

    out = repo.build_repo(
        args.out,
        spec_dirs=args.spec_dirs or (checkout.SPECS, repo.FIXTURE_SPECS),
        comps_xml=args.comps,
        workdir=args.workdir,
    )
    print(f"repository: {out}")
    return 0
