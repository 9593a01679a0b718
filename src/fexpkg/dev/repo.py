"""Build the project's RPM repository: rpmbuild of specs/ and the test stand-ins, createrepo_c.

Every rpmbuild, rpm and dnf run of the project uses `rpm_env(home)` (defined beside the macros in
fexpkg.packaging.specs, re-exported here): a private HOME whose `.rpmmacros` holds the project
macros (Debian's rpm lacks Fedora's; `rpmbuild --load` is dropped with --target). Specs are built
with `rpmbuild -bb --target aarch64`, each in its own topdir, and skipped when nothing they are
built from changed (spec, sources, macros)."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fexpkg.dev import manual
from fexpkg.dev.checkout import CHECKOUT, FIXTURES, SPECS, SRC
from fexpkg.errors import RepoError, SpecError
from fexpkg.packaging import specs
from fexpkg.packaging.specs import rpm_env

log = logging.getLogger(__name__)

FIXTURE_SPECS = FIXTURES / "specs"
ROOTFS_TREE = FIXTURES / "rootfs-tree"
SYSROOT_TREE = FIXTURES / "sysroot-tree"
HOST_BUSYBOX = Path("/bin/busybox")
#: %{fexpkg} of the specs (fex-emu-rootfs-fedora's %check): this checkout's fexpkg.
FEXPKG_COMMAND = f"env PYTHONPATH={SRC} {sys.executable} -m fexpkg"
#: What the fexpkg source tarball holds, relative to the checkout.
FEXPKG_SOURCES = ("src/fexpkg", "dnf-plugins", "docs", "pyproject.toml", "README.md", "LICENSE")
#: Where the tarball carries the manual pages and completions generated from this checkout's
#: parser: specs/fexpkg.spec installs them from there (on Fedora it generates them itself).
FEXPKG_MANUAL = "manual"
#: The generated pages' date: fixed, as the tarball's timestamps are.
MANUAL_DATE = "1970-01-01"
EXCLUDED = re.compile(r"(^|/)(__pycache__|[^/]*\.egg-info|\.[^/]*)(/|$)|\.py[co]$")
#: Fixed timestamp and UUID: generated sources are byte-identical for identical inputs.
EPOCH = 0
EROFS_UUID = "6b0e9f2c-4a5d-4b8e-9f00-0fe5f0000001"
TAIL_LINES = 20


def tool_missing() -> str | None:
    """Why the repository cannot be built here, or None when it can."""
    for tool, package in (
        ("rpmbuild", "rpm"),
        ("createrepo_c", "createrepo-c"),
        ("mkfs.erofs", "erofs-utils"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install {package})"
    return None


# Generated sources -----------------------------------------------------------------------------


def make_erofs(dst: Path, tree: Path = ROOTFS_TREE) -> None:
    """An EroFS image of tree (lz4, as Kiwi's FEX-RootFS profile), reproducible."""
    cmd = [
        "mkfs.erofs",
        "--quiet",
        "-zlz4",
        f"-T{EPOCH}",
        f"-U{EROFS_UUID}",
        "--all-root",
        str(dst),
        str(tree),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RepoError(f"mkfs.erofs {dst.name} from {tree} failed: {proc.stderr.strip()}")


def make_sysroot_tarball(dst: Path, tree: Path = SYSROOT_TREE) -> None:
    """The thunk sysroot tarball (`fex-sysroot/usr/...`, xz as Kiwi's tbz type) from tree."""
    members = [(path, "fex-sysroot/" + path.relative_to(tree).as_posix()) for path in _walk(tree)]
    dst.write_bytes(lzma.compress(_tar_bytes([(tree, "fex-sysroot"), *members])))


def make_fexpkg_tarball(dst: Path, checkout: Path = CHECKOUT) -> None:
    """`fexpkg-VERSION.tar.gz` from the working tree (uncommitted files included, caches not),
    and in FEXPKG_MANUAL/ the manual pages and completions of fexpkg's parser."""
    top = dst.name.removesuffix(".tar.gz")
    members = [(checkout, top)]
    for name in FEXPKG_SOURCES:
        path = checkout / name
        if not path.exists():
            raise RepoError(f"{path} is missing: the fexpkg source tarball needs it")
        found = [path, *_walk(path)] if path.is_dir() else [path]
        members += [(p, f"{top}/{p.relative_to(checkout).as_posix()}") for p in found]
    members = _with_parents(members, checkout, top)
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp, FEXPKG_MANUAL)
        manual.write(generated, date=MANUAL_DATE)
        for path in [generated, *_walk(generated)]:
            members.append((path, f"{top}/{path.relative_to(tmp).as_posix()}"))
        data = _tar_bytes(sorted(members, key=lambda m: m[1]))
    with gzip.GzipFile(dst, "wb", mtime=EPOCH) as out:
        out.write(data)


def copy_busybox(dst: Path, src: Path = HOST_BUSYBOX) -> None:
    """The build host's static busybox (Debian: busybox-static)."""
    if not src.exists():
        raise RepoError(f"{src} is missing: install busybox-static (the busybox stand-in needs it)")
    shutil.copyfile(src, dst)


#: Sources fexpkg makes rather than finds, by file name.
GENERATED: tuple[tuple[re.Pattern[str], Callable[[Path], None]], ...] = (
    (re.compile(r"Fedora-FEX-RootFS-.+\.x86_64\.erofs"), make_erofs),
    (re.compile(r"fex-sysroot-.+\.tar\.xz"), make_sysroot_tarball),
    (re.compile(r"fexpkg-.+\.tar\.gz"), make_fexpkg_tarball),
    (re.compile(r"busybox"), copy_busybox),
)


def _walk(root: Path) -> list[Path]:
    """Files and directories under root, sorted, without caches and hidden files."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            path = Path(dirpath, name)
            if not EXCLUDED.search(path.relative_to(root).as_posix()):
                found.append(path)
        dirnames[:] = [d for d in dirnames if not EXCLUDED.search(d)]
    return sorted(found)


def _with_parents(members: list[tuple[Path, str]], base: Path, top: str) -> list[tuple[Path, str]]:
    """members plus the directories between base and each member, each once, sorted by name."""
    by_name = {arc: path for path, arc in members}
    for path, _arc in members:
        for parent in path.relative_to(base).parents[:-1]:
            by_name.setdefault(f"{top}/{parent.as_posix()}", base / parent)
    return sorted(((path, arc) for arc, path in by_name.items()), key=lambda m: m[1])


def _tar_bytes(members: Iterable[tuple[Path, str]]) -> bytes:
    """An uncompressed tar of (path, name in archive), owned by root, timestamps fixed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in members:
            info = tar.gettarinfo(str(path), arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = EPOCH
            info.mode = 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


# Building --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecBuild:
    """One spec to build: where it is, its private topdir, and the digest of its inputs."""

    spec: Path
    topdir: Path
    digest: str

    @property
    def stamp(self) -> Path:
        """The file holding the digest of the last successful build."""
        return self.topdir / "stamp"

    @property
    def rpms(self) -> list[Path]:
        """The RPMs of the last build."""
        return sorted((self.topdir / "RPMS").glob("*/*.rpm"))

    def up_to_date(self) -> bool:
        """True when the last build had the same inputs and left its RPMs."""
        return self.stamp.exists() and self.stamp.read_text() == self.digest and bool(self.rpms)


def inputs_digest(spec_text: bytes, sources: Sequence[tuple[str, bytes]], macros: str) -> str:
    """Digest of everything a build depends on: spec, each source (name and bytes), macros."""
    h = hashlib.sha256()
    for part in (
        macros.encode(),
        spec_text,
        *(b for name, data in sources for b in (name.encode(), data)),
    ):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def find_specs(spec_dirs: Sequence[Path]) -> list[Path]:
    """The `*.spec` files of spec_dirs; RepoError when two share a name."""
    found: dict[str, Path] = {}
    for directory in spec_dirs:
        for spec in sorted(directory.glob("*.spec")):
            if spec.stem in found:
                raise RepoError(f"{spec} and {found[spec.stem]} have the same name: rename one")
            found[spec.stem] = spec
    return list(found.values())


def prepare_sources(spec: Path, home: Path, sourcedir: Path) -> list[Path]:
    """Put the spec's sources in sourcedir (found in SPECDIR/sources/ or generated)."""
    try:
        names = specs.source_names(specs.parse(spec, home))
    except SpecError as exc:
        raise RepoError(str(exc)) from None
    sourcedir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        dst = sourcedir / name
        _provide_source(spec, name, dst)
        paths.append(dst)
    return paths


def _provide_source(spec: Path, name: str, dst: Path) -> None:
    """Copy a checked-in source to dst, or generate it there."""
    found = spec.parent / "sources" / name
    if found.is_file():
        if not dst.exists() or dst.read_bytes() != found.read_bytes():
            shutil.copyfile(found, dst)
        return
    for pattern, make in GENERATED:
        if pattern.fullmatch(name):
            tmp = dst.parent / ".new" / name
            tmp.parent.mkdir(exist_ok=True)
            make(tmp)
            if dst.exists() and dst.read_bytes() == tmp.read_bytes():
                tmp.unlink()
            else:
                tmp.replace(dst)
            return
    raise RepoError(f"{spec.name}: source {name} is neither in {found.parent} nor generated")


def plan_build(spec: Path, workdir: Path, home: Path) -> SpecBuild:
    """Prepare a spec's sources and return its build with the digest of its inputs."""
    topdir = workdir / "rpmbuild" / spec.stem
    sources = prepare_sources(spec, home, topdir / "SOURCES")
    digest = inputs_digest(
        spec.read_bytes(), [(p.name, p.read_bytes()) for p in sources], specs.macros_text()
    )
    return SpecBuild(spec, topdir, digest)


def rpmbuild(build: SpecBuild, env: dict[str, str]) -> list[Path]:
    """Run `rpmbuild -bb --target aarch64` for one spec; RepoError with its output's tail."""
    rpms_dir = build.topdir / "RPMS"
    shutil.rmtree(rpms_dir, ignore_errors=True)
    build.stamp.unlink(missing_ok=True)
    cmd = [
        "rpmbuild",
        "-bb",
        "--target",
        specs.TARGET_ARCH,
        "--nodeps",
        "--define",
        f"_topdir {build.topdir}",
        "--define",
        f"_sourcedir {build.topdir / 'SOURCES'}",
        "--define",
        f"fexpkg {FEXPKG_COMMAND}",
        str(build.spec),
    ]
    log.debug("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (build.topdir / "rpmbuild.log").write_text(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-TAIL_LINES:])
        raise RepoError(
            f"rpmbuild of {build.spec.name} failed (exit {proc.returncode}), "
            f"full log in {build.topdir / 'rpmbuild.log'}:\n{tail}"
        )
    build.stamp.write_text(build.digest)
    log.info("built %s", build.spec.name)
    return build.rpms


def publish(rpms: Sequence[Path], out: Path) -> bool:
    """Make out/ hold exactly these RPMs; True when anything changed."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in rpms}
    changed = False
    for old in out.glob("*.rpm"):
        if old.name not in wanted:
            old.unlink()
            changed = True
    for name, src in wanted.items():
        dst = out / name
        if not dst.exists() or _file_digest(dst) != _file_digest(src):
            shutil.copyfile(src, dst)
            changed = True
    return changed


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def createrepo(out: Path, comps_xml: Path | None) -> None:
    """Write out/repodata (with the comps groups of comps_xml when given)."""
    cmd = ["createrepo_c", "--quiet", "--no-database", "--simple-md-filenames"]
    if comps_xml is not None:
        cmd += ["--groupfile", str(comps_xml)]
    proc = subprocess.run([*cmd, str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RepoError(f"createrepo_c {out} failed: {proc.stderr.strip()}")


def build_repo(
    out: Path,
    *,
    spec_dirs: Sequence[Path] = (SPECS, FIXTURE_SPECS),
    comps_xml: Path | None = None,
    workdir: Path | None = None,
) -> Path:
    """Build every spec of spec_dirs for aarch64 and make out/ an rpm-md repository of them.

    Specs whose inputs did not change since the last build in workdir (default: out/../work)
    are not rebuilt. Returns out. Raises RepoError naming the spec that failed.
    """
    if reason := tool_missing():
        raise RepoError(reason)
    out = out.resolve()
    workdir = (workdir or out.parent / f"{out.name}.work").resolve()
    home = workdir / "home"
    env = rpm_env(home)
    builds = [plan_build(spec, workdir, home) for spec in find_specs(spec_dirs)]
    stale = [b for b in builds if not b.up_to_date()]
    log.debug("%d of %d specs to build", len(stale), len(builds))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda b: rpmbuild(b, env), stale))
    changed = publish([rpm for b in builds for rpm in b.rpms], out)
    if changed or _comps_changed(out, comps_xml) or not (out / "repodata").is_dir():
        createrepo(out, comps_xml)
        _record_comps(out, comps_xml)
    return out


def _comps_stamp(out: Path) -> Path:
    """Where build_repo records the comps file the repodata was made with."""
    return out / "repodata" / ".fexpkg-comps"


def _comps_digest(comps_xml: Path | None) -> str:
    """Digest of the comps file (empty when none)."""
    return _file_digest(comps_xml) if comps_xml is not None else ""


def _comps_changed(out: Path, comps_xml: Path | None) -> bool:
    """True when the repodata was made with another comps file than comps_xml."""
    stamp = _comps_stamp(out)
    return not stamp.exists() or stamp.read_text() != _comps_digest(comps_xml)


def _record_comps(out: Path, comps_xml: Path | None) -> None:
    """Remember which comps file the repodata holds."""
    _comps_stamp(out).write_text(_comps_digest(comps_xml))
