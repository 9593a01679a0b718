"""Fixtures shared by the unit tests."""

import shutil
from pathlib import Path

import pytest

FEX_INSTALLED = Path(__file__).parent / "fixtures/roots/fex-installed"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of fixtures/roots/fex-installed: fex-emu, qemu's x86-64 entry, a RootFS image."""
    return shutil.copytree(FEX_INSTALLED, tmp_path / "root", symlinks=True)
