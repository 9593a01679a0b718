"""`fexpkg doctor`: checks over a target root, each with a finding and a command that fixes it.

Doctor reads the model `status()` builds (page size, handlers in effect, RootFS in effect) and the
plan `setup` would apply. It writes nothing into the root; the RootFS image's check is cached in
the caller's cache directory (${XDG_CACHE_HOME:-~/.cache}/fexpkg).
"""

from __future__ import annotations

import enum
import logging
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import ConfigError, FexpkgError
from fexpkg.system import messages
from fexpkg.system.apply import MANIFEST, Manifest, pending
from fexpkg.system.binfmt import BINFMT_MISC, BinfmtMisc, binfmt_files
from fexpkg.system.fexconfig import (
    DEFAULT_ROOTFS_PATH,
    GLOBAL_CONFIG,
    GLOBAL_DATA_DIR,
    ROOTFS_KEY,
    RootFSInEffect,
    RootFSOrigin,
    get_key,
    load,
    user_config_path,
    user_home,
)
from fexpkg.system.plan import (
    ARCHES,
    EROFSFUSE,
    FEX_BINARIES,
    LAUNCHER,
    MUVM_BINARY,
    ROOTFS_IMAGE,
    Plan,
    SetJsonKey,
    make_plan,
)
from fexpkg.system.status import Handler, Status
from fexpkg.system.status import read as read_status
from fexpkg.system.target import Mode, Target

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger(__name__)

HOST_THUNKS = "usr/lib64/fex-emu/HostThunks"
DISPATCHER = "usr/bin/binfmt-dispatcher"
# binfmt-dispatcher's src/config.rs: /usr/lib/binfmt-dispatcher.d/*.toml (Fedora ships
# 00-default.toml), then /etc/binfmt-dispatcher.toml, then the user's
# ~/.config/binfmt-dispatcher/binfmt-dispatcher.toml, each overriding the one before.
DISPATCHER_CONFIG = (
    "/usr/lib/binfmt-dispatcher.d/00-default.toml (overridden by /etc/binfmt-dispatcher.toml)"
)
MUVM_ROOTFS = "/run/fex-emu/rootfs"
MUVM_GUEST = "usr/bin/muvm-guest"
# muvm's guest (AsahiLinux/muvm crates/muvm/src/guest/fex.rs) registers FEX's binfmt_misc entries
# in the microVM with the first `NAME` it finds on PATH: FEXInterpreter in older releases, FEX in
# newer ones; the message naming it sits in the guest binary. Where the guest has
# "Failed to find `NAME` in PATH", its main() (`setup_fex()?`) bails out and the microVM never
# runs the command; a guest "falling back to Box" runs it, with no FEX in binfmt_misc.
_GUEST_LOOKS_FOR = {name: f"existence of `{name}`".encode() for name in ("FEX", "FEXInterpreter")}
_GUEST_FALLBACK = b"falling back to Box"
ARCH_LABELS = {"x86": "x86", "x86_64": "x86-64"}
_FEX_DIRECT = frozenset("/" + p for p in FEX_BINARIES)


class Outcome(enum.Enum):
    """The result of one check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One check: its name, result, a one-line finding and the command that fixes it."""

    name: str
    result: Outcome
    finding: str
    fix: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "result": self.result.value,
            "finding": self.finding,
            "fix": self.fix or None,
        }


@dataclass
class Diagnosis:
    """Every check over a root; it fails when one check fails (warnings are allowed)."""

    root: Path
    page_size: int
    mode: Mode
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.result is Outcome.FAIL for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """Stable keys for `fexpkg doctor --json`."""
        return {
            "root": str(self.root),
            "page_size": self.page_size,
            "mode": self.mode.value,
            "ok": not self.failed,
            "checks": [c.as_dict() for c in self.checks],
        }


# -- dry run of setup ---------------------------------------------------------------------------


# -- checks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What every check reads: the root, the status model, the user's environment."""

    root: Root
    status: Status
    env: Mapping[str, str]
    home: Path

    @property
    def host(self) -> bool:
        return Target(self.status.root, self.status.page_size).is_host

    def setup_cmd(self) -> str:
        cmd = "sudo fexpkg setup"
        if not self.host:
            cmd += f" --root {shlex.quote(str(self.status.root))}"
        if self.status.size.origin.chosen:
            cmd += f" --page-size {self.status.page_size}"
        return cmd

    def install_cmd(self, package: str, verb: str = "install") -> str:
        where = "" if self.host else f" --installroot {shlex.quote(str(self.status.root))}"
        return f"sudo dnf{where} {verb} {package}"

    def host_path(self, relpath: str) -> str:
        return shlex.quote(self.root.display(relpath))


