"""The desired state of a root for a Target, as a list of changes (reads only, writes nothing)."""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import ConfigError
from fexpkg.system import messages
from fexpkg.system.binfmt import BinfmtEntry, is_mask, read_entries
from fexpkg.system.fexconfig import (
    DEFAULT_ROOTFS,
    DEFAULT_ROOTFS_PATH,
    GLOBAL_CONFIG,
    ROOTFS_KEY,
    KeyPath,
    get_key,
    load,
    rootfs_path,
    user_config_path,
    user_home,
)
from fexpkg.system.target import Mode, Target

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

ARCHES = ("x86", "x86_64")
PACKAGE_BINFMT = "usr/lib/binfmt.d/FEX-{arch}.conf"
MASK = "etc/binfmt.d/FEX-{arch}.conf"
NATIVE_BINFMT = "etc/binfmt.d/zz-fexpkg-FEX-{arch}.conf"
MUVM_BINFMT = "etc/binfmt.d/zz-fexpkg-muvm-{arch}.conf"
MUVM_NAME = "fexpkg-muvm-{arch}"
FEX_NAME = "FEX-{arch}"
FEX_BINARIES = ("usr/bin/FEX", "usr/bin/FEXInterpreter")
LAUNCHER = "usr/libexec/fexpkg/fex-muvm"
MUVM_BINARY = "usr/bin/muvm"
ROOTFS_IMAGE = DEFAULT_ROOTFS_PATH.lstrip("/")
EROFSFUSE = "usr/bin/erofsfuse"


def launcher_script(muvm: str = "/usr/bin/muvm", bindir: str = "/usr/bin") -> bytes:
    """The muvm launcher (data/fex-muvm.sh), with muvm and FEX's directory where given."""
    text = (Path(__file__).parent / "data/fex-muvm.sh").read_text(encoding="utf-8")
    text = text.replace("\nmuvm=/usr/bin/muvm\n", f"\nmuvm={shlex.quote(muvm)}\n", 1)
    text = text.replace("\nbindir=/usr/bin\n", f"\nbindir={shlex.quote(bindir)}\n", 1)
    return text.encode()


LAUNCHER_SCRIPT = launcher_script()

# Flags of the launcher entries: P keeps argv[0] and F opens the launcher at registration (works
# in containers and chroots). No O and no C: an open fd of the program or setuid credentials
# cannot cross into the microVM, and C would run the launcher (and muvm) with the program's
# setuid credentials.
MUVM_FLAGS = "PF"


@dataclass(frozen=True)
class WriteFile:
    """A file with this exact content and mode."""

    relpath: str
    data: bytes
    mode: int = 0o644

    @property
    def id(self) -> str:
        return self.relpath


@dataclass(frozen=True)
class Symlink:
    """A symlink (the link itself, not followed) to `target`."""

    relpath: str
    target: str

    @property
    def id(self) -> str:
        return self.relpath


@dataclass(frozen=True)
class SetJsonKey:
    """One key of a JSON file set to `value`, every other key kept."""

    relpath: str
    key: KeyPath
    value: Any

    @property
    def id(self) -> str:
        return f"{self.relpath}#{'.'.join(self.key)}"


Change = WriteFile | Symlink | SetJsonKey


@dataclass
class Plan:
    """What a root should hold for a Target, and what to change in the live binfmt_misc."""

    target: Target
    installed: bool
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    register: list[BinfmtEntry] = field(default_factory=list)
    unregister: list[str] = field(default_factory=list)


def fex_installed(root: Root) -> bool:
    """True when fex-emu is installed in the root (its binfmt.d files or its binary)."""
    paths = [PACKAGE_BINFMT.format(arch=a) for a in ARCHES] + list(FEX_BINARIES)
    return any(root.lexists(p) for p in paths)


def package_entries(root: Root) -> dict[str, BinfmtEntry]:
    """FEX's entries as its package installed them, by arch (arches without a file left out)."""
    found = {}
    for arch in ARCHES:
        entries = read_entries(root, PACKAGE_BINFMT.format(arch=arch))
        if entries:
            found[arch] = entries[0][1]
    return found


def _user_owns_mask_path(root: Root, arch: str, warnings: list[str]) -> bool:
    relpath = MASK.format(arch=arch)
    if root.lexists(relpath) and not is_mask(root, relpath):
        warnings.append(
            f"{root.display(relpath)} is not fexpkg's: left alone, FEX's {arch} handler "
            "is configured by it"
        )
        return True
    return False


