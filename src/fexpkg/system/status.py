"""The status model: the page size, the handlers in effect and the RootFS in effect in a root.

`read()` builds it, reading only; what is wrong with it is judged once, by doctor's checks
(`fexpkg status` shows their findings as warnings, `fexpkg doctor` adds the fixes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import BinfmtError, ConfigError
from fexpkg.system.binfmt import (
    AppliedEntry,
    BinfmtMisc,
    LiveEntry,
    effective_handlers,
    elf_header,
    handler_for,
)
from fexpkg.system.fexconfig import RootFSInEffect, RootFSOrigin, resolve_rootfs, user_home
from fexpkg.system.plan import ARCHES, fex_installed
from fexpkg.system.target import Mode, PageSize, Target, checked_root, page_size_of

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

#: Handler.source of an entry read from the live kernel rather than a binfmt.d file.
LIVE = "binfmt_misc"


@dataclass
class Handler:
    """A binfmt_misc handler in effect: from a binfmt.d file (its path) or the kernel (LIVE)."""

    name: str
    interpreter: str
    flags: str
    source: str
    enabled: bool = True

    @property
    def live(self) -> bool:
        return self.source == LIVE

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Status:
    """How FEX is set up in a root."""

    root: Path
    size: PageSize
    mode: Mode
    installed: bool
    handlers: list[Handler]
    live: list[Handler] | None
    takes: dict[str, Handler | None]
    rootfs: RootFSInEffect
    warnings: list[str]
    cwd: Path = Path("/")  # where relative FEX paths were looked up

    @property
    def page_size(self) -> int:
        return self.size.value

    def as_dict(self) -> dict[str, Any]:
        """Stable keys for `fexpkg status --json`."""
        return {
            "root": str(self.root),
            "page_size": self.page_size,
            "page_size_source": self.size.source,
            "mode": self.mode.value,
            "fex_installed": self.installed,
            "handlers": [h.as_dict() for h in self.handlers],
            "live": None if self.live is None else [h.as_dict() for h in self.live],
            "takes": {arch: h and h.as_dict() for arch, h in self.takes.items()},
            "rootfs": self.rootfs.as_dict(),
            "warnings": list(self.warnings),
        }


def _from_file(applied: AppliedEntry) -> Handler:
    entry = applied.entry
    return Handler(entry.name, entry.interpreter, entry.flags, "/" + applied.relpath)


def _from_live(live: LiveEntry) -> Handler:
    entry = live.entry
    return Handler(entry.name, entry.interpreter, entry.flags, LIVE, live.enabled)


def _live_takes(arch: str, live: dict[str, LiveEntry], files: list[AppliedEntry]) -> Handler | None:
    """The live handler for an arch: the only enabled match, else the latest in file order."""
    header = elf_header(arch)
    matching = [e for e in live.values() if e.enabled and e.entry.matches(header)]
    if len(matching) > 1:
        order = [a.entry.name for a in files]
        matching.sort(key=lambda e: order.index(e.entry.name) if e.entry.name in order else -1)
    return _from_live(matching[-1]) if matching else None


def read(
    root: Path,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    *,
    page_size: int | str | None = None,
    binfmt_misc: BinfmtMisc | None = None,
) -> Status:
    """Page size, handlers in effect (files and, on the host, live), RootFS; errors reading them."""
    root = checked_root(root)
    r = Root(root)
    size = page_size_of(root, page_size, env)
    target = Target(root, size.value)
    home = user_home(env, home)
    cwd = Path.cwd() if target.is_host else Path("/")  # FEX looks up a relative RootFS there
    files = effective_handlers(r)
    takes = {arch: handler_for(elf_header(arch), files) for arch in ARCHES}
    taken = {arch: a and _from_file(a) for arch, a in takes.items()}
    warnings: list[str] = []
    live = None
    if target.is_host:
        try:
            registered = (binfmt_misc or BinfmtMisc()).registered()
            live = [_from_live(e) for e in registered.values()]
            taken = {arch: _live_takes(arch, registered, files) for arch in ARCHES}
        except BinfmtError as exc:
            warnings.append(str(exc))
    try:
        rootfs = resolve_rootfs(r, env, home, cwd)
    except ConfigError:  # doctor's config check names the file and the error
        rootfs = RootFSInEffect(None, None, RootFSOrigin.UNREADABLE, False)
    installed = fex_installed(r)
    return Status(
        root=root,
        size=size,
        mode=target.mode,
        installed=installed,
        handlers=[_from_file(a) for a in files],
        live=live,
        takes=taken,
        rootfs=rootfs,
        warnings=warnings,
        cwd=cwd,
    )
