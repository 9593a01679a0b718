"""What a transaction that touches FEX must also bring, and what must run around it.

Pure decisions over package names, shared by the DNF 4 plugin and tests; no DNF import here.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from fexpkg.names import FEX_GROUP_IDS, FEX_PACKAGE, MUVM_PACKAGE, NATIVE_PAGE_SIZE, WATCHED

log = logging.getLogger(__name__)

#: What FEX needs beside itself to run x86 programs out of the box, on every page size.
COMPANIONS = ("fex-emu-rootfs-fedora", "fex-emu-thunks", "erofs-fuse")
#: Every package the plugin may add beside FEX, whatever the page size.
ALL_COMPANIONS = (*COMPANIONS, MUVM_PACKAGE)


@dataclass(frozen=True)
class TransactionView:
    """The names a transaction touches, as the package manager reports them."""

    groups_installed: frozenset[str] = frozenset()
    installs: frozenset[str] = frozenset()
    removes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        groups_installed: Iterable[str] = (),
        installs: Iterable[str] = (),
        removes: Iterable[str] = (),
    ) -> TransactionView:
        """Build a view from any iterables of names."""
        return cls(frozenset(groups_installed), frozenset(installs), frozenset(removes))

    @property
    def installs_fex(self) -> bool:
        """True when the transaction installs FEX's group or FEX itself."""
        return bool(self.groups_installed & FEX_GROUP_IDS) or FEX_PACKAGE in self.installs

    @property
    def removes_fex(self) -> bool:
        """True when FEX goes away (an upgrade or reinstall is not a removal)."""
        return FEX_PACKAGE in self.removes and FEX_PACKAGE not in self.installs

    @property
    def touches_watched(self) -> bool:
        """True when a package that setup depends on comes, goes or changes."""
        return bool((self.installs | self.removes) & WATCHED)


@dataclass(frozen=True)
class Additions:
    """Packages to request beside a FEX install, and why the others are not requested."""

    names: tuple[str, ...]
    unavailable: tuple[str, ...] = field(default=())


def wanted_companions(page_size: int) -> tuple[str, ...]:
    """Every package FEX needs at this page size: muvm only where FEX cannot run directly."""
    return COMPANIONS if page_size == NATIVE_PAGE_SIZE else ALL_COMPANIONS


def additions(
    view: TransactionView,
    page_size: int,
    present: Collection[str],
    available: Collection[str],
) -> Additions:
    """Return what a transaction must also install.

    ``present`` holds names installed already or already in the transaction; ``available``
    the names the enabled repositories offer. Nothing is added unless the transaction installs
    FEX's group or FEX itself.
    """
    if not view.installs_fex:
        return Additions(())
    missing = [name for name in wanted_companions(page_size) if name not in present]
    names = tuple(name for name in missing if name in available)
    unavailable = tuple(name for name in missing if name not in available)
    for name in unavailable:
        log.warning("fex: %s is needed by FEX but no enabled repository offers it", name)
    return Additions(names, unavailable)
