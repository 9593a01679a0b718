"""A Fedora-like host of real DNF 5 and rpm 6: a Debian unstable root built by mmdebstrap.

Development tooling (like harness.py): the system tier (tests/system) and `fexpkg demo` use it.

Debian unstable packages DNF 5 (with libdnf5's actions plugin), its Python bindings, rpm 6,
createrepo_c and Kiwi (whose dnf5 package manager composes images with that DNF 5). The root is
built once per package list and cached on the machine (outside the checkout, so CI's fresh clone
reuses it); every scenario works on its own copy. Commands run in the copy with `chroot` inside
`unshare --mount`, after bind-mounting the copy onto itself: rpm 6's unshare plugin fails every
scriptlet unless `/` is a mount point (FEDORA-FEX-FACTS.md).

The Debian packages the root really holds are declared to rpm by a generated "host provides"
package under their Fedora names (`host_provides_spec`), and nothing else: a package the
project's RPMs do not require is then missing there for rpm and DNF, as on a Fedora system.
(Kiwi's Python modules, lxml, requests, yaml and others, are importable by the root's python3
all the same; the runtime closure is tests/unit/test_closure.py's to guard.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from fexpkg.comps import merge as comps_merge
from fexpkg.dev import checkout, harness, repo
from fexpkg.dev.harness import HarnessError
from fexpkg.packaging import specs, spin

WORK = checkout.BUILD / "system"
FEXPKG_SPEC = checkout.SPECS / "fexpkg.spec"
#: RPMs of fexpkg.spec: built in the root, never taken from the host's build.
FEXPKG_RPMS = ("python3-fexpkg-", "python3-dnf-plugin-fex-", "libdnf5-plugin-fex-")

#: The Debian unstable packages of the root: DNF 5 and rpm 6, and Kiwi (with what its
#: `system prepare` runs: rsync, mount and umount) to compose images with them. No RPM requires
#: Kiwi, so the host-provides package does not declare it.
PACKAGES = ("dnf5", "python3-libdnf5", "createrepo-c", "rpm", "python3", "kiwi", "rsync", "mount")
SUITE = "sid"
MMDEBSTRAP_OPTS = (
    "--variant=apt",
    # The mirror's unstable Release file is served past its Valid-Until date.
    '--aptopt=Acquire::Check-Valid-Until "false"',
    # Files no scenario reads: every scenario copies the root, and its cost follows the number
    # of files (Kiwi's dependency screen alone brings ncurses-term's ~2,900 terminfo entries).
    *(
        f"--dpkgopt=path-exclude=/usr/share/{d}/*"
        for d in ("doc", "man", "info", "locale", "terminfo")
    ),
)
#: Bumped when the preparation of a fresh root changes (part of the cache key).
PREPARE_VERSION = 1

#: Debian package -> the Fedora names it stands for, and the directories Fedora's packages of
#: those names own (rpm removes a directory no package owns once it is empty).
#: `{pyver}`: the root's Python X.Y.
FEDORA_NAMES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "base-files": (
        ("filesystem",),
        (
            "/usr/share/licenses",
            # the manual and shell completion directories python3-fexpkg installs into
            "/usr/share/man/man1",
            "/usr/share/bash-completion/completions",
            "/usr/share/zsh/site-functions",
            "/usr/share/fish/vendor_completions.d",
        ),
    ),
    "python3": (
        ("python3", "python(abi) = {pyver}", "/usr/bin/python3"),
        ("/usr/lib/python{pyver}", "/usr/lib/python{pyver}/site-packages"),
    ),
    "dash": (("/bin/sh",), ()),
    "bash": (("bash",), ()),
    "coreutils": (("coreutils",), ()),
    "rpm": (("rpm",), ()),
    "dnf5": (("dnf5",), ()),
    "libdnf5-2": (("libdnf5", "libdnf5-plugin-actions"), ()),
    "python3-libdnf5": (("python3-libdnf5",), ()),
    "createrepo-c": (("createrepo_c",), ()),
}

#: Where the repository under test is mounted in a root.
REPO_MOUNT = "srv/fexpkg-repo"
#: Where sources to build are mounted in a root.
BUILD_MOUNT = "srv/fexpkg-build"
#: Paths a tree comparison leaves out: kernel file systems, package managers' bookkeeping, mounts.
IGNORED = (
    "dev",
    "proc",
    "sys",
    "run",
    "tmp",
    "var/tmp",
    "var/cache",
    "var/log",
    "var/lib/rpm",
    "var/lib/dnf",
    "usr/lib/sysimage",
    "root",
    REPO_MOUNT,
    BUILD_MOUNT,
)
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
DNF5_LOG = "var/log/dnf5.log"
SCRIPTLET_MARK = " [scriptlet] "


def cache_dir() -> Path:
    """Where built roots are kept between runs ($FEXPKG_SYSTEM_CACHE, else /var/cache/fexpkg)."""
    return Path(os.environ.get("FEXPKG_SYSTEM_CACHE", "/var/cache/fexpkg/system-tier"))


def unavailable() -> str | None:
    """Why the system tier cannot run here, or None."""
    if os.geteuid() != 0:
        return "the system tier needs root (mmdebstrap, chroot, unshare --mount)"
    for tool in ("mmdebstrap", "unshare", "chroot"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install mmdebstrap util-linux)"
    return None


def cache_key() -> str:
    """Digest of everything that decides the content of a fresh root."""
    recipe = json.dumps([PACKAGES, SUITE, MMDEBSTRAP_OPTS, PREPARE_VERSION])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def base_root() -> Path:
    """The cached root for the current package list, built (~1 min) when missing."""
    cache = cache_dir()
    final = cache / f"root-{cache_key()}"
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob("root-*"):
        shutil.rmtree(stale)
    tmp = cache / f"building-{cache_key()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = ["mmdebstrap", *MMDEBSTRAP_OPTS, f"--include={','.join(PACKAGES)}", SUITE, str(tmp)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise HarnessError(f"mmdebstrap failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    _prepare(tmp)
    tmp.rename(final)
    return final


def _prepare(root: Path) -> None:
    """Make a fresh Debian root search Fedora's site-packages and hold the mount points."""
    pyver = python_version(root)
    pth = root / "usr/lib/python3/dist-packages/fedora-site-packages.pth"
    pth.write_text(f"/usr/lib/python{pyver}/site-packages\n")
    for mount in (REPO_MOUNT, BUILD_MOUNT):
        (root / mount).mkdir(parents=True, exist_ok=True)


