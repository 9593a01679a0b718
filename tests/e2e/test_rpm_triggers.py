"""The rpm path: python3-fexpkg's own file triggers and %preun, for transactions no DNF plugin sees
(DNF 5 without the actions plugin, PackageKit, `rpm -i`, image builders).

The scriptlets are read from the built RPM. In a test installroot they take their "fexpkg cannot
run" path (the python3 stand-in exits 127); their bodies are then run on the host as rpm would run
them in the root (chrooted): absolute paths they test are taken inside the root, `--root /` is the
root, and /usr/bin/fexpkg is this checkout's. The root must end as it does with the DNF 4 plugin.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fexpkg.confined import Root
from fexpkg.dev import repo
from fexpkg.dev.harness import Installroot
from fexpkg.system.fexconfig import (
    DEFAULT_ROOTFS_PATH,
    GLOBAL_CONFIG,
    MISSING,
    ROOTFS_KEY,
    get_key,
    load,
)

pytestmark = pytest.mark.e2e

FEXPKG = Path(sys.executable).with_name("fexpkg")
GROUP = "@fex-x86-emulation"
TRIGGER_PATHS = ("/usr/lib/binfmt.d", "/usr/share/fex-emu/RootFS")
#: No /dev/null in it: a fresh installroot has none, and a failed redirection would skip setup.
GUARD = "[ -x /usr/bin/fexpkg ] && fexpkg_version=$(/usr/bin/fexpkg --version 2>&1) || exit 0"
FEXPKG_STATE = "var/lib/fexpkg"

#: What setup writes in a root (plan.py); none of it may appear while fexpkg cannot run.
SETUP_OUTPUTS = ("etc/binfmt.d", "usr/libexec/fexpkg", FEXPKG_STATE)

_HEADER = re.compile(r"^(\w+) scriptlet \(using (\S+)\)(?: -- (.+)|:)$")


@dataclass(frozen=True)
class Scriptlet:
    """One scriptlet of an RPM as `rpm -qp --scripts / --filetriggers` prints it."""

    kind: str
    interpreter: str
    paths: tuple[str, ...]
    body: str


def query(rpm_file: Path, option: str, home: Path) -> dict[str, Scriptlet]:
    """The scriptlets `rpm -qp OPTION` prints, by kind."""
    proc = subprocess.run(
        ["rpm", "-qp", option, str(rpm_file)],
        env=repo.rpm_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    kind = None
    parts: dict[str, tuple[str, tuple[str, ...], list[str]]] = {}
    for line in proc.stdout.splitlines():
        match = _HEADER.match(line)
        if match:
            kind = match.group(1)
            assert kind not in parts, f"two {kind} scriptlets:\n{proc.stdout}"
            paths = tuple(p.strip() for p in (match.group(3) or "").split(",") if p.strip())
            parts[kind] = (match.group(2), paths, [])
        elif kind is not None:
            parts[kind][2].append(line)
    return {
        kind: Scriptlet(kind, interpreter, paths, "\n".join(lines).strip() + "\n")
        for kind, (interpreter, paths, lines) in parts.items()
    }


@pytest.fixture(scope="module")
def scriptlets(fex_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scriptlet]:
    """python3-fexpkg's scriptlets and file triggers, read from the session repository's RPM."""
    (rpm_file,) = sorted(fex_repo.glob("python3-fexpkg-*.noarch.rpm"))
    home = tmp_path_factory.mktemp("rpm-home")
    triggers = query(rpm_file, "--filetriggers", home)
    scripts = query(rpm_file, "--scripts", home)
    assert not triggers.keys() & scripts.keys()
    return {**triggers, **scripts}


def code_lines(body: str) -> list[str]:
    """The body's lines that are not comments or blank."""
    lines = (ln.strip() for ln in body.splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def in_root(body: str, root: Path) -> str:
    """The body as it behaves when rpm runs it chrooted in root, with this checkout's fexpkg."""
    text = re.sub(r"\[ -([edfx]) /", r"[ -\1 @ROOT@/", body)  # paths the body tests
    text = re.sub(r"(?<!@ROOT@)/usr/bin/fexpkg\b", str(FEXPKG), text)  # the command it runs
    text = re.sub(r"--root /(?=\s)", "--root @ROOT@", text)
    assert "--root /" not in text and str(FEXPKG) in text, text
    return text.replace("@ROOT@", str(root))


def run_in_root(scriptlet: Scriptlet, root: Installroot, *args: str) -> str:
    """Run a scriptlet's body against root as rpm would; return what fexpkg logged."""
    env = {k: v for k, v in os.environ.items() if k != "FEXPKG_PAGE_SIZE"}
    proc = subprocess.run(
        [scriptlet.interpreter, "-c", in_root(scriptlet.body, root.path), scriptlet.kind, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    # `|| :` keeps a failing fexpkg from failing the transaction: the test must see it succeed.
    assert "error" not in proc.stderr.lower() and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def fexpkg_outputs(root: Installroot) -> list[str]:
    """Files and links (binfmt.d masks) under the places setup writes to."""
    return sorted(
        path
        for path, kind in root.snapshot().items()
        if path.startswith(tuple(p + "/" for p in SETUP_OUTPUTS)) and not kind.startswith("dir ")
    )


# (a) what the package carries ------------------------------------------------------------------


def test_package_carries_the_triggers_and_preun(scriptlets):
    assert set(scriptlets) == {"transfiletriggerin", "transfiletriggerpostun", "preuninstall"}
    for kind in ("transfiletriggerin", "transfiletriggerpostun"):
        assert scriptlets[kind].paths == TRIGGER_PATHS, scriptlets[kind]
    for s in scriptlets.values():
        assert s.interpreter == "/bin/sh"
        syntax = subprocess.run(["sh", "-n", "-c", s.body], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{s.kind}: {syntax.stderr}"
        code = code_lines(s.body)
        assert GUARD in code, f"{s.kind} has no guard:\n{s.body}"
        runs = [ln for ln in code if re.match(r"/usr/bin/fexpkg (setup|teardown)\b", ln)]
        assert runs, f"{s.kind} runs no fexpkg action:\n{s.body}"
        for line in runs:
            assert line.endswith("|| :"), f"{s.kind}: a failure would fail the transaction: {line}"
            assert " --root / " in line + " ", line

    def actions(kind: str) -> list[str]:
        return re.findall(
            r"/usr/bin/fexpkg (setup|teardown) --root /",
            "\n".join(code_lines(scriptlets[kind].body)),
        )

    assert actions("transfiletriggerin") == ["setup"]
    # Files left: converge while FEX's binfmt.d file is there, undo once it is gone.
    postun = scriptlets["transfiletriggerpostun"].body
    assert actions("transfiletriggerpostun") == ["setup", "teardown"]
    assert "[ -e /usr/lib/binfmt.d/FEX-x86_64.conf ]" in postun
    # %preun: only when fexpkg is erased, not upgraded.
    preun = code_lines(scriptlets["preuninstall"].body)
    assert preun[0] == '[ "$1" -eq 0 ] || exit 0'
    assert actions("preuninstall") == ["teardown"]


# rpm runs them --------------------------------------------------------------------------------


def test_rpm_runs_them_in_the_root_when_handlers_come_and_go(make_root):
    """Real rpm (through dnf, no plugin) runs them chrooted, with the arguments they name.

    The root's /usr/bin/fexpkg is swapped for a shell script that logs its arguments (the root
    has busybox's sh but no Python); outside a booted system they pass --no-live.
    """
    root = make_root("kernel")
    root.dnf("install", "python3-fexpkg", plugins=False)
    (root.path / "usr/bin/fexpkg").write_text('#!/bin/sh\necho "$*" >> /fexpkg.log\n')
    log = root.path / "fexpkg.log"

    def calls(*args: str) -> list[str]:
        log.unlink(missing_ok=True)
        root.dnf(*args, plugins=False)
        return log.read_text().splitlines() if log.exists() else []

    setup, teardown = "setup --root / --no-live", "teardown --root / --no-live"
    # Another package's binfmt.d file: converge (no FEX yet: setup then does nothing).
    assert calls("install", "qemu-user-static-x86") == ["--version", setup]
    assert calls("install", "fex-emu") == ["--version", setup]
    # Not FEX's own file leaving: converge; FEX's: undo.
    assert calls("remove", "qemu-user-static-x86") == ["--version", setup]
    assert calls("remove", "fex-emu") == ["--version", teardown]
    assert calls("install", "fex-emu-rootfs-fedora") == ["--version", setup]
    # fexpkg itself leaving: its %preun undoes (its own trigger no longer runs).
    assert calls("remove", "python3-fexpkg") == ["--version", teardown]


# (b), (c) what they do -------------------------------------------------------------------------


def remove_like_rpm(root: Installroot, scriptlets: dict[str, Scriptlet], *args: str) -> None:
    """`dnf ARGS` with no plugin, with python3-fexpkg's %preun and file trigger run around it."""
    plan = root.dnf(*args, "--assumeno", plugins=False, check=False)
    outgoing = {name for name, direction in plan.changes() if direction == "out"}
    assert "fex-emu" in outgoing, plan.output
    if "python3-fexpkg" in outgoing:
        run_in_root(scriptlets["preuninstall"], root, "0")
    root.dnf(*args, plugins=False)
    # Runs only while fexpkg is still installed: the guard sees the root's /usr/bin/fexpkg.
    run_in_root(scriptlets["transfiletriggerpostun"], root)


@pytest.mark.parametrize(
    ("kernel", "removal"),
    [
        ("kernel", ("group", "remove", "fex-x86-emulation")),
        ("kernel-16k", ("group", "remove", "fex-x86-emulation")),
        ("kernel", ("remove", "fex-emu")),
    ],
    ids=["kernel-group-remove", "kernel-16k-group-remove", "kernel-remove-fex-emu"],
)
def test_rpm_triggers_end_like_the_dnf4_plugin(make_root, scriptlets, kernel, removal):
    with_plugin = make_root(kernel, name="dnf4")
    with_plugin.dnf("install", GROUP)

    root = make_root(kernel, name="rpm")
    before = root.snapshot()
    installed = root.dnf("install", GROUP, plugins=False)  # check(): no scriptlet failed
    # Nothing from the scriptlets' shell either (its messages name rpm's temporary script).
    assert "rpm-tmp" not in installed.output, installed.output
    assert "python3-fexpkg" in root.installed()
    # Inside the root fexpkg cannot run (python3 stand-in): the guard made the trigger a no-op.
    assert fexpkg_outputs(root) == []

    log = run_in_root(scriptlets["transfiletriggerin"], root)
    assert f"setup {root.path}:" in log, log
    assert root.snapshot() == with_plugin.snapshot()
    assert (root.path / FEXPKG_STATE / "manifest.json").is_file()
    rootfs = get_key(load(Root(root.path), GLOBAL_CONFIG), ROOTFS_KEY)
    assert rootfs == (DEFAULT_ROOTFS_PATH if kernel == "kernel" else MISSING)

    # Converges: the trigger firing again (qemu-user-static-x86 arriving, say) changes nothing.
    configured = root.snapshot()
    run_in_root(scriptlets["transfiletriggerin"], root)
    assert root.snapshot() == configured

    remove_like_rpm(root, scriptlets, *removal)
    if removal[0] == "group":
        assert root.snapshot() == before
    else:
        with_plugin.dnf(*removal)
        assert "python3-fexpkg" in root.installed()
        assert root.snapshot() == with_plugin.snapshot()
        # fexpkg stays installed: its own state directory may stay, nothing it set up does.
        assert [p for p in fexpkg_outputs(root) if not p.startswith(FEXPKG_STATE + "/")] == []
