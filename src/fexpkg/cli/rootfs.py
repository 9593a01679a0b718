"""`fexpkg rootfs check`: whether a RootFS suits FEX, Steam's pressure-vessel and the thunks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COMMANDS = ("rootfs",)
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `rootfs` command and its sub-commands."""
    parser = sub.add_parser(
        "rootfs",
        help="check FEX RootFS images",
        description="Check whether a RootFS (an EroFS image or a directory tree) suits FEX, "
        "Steam's pressure-vessel and FEX's thunks.",
    )
    actions = parser.add_subparsers(dest="rootfs_command", required=True, metavar="ACTION")
    chk = actions.add_parser(
        "check",
        help="check an EroFS image or a directory tree: layout, /etc, API directories, both x86 "
        "worlds' loaders, libraries and graphics stack, ld.so.cache, special files, symlinks; "
        "exit 1 on errors",
    )
    chk.add_argument("rootfs", type=Path, metavar="IMAGE-or-DIR")
    chk.add_argument("--json", action="store_true", help="print the report as JSON")
    chk.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from fexpkg.rootfs import check as rootfs_check

    report = rootfs_check.check(args.rootfs)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for finding in report.findings:
            print(finding)
        counts = {s: sum(f.severity is s for f in report.findings) for s in rootfs_check.Severity}
        print(
            f"{args.rootfs}: {counts[rootfs_check.Severity.ERROR]} errors, "
            f"{counts[rootfs_check.Severity.WARNING]} warnings"
        )
    return 0 if report.ok else 1
