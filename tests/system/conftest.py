"""System tier: the project's RPMs on a host of real DNF 5 and rpm 6 (see debroot.py)."""

from __future__ import annotations

import hashlib
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
    for rpm_file in built_in_root(base, tmp_path_factory.mktemp("builder")):
        shutil.copy2(rpm_file, out / rpm_file.name)
    comps_xml = comps_merge.build_repo_comps(WORK / "comps.xml")
    repo.createrepo(out, comps_xml)
    return out


def built_in_root(base: Path, scratch: Path) -> list[Path]:
    """fexpkg's RPMs and the host-provides package, built with the root's rpmbuild; kept in
    WORK by the digest of their inputs and the root's, and rebuilt only when those change."""
    sources = sources_of(FEXPKG_SPEC, WORK)
    provides = scratch / "fexpkg-test-host-provides.spec"
    provides.write_text(host_provides_spec(base))
    digest = hashlib.sha256(base.name.encode())
    for path in (FEXPKG_SPEC, provides, *sources):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    done = WORK / f"built-{digest.hexdigest()[:16]}"
    if not done.is_dir():
        for stale in WORK.glob("built-*"):
            shutil.rmtree(stale)
        tmp = WORK / "built.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        builder = SystemRoot(scratch / "root", base)
        build_rpms(builder, FEXPKG_SPEC, sources, tmp)
        build_rpms(builder, provides, [], tmp)
        shutil.rmtree(builder.path)
        tmp.rename(done)
    return sorted(done.glob("*.rpm"))


@pytest.fixture(scope="session")
def host(base: Path, system_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root pointed at the test repository, with the host-provides package installed."""
    root = SystemRoot(tmp_path_factory.mktemp("host") / "root", base)
    root.mount(REPO_MOUNT, system_repo)
    root.write_repo_file()
    root.dnf5("install", "fexpkg-test-host-provides")
    return root.path


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
