"""DNF 4 plugin `fex`: complete FEX installs and configure FEX after the transaction.

Thin adapter: DNF's view of the transaction in, `fexpkg` calls out. At load time it imports only
`fexpkg.names`; every hook returns after one look at the transaction unless FEX is involved.
"""

from __future__ import annotations

import logging
from types import ModuleType

import dnf
import dnf.transaction

from fexpkg.names import FEX_GROUP_IDS, WATCHED

# Every DNF run imports this module: what DNF itself does not import (typing, pathlib) is
# imported only for a check or a transaction that involves FEX (bench/plugin_overhead.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from fexpkg.system.resolve import TransactionView


class _Prefixed(logging.LoggerAdapter):
    """DNF's plugin logger, with every message marked as this plugin's."""

    def process(self, msg: str, kwargs: dict) -> tuple[str, dict]:
        return f"fex: {msg}", kwargs


log = _Prefixed(logging.getLogger("dnf.plugin"), {})


class Fex(dnf.Plugin):
    """Bring FEX's RootFS, thunks, erofs-fuse (and muvm off 4 KiB pages); run fexpkg setup."""

    name = "fex"

    def __init__(self, base: dnf.Base, cli: object) -> None:
        super().__init__(base, cli)
        self._page_size_setting: str | None = None
        self._resolving = False
        self._cached: tuple[object, TransactionView | None] | None = None

    def config(self) -> None:
        parser = self.read_config(self.base.conf)
        if parser.has_option("main", "page_size"):
            self._page_size_setting = parser.get("main", "page_size")

    def resolved(self) -> None:
        if self._resolving or (view := self._view()) is None:
            return
        from fexpkg.system import dnf4  # FEX is involved: only now pay for the library

        if view.removes_fex:
            self._resolve_again(dnf4.remove_orphaned_companions(self.base, view))
        if view.installs_fex:
            self._add_companions(dnf4, view)

    def _add_companions(self, dnf4: ModuleType, view: TransactionView) -> None:
        """Request what FEX needs at this page size, as group members in a group install."""
        from fexpkg.errors import FexpkgError

        try:
            page_size = self._page_size(view)
        except FexpkgError as exc:
            log.error("%s", exc)
            return
        groups = dnf4.fex_groups(self.base)
        dnf4.list_companions_in_groups(groups, page_size)
        names = dnf4.missing_companions(self.base, view, page_size)
        if not names:
            return
        log.info("page size %d, adding %s", page_size, ", ".join(names))
        for name in names:
            self.base.install(name)
            if groups:
                dnf4.record_as_group_member(self.base, name)
        self._resolve_again(True)
        if not groups:
            dnf4.mark_weak(self.base, names)  # for fex-emu alone: removable with it

    def _resolve_again(self, changed: bool) -> None:
        """Resolve a changed goal through the solver; this hook must not recurse meanwhile."""
        if not changed:
            return
        self._resolving = True
        try:
            self.base.resolve()
        finally:
            self._resolving = False

    def pre_transaction(self) -> None:
        # Undo here, not only in transaction(): DNF unloads a plugin whose own package the
        # transaction removes before calling transaction().
        if (view := self._view()) is not None and view.removes_fex:
            self._run("teardown")

    def transaction(self) -> None:
        view = self._view()
        if view is not None and view.touches_watched and not view.removes_fex:
            self._run(
                "setup", page_size=self._page_size_setting, kernel_packages=self._kernels(view)
            )

    def _run(self, action: str, **kwargs: object) -> None:
        """Run fexpkg setup or teardown; a failure is reported, never fails DNF's transaction."""
        from fexpkg.errors import FexpkgError
        from fexpkg.system import actions

        try:
            getattr(actions, action)(self._root(), **kwargs).log(log)
        except FexpkgError as exc:
            log.error("%s", exc)

    def _view(self) -> TransactionView | None:
        """What the transaction touches of FEX, or None when nothing (computed once for it)."""
        transaction = self.base.transaction
        if self._cached and self._cached[0] is transaction:
            return self._cached[1]
        installs: set[str] = set()
        removes: set[str] = set()
        for tsi in transaction or ():
            if tsi.action in dnf.transaction.FORWARD_ACTIONS:
                installs.add(tsi.name)
            elif tsi.action in dnf.transaction.BACKWARD_ACTIONS:
                removes.add(tsi.name)
        groups = {item.getCompsGroupItem().getGroupId() for item in self.base.history.group}
        view = None
        if (installs | removes) & WATCHED or groups & FEX_GROUP_IDS:
            from fexpkg.system import dnf4

            view = dnf4.view(self.base, installs, removes)
        self._cached = (transaction, view)
        return view

    def _root(self) -> Path:
        """The installroot (pathlib is imported only once FEX is involved)."""
        from pathlib import Path

        return Path(self.base.conf.installroot)

    def _kernels(self, view: TransactionView) -> list[str]:
        """Kernel flavours installed in the root once the transaction is done."""
        query = self.base.sack.query().installed().filterm(name__glob="kernel*")
        kernels = {p.name for p in query} | {n for n in view.installs if n.startswith("kernel")}
        return sorted(kernels - (view.removes - view.installs))

    def _page_size(self, view: TransactionView) -> int:
        from fexpkg.system import target

        return target.detect_page_size(
            self._root(),
            self._page_size_setting,
            kernel_packages=self._kernels(view),
        )
