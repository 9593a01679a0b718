"""The `fexpkg` command: one sub-module per command group, each with a `register()`."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import fexpkg
from fexpkg.cli import comps, kiwi, root, rootfs, spec
from fexpkg.errors import FexpkgError

log = logging.getLogger("fexpkg")

GROUPS = (root, comps, spec, kiwi, rootfs)
SUMMARY = "set up the FEX x86 emulator on Fedora AArch64"


def _is_checkout() -> bool:
    """Whether fexpkg runs from its source checkout: the RPM does not install fexpkg.dev."""
    return importlib.util.find_spec("fexpkg.dev") is not None


def _groups() -> tuple[ModuleType, ...]:
    if not _is_checkout():
        return GROUPS
    from fexpkg.dev import demo, repo_command

    return (*GROUPS, repo_command, demo)


def checkout_path(name: str, option: str) -> Path:
    """A command's default from the checkout (e.g. the project's comps); installed, ask for it."""
    if not _is_checkout():
        raise FexpkgError(f"no default outside fexpkg's source checkout: give {option}")
    from fexpkg.dev import checkout

    return getattr(checkout, name)


class _Version(argparse.Action):
    """`--version`: reads the package metadata only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"fexpkg {fexpkg.version()}")
        parser.exit()


@dataclass(frozen=True)
class Command:
    """A top-level command: its parser and the one-line summary `fexpkg --help` shows."""

    parser: argparse.ArgumentParser
    summary: str


def build_parser(groups: Sequence[ModuleType] | None = None) -> argparse.ArgumentParser:
    """Return the parser with the command groups registered (default: every group there is:
    GROUPS, and in the checkout the development commands)."""
    parser = argparse.ArgumentParser(
        prog="fexpkg",
        description="Set up the FEX x86 emulator on Fedora AArch64, and the comps, specs and "
        "repositories that ship it.",
        epilog="Each command has its manual page, fexpkg-COMMAND(1), and its --help. Errors are "
        "one line, 'fexpkg: error: MESSAGE', saying what to do.",
    )
    parser.add_argument("--version", action=_Version, help="show fexpkg's version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in groups or _groups():
        group.register(sub)
    return parser


def commands(parser: argparse.ArgumentParser) -> dict[str, Command]:
    """The top-level commands of `parser` (from build_parser) by name, in --help's order."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {a.dest: a.help or "" for a in sub._get_subactions()}
    return {name: Command(p, summaries[name]) for name, p in sub.choices.items()}


def _owner(argv: Sequence[str]) -> tuple[ModuleType, ...] | None:
    """The group of the command argv names, or None (no command, or an unknown one).

    Building only that group's parser saves start-up: `fexpkg setup` runs at every transaction
    that touches FEX. The top-level options take no value, so the command is the first word.
    """
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return next(((g,) for g in _groups() if command in g.COMMANDS), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one command; a FexpkgError becomes one line on stderr and exit 1."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_owner(argv)).parse_args(argv)
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