def python_version(root: Path) -> str:
    """The X.Y of the root's python3 (from its versioned binary)."""
    names = sorted(p.name for p in (root / "usr/bin").glob("python3.*") if p.name[8:].isdigit())
    if not names:
        raise HarnessError(f"no python3.X in {root}/usr/bin")
    return names[-1].removeprefix("python")


def debian_packages(root: Path) -> set[str]:
    """Names of the Debian packages installed in root (read from dpkg's status file)."""
    installed: set[str] = set()
    for stanza in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            installed.add(fields["Package"])
    return installed


def host_provides_spec(root: Path) -> str:
    """A spec providing the Fedora names of exactly the Debian packages root holds."""
    pyver = python_version(root)
    debian = debian_packages(root)
    installed = [FEDORA_NAMES[deb] for deb in sorted(FEDORA_NAMES) if deb in debian]
    provides = "\n".join(f"Provides:       {p}" for names, _ in installed for p in names)
    dirs = "\n".join(f"%dir {d}" for _, owned in installed for d in owned)
    header = textwrap.dedent(
        """\
        Name:           fexpkg-test-host-provides
        Version:        1
        Release:        1
        Summary:        The Debian packages of the system-test root, under their Fedora names
        License:        MIT
        BuildArch:      noarch
        """
    )
    body = textwrap.dedent(
        """
        %description
        Declares to rpm what Debian installed in fexpkg's system-test root.

        %install
        """
    )
    mkdirs = "\n".join(f"mkdir -p %{{buildroot}}{d}" for _, owned in installed for d in owned)
    text = f"{header}{provides}\n{body}{mkdirs}\n\n%files\n{dirs}\n"
    return text.replace("{pyver}", pyver)


