"""The `fexpkg` command: one sub-module per command group, each with a `register()`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fexpkg import __version__
from fexpkg.cli import comps, demo, kiwi, repo, root, rootfs, spec
from fexpkg.errors import FexpkgError

log = logging.getLogger("fexpkg")

GROUPS = (root, repo, comps, spec, kiwi, demo, rootfs)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="fexpkg",
        description="Set up the FEX x86 emulator on Fedora AArch64, and the comps, specs and "
        "repositories that ship it.",
    )
    parser.add_argument("--version", action="version", version=f"fexpkg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command; a FexpkgError becomes one line on stderr and exit 1."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s" if not args.verbose else "%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except FexpkgError as exc:
        print(f"fexpkg: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