def _page_size(ctx: _Context) -> Check:
    st = ctx.status
    how = (
        "FEX runs x86 programs directly"
        if st.mode is Mode.NATIVE
        else "FEX needs 4 KiB pages, so x86 programs run in a muvm microVM"
    )
    finding = f"{st.page_size}-byte pages ({st.size.source}): {st.mode.value} mode, {how}"
    return Check("page-size", Outcome.PASS, finding)


def _fex(ctx: _Context) -> Check:
    binary = next((p for p in FEX_BINARIES if ctx.root.exists(p)), None)
    if binary:
        return Check("fex-emu", Outcome.PASS, f"fex-emu is installed (/{binary})")
    return Check(
        "fex-emu",
        Outcome.FAIL,
        "fex-emu is not installed (no /usr/bin/FEX nor /usr/bin/FEXInterpreter)",
        ctx.install_cmd("fex-emu"),
    )


def _rootfs_image(ctx: _Context) -> Check:
    if ctx.root.exists(ROOTFS_IMAGE):
        return Check(
            "rootfs-image", Outcome.PASS, f"the RootFS image is installed (/{ROOTFS_IMAGE})"
        )
    rootfs = ctx.status.rootfs
    other = ctx.status.mode is Mode.NATIVE and rootfs.exists
    return Check(
        "rootfs-image",
        Outcome.WARN if other else Outcome.FAIL,
        messages.rootfs_image_missing("/" + ROOTFS_IMAGE)
        + (f" (FEX uses {rootfs.path})" if other else ""),
        ctx.install_cmd("fex-emu-rootfs-fedora"),
    )


def _rootfs_content(ctx: _Context) -> Check:
    """`fexpkg rootfs check` of the installed image, cached by its size and mtime."""
    if not ctx.root.exists(ROOTFS_IMAGE):
        return Check("rootfs-content", Outcome.PASS, "no RootFS image to check")
    from fexpkg.rootfs import check as rootfs_check  # doctor only: `fexpkg status` starts faster

    details = f"fexpkg rootfs check {ctx.host_path(ROOTFS_IMAGE)}"
    try:
        report = rootfs_check.cached_check(
            ctx.root, ROOTFS_IMAGE, rootfs_check.cache_dir(ctx.env, ctx.home)
        )
    except FexpkgError as exc:
        return Check("rootfs-content", Outcome.WARN, f"cannot check the RootFS image: {exc}")
    warnings = sum(f.severity is rootfs_check.Severity.WARNING for f in report.findings)
    if report.errors:
        first = report.errors[0]
        n = len(report.errors)
        return Check(
            "rootfs-content",
            Outcome.FAIL,
            f"the RootFS image has {n} problem{'s' * (n != 1)} x86 programs run into "
            f"({first.path}: {first.message})",
            f"{details} lists them; {ctx.install_cmd('fex-emu-rootfs-fedora', 'upgrade')}",
        )
    return Check(
        "rootfs-content",
        Outcome.PASS,
        f"the RootFS image passes fexpkg rootfs check ({report.layout} library layout"
        + (f", {warnings} warnings: {details}" if warnings else "")
        + ")",
    )


def _thunks(ctx: _Context) -> Check:
    if ctx.root.exists(HOST_THUNKS):
        return Check("thunks", Outcome.PASS, f"fex-emu-thunks is installed (/{HOST_THUNKS})")
    return Check(
        "thunks",
        Outcome.WARN,
        f"fex-emu-thunks is not installed (no /{HOST_THUNKS}): GL and Vulkan run emulated, slower",
        ctx.install_cmd("fex-emu-thunks"),
    )


def _erofs_fuse(ctx: _Context) -> Check:
    if ctx.status.mode is Mode.MUVM:
        return Check(
            "erofs-fuse", Outcome.PASS, "not needed: muvm mounts the RootFS in the microVM"
        )
    path = ctx.status.rootfs.path or "/" + ROOTFS_IMAGE  # what setup configures when unset
    if not path.endswith(".erofs"):
        return Check("erofs-fuse", Outcome.PASS, "not needed: the RootFS is not an EroFS image")
    if ctx.root.exists(EROFSFUSE):
        return Check("erofs-fuse", Outcome.PASS, f"erofs-fuse is installed (/{EROFSFUSE})")
    return Check(
        "erofs-fuse",
        Outcome.FAIL,
        f"erofs-fuse is not installed: FEX cannot mount the RootFS {path}",
        ctx.install_cmd("erofs-fuse"),
    )


