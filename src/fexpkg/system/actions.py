"""setup(), teardown() and status(): what the CLI, DNF 4, DNF 5 actions and rpm scriptlets run."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fexpkg.confined import Root
from fexpkg.errors import BinfmtError, ConfigError, FexpkgError
from fexpkg.system.apply import Result, apply_plan, undo_all
from fexpkg.system.binfmt import (
    AppliedEntry,
    BinfmtEntry,
    BinfmtMisc,
    LiveEntry,
    effective_handlers,
    elf_header,
    handler_for,
)
from fexpkg.system.fexconfig import RootFSInEffect, RootFSOrigin, resolve_rootfs
from fexpkg.system.plan import (
    ARCHES,
    LAUNCHER,
    MUVM_NAME,
    PACKAGE_BINFMT,
    fex_installed,
    make_plan,
    muvm_warnings,
)
from fexpkg.system.target import Mode, PageSize, Target, is_host, page_size_of

log = logging.getLogger(__name__)

EROFSFUSE = "usr/bin/erofsfuse"
FEX_INTERPRETERS = ("/usr/bin/FEX", "/usr/bin/FEXInterpreter", "/" + LAUNCHER)


@dataclass
class Report:
    """What setup or teardown did to a root."""

    root: Path
    page_size: int | None = None
    page_size_source: str = ""
    mode: Mode | None = None
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.changes.extend(result.changes)
        self.warnings.extend(result.warnings)

    def log(self, logger: logging.Logger | logging.LoggerAdapter = log) -> None:
        """Report notes and changes at INFO, warnings at WARNING, through `logger`."""
        for line in (*self.notes, *self.changes):
            logger.info("%s", line)
        for warning in self.warnings:
            logger.warning("%s", warning)


def _checked(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise FexpkgError(f"root {root} is not a directory: pass an existing root with --root")
    return root


def _live(root: Path, live: bool | None) -> bool:
    return is_host(root) if live is None else live


def _reregister(misc: BinfmtMisc, entries: Iterable[BinfmtEntry], report: Report) -> None:
    """Register entries so they are the most recent (a registered name is removed first)."""
    for entry in entries:
        misc.unregister(entry.name)
        misc.register(entry)
        report.changes.append(f"registered {entry.name} in {misc.path}")


def _unregister(misc: BinfmtMisc, names: Iterable[str], report: Report) -> None:
    for name in names:
        if misc.unregister(name):
            report.changes.append(f"unregistered {name} from {misc.path}")


def setup(
    root: Path,
    page_size: int | str | None = None,
    *,
    live: bool | None = None,
    env: Mapping[str, str] = os.environ,
    kernel_packages: Iterable[str] = (),
    binfmt_misc: BinfmtMisc | None = None,
) -> Report:
    """Configure FEX in `root` for its page size; on the host, also register binfmt_misc live."""
    root = _checked(root)
    report = Report(root)
    if not fex_installed(Root(root)):
        report.notes.append(f"fex-emu is not installed in {root}: nothing to set up")
        return report
    size = page_size_of(root, page_size, env, kernel_packages)
    target = Target(root, size.value)
    report.page_size, report.page_size_source, report.mode = size.value, size.source, target.mode
    report.notes.append(f"page size {size.value} ({size.source}): {target.mode.value} mode")
    plan = make_plan(target, env)
    report.warnings.extend(plan.warnings)
    report.add(apply_plan(plan))
    if _live(root, live):
        try:
            misc = binfmt_misc or BinfmtMisc()
            _unregister(misc, plan.unregister, report)
            _reregister(misc, plan.register, report)
        except BinfmtError as exc:
            report.warnings.append(f"{exc}; the files apply at next boot")
    return report


def _boot_order(root: Root, registered: Iterable[str]) -> list[BinfmtEntry]:
    """FEX's package entries and the registered x86 ones, in the order systemd-binfmt applies them.

    Registered again in this order, they leave the live handlers as the next boot makes them:
    a qemu or box64 entry whose file sorts after FEX's takes its programs back.
    """
    package = {PACKAGE_BINFMT.format(arch=arch) for arch in ARCHES}
    headers = [elf_header(arch) for arch in ARCHES]
    return [
        a.entry
        for a in effective_handlers(root)
        if a.relpath in package
        or (a.entry.name in registered and any(a.entry.matches(h) for h in headers))
    ]


def teardown(
    root: Path,
    *,
    live: bool | None = None,
    env: Mapping[str, str] = os.environ,
    binfmt_misc: BinfmtMisc | None = None,
) -> Report:
    """Undo what setup wrote; on the host, unregister fexpkg's live entries and, in native
    mode, register FEX's and the competing entries after it again in boot order."""
    root = _checked(root)
    report = Report(root)
    report.add(undo_all(Root(root)))
    if _live(root, live):
        try:
            misc = binfmt_misc or BinfmtMisc()
            _unregister(misc, [MUVM_NAME.format(arch=a) for a in ARCHES], report)
            size = page_size_of(root, None, env)
            if Target(root, size.value).mode is Mode.NATIVE:
                _reregister(misc, _boot_order(Root(root), misc.registered()), report)
        except BinfmtError as exc:
            report.warnings.append(f"{exc}; reboot to apply the binfmt.d files")
    return report


