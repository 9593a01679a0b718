"""`fexpkg rootfs check`: is a RootFS one FEX, Steam's pressure-vessel and the thunks can live with?

FEX overlays the RootFS on the host by path, so a RootFS is conceptually `/usr` plus a few parts of
`/etc` and `/var`: whatever else it holds shadows the host's files for x86 programs (and breaks the
bind mounts container runtimes make). With no thunks it is the whole x86 graphics stack. The checks
read an EroFS image (fexpkg.rootfs.erofs, standard library only: `fexpkg doctor` runs them) or a
directory tree. Each finding names the path inside the RootFS, why it matters and what to change, in
terms of the Kiwi description the RootFS is built from (specs/sources/fex-rootfs.kiwi)."""

from __future__ import annotations

import enum
import fnmatch
import json
import logging
import os
import stat
import tomllib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import fexpkg
from fexpkg.errors import FexpkgError, LdCacheError, RootfsCheckError
from fexpkg.rootfs import erofs, ldcache

if TYPE_CHECKING:
    from fexpkg.confined import Root

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
KIWI = "fex-rootfs.kiwi"
MERGED = ("bin", "sbin", "lib", "lib64")
TOP_LEVEL = frozenset(("usr", "etc", "var", *MERGED))
API_DIRS = (
    "run",
    "proc",
    "sys",
    "dev",
    "tmp",
    "var/tmp",
    "var/run",
    "home",
    "root",
    "mnt",
    "media",
    "boot",
)
LIBDIRS = {
    "fedora": {"x86-64": "usr/lib64", "x86": "usr/lib"},
    "debian": {"x86-64": "usr/lib/x86_64-linux-gnu", "x86": "usr/lib/i386-linux-gnu"},
}
KIWI_ARCH = {"x86-64": "", "x86": ".i686"}
MAX_LINKS = 40