def _muvm(ctx: _Context) -> Check:
    if ctx.status.mode is Mode.NATIVE:
        return Check("muvm", Outcome.PASS, "not needed on 4096-byte pages")
    if ctx.root.exists(MUVM_BINARY):
        return Check("muvm", Outcome.PASS, f"muvm is installed (/{MUVM_BINARY})")
    return Check(
        "muvm",
        Outcome.FAIL,
        messages.muvm_missing(ctx.status.page_size),
        ctx.install_cmd("muvm"),
    )


def _muvm_fex(ctx: _Context) -> Check:
    """The FEX binary name muvm's guest looks for against the names fex-emu ships.

    FEX 2510 added /usr/bin/FEX, FEX 2608 dropped /usr/bin/FEXInterpreter.
    """
    if ctx.status.mode is Mode.NATIVE:
        return Check("muvm-fex", Outcome.PASS, "not needed on 4096-byte pages")
    shipped = [p.rpartition("/")[2] for p in FEX_BINARIES if ctx.root.exists(p)]
    if not shipped or not ctx.root.exists(MUVM_BINARY):
        return Check("muvm-fex", Outcome.PASS, "nothing to pair: muvm or FEX is missing")
    try:
        guest = ctx.root.read_bytes(MUVM_GUEST)
    except OSError:
        guest = b""
    wanted = [name for name, marker in _GUEST_LOOKS_FOR.items() if marker in guest]
    if not wanted:
        return Check(
            "muvm-fex",
            Outcome.WARN,
            f"cannot tell which FEX binary muvm looks for in the microVM (/{MUVM_GUEST} is "
            "missing or names none)",
        )
    found = [name for name in wanted if name in shipped]
    if found:
        return Check(
            "muvm-fex",
            Outcome.PASS,
            f"muvm looks for {found[0]} in the microVM and fex-emu ships /usr/bin/{found[0]}",
        )
    fix = ctx.install_cmd("fex-emu" if wanted == ["FEX"] else "muvm", "upgrade")
    names = " or ".join(wanted)
    ships = ", ".join(f"/usr/bin/{name}" for name in shipped)
    fatal = any(f"`{n}` in PATH".encode() in guest for n in wanted)
    if fatal and _GUEST_FALLBACK not in guest:
        return Check(
            "muvm-fex",
            Outcome.FAIL,
            f"muvm looks for {names} in the microVM but fex-emu ships only {ships}: "
            "the microVM stops before running any program",
            fix,
        )
    return Check(
        "muvm-fex",
        Outcome.WARN,
        f"muvm looks for {names} in the microVM but fex-emu ships only {ships}: muvm registers "
        "no FEX handler there, x86 programs started by other programs in it do not run",
        fix,
    )


@dataclass(frozen=True)
class _Layer:
    """A FEX Config.json layer: its root-relative path, content, and the error reading it."""

    relpath: str
    config: dict[str, Any] | None
    error: ConfigError | None

    @property
    def rootfs(self) -> str | None:
        value = get_key(self.config, ROOTFS_KEY)
        return value if isinstance(value, str) else None  # FEX takes "" too: no RootFS


def _layers(ctx: _Context) -> list[_Layer]:
    layers = []
    for relpath in (GLOBAL_CONFIG, user_config_path(ctx.root, ctx.env, ctx.home, ctx.status.cwd)):
        try:
            layers.append(_Layer(relpath, load(ctx.root, relpath), None))
        except ConfigError as exc:
            layers.append(_Layer(relpath, None, exc))
    return layers


def _config_fix(ctx: _Context, layer: _Layer) -> str:
    path = ctx.host_path(layer.relpath)
    if layer.relpath == GLOBAL_CONFIG:
        return f"sudo mv {path} {path}.broken && {ctx.setup_cmd()}"
    return f"mv {path} {path}.broken"


