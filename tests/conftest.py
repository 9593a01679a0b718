"""Fixtures shared by the unit tests."""

import errno
import os
import shutil
from pathlib import Path

import pytest

from fexpkg.system.binfmt import BinfmtEntry, BinfmtMisc, LiveEntry, elf_header

FEX_INSTALLED = Path(__file__).parent / "fixtures/roots/fex-installed"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of fixtures/roots/fex-installed: fex-emu, qemu's x86-64 entry, a RootFS image."""
    return shutil.copytree(FEX_INSTALLED, tmp_path / "root", symlinks=True)


class KernelBinfmtMisc(BinfmtMisc):
    """binfmt_misc as the kernel behaves, in memory: what the unit tests register against.

    Like fs/binfmt_misc.c: registering a name already registered fails with EEXIST, `-1` removes
    an entry (ENOENT when there is none), `0`/`1` disable/enable it, and a new entry goes first in
    the list the kernel searches, so the most recent registration matching a file runs it.
    """

    def __init__(self, path: Path = Path("/proc/sys/fs/binfmt_misc")) -> None:
        super().__init__(path)
        self.entries: list[LiveEntry] = []  # most recent first, as the kernel searches them

    def _dir(self) -> int:
        raise AssertionError("the model has no directory")

    def _write(self, name: str, data: bytes) -> None:
        if name == "register":
            entry = BinfmtEntry.parse_line(data.decode())
            if any(e.entry.name == entry.name for e in self.entries):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
            self.entries.insert(0, LiveEntry(entry, enabled=True))
            return
        index = next((i for i, e in enumerate(self.entries) if e.entry.name == name), None)
        if index is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        if data.strip() == b"-1":
            del self.entries[index]
        else:
            self.entries[index] = LiveEntry(self.entries[index].entry, data.strip() == b"1")

    def registered(self) -> dict[str, LiveEntry]:
        return {e.entry.name: e for e in sorted(self.entries, key=lambda e: e.entry.name)}

    def runs(self, arch: str) -> str | None:
        """The name of the entry the kernel runs an `arch` ELF program with, None for none."""
        header = elf_header(arch)
        return next(
            (e.entry.name for e in self.entries if e.enabled and e.entry.matches(header)), None
        )


@pytest.fixture
def kernel_misc() -> KernelBinfmtMisc:
    """An empty in-memory binfmt_misc that behaves like the kernel's (see KernelBinfmtMisc)."""
    return KernelBinfmtMisc()
