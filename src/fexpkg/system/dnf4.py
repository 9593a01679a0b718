"""The DNF 4 plugin's steps once a transaction involves FEX (dnf-plugins/fex.py calls them).

Imported only by the plugin, inside DNF, so it may use libdnf; the decisions themselves are
`fexpkg.system.resolve`'s. Each function takes the plugin's `dnf.Base`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import dnf
import libdnf.transaction as ltr
from dnf.transaction import FORWARD_ACTIONS

from fexpkg.names import FEX_GROUP_IDS
from fexpkg.system import resolve

log = logging.getLogger("dnf.plugin")

#: Reasons the plugin gives what it adds for fex-emu alone (or DNF gives dependencies).
ADDED_REASONS = (ltr.TransactionItemReason_DEPENDENCY, ltr.TransactionItemReason_WEAK_DEPENDENCY)
_GROUP_INSTALLS = (ltr.TransactionItemAction_INSTALL, ltr.TransactionItemAction_UPGRADE)


def fex_groups(base: dnf.Base, all_groups: bool = False) -> list:
    """The comps groups the transaction installs or upgrades (only FEX's unless all_groups)."""
    found = []
    for item in base.history.group:
        if item.getAction() in _GROUP_INSTALLS:
            group = item.getCompsGroupItem()
            if all_groups or group.getGroupId() in FEX_GROUP_IDS:
                found.append(group)
    return found


def view(
    base: dnf.Base, installs: Iterable[str], removes: Iterable[str]
) -> resolve.TransactionView:
    """The transaction as fexpkg.system.resolve sees it."""
    groups = {g.getGroupId() for g in fex_groups(base, all_groups=True)}
    return resolve.TransactionView.of(groups, installs, removes)


def list_companions_in_groups(groups: Sequence, page_size: int) -> None:
    """Record FEX's companions as members of FEX's groups in this transaction, as comps members
    are, so that `dnf group remove` takes them away (also when this re-installs the group)."""
    wanted = resolve.wanted_companions(page_size)
    for group in groups:
        listed = {p.getName() for p in group.getPackages()}
        for name in wanted:
            if name not in listed:
                group.addPackage(name, False, ltr.CompsPackageType_DEFAULT)


def missing_companions(
    base: dnf.Base, view_: resolve.TransactionView, page_size: int
) -> tuple[str, ...]:
    """What to request beside FEX: wanted at this page size, not present, offered."""
    sack = base.sack
    present = {p.name for p in sack.query().installed()} | view_.installs
    wanted = list(resolve.wanted_companions(page_size))
    available = {p.name for p in sack.query().available().filterm(name=wanted)}
    return resolve.additions(view_, page_size, present, available).names


def record_as_group_member(base: dnf.Base, name: str) -> None:
    """Give a requested package the reason "group", as comps members get, so that
    `dnf group remove` takes it away. The one private DNF access: `Base.install()` takes no
    reason and no public API sets one; this set is what dnf/base.py's own group installs fill."""
    base._goal.group_members.add(name)


def mark_weak(base: dnf.Base, names: Sequence[str]) -> None:
    """Give the packages added for fex-emu alone the reason "weak dependency", as its
    Recommends would: `dnf remove fex-emu` then takes them away when nothing else needs them."""
    for tsi in base.transaction:
        if tsi.name in names and tsi.action in FORWARD_ACTIONS:
            tsi.reason = ltr.TransactionItemReason_WEAK_DEPENDENCY


def remove_orphaned_companions(base: dnf.Base, view_: resolve.TransactionView) -> bool:
    """Remove with fex-emu what the plugin added for it alone (reason: weak dependency) and
    nothing staying requires; DNF's own clean-up keeps what nobody Recommends (muvm).
    True when anything was requested."""
    sack = base.sack
    installed = sack.query().installed()
    staying = installed.filter(name__neq=sorted(view_.removes))
    orphans = [
        pkg
        for pkg in installed.filter(name=list(resolve.ALL_COMPANIONS))
        if pkg.name not in view_.removes
        and base.history.rpm.get_reason(pkg) in ADDED_REASONS
        and not staying.filter(requires=sack.query().filterm(pkg=[pkg]))
    ]
    if not orphans:
        return False
    log.info("fex: removing %s, added for fex-emu", ", ".join(sorted(p.name for p in orphans)))
    for pkg in orphans:
        base.package_remove(pkg)
    return True