def _config(ctx: _Context, layers: list[_Layer]) -> list[Check]:
    broken = [
        Check("config", Outcome.FAIL, str(layer.error), _config_fix(ctx, layer))
        for layer in layers
        if layer.error
    ]
    if broken:
        return broken
    present = ", ".join("/" + layer.relpath for layer in layers if layer.config is not None)
    return [Check("config", Outcome.PASS, f"FEX config readable ({present or 'none present'})")]


def _where(handler: Handler) -> str:
    if handler.live:
        return f"live entry {BINFMT_MISC}/{handler.name}"
    return handler.source


def _is_dispatcher(handler: Handler) -> bool:
    return handler.interpreter.endswith("/binfmt-dispatcher")


def _binfmt(ctx: _Context, arch: str, setup_current: bool) -> Check:
    label = ARCH_LABELS[arch]
    handler = ctx.status.takes[arch]
    muvm = ctx.status.mode is Mode.MUVM
    if handler is None:
        return Check(
            "binfmt",
            Outcome.FAIL,
            f"no binfmt_misc handler takes {label} programs{' to muvm' if muvm else ''}: "
            "they cannot run",
            ctx.setup_cmd(),
        )
    where = _where(handler)
    fix = (
        f"echo 0 | sudo tee {BINFMT_MISC}/{handler.name}"
        if handler.live and setup_current
        else ctx.setup_cmd()
    )
    if handler.interpreter == "/" + LAUNCHER:
        if muvm:
            return Check(
                "binfmt", Outcome.PASS, f"{label} programs go to FEX in muvm ({handler.source})"
            )
        return Check(
            "binfmt",
            Outcome.FAIL,
            f"{label} programs go to the muvm launcher ({where}) on 4096-byte pages, not to FEX",
            fix,
        )
    if _is_dispatcher(handler):
        runs = "runs muvm itself" if muvm else f"runs what {DISPATCHER_CONFIG} names"
        return Check(
            "binfmt",
            Outcome.PASS if muvm else Outcome.WARN,
            f"{label} programs go to binfmt-dispatcher ({where}), which {runs}",
            "" if muvm else ctx.setup_cmd(),
        )
    if handler.interpreter in _FEX_DIRECT:
        if not muvm:
            return Check("binfmt", Outcome.PASS, f"{label} programs go to FEX ({handler.source})")
        return Check(
            "binfmt",
            Outcome.FAIL,
            f"{label} programs go to FEX directly ({where}): on {ctx.status.page_size}-byte pages "
            'it crashes with "Unsupported system page size"',
            fix,
        )
    return Check(
        "binfmt",
        Outcome.FAIL,
        f"{label} programs go to {handler.name} ({handler.interpreter}), not FEX"
        + (" in muvm" if muvm else "")
        + f": {where} shadows FEX",
        fix,
    )


def _override_fix(ctx: _Context, layer: _Layer | None) -> str:
    return f"rm {ctx.host_path(layer.relpath)}" if layer else "unset FEX_ROOTFS"


def _rootfs(ctx: _Context, layers: list[_Layer]) -> Check:
    rootfs = ctx.status.rootfs
    broken = next((layer for layer in layers if layer.error), None)
    if broken:
        return Check(
            "rootfs",
            Outcome.FAIL,
            f"cannot tell which RootFS FEX uses: {broken.error}",
            _config_fix(ctx, broken),
        )
    if ctx.status.mode is Mode.MUVM:
        if not ctx.root.exists(ROOTFS_IMAGE):
            return Check(
                "rootfs",
                Outcome.FAIL,
                f"muvm has no RootFS to give FEX: /{ROOTFS_IMAGE} is missing",
                ctx.install_cmd("fex-emu-rootfs-fedora"),
            )
        return Check(
            "rootfs",
            Outcome.PASS,
            f"muvm gives FEX /{ROOTFS_IMAGE}, mounted at {MUVM_ROOTFS} in the microVM",
        )
    image = ctx.root.exists(ROOTFS_IMAGE)
    install_then_setup = f"{ctx.install_cmd('fex-emu-rootfs-fedora')} && {ctx.setup_cmd()}"
    if rootfs.value is None:
        return Check(
            "rootfs",
            Outcome.FAIL,
            messages.NO_ROOTFS_CONFIGURED,
            ctx.setup_cmd() if image else install_then_setup,
        )
    if not rootfs.value:
        return Check(
            "rootfs",
            Outcome.FAIL,
            f"{rootfs.source} sets an empty RootFS: FEX cannot run x86 programs",
            _source_fix(ctx, layers, rootfs),
        )
    if rootfs.exists:
        return Check("rootfs", Outcome.PASS, f"FEX uses {rootfs.path} (set by {rootfs.source})")
    if rootfs.origin is not RootFSOrigin.GLOBAL_CONFIG:
        fix = _source_fix(ctx, layers, rootfs)
    elif rootfs.path == "/" + ROOTFS_IMAGE:
        fix = ctx.install_cmd("fex-emu-rootfs-fedora")
    elif not image:
        fix = install_then_setup
    elif _managed(ctx, SetJsonKey(GLOBAL_CONFIG, ROOTFS_KEY, DEFAULT_ROOTFS_PATH).id):
        # changed since setup wrote it: setup leaves it alone, so set it back by hand
        path = ctx.host_path(GLOBAL_CONFIG)
        fix = f'sudo sed -i \'s|"RootFS": *"[^"]*"|"RootFS": "{DEFAULT_ROOTFS_PATH}"|\' {path}'
    else:
        fix = ctx.setup_cmd()
    return Check(
        "rootfs",
        Outcome.FAIL,
        f"RootFS {rootfs.path} does not exist (set to {rootfs.value!r} by {rootfs.source})",
        fix,
    )


