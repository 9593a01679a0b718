"""DNF 4 plugin `fex`: complete FEX installs and configure FEX after the transaction.

Thin adapter: it translates DNF's view of the transaction into `fexpkg` library calls.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dnf
import dnf.transaction
import libdnf.transaction

from fexpkg import resolve
from fexpkg.errors import FexpkgError


class _Prefixed(logging.LoggerAdapter):
    """DNF's plugin logger, with every message marked as this plugin's."""

    def process(self, msg: str, kwargs: dict) -> tuple[str, dict]:
        return f"fex: {msg}", kwargs


log = _Prefixed(logging.getLogger("dnf.plugin"), {})

_ADDED_REASONS = (
    libdnf.transaction.TransactionItemReason_DEPENDENCY,
    libdnf.transaction.TransactionItemReason_WEAK_DEPENDENCY,
)
_GROUP_ACTIONS = (
    libdnf.transaction.TransactionItemAction_INSTALL,
    libdnf.transaction.TransactionItemAction_UPGRADE,
)


class Fex(dnf.Plugin):
    """Bring FEX's RootFS, thunks, erofs-fuse (and muvm off 4 KiB pages); run fexpkg setup."""

    name = "fex"

    def __init__(self, base: dnf.Base, cli: object) -> None:
        super().__init__(base, cli)
        self._page_size_setting: str | None = None
        self._resolving = False
        self._cached_view: tuple[object, resolve.TransactionView] | None = None

    def config(self) -> None:
        parser = self.read_config(self.base.conf)
        if parser.has_option("main", "page_size"):
            self._page_size_setting = parser.get("main", "page_size")

    # -- resolution -------------------------------------------------------------------------

    def resolved(self) -> None:
        if self._resolving:
            return
        view = self._view()
        if view.removes_fex:
            self._remove_orphaned_companions(view)
        if not view.installs_fex:
            return
        try:
            page_size = self._page_size(view)
        except FexpkgError as exc:
            log.error("%s", exc)
            return
        wanted = resolve.wanted_companions(page_size)
        groups = self._fex_groups()
        for group in groups:
            # Record the companions as members of the group, as comps members are, so that
            # `dnf group remove` takes them away again (also when this re-installs the group).
            listed = {p.getName() for p in group.getPackages()}
            for name in wanted:
                if name not in listed:
                    group.addPackage(name, False, libdnf.transaction.CompsPackageType_DEFAULT)
        sack = self.base.sack
        present = {p.name for p in sack.query().installed()} | view.installs
        available = {p.name for p in sack.query().available().filterm(name=list(wanted))}
        adds = resolve.additions(view, page_size, present, available)
        if not adds.names:
            return
        log.info("page size %d, adding %s", page_size, ", ".join(adds.names))
        for name in adds.names:
            self.base.install(name)
            if groups:
                self.base._goal.group_members.add(name)  # reason "group", as comps members
        self._resolve_again()
        if not groups:
            # Installed for fex-emu, as its Recommends would be: removable with it.
            for tsi in self.base.transaction:
                if tsi.name in adds.names and tsi.action in dnf.transaction.FORWARD_ACTIONS:
                    tsi.reason = libdnf.transaction.TransactionItemReason_WEAK_DEPENDENCY

    def _remove_orphaned_companions(self, view: resolve.TransactionView) -> None:
        """Remove with fex-emu what the plugin added for it alone (reason: weak dependency)
        and nothing staying requires; DNF's own clean-up keeps what nobody Recommends (muvm)."""
        sack = self.base.sack
        installed = sack.query().installed()
        staying = installed.filter(name__neq=sorted(view.removes))
        orphans = [
            pkg
            for pkg in installed.filter(name=list(resolve.ALL_COMPANIONS))
            if pkg.name not in view.removes
            and self.base.history.rpm.get_reason(pkg) in _ADDED_REASONS
            and not staying.filter(requires=sack.query().filterm(pkg=[pkg]))
        ]
        if not orphans:
            return
        log.info("removing %s, added for fex-emu", ", ".join(sorted(p.name for p in orphans)))
        for pkg in orphans:
            self.base.package_remove(pkg)
        self._resolve_again()

    def _resolve_again(self) -> None:
        """Resolve the changed goal through the solver; this hook must not recurse meanwhile."""
        self._resolving = True
        try:
            self.base.resolve()
        finally:
            self._resolving = False

    # -- post-transaction actions -------------------------------------------------------------

    def pre_transaction(self) -> None:
        # Undo here, not only in transaction(): DNF unloads a plugin whose own package the
        # transaction removes before calling transaction().
        if not self.base.transaction or not self._view().removes_fex:
            return
        self._run("teardown")

    def transaction(self) -> None:
        if not self.base.transaction:
            return
        view = self._view()
        if view.touches_watched and not view.removes_fex:
            self._run(
                "setup", page_size=self._page_size_setting, kernel_packages=self._kernels(view)
            )

    # -- helpers ------------------------------------------------------------------------------

    def _root(self) -> Path:
        return Path(self.base.conf.installroot)

    def _run(self, action: str, **kwargs: object) -> None:
        """Run fexpkg setup or teardown; a failure is reported, never fails DNF's transaction."""
        from fexpkg import actions  # only transactions that touch FEX pay for the import

        try:
            getattr(actions, action)(self._root(), **kwargs).log(log)
        except FexpkgError as exc:
            log.error("%s", exc)

    def _view(self) -> resolve.TransactionView:
        """What the current transaction touches (computed once per resolved transaction)."""
        transaction = self.base.transaction
        if self._cached_view and self._cached_view[0] is transaction:
            return self._cached_view[1]
        installs: set[str] = set()
        removes: set[str] = set()
        for tsi in transaction or ():
            if tsi.action in dnf.transaction.FORWARD_ACTIONS:
                installs.add(tsi.name)
            elif tsi.action in dnf.transaction.BACKWARD_ACTIONS:
                removes.add(tsi.name)
        groups = {g.getGroupId() for g in self._fex_groups(all_groups=True)}
        view = resolve.TransactionView.of(groups, installs, removes)
        self._cached_view = (transaction, view)
        return view

    def _fex_groups(self, all_groups: bool = False) -> list:
        """The comps groups this transaction installs (only FEX's unless ``all_groups``)."""
        found = []
        for item in self.base.history.group:
            if item.getAction() not in _GROUP_ACTIONS:
                continue
            group = item.getCompsGroupItem()
            if all_groups or group.getGroupId() in resolve.FEX_GROUP_IDS:
                found.append(group)
        return found

    def _kernels(self, view: resolve.TransactionView) -> list[str]:
        """Kernel flavours installed in the root once the transaction is done."""
        kernels = {p.name for p in self.base.sack.query().installed().filterm(name__glob="kernel*")}
        kernels |= {name for name in view.installs if name.startswith("kernel")}
        return sorted(kernels - (view.removes - view.installs))

    def _page_size(self, view: resolve.TransactionView) -> int:
        from fexpkg import target

        return target.detect_page_size(
            self._root(), self._page_size_setting, kernel_packages=self._kernels(view)
        )
