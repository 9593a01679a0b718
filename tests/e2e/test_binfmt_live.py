"""Real binfmt_misc: fexpkg's setup registers handlers in a private user+mount namespace.

A child process mounts its own binfmt_misc, opens it (BinfmtMisc keeps the directory fd), chroots
into a small root and runs the real `actions.setup(Path("/"), ...)` there: the files land in the
root, the live registration goes to the private binfmt_misc and, with flag F, the kernel opens the
interpreter inside the chroot. Then it executes x86 ELF headers and reports what the stand-in
interpreter received.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fexpkg.binfmt import elf_header

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parents[1] / "fixtures/roots/fex-installed"

# Stand-in FEX: a static ELF, because with flag O the kernel refuses a script interpreter
# (the execfd cannot be passed through binfmt_script: ENOEXEC).
STAND_IN_FEX = r"""
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv %s\n", argv[i]);
    unsigned long fd = getauxval(AT_EXECFD);
    unsigned char b[4];
    if (fd && pread((int)fd, b, 4, 0) == 4)
        printf("execfd %02x%02x%02x%02x\n", b[0], b[1], b[2], b[3]);
    else
        printf("execfd none\n");
    return 0;
}
"""

# This host may itself be x86: its ELF files (busybox as /bin/sh, the stand-in FEX) then match
# FEX's entries and the kernel would loop through the handler. Setting EI_VERSION to 2, which
# binfmt_elf ignores but the entries' magic/mask reject, makes the kernel run them natively.


def native_copy(src: Path, dst: Path) -> None:
    """Copy an ELF executable so no x86 binfmt_misc entry matches it."""
    data = bytearray(src.read_bytes())
    data[6] = 2
    dst.write_bytes(bytes(data))
    dst.chmod(0o755)


STAND_IN_MUVM = """#!/bin/sh
for a in "$@"; do echo "muvm $a"; done
"""

CHILD = r"""
import json, os, subprocess, sys
from pathlib import Path
from fexpkg import actions
from fexpkg.binfmt import BinfmtMisc

root, page_size, progs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
mount = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"],
                       capture_output=True)
misc = BinfmtMisc()
if mount.returncode or not misc.available():
    print("SKIP cannot mount binfmt_misc: " + mount.stderr.decode().strip())
    sys.exit(0)
os.chroot(root)
os.chdir("/")
report = actions.setup(Path("/"), page_size, env={}, binfmt_misc=misc)
status = actions.status(Path("/"), {}, Path("/root"), page_size=page_size, binfmt_misc=misc)
runs = {}
for prog in progs:
    run = subprocess.run(["argv0-of-" + prog, "a", "b c"], executable=prog, capture_output=True)
    runs[prog] = {"rc": run.returncode, "out": run.stdout.decode().splitlines(),
                  "err": run.stderr.decode()}
teardown = actions.teardown(Path("/"), env={"FEXPKG_PAGE_SIZE": str(page_size)},
                            binfmt_misc=misc)