def _source_fix(ctx: _Context, layers: list[_Layer], rootfs: RootFSInEffect) -> str:
    """The fix for a RootFS where it was set: setup for the global, else the override's."""
    if rootfs.origin is RootFSOrigin.GLOBAL_CONFIG:
        return ctx.setup_cmd()
    return _override_fix(ctx, next((x for x in layers if x.relpath == rootfs.config), None))


def _managed(ctx: _Context, change_id: str) -> bool:
    """True when fexpkg's manifest records the change (it wrote that path or key)."""
    try:
        return change_id in Manifest(ctx.root).items
    except FexpkgError:
        return False


def _overrides(ctx: _Context, layers: list[_Layer]) -> list[Check]:
    muvm = ctx.status.mode is Mode.MUVM
    result = Outcome.FAIL if muvm else Outcome.WARN
    found = [
        Check(
            "overrides",
            result,
            messages.rootfs_override("/" + layer.relpath, layer.rootfs, muvm),
            _override_fix(ctx, layer),
        )
        for layer in layers[1:]
        if layer.rootfs is not None
    ]
    if "FEX_ROOTFS" in ctx.env:
        found.append(
            Check(
                "overrides",
                Outcome.PASS,
                f"FEX_ROOTFS={ctx.env['FEX_ROOTFS']} is set on the host: the muvm launcher keeps "
                "it out of the microVM (and muvm passes only its own list of variables)",
            )
            if muvm
            else Check(
                "overrides",
                result,
                f"FEX_ROOTFS={ctx.env['FEX_ROOTFS']} is set: it {messages.override_effect(muvm)}",
                _override_fix(ctx, None),
            )
        )
    return found or [
        Check("overrides", Outcome.PASS, "no user Config.json nor FEX_ROOTFS sets the RootFS")
    ]


def _dispatcher(ctx: _Context) -> Check:
    files = [
        "/" + f.relpath
        for f in binfmt_files(ctx.root)
        if not f.masked and "binfmt-dispatcher-x86" in f.name
    ]
    if not files and not ctx.root.exists(DISPATCHER):
        return Check("dispatcher", Outcome.PASS, "binfmt-dispatcher is not installed")
    if not files:
        return Check(
            "dispatcher", Outcome.PASS, "binfmt-dispatcher is installed but registers no handler"
        )
    takes = [h for h in ctx.status.takes.values() if h is not None]
    if all(_is_dispatcher(h) for h in takes):
        runs = "runs muvm itself" if ctx.status.mode is Mode.MUVM else "runs FEX, box64 or qemu"
        return Check(
            "dispatcher",
            Outcome.PASS,
            f"binfmt-dispatcher takes x86 programs ({', '.join(files)}) and {runs} "
            f"as {DISPATCHER_CONFIG} says",
        )
    winners = ", ".join(sorted({_where(h) for h in takes if not _is_dispatcher(h)}))
    return Check(
        "dispatcher",
        Outcome.PASS,
        f"binfmt-dispatcher ({', '.join(files)}) also claims x86 programs; {winners} wins, "
        "applied after it: binfmt-dispatcher is not used",
    )


