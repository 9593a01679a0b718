"""Run the real DNF against a scratch installroot: the harness of the demo and end-to-end tests.

DNF runs as the system's `dnf` command, with the plugin loaded from this checkout's
`dnf-plugins/` through `pluginpath=`, a private configuration and a private `HOME` whose
`.rpmmacros` put the rpmdb where Fedora keeps it (see `repo.rpm_env`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fexpkg.comps import merge as comps_merge
from fexpkg.dev import repo
from fexpkg.dev.checkout import FIXTURE_COMPS, PLUGIN_DIR, PROJECT_COMPS, SRC
from fexpkg.errors import FexpkgError
from fexpkg.packaging.spin import ARCH, RELEASEVER

log = logging.getLogger(__name__)


#: Paths that DNF and rpm own for their own bookkeeping: not part of the system's state.
BOOKKEEPING = (
    "usr/lib/sysimage",
    "var/lib/dnf",
    "var/lib/rpm",
    "var/cache",
    "var/log",
    "var/tmp",
    "tmp",
    "root/.rpmdb",
)
#: DNF's words for a scriptlet that failed; DNF still exits 0 then.
SCRIPTLET_FAILURE = re.compile(r"scriptlet failed|Error in \S+ scriptlet|Error unpacking", re.I)


class HarnessError(FexpkgError):
    """DNF failed, or succeeded while reporting a failed scriptlet."""


@dataclass(frozen=True)
class DnfResult:
    """One DNF run: its arguments, exit code and merged output."""

    args: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        """True when DNF exited 0 and reported no failed scriptlet."""
        return self.returncode == 0 and not SCRIPTLET_FAILURE.search(self.output)

    def changes(self) -> list[tuple[str, str]]:
        """(name, 'in' | 'out') for each package of DNF's transaction table, in its order."""
        found: list[tuple[str, str]] = []
        direction = None
        for line in (raw.rstrip() for raw in self.output.splitlines()):
            if line.endswith(":") and not line.startswith(" "):
                word = line.split()[0].rstrip(":")
                direction = {"Installing": "in", "Upgrading": "in", "Removing": "out"}.get(word)
                if line.startswith("Installing Groups") or line.startswith("Removing Groups"):
                    direction = None
            elif direction and line.startswith(" ") and len(line.split()) >= 4:
                found.append((line.split()[0], direction))
            elif not line.strip() or line.startswith("Transaction Summary"):
                direction = None
        return found

    def check(self) -> DnfResult:
        """Return self, or raise HarnessError with the end of DNF's output."""
        if not self.ok:
            tail = "\n".join(self.output.splitlines()[-25:])
            raise HarnessError(
                f"dnf {' '.join(self.args)} failed (exit {self.returncode}):\n{tail}"
            )
        return self


def dnf_available() -> str | None:
    """Return why real DNF cannot run here, or None when it can."""
    if shutil.which("dnf") is None:
        return "the dnf command is not installed (Debian: apt-get install dnf python3-dnf)"
    return None


def build_test_repo(work: Path) -> Path:
    """Build the repository of specs/ and the test stand-ins, with comps from comps/, in work/."""
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    comps_xml = comps_merge.build_repo_comps(work / "comps.xml", FIXTURE_COMPS, PROJECT_COMPS)
    return repo.build_repo(work / "repo", comps_xml=comps_xml)


class Installroot:
    """A scratch installroot with its own DNF configuration and rpm environment."""

    def __init__(
        self, path: Path, repo_dir: Path, *, home: Path, plugin_conf_dir: Path = PLUGIN_DIR
    ) -> None:
        """Make `path` an installroot for `repo_dir`; plugin settings come from
        `plugin_conf_dir`/fex.conf (default: the checkout's dnf-plugins/fex.conf)."""
        self.path = path
        self.repo_dir = repo_dir
        self.home = home
        self.conf = path.parent / f"{path.name}.dnf.conf"
        for sub in ("var/log", "var/cache", "var/lib", "var/tmp", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        empty = path.parent / f"{path.name}.reposdir"
        empty.mkdir(exist_ok=True)
        self.conf.write_text(
            "[main]\n"
            "gpgcheck=0\n"
            "install_weak_deps=True\n"
            "clean_requirements_on_remove=True\n"
            "best=True\n"
            "keepcache=False\n"
            f"reposdir={empty}\n"
            "plugins=1\n"
            f"pluginpath={PLUGIN_DIR}\n"
            f"pluginconfpath={plugin_conf_dir}\n"
        )

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment DNF and rpm run with: private HOME, this checkout's library."""
        env = repo.rpm_env(self.home)
        src = str(SRC)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        env.pop("FEXPKG_PAGE_SIZE", None)
        env.update(extra or {})
        return env

    def dnf(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        plugins: bool = True,
        check: bool = True,
        wrapper: Sequence[str] = (),
    ) -> DnfResult:
        """Run `dnf ARGS` against this root (with no plugin at all unless ``plugins``), through
        `wrapper` (a command that runs its arguments, e.g. in a mount namespace) when given."""
        cmd = (
            *wrapper,
            "dnf",
            "-c",
            str(self.conf),
            f"--installroot={self.path}",
            f"--forcearch={ARCH}",
            f"--releasever={RELEASEVER}",
            f"--repofrompath=fexpkg-test,{self.repo_dir}",
            "--repo=fexpkg-test",
            "--assumeyes",
            *(() if plugins else ("--noplugins",)),
            *args,
        )
        log.debug("running %s", " ".join(cmd))
        proc = subprocess.run(
            cmd, env=self.env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        result = DnfResult(tuple(args), proc.returncode, proc.stdout)
        return result.check() if check else result

    def installed(self) -> set[str]:
        """Names of the packages installed in the root, read by `rpm --root -qa`."""
        return installed(self.path, self.env())

    def rpm(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `rpm --root ROOT ARGS` with the root's rpm environment."""
        return subprocess.run(
            ["rpm", f"--root={self.path}", *args], env=self.env(), capture_output=True, text=True
        )

    def snapshot(self, ignore: Iterable[str] = BOOKKEEPING) -> dict[str, str]:
        """Map every path of the root (but DNF's and rpm's bookkeeping) to a content digest."""
        return snapshot(self.path, ignore)


def installed(root: Path, env: Mapping[str, str]) -> set[str]:
    """Names of the packages in root's rpm database (`rpm --root -qa`, with env: rpm_env's)."""
    proc = subprocess.run(
        ["rpm", f"--root={root}", "-qa", "--qf", "%{NAME}\\n"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(proc.stdout.split())


def snapshot(root: Path, ignore: Iterable[str] = ()) -> dict[str, str]:
    """Map each path under root to 'dir MODE', 'link TARGET' or 'file MODE SHA256'."""
    skip = tuple(ignore)
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in list(dirnames) + filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if any(rel == s or rel.startswith(s + "/") for s in skip):
                dirnames[:] = [d for d in dirnames if d != name]
                continue
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if os.path.islink(full):
                state[rel] = f"link {os.readlink(full)}"
            elif os.path.isdir(full):
                state[rel] = f"dir {st.st_mode:o}"
            else:
                digest = hashlib.sha256(Path(full).read_bytes()).hexdigest()
                state[rel] = f"file {st.st_mode:o} {digest}"
    return state