print(json.dumps({
    "changes": report.changes, "warnings": report.warnings, "runs": runs,
    "takes": {arch: h and h.name for arch, h in status.takes.items()},
    "live": sorted(h.name for h in status.live),
    "after_teardown": sorted(misc.registered()),
    "teardown_changes": teardown.changes,
}))
"""


@pytest.fixture(scope="module")
def stand_in_fex(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the static stand-in FEX")
    out = tmp_path_factory.mktemp("fex") / "FEX"
    src = out.with_suffix(".c")
    src.write_text(STAND_IN_FEX)
    build = subprocess.run([cc, "-static", "-O1", "-o", str(out), str(src)], capture_output=True)
    if build.returncode:
        pytest.skip(f"cannot build a static binary: {build.stderr.decode().strip()[:200]}")
    return out


def make_root(tmp_path, stand_in_fex, fex_name):
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox (static) is needed for /bin/sh in the test root")
    root = shutil.copytree(FIXTURE, tmp_path / "root", symlinks=True)
    (root / "bin").mkdir()
    native_copy(Path(busybox), root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    (root / "tmp").mkdir()
    (root / "usr/bin/FEXInterpreter").unlink()
    native_copy(stand_in_fex, root / "usr/bin" / fex_name)
    for conf in (root / "usr/lib/binfmt.d").glob("FEX-*.conf"):
        conf.write_text(conf.read_text().replace("/usr/bin/FEXInterpreter", f"/usr/bin/{fex_name}"))
    for arch in ("x86", "x86_64"):
        (root / f"prog-{arch}").write_bytes(elf_header(arch))
        (root / f"prog-{arch}").chmod(0o755)
    return root


def run_child(root, page_size, progs):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is missing")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.run(
        [
            unshare,
            "--user",
            "--map-root-user",
            "--mount",
            sys.executable,
            "-c",
            CHILD,
            str(root),
            str(page_size),
            *progs,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode and "unshare" in proc.stderr:
        pytest.skip(f"cannot make a user+mount namespace: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    if last.startswith("SKIP "):
        pytest.skip(last[5:])
    return json.loads(last)


@pytest.mark.parametrize("fex_name", ["FEXInterpreter", "FEX"])
def test_native_setup_registers_fex_live(tmp_path, stand_in_fex, fex_name):
    root = make_root(tmp_path, stand_in_fex, fex_name)
    result = run_child(root, 4096, ["/prog-x86", "/prog-x86_64"])
    interp = f"/usr/bin/{fex_name}"
    for arch in ("x86", "x86_64"):
        run = result["runs"][f"/prog-{arch}"]
        assert run["rc"] == 0, run["err"]
        # P keeps argv[0]; O hands FEX an fd of the program (AT_EXECFD); the path stays argv[1].
        assert run["out"] == [
            f"argv {interp}",
            f"argv /prog-{arch}",
            f"argv argv0-of-/prog-{arch}",
            "argv a",
            "argv b c",
            "execfd 7f454c46",
        ]
        assert f"registered FEX-{arch} in /proc/sys/fs/binfmt_misc" in result["changes"]
    assert result["takes"] == {"x86": "FEX-x86", "x86_64": "FEX-x86_64"}
    assert result["live"] == ["FEX-x86", "FEX-x86_64"]
    # teardown re-registers the package's entries: the same names stay registered
    assert result["after_teardown"] == ["FEX-x86", "FEX-x86_64"]


@pytest.mark.parametrize("fex_name", ["FEXInterpreter", "FEX"])
def test_muvm_setup_runs_fex_through_the_launcher(tmp_path, stand_in_fex, fex_name):
    root = make_root(tmp_path, stand_in_fex, fex_name)
    (root / "usr/bin/muvm").write_text(STAND_IN_MUVM)
    (root / "usr/bin/muvm").chmod(0o755)
    result = run_child(root, 16384, ["/prog-x86", "/prog-x86_64"])
    for arch in ("x86", "x86_64"):
        run = result["runs"][f"/prog-{arch}"]
        assert run["rc"] == 0, run["err"]
        assert run["out"] == [
            "muvm --",
            f"muvm /usr/bin/{fex_name}",
            f"muvm /prog-{arch}",
            "muvm a",
            "muvm b c",
        ]
    assert result["takes"] == {"x86": "fexpkg-muvm-x86", "x86_64": "fexpkg-muvm-x86_64"}
    assert result["live"] == ["fexpkg-muvm-x86", "fexpkg-muvm-x86_64"]
    assert result["after_teardown"] == []


def test_launcher_without_muvm_fails_with_127(tmp_path, stand_in_fex):
    root = make_root(tmp_path, stand_in_fex, "FEX")
    result = run_child(root, 16384, ["/prog-x86_64"])
    run = result["runs"]["/prog-x86_64"]
    assert run["rc"] == 127
    assert run["err"] == (
        "fex-muvm: /usr/bin/muvm is missing: install muvm to run x86 programs on this kernel\n"
    )
    assert "muvm is not installed: x86 programs cannot run; install muvm" in result["warnings"]