def _setup(ctx: _Context, plan: Plan, layers: list[_Layer]) -> Check:
    manifest = ctx.root.exists(MANIFEST)
    try:
        todo = pending(plan)
    except ConfigError as exc:
        broken = next((layer for layer in layers if layer.error), None)
        return Check(
            "setup",
            Outcome.FAIL,
            f"cannot tell whether setup is current: {exc}",
            _config_fix(ctx, broken) if broken else ctx.setup_cmd(),
        )
    except FexpkgError as exc:
        return Check(
            "setup",
            Outcome.FAIL,
            str(exc),
            f"sudo rm {ctx.host_path(MANIFEST)} && {ctx.setup_cmd()}",
        )
    if todo.changes:
        n = len(todo.changes)
        state = "stale" if manifest else "not applied"
        return Check(
            "setup",
            Outcome.FAIL,
            f"fexpkg setup is {state}: {n} change{'s' * (n != 1)} to make ({todo.changes[0]}"
            + (", ..." if n > 1 else "")
            + ")",
            ctx.setup_cmd(),
        )
    if todo.left_alone:
        return Check(
            "setup", Outcome.WARN, todo.left_alone[0], f"review it, then {ctx.setup_cmd()}"
        )
    if manifest:
        return Check("setup", Outcome.PASS, f"fexpkg setup is applied and current (/{MANIFEST})")
    return Check("setup", Outcome.PASS, "nothing for fexpkg setup to do")


#: Where setup and teardown write: a read-only one stops them.
WRITTEN_DIRS = ("", "etc", GLOBAL_DATA_DIR, "usr/libexec", "var/lib")


def _writable(ctx: _Context) -> Check:
    read_only = [d for d in WRITTEN_DIRS if ctx.root.read_only(d)]
    if not read_only:
        return Check("writable", Outcome.PASS, "the directories fexpkg setup writes are writable")
    where = ctx.root.display(read_only[0])
    return Check(
        "writable",
        Outcome.WARN,
        f"{where} is on a read-only file system: fexpkg setup and teardown cannot write there",
        f"remount it read-write (findmnt -T {shlex.quote(where)} names the mount), "
        f"then {ctx.setup_cmd()}",
    )


def status_warnings(model: Status, env: Mapping[str, str], home: Path | None) -> list[str]:
    """What `fexpkg status` warns of: the findings of doctor's checks of what it shows."""
    ctx = _Context(Root(model.root), model, env, user_home(env, home))
    layers = _layers(ctx)
    checks = _config(ctx, layers)
    if model.installed:
        checks += [
            *(_binfmt(ctx, arch, setup_current=False) for arch in ARCHES),
            _rootfs(ctx, layers),
            _erofs_fuse(ctx),
            _muvm(ctx),
            *_overrides(ctx, layers),
        ]
    return [check.finding for check in checks if check.result is not Outcome.PASS]


def diagnose(
    root: Path,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    *,
    page_size: int | str | None = None,
    binfmt_misc: BinfmtMisc | None = None,
) -> Diagnosis:
    """Run every check over `root` (live binfmt_misc too when it is the host's /)."""
    home = user_home(env, home)
    st = read_status(root, env, home, page_size=page_size, binfmt_misc=binfmt_misc)
    ctx = _Context(Root(st.root), st, env, home)
    diagnosis = Diagnosis(st.root, st.page_size, st.mode, [_page_size(ctx), _fex(ctx)])
    if not st.installed:
        diagnosis.checks[-1] = Check(
            "fex-emu",
            Outcome.FAIL,
            f"fex-emu is not installed in {st.root}",
            ctx.install_cmd("fex-emu"),
        )
        return diagnosis
    layers = _layers(ctx)
    setup = _setup(ctx, make_plan(Target(st.root, st.page_size), env, home), layers)
    diagnosis.checks += [
        _rootfs_image(ctx),
        _rootfs_content(ctx),
        _thunks(ctx),
        _erofs_fuse(ctx),
        _muvm(ctx),
        _muvm_fex(ctx),
        *_config(ctx, layers),
        *(_binfmt(ctx, arch, setup.result is Outcome.PASS) for arch in ARCHES),
        _rootfs(ctx, layers),
        *_overrides(ctx, layers),
        _dispatcher(ctx),
        _writable(ctx),
        setup,
    ]
    for check in diagnosis.checks:
        log.debug("%s %s: %s", check.result.value, check.name, check.finding)
    return diagnosis