class Severity(enum.Enum):
    """How much a finding matters: errors fail the check."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Finding(NamedTuple):
    """One thing found: which check, the path inside the RootFS, why it matters, what to do."""

    severity: Severity
    check: str
    path: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity.value,
            "check": self.check,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        text = f"{self.severity.value}: {self.path}: {self.message} [{self.check}]"
        return text + (f"\n  fix: {self.fix}" if self.fix else "")


class Report:
    """Every finding over one RootFS, and its library layout (fedora, debian or unknown)."""

    def __init__(
        self, rootfs: str, layout: str = "unknown", findings: list[Finding] | None = None
    ) -> None:
        self.rootfs = rootfs
        self.layout = layout
        self.findings = [] if findings is None else findings

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Stable keys for `fexpkg rootfs check --json`."""
        return {
            "rootfs": self.rootfs,
            "ok": self.ok,
            "layout": self.layout,
            "findings": [f.as_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report as_dict() wrote."""
        findings = [
            Finding(Severity(f["severity"]), f["check"], f["path"], f["message"], f["fix"])
            for f in data["findings"]
        ]
        return cls(data["rootfs"], data["layout"], findings)

    def add(self, severity: Severity, check: str, path: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(severity, check, "/" + path.strip("/"), message, fix))


# -- the tree -------------------------------------------------------------------------------------


class Tree:
    """A RootFS's entries, with symlinks resolved as if it were `/`.

    dirs: directory path ("" is the root, others relative) -> {name: kind letter (f d l c b p s)}
    in directory order; refs: the same -> (names, handles the reader takes) in directory order,
    paired when a file is read; targets: symlink path -> target; setid: regular files with a
    setuid or setgid bit -> mode. All in walk order, parents before children.
    """

    def __init__(self, read: Callable[[str, Any], bytes]) -> None:
        self.dirs: dict[str, dict[str, str]] = {}
        self.refs: dict[str, tuple[list[str], list[Any]]] = {}
        self.targets: dict[str, str] = {}
        self.setid: dict[str, int] = {}
        self._read = read

    def entry(self, path: str) -> str | None:
        """Kind of path itself (symlinks not followed), None when there is no such entry."""
        parent, _, name = path.rpartition("/")
        kinds = self.dirs.get(parent)
        return None if kinds is None else kinds.get(name)

    def resolve(self, path: str) -> str | None:
        """Where path leads inside the RootFS (chroot semantics); None when it leads nowhere."""
        todo = [p for p in reversed(path.split("/")) if p not in ("", ".")]  # next part last
        done: list[str] = []
        parent = ""  # "/".join(done)
        links = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if done:
                    done.pop()
                    parent = "/".join(done)
                continue
            kind = self.dirs[parent].get(part)
            if kind is None:
                return None
            if kind == "l":
                links += 1
                if links > MAX_LINKS:
                    return None
                target = self.targets.get(f"{parent}/{part}" if parent else part, "")
                if target.startswith("/"):
                    done = []
                    parent = ""
                todo += [p for p in reversed(target.split("/")) if p not in ("", ".")]
                continue
            if todo and kind != "d":
                return None
            done.append(part)
            parent = f"{parent}/{part}" if parent else part
        return parent

    def kind(self, path: str) -> str | None:
        """Kind of what path resolves to, None when it resolves to nothing."""
        resolved = self.resolve(path)
        if resolved is None:
            return None
        return "d" if resolved == "" else self.entry(resolved)

    def read(self, path: str) -> bytes:
        """Content of the file path resolves to; FileNotFoundError when there is none."""
        resolved = self.resolve(path)
        if not resolved or self.entry(resolved) != "f":
            raise FileNotFoundError(path)
        parent, _, name = resolved.rpartition("/")
        names, handles = self.refs[parent]
        return self._read(resolved, dict(zip(names, handles, strict=True))[name])

    def walk(self, top: str) -> Iterator[str]:
        """Paths under the directory top (not following symlinks), parents first."""
        for name, kind in self.dirs.get(top, {}).items():
            path = f"{top}/{name}" if top else name
            yield path
            if kind == "d":
                yield from self.walk(path)


def _image_tree(image: erofs.Image) -> Tree:
    """The tree of an EroFS image: directories' entries, symlinks' targets, files' setid bits."""

    def read(relpath: str, nid: int) -> bytes:
        try:
            return image.read(nid)
        except erofs.Unsupported as exc:
            log.debug("%s; reading %s with fsck.erofs", exc, relpath)
            return image.extract_read(relpath)

    tree = Tree(read)
    for parent, names, nids, kinds in image.directories():
        tree.dirs[parent] = dict(zip(names, kinds, strict=True))
        tree.refs[parent] = (names, nids)
        prefix = parent + "/" if parent else ""
        i = kinds.find("l")
        while i >= 0:
            tree.targets[prefix + names[i]] = image.link(nids[i])
            i = kinds.find("l", i + 1)
        for i in image.setid(nids):
            if kinds[i] == "f":
                tree.setid[prefix + names[i]] = image.inode(nids[i]).mode
    return tree


def _dir_tree(root: Path) -> Tree:
    """The tree of a directory, walked as _image_tree walks an image."""
    tree = Tree(_read_host)
    todo = [("", root)]
    while todo:
        rel, host = todo.pop()
        kinds = tree.dirs[rel] = {}
        names: list[str] = []
        handles: list[str] = []
        tree.refs[rel] = (names, handles)
        with os.scandir(host) as it:
            for item in it:
                path = f"{rel}/{item.name}" if rel else item.name
                st = item.stat(follow_symlinks=False)
                kind = kinds[item.name] = _KIND_BY_FMT.get(stat.S_IFMT(st.st_mode), "?")
                names.append(item.name)
                handles.append(item.path)
                if kind == "l":
                    tree.targets[path] = os.readlink(item.path)
                elif kind == "d":
                    todo.append((path, Path(item.path)))
                elif kind == "f" and st.st_mode & SETID:
                    tree.setid[path] = st.st_mode
    return tree


_KIND_BY_FMT = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFIFO: "p",
    stat.S_IFSOCK: "s",
}
SETID = stat.S_ISUID | stat.S_ISGID


def _read_host(_path: str, ref: Any) -> bytes:
    fd = os.open(ref, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


# -- the rules ------------------------------------------------------------------------------------


@cache
def _data(name: str) -> dict[str, Any]:
    with (DATA / name).open("rb") as f:
        return tomllib.load(f)


def _matches(path: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern) or any(
        fnmatch.fnmatchcase(path[:i], pattern) for i, c in enumerate(path) if c == "/"
    )


def _rule(rules: list[dict[str, str]], path: str) -> dict[str, str] | None:
    return next((r for r in rules if _matches(path, r["path"])), None)


def _strip(path: str) -> str:
    return f'add <file name="/{path}"/> to <strip type="delete"> in {KIWI} (or rm it in config.sh)'


def _package(package: str, world: str) -> str:
    return f'add <package name="{package}{KIWI_ARCH[world]}"/> to {KIWI}'


# -- the checks -----------------------------------------------------------------------------------


def _layout(tree: Tree, report: Report) -> None:
    for name in MERGED:
        kind = tree.entry(name)
        if kind == "l" and _points_into(tree.targets.get(name), "usr/" + name):
            continue
        if kind is None:
            report.add(
                Severity.WARNING,
                "layout",
                name,
                f"missing: the usr-merged link /{name} -> usr/{name} is not there",
                f"build the RootFS from Fedora's filesystem package (in {KIWI}'s "
                "bootstrap packages), which makes the link",
            )
            continue
        report.add(
            Severity.ERROR,
            "layout",
            name,
            f"not usr-merged: /{name} is not a link into /usr/{name}, so FEX overlays it "
            f"on the host's /{name} -> usr/{name} and paths through /{name} differ",
            f"make /{name} a link to usr/{name} (Fedora's filesystem package; move its "
            f"content to /usr/{name} in config.sh)",
        )
    api_tops = {d for d in API_DIRS if "/" not in d}
    for name in sorted(tree.dirs[""]):
        if name in TOP_LEVEL or name in api_tops:
            continue
        kind = tree.dirs[""][name]
        if kind == "l" and _points_into(tree.targets.get(name), "usr"):
            continue  # a merged link such as Debian's lib32
        empty = kind == "d" and not tree.dirs.get(name)
        report.add(
            Severity.WARNING if empty else Severity.ERROR,
            "layout",
            name,
            "outside usr, etc and var: FEX overlays it on the host's "
            f"/{name}{', harmless while empty' if empty else ''}",
            _strip(name),
        )


def _points_into(target: str | None, where: str) -> bool:
    """True when a top-level link's target is `where` or under it."""
    target = os.path.normpath("/" + (target or "")).lstrip("/")
    return target == where or target.startswith(where + "/")


def _api_dirs(tree: Tree, report: Report) -> None:
    for top in API_DIRS:
        kind = tree.entry(top)
        if kind is None:
            continue
        if kind == "l":
            target = tree.targets.get(top)
            if top == "var/run" and os.path.normpath(os.path.join("/var", target or "")) == "/run":
                continue
            if top == "var/run":
                report.add(
                    Severity.ERROR,
                    "api-dirs",
                    top,
                    f"a link to {target}, not to /run: programs reach the host's "
                    "runtime sockets through /var/run",
                    "make /var/run a link to ../run (Fedora's filesystem package)",
                )
            continue
        for name in sorted(tree.dirs.get(top, {})):
            report.add(
                Severity.ERROR,
                "api-dirs",
                f"{top}/{name}",
                f"in /{top}, an API or per-host directory: it shadows the host's "
                f"/{top}/{name} for x86 programs, and container runtimes "
                "(pressure-vessel, bwrap) cannot bind-mount the host's over it",
                _strip(f"{top}/{name}"),
            )


def _etc(tree: Tree, report: Report) -> None:
    rules = _data("rootfs-etc.toml")
    for path in tree.walk("etc"):
        if tree.entry(path) == "d":
            continue
        rel = path.removeprefix("etc/")
        denied = _rule(rules["deny"], rel)
        if denied:
            report.add(
                Severity.ERROR,
                "etc",
                path,
                f"shadows the host's /{path} ({denied['reason']})",
                _strip(path),
            )
        elif _rule(rules["allow"], rel) is None:
            report.add(
                Severity.WARNING,
                "etc",
                path,
                f"not on fexpkg's /etc allow-list: it shadows the host's /{path} for x86 programs",
                f"{_strip(path)}; if x86 programs need it, add it to "
                "src/fexpkg/rootfs/data/rootfs-etc.toml with the reason",
            )


def _special(tree: Tree, report: Report) -> None:
    names = {"c": "a character device", "b": "a block device", "s": "a socket"}
    setid = tree.setid
    setid_dirs = {path.rpartition("/")[0] for path in setid}
    for parent, kinds in tree.dirs.items():
        if parent not in setid_dirs and names.keys().isdisjoint(kinds.values()):
            continue  # the usual directory: nothing to look at entry by entry
        for name, kind in kinds.items():
            path = f"{parent}/{name}" if parent else name
            if kind in names:
                report.add(
                    Severity.ERROR,
                    "special-files",
                    path,
                    f"{names[kind]}: the host's /dev and /run provide these, one in the "
                    "RootFS shadows them",
                    _strip(path),
                )
            elif path in setid:
                mode = setid[path]
                bits = "setuid" if mode & stat.S_ISUID else "setgid"
                report.add(
                    Severity.ERROR,
                    "special-files",
                    path,
                    f"{bits} ({mode & 0o7777:04o}): binfmt_misc's C flag runs it "
                    "with raised privileges under FEX",
                    f"chmod ug-s /{path} in config.sh (or leave out the package)",
                )


def _symlinks(tree: Tree, report: Report) -> None:
    for path, target in tree.targets.items():
        if not target:
            continue
        if target.startswith("/"):
            if tree.resolve(path) is None:
                report.add(
                    Severity.ERROR,
                    "symlinks",
                    path,
                    f"absolute link to {target}, which is not in the RootFS: it resolves "
                    "to the host's file (an AArch64 one, or nothing)",
                    f"ship {target} in the RootFS, or remove the link in config.sh",
                )
            continue
        if ".." not in target:
            continue  # the usual link: it cannot climb
        depth = path.count("/")
        for part in target.split("/"):
            if part == "..":
                depth -= 1
                if depth < 0:
                    report.add(
                        Severity.ERROR,
                        "symlinks",
                        path,
                        f"link to {target} climbs out of the RootFS: on the mounted "
                        "image it leads into the host's directories",
                        "make the link relative within the RootFS in config.sh",
                    )
                    break
            elif part not in ("", "."):
                depth += 1


def _layout_kind(tree: Tree) -> str:
    if tree.kind("usr/lib64/libc.so.6") or tree.kind("usr/lib/libc.so.6"):
        return "fedora"
    if tree.kind("usr/lib/x86_64-linux-gnu") == "d" or tree.kind("usr/lib/i386-linux-gnu") == "d":
        return "debian"
    return "unknown"


def _worlds(tree: Tree, report: Report) -> dict[tuple[str, str], str]:
    """Loaders, libraries, DRI drivers, Vulkan ICDs of both worlds; returns the libraries found."""
    rules = _data("rootfs-libs.toml")
    libdirs = LIBDIRS["debian" if report.layout == "debian" else "fedora"]
    for loader in rules["loader"]:
        if tree.kind(loader["path"]) != "f":
            report.add(
                Severity.ERROR,
                "libraries",
                loader["path"],
                f"missing {loader['world']} dynamic loader: {loader['reason']}",
                _package(loader["package"], loader["world"]),
            )
    found: dict[tuple[str, str], str] = {}
    for world, libdir in libdirs.items():
        for lib in rules["library"]:
            path = f"{libdir}/{lib['soname']}"
            resolved = tree.resolve(path)
            if resolved is None or tree.kind(resolved) != "f":
                report.add(
                    Severity.ERROR,
                    "libraries",
                    path,
                    f"missing {world} library: {lib['reason']}",
                    _package(lib["package"], world),
                )
            else:
                found[(world, lib["soname"])] = resolved
        for dri in rules["dri"]:
            pattern = f"{libdir}/{dri['glob']}"
            folder, _, glob = pattern.rpartition("/")
            real = tree.resolve(folder)
            names = tree.dirs.get(real, {}) if real is not None else {}
            if not any(
                fnmatch.fnmatchcase(n, glob) and tree.kind(f"{real}/{n}") == "f" for n in names
            ):
                report.add(
                    Severity.ERROR,
                    "graphics",
                    pattern,
                    f"no {world} Mesa DRI driver: {dri['reason']}",
                    _package(dri["package"], world),
                )
    _vulkan(tree, report, libdirs, rules["vulkan_icd"][0])
    return found


def _vulkan(tree: Tree, report: Report, libdirs: dict[str, str], rule: dict[str, Any]) -> None:
    worlds: set[str] = set()
    for folder in rule["dirs"]:
        real = tree.resolve(folder)
        for name in sorted(tree.dirs.get(real, {}) if real is not None else {}):
            path = f"{folder}/{name}"
            if not name.endswith(".json") or tree.kind(path) != "f":
                continue
            try:
                library = json.loads(tree.read(path))["ICD"]["library_path"]
            except (ValueError, KeyError, TypeError):
                report.add(
                    Severity.ERROR,
                    "graphics",
                    path,
                    "not a Vulkan ICD manifest (no ICD.library_path): the loader skips it",
                    f"fix or remove it (its package, in {KIWI})",
                )
                continue
            if library.startswith("/"):
                candidates = [library]
            elif "/" in library:
                candidates = [f"{folder}/{library}"]
            else:
                candidates = [f"{d}/{library}" for d in libdirs.values()]
            hits = [r for c in candidates if (r := tree.resolve(c)) and tree.kind(r) == "f"]
            if not hits:
                report.add(
                    Severity.ERROR,
                    "graphics",
                    path,
                    f"library_path {library} is not in the RootFS: the Vulkan loader "
                    "fails to load this driver",
                    f"add the driver's package to {KIWI}, or remove the manifest",
                )
            for world, libdir in libdirs.items():
                real_dir = tree.resolve(libdir)
                if real_dir and any(h.rpartition("/")[0] == real_dir for h in hits):
                    worlds.add(world)
    for world in libdirs:
        if world not in worlds:
            report.add(
                Severity.ERROR,
                "graphics",
                rule["dirs"][0],
                f"no Vulkan ICD manifest names an {world} driver library: {rule['reason']}",
                _package(rule["package"], world),
            )


def _ld_cache(tree: Tree, report: Report, found: dict[tuple[str, str], str]) -> None:
    path = "etc/ld.so.cache"
    fix = f"run ldconfig at the end of config.sh in {KIWI}"
    try:
        entries = ldcache.parse(tree.read(path))
    except FileNotFoundError:
        report.add(
            Severity.ERROR,
            "ld.so.cache",
            path,
            "missing: every x86 process searches the library directories on disk",
            fix,
        )
        return
    except LdCacheError as exc:
        report.add(Severity.ERROR, "ld.so.cache", path, f"unreadable: {exc}", fix)
        return
    where = {e.path: tree.resolve(e.path) for e in entries}
    listed = {(e.x86_64, e.soname, where[e.path]) for e in entries}
    for (world, soname), resolved in sorted(found.items()):
        if (world == "x86-64", soname, resolved) not in listed:
            report.add(
                Severity.ERROR,
                "ld.so.cache",
                path,
                f"stale: does not list the {world} {soname} (/{resolved}), so x86 "
                "programs search the disk for it",
                fix,
            )
    stale = [e.path for e in entries if where[e.path] is None]
    if stale:
        report.add(
            Severity.WARNING,
            "ld.so.cache",
            path,
            f"stale: lists {len(stale)} librar{'y' if len(stale) == 1 else 'ies'} the "
            f"RootFS does not hold ({stale[0]}{', ...' if len(stale) > 1 else ''})",
            fix,
        )


def check_tree(tree: Tree, name: str) -> Report:
    """Every check over a tree."""
    report = Report(name, _layout_kind(tree))
    _layout(tree, report)
    _api_dirs(tree, report)
    _etc(tree, report)
    _special(tree, report)
    _symlinks(tree, report)
    found = _worlds(tree, report)
    _ld_cache(tree, report, found)
    where = LIBDIRS.get(report.layout, LIBDIRS["fedora"])
    layout = {"fedora": "Fedora lib/lib64", "debian": "Debian multiarch"}.get(report.layout)
    report.add(
        Severity.INFO,
        "library-layout",
        where["x86-64"],
        f"library layout: {layout or 'unknown (neither Fedora lib/lib64 nor Debian multiarch)'}"
        f" (x86-64 in /{where['x86-64']}, x86 in /{where['x86']})",
    )
    return report


def check(path: Path) -> Report:
    """Check an EroFS image or a directory tree."""
    path = Path(path)
    if path.is_dir():
        return check_tree(_dir_tree(path), str(path))
    if not path.is_file():
        raise RootfsCheckError(f"{path}: no such RootFS (give an EroFS image or a directory)")
    with erofs.Image(path) as image:
        return check_tree(_image_tree(image), str(path))


def cache_dir(env: Mapping[str, str], home: Path) -> Path:
    """Where the RootFS check's results are kept: the caller's cache, never a target root."""
    return Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "fexpkg"


def cached_check(root: Root, image: str, cache_in: Path) -> Report:
    """check() of root's image (root-relative), cached in the directory cache_in by the image's
    path, inode, size and mtime. Nothing is written into root (doctor only reads a root); the
    cache is written atomically when cache_in can be written, else the check just runs."""
    st = root.stat(image)
    if st is None:
        raise RootfsCheckError(f"{root.display(image)}: no such RootFS image")
    path = root.display(root.resolve(image))
    key = {
        "image": path,
        "inode": [st.st_dev, st.st_ino],
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "fexpkg": fexpkg.version(),
    }
    import hashlib  # only doctor's path: kept out of `rootfs check`'s start-up

    name = f"rootfs-check-{hashlib.sha256(path.encode()).hexdigest()[:16]}.json"
    try:
        cached = json.loads((cache_in / name).read_bytes())
        if cached.get("key") == key:
            return Report.from_dict(cached["report"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    report = check(Path(path))
    data = json.dumps({"key": key, "report": report.as_dict()}, indent=1).encode()
    try:
        cache_in.mkdir(parents=True, exist_ok=True)
        from fexpkg.confined import Root as CacheDir  # only doctor's path writes the cache

        CacheDir(cache_in).write_atomic(name, data)
    except (OSError, FexpkgError) as exc:
        log.debug("not caching the RootFS check in %s: %s", cache_in, exc)
    return report
