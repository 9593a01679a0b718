"""The target of an action: a root directory and the page size of the kernel that will run it."""

from __future__ import annotations

import enum
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import FexpkgError
from fexpkg.names import NATIVE_PAGE_SIZE

log = logging.getLogger(__name__)

PAGE_SIZES = (4096, 16384, 65536)
ENV_PAGE_SIZE = "FEXPKG_PAGE_SIZE"
MODULES_DIR = "usr/lib/modules"
#: Present only on a system booted with systemd: its running kernel is the one that matters.
BOOTED_MARKER = Path("/run/systemd/system")
FLAVOURS = {"16k": 16384, "64k": 65536}
_KERNEL_PACKAGE = re.compile(r"^kernel-(16k|64k)(?:-|$)")
_MODULES_FLAVOUR = re.compile(r"\+(16k|64k)$")


class Mode(enum.Enum):
    """How FEX runs on the target: directly (4 KiB pages) or inside a muvm microVM."""

    NATIVE = "native"
    MUVM = "muvm"


def is_host(root: Path) -> bool:
    """True when `root` is the running system's `/`."""
    return Path(root).resolve() == Path("/")


def checked_root(root: Path | str) -> Path:
    """The root a command was given, once it is known to be a directory."""
    root = Path(root)
    if not root.is_dir():
        raise FexpkgError(f"root {root} is not a directory: pass an existing root with --root")
    return root


@dataclass(frozen=True)
class Target:
    """A root directory and the page size of the kernel it runs on."""

    root: Path
    page_size: int

    @property
    def mode(self) -> Mode:
        return Mode.NATIVE if self.page_size == NATIVE_PAGE_SIZE else Mode.MUVM

    @property
    def is_host(self) -> bool:
        return is_host(self.root)


class PageSizeOrigin(enum.Enum):
    """Where a page size came from."""

    EXPLICIT = "set explicitly"
    ENVIRONMENT = f"from {ENV_PAGE_SIZE}"
    RUNNING_KERNEL = "from the running kernel"
    INSTALLED_KERNEL = "from the kernel installed in the root"
    NO_LARGE_PAGE_KERNEL = "no 16k or 64k kernel in the root"

    @property
    def chosen(self) -> bool:
        """Chosen by the user, so a command that fixes the root must repeat it."""
        return self in (PageSizeOrigin.EXPLICIT, PageSizeOrigin.ENVIRONMENT)


@dataclass(frozen=True)
class PageSize:
    """A page size, where it came from, and the detail (the kernel package and the root)."""

    value: int
    origin: PageSizeOrigin
    detail: str = ""

    @property
    def source(self) -> str:
        """For people, e.g. `from kernel-16k in /mnt/root`."""
        if self.origin is PageSizeOrigin.INSTALLED_KERNEL:
            return f"from {self.detail}"
        if self.origin is PageSizeOrigin.NO_LARGE_PAGE_KERNEL:
            return f"no 16k or 64k kernel in {self.detail}"
        return self.origin.value


def _parse(value: str | int, origin: str) -> int | None:
    """Validate an explicit page size; 'auto' means not set."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = None
    if size not in PAGE_SIZES:
        allowed = ", ".join(str(s) for s in PAGE_SIZES)
        raise FexpkgError(f"invalid page size {value!r} ({origin}): use one of {allowed} or auto")
    return size


def _from_kernel_packages(names: Iterable[str]) -> tuple[int, str] | None:
    for name in names:
        match = _KERNEL_PACKAGE.match(name)
        if match:
            return FLAVOURS[match.group(1)], f"kernel-{match.group(1)}"
    return None


def _from_modules(root: Root) -> tuple[int, str] | None:
    for name in sorted(root.listdir(MODULES_DIR)):
        match = _MODULES_FLAVOUR.search(name)
        if match:
            return FLAVOURS[match.group(1)], f"{MODULES_DIR}/{name}"
    return None


def page_size_of(
    root: Path,
    explicit: str | int | None = None,
    env: Mapping[str, str] = os.environ,
    kernel_packages: Iterable[str] = (),
    *,
    booted: bool | None = None,
) -> PageSize:
    """Page size for `root` with its source: explicit, $FEXPKG_PAGE_SIZE, root's kernel, host.

    `booted`: whether the running system was booted with systemd (default: BOOTED_MARKER there);
    only then does the host's own `/` follow the running kernel before its installed one.
    """
    if explicit is not None:
        size = _parse(explicit, "--page-size")
        if size is not None:
            return PageSize(size, PageSizeOrigin.EXPLICIT)
    if env.get(ENV_PAGE_SIZE):
        size = _parse(env[ENV_PAGE_SIZE], ENV_PAGE_SIZE)
        if size is not None:
            return PageSize(size, PageSizeOrigin.ENVIRONMENT)
    host = is_host(root)
    if booted is None:
        booted = BOOTED_MARKER.is_dir()
    if host and booted:
        return PageSize(os.sysconf("SC_PAGE_SIZE"), PageSizeOrigin.RUNNING_KERNEL)
    # An installroot, or `/` of an image being built in a chroot (rpm triggers there run with
    # the builder's kernel): the kernel flavour installed in it decides.
    found = _from_kernel_packages(kernel_packages) or _from_modules(Root(root))
    if found:
        return PageSize(found[0], PageSizeOrigin.INSTALLED_KERNEL, f"{found[1]} in {root}")
    if host:
        return PageSize(os.sysconf("SC_PAGE_SIZE"), PageSizeOrigin.RUNNING_KERNEL)
    return PageSize(NATIVE_PAGE_SIZE, PageSizeOrigin.NO_LARGE_PAGE_KERNEL, str(root))


def detect_page_size(
    root: Path,
    explicit: str | int | None = None,
    env: Mapping[str, str] = os.environ,
    kernel_packages: Iterable[str] = (),
) -> int:
    """The page size for `root` (see page_size_of); its source is logged."""
    found = page_size_of(root, explicit, env, kernel_packages)
    log.debug("page size %d (%s)", found.value, found.source)
    return found.value