# -- status -------------------------------------------------------------------------------------


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


def _handler_warnings(target: Target, takes: dict[str, Handler | None]) -> list[str]:
    warnings = []
    for arch, handler in takes.items():
        if handler is None:
            warnings.append(f"no binfmt_misc handler takes {arch} programs")
        elif handler.interpreter not in FEX_INTERPRETERS:
            warnings.append(
                f"{handler.name} ({handler.interpreter}, {handler.source}) takes {arch} programs "
                "instead of FEX: run `fexpkg setup`"
            )
        elif target.mode is Mode.MUVM and handler.interpreter != "/" + LAUNCHER:
            warnings.append(
                f"{handler.name} runs FEX directly on a {target.page_size}-byte-page kernel, "
                "where FEX cannot run: run `fexpkg setup`"
            )
    return warnings


def _rootfs_warnings(root: Root, rootfs: RootFSInEffect, target: Target) -> list[str]:
    if target.mode is Mode.MUVM:
        return []
    if rootfs.value is None:
        return ["no RootFS configured: FEX cannot run x86 programs; run `fexpkg setup`"]
    if not rootfs.value:
        return [f"{rootfs.source} sets an empty RootFS: FEX cannot run x86 programs"]
    warnings = []
    if rootfs.origin is not RootFSOrigin.GLOBAL_CONFIG:
        warnings.append(f"RootFS {rootfs.value!r} from {rootfs.source} overrides the global one")
    if not rootfs.exists:
        warnings.append(f"RootFS {rootfs.path} does not exist (set by {rootfs.source})")
    elif str(rootfs.path).endswith(".erofs") and not root.exists(EROFSFUSE):
        warnings.append("erofsfuse is missing: FEX cannot mount the RootFS; install erofs-fuse")
    return warnings


def status(
    root: Path,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    *,
    page_size: int | str | None = None,
    binfmt_misc: BinfmtMisc | None = None,
) -> Status:
    """Page size, handlers in effect (files and, on the host, live), RootFS, warnings."""
    root = _checked(root)
    r = Root(root)
    size = page_size_of(root, page_size, env)
    target = Target(root, size.value)
    home = Path(home or env.get("HOME") or Path.home())
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
    except ConfigError as exc:
        warnings.append(str(exc))
        rootfs = RootFSInEffect(None, None, RootFSOrigin.UNREADABLE, False)
    installed = fex_installed(r)
    if installed:
        warnings.extend(_handler_warnings(target, taken))
        warnings.extend(_rootfs_warnings(r, rootfs, target))
        if target.mode is Mode.MUVM:
            warnings.extend(muvm_warnings(r, env, home))
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
