"""End-to-end fixtures: the repository built once per session, scratch installroots for real DNF."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fexpkg.dev import checkout, harness, repo

E2E_WORK = checkout.BUILD / "e2e"


@pytest.fixture(scope="session")
def fex_repo() -> Path:
    """The rpm-md repository of specs/, the stand-ins and the project's comps (built once)."""
    reason = repo.tool_missing() or harness.dnf_available()
    if reason:
        pytest.skip(reason)
    return harness.build_test_repo(E2E_WORK)


@pytest.fixture
def make_root(fex_repo: Path, tmp_path: Path) -> Callable[..., harness.Installroot]:
    """Make a scratch installroot: Fedora's directories, /bin/sh (busybox), then `packages`."""

    def make(*packages: str, name: str = "root") -> harness.Installroot:
        root = harness.Installroot(tmp_path / name, fex_repo, home=tmp_path / "home")
        root.dnf("install", "filesystem", "busybox", *packages)
        return root

    return make
