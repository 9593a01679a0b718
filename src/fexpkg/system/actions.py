"""setup(), teardown() and status(): what the CLI, DNF 4, DNF 5 actions and rpm scriptlets run."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import BinfmtError
from fexpkg.system.apply import Result, apply_plan, undo_all
from fexpkg.system.binfmt import (
    BinfmtEntry,
    BinfmtMisc,
    effective_handlers,
    elf_header,
)
from fexpkg.system.plan import (
    ARCHES,
    MUVM_NAME,
    PACKAGE_BINFMT,
    fex_installed,
    make_plan,
)
from fexpkg.system.status import Status
from fexpkg.system.status import read as read_status
from fexpkg.system.target import Mode, Target, checked_root, is_host, page_size_of

log = logging.getLogger(__name__)


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
    root = checked_root(root)
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
    root = checked_root(root)
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


def status(
    root: Path,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    *,
    page_size: int | str | None = None,
    binfmt_misc: BinfmtMisc | None = None,
) -> Status:
    """The status model of `root`, its warnings being the findings of doctor's checks."""
    from fexpkg.system import doctor  # setup and teardown, run at every transaction, need none

    model = read_status(root, env, home, page_size=page_size, binfmt_misc=binfmt_misc)
    model.warnings += doctor.status_warnings(model, env, home)
    return model
