"""The DNF 4 plugin's hooks in-process, against stubs of `dnf.Base` (as dnf-plugins-core's
tests/support.py does); tests/e2e/test_plugin.py runs it inside real DNF."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("dnf", reason="python3-dnf is not installed")
import dnf.transaction  # noqa: E402
import libdnf.transaction as ltr  # noqa: E402

from fexpkg.system import (
    actions,  # noqa: E402
    resolve,
)

PLUGIN = Path(__file__).resolve().parents[2] / "dnf-plugins" / "fex.py"


def load_plugin():
    spec = importlib.util.spec_from_file_location("fexpkg_test_fex_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Pkg:
    name: str


class Query(list):
    """The few hawkey.Query calls the plugin makes, over a list of packages."""

    def __init__(self, pkgs=(), available=()):
        super().__init__(pkgs)
        self._available = list(available)

    def installed(self) -> Query:
        return Query(self)

    def available(self) -> Query:
        return Query(self._available)

    def filterm(self, name=None, name__glob=None) -> Query:
        if name is not None:
            return Query(p for p in self if p.name in name)
        prefix = name__glob.rstrip("*")
        return Query(p for p in self if p.name.startswith(prefix))


@dataclass
class Sack:
    installed: list[Pkg] = field(default_factory=list)
    available: list[Pkg] = field(default_factory=list)

    def query(self) -> Query:
        return Query(self.installed, self.available)


@dataclass
class Tsi:
    name: str
    action: int
    reason: int = ltr.TransactionItemReason_USER


class CompsGroup:
    def __init__(self, group_id: str, packages: list[str]) -> None:
        self.group_id = group_id
        self.packages = list(packages)

    def getGroupId(self) -> str:  # noqa: N802 (libdnf's name)
        return self.group_id

    def getPackages(self) -> list:  # noqa: N802
        return [type("P", (), {"getName": lambda s, n=n: n})() for n in self.packages]

    def addPackage(self, name: str, installed: bool, kind: int) -> None:  # noqa: N802
        assert kind == ltr.CompsPackageType_DEFAULT
        self.packages.append(name)


@dataclass
class GroupItem:
    group: CompsGroup
    action: int = ltr.TransactionItemAction_INSTALL

    def getAction(self) -> int:  # noqa: N802
        return self.action

    def getCompsGroupItem(self) -> CompsGroup:  # noqa: N802
        return self.group


class Base:
    """A dnf.Base as far as the plugin uses it; the sack raises unless one is given."""

    def __init__(self, root: Path, tsis=(), groups=(), sack: Sack | None = None) -> None:
        self.conf = type("Conf", (), {"installroot": str(root)})()
        self.transaction = list(tsis)
        self.history = type("History", (), {"group": list(groups)})()
        self._sack = sack
        self._goal = type("Goal", (), {"group_members": set()})()
        self.installs: list[str] = []
        self.resolves = 0

    @property
    def sack(self) -> Sack:
        if self._sack is None:
            raise AssertionError("the plugin looked at the sack")
        return self._sack

    def install(self, name: str) -> None:
        self.installs.append(name)

    def resolve(self) -> None:
        """The solver brings what was requested into the transaction."""
        self.resolves += 1
        self.transaction += [Tsi(n, dnf.transaction.PKG_INSTALL) for n in self.installs]


def hooks(plugin_module, base: Base, page_size: str | None = "4096"):
    plugin = plugin_module.Fex(base, None)
    plugin._page_size_setting = page_size
    plugin.resolved()
    plugin.pre_transaction()
    plugin.transaction()
    return plugin


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """setup/teardown calls of fexpkg.system.actions (recorded, not run)."""
    made: list[tuple[str, Path]] = []
    for name in ("setup", "teardown"):

        def record(root, *, name=name, **kwargs):
            made.append((name, root))
            return actions.Report(root)

        monkeypatch.setattr(actions, name, record)
    return made


LOAD_AFTER_DNF = """
import importlib.util, json, sys
import dnf, dnf.cli.main, dnf.transaction
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("dnf-plugins.fex", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_loading_the_plugin_imports_nothing_dnf_has_not_but_fexpkg_names():
    """Every DNF run loads the plugin: typing and pathlib (which DNF does not import) cost 2-3 %
    of a run's instructions (bench/plugin_overhead.py) before they were imported lazily."""
    dnf_command = shutil.which("dnf")
    if dnf_command is None:
        pytest.skip("the dnf command is not installed")
    # DNF's own interpreter line: this venv's start-up already imports typing.
    interpreter = Path(dnf_command).read_text().splitlines()[0].removeprefix("#!").split()
    env = {**os.environ, "PYTHONPATH": str(PLUGIN.parents[1] / "src")}
    proc = subprocess.run(
        [*interpreter, "-c", LOAD_AFTER_DNF, str(PLUGIN)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout) == ["fexpkg", "fexpkg.names"]


def test_a_transaction_without_fex_costs_no_import_and_no_query(tmp_path, monkeypatch, calls):
    module = load_plugin()
    for name in ("fexpkg.system.dnf4", "fexpkg.system.resolve", "fexpkg.system.target"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    kde = GroupItem(CompsGroup("kde-desktop", ["plasma"]))
    base = Base(tmp_path, [Tsi("kernel", dnf.transaction.PKG_INSTALL)], [kde])
    hooks(module, base)
    assert (base.installs, base.resolves, calls) == ([], 0, [])
    assert (
        not {"fexpkg.system.dnf4", "fexpkg.system.resolve", "fexpkg.system.target"}
        & sys.modules.keys()
    )


def test_group_install_requests_companions_as_group_members(tmp_path, calls):
    group = CompsGroup("fex-x86-emulation", ["fex-emu"])
    offered = [Pkg(n) for n in resolve.ALL_COMPANIONS]
    base = Base(
        tmp_path,
        [Tsi("fex-emu", dnf.transaction.PKG_INSTALL)],
        [GroupItem(group)],
        Sack(installed=[Pkg("erofs-fuse")], available=offered),
    )
    hooks(load_plugin(), base, page_size="16384")
    assert base.installs == ["fex-emu-rootfs-fedora", "fex-emu-thunks", "muvm"]
    assert base._goal.group_members == set(base.installs)
    assert group.packages == ["fex-emu", *resolve.ALL_COMPANIONS]
    assert base.resolves == 1
    assert calls == [("setup", tmp_path)]
    assert {t.name: t.reason for t in base.transaction}["muvm"] == ltr.TransactionItemReason_USER


def test_fex_alone_gets_companions_as_weak_dependencies(tmp_path, calls):
    offered = [Pkg(n) for n in resolve.ALL_COMPANIONS]
    base = Base(
        tmp_path, [Tsi("fex-emu", dnf.transaction.PKG_INSTALL)], [], Sack(available=offered)
    )
    hooks(load_plugin(), base)
    assert base.installs == list(resolve.COMPANIONS)
    assert base._goal.group_members == set()
    reasons = {t.name: t.reason for t in base.transaction}
    assert {reasons[n] for n in resolve.COMPANIONS} == {ltr.TransactionItemReason_WEAK_DEPENDENCY}
    assert reasons["fex-emu"] == ltr.TransactionItemReason_USER


def test_fex_removal_tears_down_before_the_transaction_and_sets_nothing_up(tmp_path, calls):
    base = Base(tmp_path, [Tsi("fex-emu", dnf.transaction.PKG_ERASE)], [], Sack())
    plugin = load_plugin().Fex(base, None)
    plugin.pre_transaction()
    assert calls == [("teardown", tmp_path)]
    plugin.transaction()
    assert calls == [("teardown", tmp_path)]


def test_a_competing_handler_arriving_sets_up_again(tmp_path, calls):
    base = Base(tmp_path, [Tsi("qemu-user-static-x86", dnf.transaction.PKG_INSTALL)], [], Sack())
    hooks(load_plugin(), base)
    assert (base.installs, calls) == ([], [("setup", tmp_path)])


def test_installing_the_group_again_with_nothing_new_runs_nothing(tmp_path, calls):
    group = CompsGroup("fex-x86-emulation", ["fex-emu", *resolve.ALL_COMPANIONS])
    installed = [Pkg("fex-emu"), *(Pkg(n) for n in resolve.ALL_COMPANIONS)]
    base = Base(tmp_path, [], [GroupItem(group)], Sack(installed=installed))
    hooks(load_plugin(), base)
    assert (base.installs, base.resolves, calls) == ([], 0, [])
