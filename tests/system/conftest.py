"""System tier: the project's RPMs on a host of real DNF 5 and rpm 6 (see fexpkg.dev.dnf5host)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fexpkg.dev import dnf5host, repo
from fexpkg.dev.dnf5host import REPO_MOUNT, SystemRoot


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory `system`."""
    for item in items:
        if "tests/system/" in str(item.fspath):
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def base() -> Path:
    """The cached Debian unstable root with dnf5, libdnf5's actions plugin and rpm 6."""
    reason = dnf5host.unavailable() or repo.tool_missing()
    if reason:
        pytest.skip(reason)
    return dnf5host.base_root()


@pytest.fixture(scope="session")
def system_repo(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test repository, fexpkg's RPMs built with the root's rpmbuild and Python."""
    return dnf5host.build_repo(base, tmp_path_factory.mktemp("builder"))


@pytest.fixture(scope="session")
def host(base: Path, system_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root pointed at the test repository, with the host-provides package installed."""
    return dnf5host.host_root(tmp_path_factory.mktemp("host") / "root", base, system_repo).path


@pytest.fixture
def make_system(host: Path, system_repo: Path, tmp_path: Path) -> Callable[..., SystemRoot]:
    """A fresh copy of the host root, with `packages` installed by dnf5."""

    def make(*packages: str) -> SystemRoot:
        root = SystemRoot(tmp_path / "root", host)
        root.mount(REPO_MOUNT, system_repo)
        if packages:
            root.dnf5("install", *packages)
        return root

    return make
