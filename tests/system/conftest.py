"""System tier: the project's RPMs on a host of real DNF 5 and rpm 6 (see debroot.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from debroot import (
    FEXPKG_RPMS,
    FEXPKG_SPEC,
    REPO_MOUNT,
    WORK,
    SystemRoot,
    base_root,
    build_rpms,
    host_provides_spec,
    sources_of,
    unavailable,
)

from fexpkg import comps_merge, harness, repo


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory `system`."""
    for item in items:
        if "tests/system/" in str(item.fspath):
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def base() -> Path:
    """The cached Debian unstable root with dnf5, libdnf5's actions plugin and rpm 6."""
    reason = unavailable() or repo.tool_missing()
    if reason:
        pytest.skip(reason)
    return base_root()


@pytest.fixture(scope="session")
def system_repo(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test repository, fexpkg's RPMs and the host-provides package built in the root.

    The stand-ins and the RootFS/sysroot packages come from the host's build (they hold no
    Python); fexpkg.spec is built with the root's rpmbuild and Python.
    """
    host_repo = harness.build_test_repo(harness.CHECKOUT / "build" / "e2e")
    out = WORK / "repo"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for rpm_file in host_repo.glob("*.rpm"):
        if not rpm_file.name.startswith(FEXPKG_RPMS):
            shutil.copy2(rpm_file, out / rpm_file.name)
    scratch = tmp_path_factory.mktemp("builder")
    builder = SystemRoot(scratch / "root", base)
    build_rpms(builder, FEXPKG_SPEC, sources_of(FEXPKG_SPEC, WORK), out)
    provides = scratch / "fexpkg-test-host-provides.spec"
    provides.write_text(host_provides_spec(base))
    build_rpms(builder, provides, [], out)
    shutil.rmtree(builder.path)
    comps_xml = comps_merge.build_repo_comps(WORK / "comps.xml")
    repo.createrepo(out, comps_xml)
    return out


@pytest.fixture
def make_system(base: Path, system_repo: Path, tmp_path: Path) -> Callable[..., SystemRoot]:
    """A fresh copy of the root, pointed at the test repository, with the host-provides package
    and then `packages` installed by dnf5."""

    def make(*packages: str) -> SystemRoot:
        root = SystemRoot(tmp_path / "root", base)
        root.mount(REPO_MOUNT, system_repo)
        root.write_repo_file()
        root.dnf5("install", "fexpkg-test-host-provides", *packages)
        return root

    return make