class SystemRoot:
    """A private copy of the base root, with commands run inside it as on its own host."""

    def __init__(self, path: Path, base: Path) -> None:
        """Copy base to path (reflinks where the file system has them)."""
        if path.exists():
            shutil.rmtree(path)
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(path)], check=True)
        self.path = path
        self.mounts: dict[str, Path] = {}

    def mount(self, inside: str, outside: Path) -> None:
        """Bind-mount host directory outside at inside (one of the prepared mount points)."""
        self.mounts[inside] = outside

    def run(
        self,
        *cmd: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run cmd chrooted in the root inside a private mount namespace; output merged."""
        root = shlex.quote(str(self.path))
        script = [f"set -e; mount --bind {root} {root}", f"mount -t proc proc {root}/proc"]
        for inside, outside in self.mounts.items():
            script.append(f"mount --bind {shlex.quote(str(outside))} {root}/{inside}")
        script.append(f'exec chroot {root} "$@"')
        base_env = {"PATH": PATH, "HOME": "/root", "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(
            ["unshare", "--mount", "--fork", "sh", "-c", "; ".join(script), "sh", *cmd],
            env={**base_env, **(env or {})},
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if check and proc.returncode != 0:
            raise HarnessError(
                f"{' '.join(cmd)} exited {proc.returncode} in {self.path}:\n{proc.stdout[-4000:]}"
            )
        return proc

    def dnf5(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `dnf5 -y ARGS` for aarch64 against the mounted test repository."""
        proc = self.run(
            "dnf5",
            "-y",
            f"--forcearch={spin.ARCH}",
            f"--releasever={spin.RELEASEVER}",
            *args,
            env=env,
            check=check,
        )
        if check:
            _check_clean(proc.stdout)
        return proc

    def log_size(self) -> int:
        """Where dnf5's log ends now (for `scriptlet_lines`)."""
        log = self.path / DNF5_LOG
        return log.stat().st_size if log.exists() else 0

    def scriptlet_lines(self, since: int = 0) -> list[str]:
        """What rpm scriptlets printed in dnf5 transactions since that log size: dnf5 logs
        their output to its log file, not to the terminal."""
        with open(self.path / DNF5_LOG, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return [
            line.split(SCRIPTLET_MARK, 1)[1] for line in text.splitlines() if SCRIPTLET_MARK in line
        ]

    def rpm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run rpm in the root."""
        return self.run("rpm", *args, check=check)

    def installed(self, root: str = "/") -> set[str]:
        """Names of the rpm packages installed in root (a path inside this root: an image)."""
        return set(self.rpm(f"--root={root}", "-qa", "--qf", "%{NAME}\\n").stdout.split())

    def status(self, root: str = "/") -> dict:
        """`fexpkg status --json` of root (a path inside this root), run by the installed fexpkg."""
        return json.loads(self.run("fexpkg", "status", "--root", root, "--json").stdout)

    def doctor(self, root: str = "/") -> subprocess.CompletedProcess[str]:
        """`fexpkg doctor` of root, run by the installed fexpkg (checked: exit 0)."""
        return self.run("fexpkg", "doctor", "--root", root)

    def snapshot(self) -> dict[str, str]:
        """The tree, less kernel file systems, bookkeeping and mount points."""
        return harness.snapshot(self.path, IGNORED)

    def write_repo_file(self, name: str = "fexpkg-test") -> None:
        """Point the root's DNF at the mounted repository."""
        conf = self.path / "etc/yum.repos.d" / f"{name}.repo"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"[{name}]\nname=fexpkg test repository\nbaseurl=file:///{REPO_MOUNT}\n"
            "gpgcheck=0\nenabled=1\n"
        )


def _check_clean(output: str) -> None:
    """DNF exits 0 when a scriptlet fails: a HarnessError on the messages instead."""
    for bad in ("scriptlet failed", "Error in ", "Transaction failed", "Traceback"):
        if bad in output:
            raise HarnessError(f"{bad!r} in DNF's output:\n{output[-4000:]}")


def sources_of(spec: Path, work: Path) -> list[Path]:
    """The spec's sources, checked in or generated as `fexpkg repo build` makes them."""
    return repo.prepare_sources(spec, work / "home", work / "SOURCES" / spec.stem)


def build_rpms(
    root: SystemRoot, spec: Path, sources: Sequence[Path], out: Path, *, release: str = "1"
) -> list[Path]:
    """Build spec with the root's own rpmbuild and macros; return the RPMs copied to out.

    The spec and its sources are copied to a scratch directory mounted in the root; release
    replaces the spec's leading Release number (to build an upgrade).
    """
    work = root.path.parent / f"build-{spec.stem}-{release}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "SOURCES").mkdir(parents=True)
    (work / "home").mkdir()
    text = spec.read_text()
    if release != "1":
        text = text.replace("Release:        1%{?dist}", f"Release:        {release}%{{?dist}}")
        assert f"Release:        {release}" in text, f"{spec} has no 'Release: 1%{{?dist}}' line"
    (work / spec.name).write_text(text)
    for src in sources:
        shutil.copy2(src, work / "SOURCES" / src.name)
    (work / "home/.rpmmacros").write_text(_build_macros())
    inside = f"/{BUILD_MOUNT}"
    root.mount(BUILD_MOUNT, work)
    try:
        root.run(
            "rpmbuild",
            "-bb",
            "--target",
            spin.ARCH,
            "--nodeps",
            "--define",
            f"_topdir {inside}/top",
            "--define",
            f"_sourcedir {inside}/SOURCES",
            f"{inside}/{spec.name}",
            env={"HOME": f"{inside}/home"},
        )
    finally:
        del root.mounts[BUILD_MOUNT]
    out.mkdir(parents=True, exist_ok=True)
    built = []
    for rpm_file in sorted((work / "top/RPMS").rglob("*.rpm")):
        built.append(Path(shutil.copy2(rpm_file, out / rpm_file.name)))
    return built


def _build_macros() -> str:
    """fexpkg's Fedora macros for building, less %_dbpath (the root keeps its own rpmdb)."""
    return (
        "\n".join(
            line for line in specs.macros_text().splitlines() if not line.startswith("%_dbpath")
        )
        + "\n"
    )


def built_in_root(base: Path, scratch: Path) -> list[Path]:
    """fexpkg's RPMs and the host-provides package, built with the root's rpmbuild; kept in
    WORK by the digest of their inputs and the root's, and rebuilt only when those change."""
    sources = sources_of(FEXPKG_SPEC, WORK)
    scratch.mkdir(parents=True, exist_ok=True)
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


def build_repo(base: Path, scratch: Path) -> Path:
    """The test repository for a root made from base: the host's build of the stand-ins and
    the RootFS/sysroot packages (they hold no Python), fexpkg's RPMs and the host-provides
    package built in the root, the project's comps. Returns WORK/repo."""
    host_repo = harness.build_test_repo(checkout.BUILD / "e2e")
    out = WORK / "repo"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for rpm_file in host_repo.glob("*.rpm"):
        if not rpm_file.name.startswith(FEXPKG_RPMS):
            shutil.copy2(rpm_file, out / rpm_file.name)
    for rpm_file in built_in_root(base, scratch):
        shutil.copy2(rpm_file, out / rpm_file.name)
    repo.createrepo(
        out,
        comps_merge.build_repo_comps(
            WORK / "comps.xml", checkout.FIXTURE_COMPS, checkout.PROJECT_COMPS
        ),
    )
    return out


def host_root(path: Path, base: Path, repo_dir: Path) -> SystemRoot:
    """A copy of base at path pointed at repo_dir, with the host-provides package installed."""
    root = SystemRoot(path, base)
    root.mount(REPO_MOUNT, repo_dir)
    root.write_repo_file()
    root.dnf5("install", "fexpkg-test-host-provides")
    return root
