"""libdnf5 actions files (libdnf5-actions(8)): parse, and expand for a transaction as libdnf5 does.

Used to check `dnf-plugins/fexpkg.actions` and, where DNF 5 is not installed, to run its
commands after a DNF transaction exactly as the actions plugin would.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fexpkg.errors import FexpkgError

CALLBACKS = frozenset(
    {
        "pre_base_setup",
        "post_base_setup",
        "repos_configured",
        "repos_loaded",
        "pre_add_cmdline_packages",
        "post_add_cmdline_packages",
        "goal_resolved",
        "pre_transaction",
        "post_transaction",
    }
)
PACKAGE_CALLBACKS = frozenset({"goal_resolved", "pre_transaction", "post_transaction"})
DIRECTIONS = frozenset({"", "in", "out"})
_VARIABLE = re.compile(r"\$\{(conf|pkg|var)\.([A-Za-z0-9_]+)\}")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class ActionsError(FexpkgError):
    """An actions file line that libdnf5 would reject."""


@dataclass(frozen=True)
class Action:
    """One line of an actions file."""

    path: Path
    line: int
    callback: str
    package_filter: str
    direction: str
    options: str
    command: str


@dataclass(frozen=True)
class PackageChange:
    """A package of the transaction and whether it comes `in` or goes `out`."""

    name: str
    direction: str


def parse(path: Path) -> list[Action]:
    """Parse an actions file; ActionsError names FILE:LINE for a line libdnf5 would reject."""
    actions = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 4)
        if len(parts) != 5:
            raise ActionsError(f"{path}:{number}: expected 5 colon-separated fields")
        callback, package_filter, direction, options, command = parts
        where = f"{path}:{number}"
        if callback not in CALLBACKS:
            raise ActionsError(f"{where}: unknown callback {callback!r}")
        if package_filter and callback not in PACKAGE_CALLBACKS:
            raise ActionsError(f"{where}: a package filter is only allowed for {callback!r}")
        if direction not in DIRECTIONS:
            raise ActionsError(f"{where}: direction must be 'in', 'out' or empty")
        if direction and not package_filter:
            raise ActionsError(f"{where}: a direction needs a package filter")
        if not command.strip():
            raise ActionsError(f"{where}: empty command")
        actions.append(Action(path, number, callback, package_filter, direction, options, command))
    return actions


def split_command(command: str) -> list[str]:
    """Split on unescaped spaces and unescape, as libdnf5 does after substitution."""
    args: list[str] = []
    current: list[str] = []
    chars = iter(command)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            current.append(_ESCAPES.get(nxt, nxt))
        elif char == " ":
            if current:
                args.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        args.append("".join(current))
    return args


def _substitute(command: str, conf: Mapping[str, str], pkg: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        scope, key = match.groups()
        source = {"conf": conf, "pkg": pkg, "var": conf}[scope]
        return source.get(key, "")

    return _VARIABLE.sub(value, command)


def commands(
    actions: Iterable[Action],
    callback: str,
    changes: Iterable[PackageChange],
    conf: Mapping[str, str],
) -> list[list[str]]:
    """The argument vectors libdnf5 would run for `callback`, in order, duplicates dropped."""
    changes = list(changes)
    seen: set[tuple[str, ...]] = set()
    result: list[list[str]] = []
    for action in actions:
        if action.callback != callback:
            continue
        if not action.package_filter:
            substituted = [_substitute(action.command, conf, {})]
        else:
            substituted = [
                _substitute(action.command, conf, {"name": change.name})
                for change in changes
                if fnmatch.fnmatchcase(change.name, action.package_filter)
                and action.direction in ("", change.direction)
            ]
        for text in substituted:
            argv = split_command(text)
            if tuple(argv) not in seen:
                seen.add(tuple(argv))
                result.append(argv)
    return result