def _native(root: Root, plan: Plan, env: Mapping[str, str], home: Path) -> None:
    for arch, entry in package_entries(root).items():
        if _user_owns_mask_path(root, arch, plan.warnings):
            continue
        package = "/" + PACKAGE_BINFMT.format(arch=arch)
        text = (
            f"# Written by fexpkg: FEX's entry from {package}, applied after qemu/box64\n"
            f"# (whose files sort after FEX-*) so that FEX handles {arch} programs.\n"
            f"{entry.format()}\n"
        )
        plan.changes.append(Symlink(MASK.format(arch=arch), "/dev/null"))
        plan.changes.append(WriteFile(NATIVE_BINFMT.format(arch=arch), text.encode()))
        plan.register.append(entry)
        plan.unregister.append(MUVM_NAME.format(arch=arch))
    rootfs = _rootfs_change(root, plan.warnings, env, home)
    if rootfs:
        plan.changes.append(rootfs)


def _rootfs_change(
    root: Root, warnings: list[str], env: Mapping[str, str], home: Path
) -> SetJsonKey | None:
    """Set the global RootFS to the packaged image's absolute path, unless it names another.

    A bare name (what older fexpkg wrote) is replaced: FEX would look it up in the current
    directory and the user's directories first (fexconfig.rootfs_path).
    """
    if not root.exists(ROOTFS_IMAGE):
        warnings.append(messages.rootfs_image_missing(DEFAULT_ROOTFS_PATH))
        return None
    try:
        config = load(root, GLOBAL_CONFIG)
    except ConfigError as exc:
        warnings.append(str(exc))
        return None
    current = get_key(config, ROOTFS_KEY)
    found = rootfs_path(root, current, env, home) if isinstance(current, str) else None
    if current not in ("", DEFAULT_ROOTFS, DEFAULT_ROOTFS_PATH) and found and root.exists(found):
        warnings.append(
            f"{root.display(GLOBAL_CONFIG)}: RootFS {current!r} differs from "
            f"{DEFAULT_ROOTFS_PATH!r}: kept"
        )
        return None
    return SetJsonKey(GLOBAL_CONFIG, ROOTFS_KEY, DEFAULT_ROOTFS_PATH)


def _muvm(root: Root, plan: Plan, env: Mapping[str, str], home: Path) -> None:
    entries = package_entries(root)
    for arch, entry in entries.items():
        if not _user_owns_mask_path(root, arch, plan.warnings):
            plan.changes.append(Symlink(MASK.format(arch=arch), "/dev/null"))
        plan.unregister.append(FEX_NAME.format(arch=arch))
        launcher = dataclasses.replace(
            entry, name=MUVM_NAME.format(arch=arch), interpreter="/" + LAUNCHER, flags=MUVM_FLAGS
        )
        text = (
            f"# Written by fexpkg: {arch} programs run by FEX inside a muvm microVM,\n"
            f"# because FEX needs 4 KiB pages and this kernel has {plan.target.page_size}.\n"
            f"{launcher.format()}\n"
        )
        plan.changes.append(WriteFile(MUVM_BINFMT.format(arch=arch), text.encode()))
        plan.register.append(launcher)
    if entries:
        plan.changes.insert(0, WriteFile(LAUNCHER, LAUNCHER_SCRIPT, 0o755))
    plan.warnings.extend(muvm_warnings(root, plan.target.page_size, env, home))


def muvm_warnings(root: Root, page_size: int, env: Mapping[str, str], home: Path) -> list[str]:
    """What breaks FEX under muvm in this root: no muvm, no image, a user Config.json RootFS.

    A host FEX_ROOTFS does not: the launcher (data/fex-muvm.sh) keeps it out of the microVM.
    """
    warnings = []
    if not root.exists(MUVM_BINARY):
        warnings.append(messages.muvm_missing(page_size))
    if not root.exists(ROOTFS_IMAGE):
        warnings.append(messages.rootfs_image_missing(DEFAULT_ROOTFS_PATH))
    user = user_config_path(root, env, home)
    try:
        user_rootfs = get_key(load(root, user), ROOTFS_KEY)
    except ConfigError as exc:
        warnings.append(str(exc))
        user_rootfs = None
    if isinstance(user_rootfs, str) and user_rootfs:
        warnings.append(messages.rootfs_override("/" + user, user_rootfs, muvm=True))
    return warnings


def make_plan(
    target: Target, env: Mapping[str, str] = os.environ, home: Path | None = None
) -> Plan:
    """The full desired state of target.root for target.page_size."""
    root = Root(target.root)
    plan = Plan(target, installed=fex_installed(root))
    if not plan.installed:
        return plan
    home = user_home(env, home)
    if target.mode is Mode.NATIVE:
        _native(root, plan, env, home)
    else:
        _muvm(root, plan, env, home)
    return plan
