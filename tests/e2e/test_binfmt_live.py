"""Real binfmt_misc: fexpkg's setup registers handlers in a private user+mount namespace.

A child process mounts its own binfmt_misc, opens it (BinfmtMisc keeps the directory fd), chroots
into a small root and runs the real `actions.setup(Path("/"), ...)` there: the files land in the
root, the live registration goes to the private binfmt_misc and, with flag F, the kernel opens the
interpreter inside the chroot. Then it executes x86 ELF headers and reports what the stand-in
interpreter received. With `boot`, the root's binfmt.d entries are registered first as
systemd-binfmt does (qemu's after FEX's) and the programs also run before setup and after teardown.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fexpkg.system.binfmt import elf_header

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parents[1] / "fixtures/roots/fex-installed"

# Stand-in FEX: a static ELF, because with flag O the kernel refuses a script interpreter
# (the execfd cannot be passed through binfmt_script: ENOEXEC).
STAND_IN_FEX = r"""
#include <stdio.h>
#include <stdlib.h>
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
    char cwd[4096], line[256];
    printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    printf("stdin %s", fgets(line, sizeof line, stdin) ? line : "none\n");
    return getenv("FEX_STATUS") ? atoi(getenv("FEX_STATUS")) : 0;
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


STAND_IN_MUVM = Path(__file__).parents[1] / "fixtures/specs/sources/muvm-stand-in.sh"

# The child: root in a user+mount namespace. Setup, status and teardown run chrooted in forked
# processes (flag F opens the interpreter inside the root). Each program runs through `unshare
# --user --map-user=1000 --root ROOT --wd DIR` as the user muvm requires (not root); binfmt_misc
# lookups from that nested user namespace reach the instance mounted here.
CHILD = r"""
import json, os, subprocess, sys
from pathlib import Path
from fexpkg.system import actions
from fexpkg.system import doctor  # status() imports it lazily: the chroot cannot see the checkout
from fexpkg.system.binfmt import BinfmtMisc, effective_handlers
from fexpkg.confined import Root

root, page_size, runs, unshare = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
boot = sys.argv[5] == "boot"
mount = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"],
                       capture_output=True)
misc = BinfmtMisc()
if mount.returncode or not misc.available():
    print("SKIP cannot mount binfmt_misc: " + mount.stderr.decode().strip())
    sys.exit(0)


def in_root(fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.chroot(root)
        os.chdir("/")
        os.write(w, json.dumps(fn()).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    _, code = os.waitpid(pid, 0)
    assert code == 0 and data, "chrooted step failed"
    return json.loads(data)


def boot_up():
    for applied in effective_handlers(Root(Path("/"))):  # as systemd-binfmt at boot
        misc.register(applied.entry)


def order():  # registered names as the kernel lists them: the most recent (tried first) first
    return [n for n in os.listdir("/proc/sys/fs/binfmt_misc") if n not in ("register", "status")]


def set_up():
    report = actions.setup(Path("/"), page_size, env={}, binfmt_misc=misc)
    status = actions.status(Path("/"), {}, Path("/root"), page_size=page_size, binfmt_misc=misc)
    return {"changes": report.changes, "warnings": report.warnings,
            "takes": {arch: h and h.name for arch, h in status.takes.items()},
            "live": sorted(h.name for h in status.live)}


def tear_down():
    teardown = actions.teardown(Path("/"), env={"FEXPKG_PAGE_SIZE": str(page_size)},
                                binfmt_misc=misc)
    return {"after_teardown": sorted(misc.registered()), "teardown_changes": teardown.changes,
            "teardown_warnings": teardown.warnings}


server = Path(root, "run/user/1000/krun/server")


def run_all():
    return [run_one(spec) for spec in runs]


def run_one(spec):
    if spec.get("vm_running"):
        server.parent.mkdir(parents=True, exist_ok=True)
        server.touch()
    env = {"PATH": "/bin:/usr/bin", "XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u",
           **spec.get("env", {})}
    run = subprocess.run([unshare, "--user", "--map-user=1000", "--map-group=1000",
                          "--root=" + root, "--wd=" + spec.get("cwd", "/"), "--", *spec["argv"]],
                         input=spec.get("stdin", "").encode(), capture_output=True, env=env)
    server.unlink(missing_ok=True)
    return {"rc": run.returncode, "out": run.stdout.decode().splitlines(),
            "err": run.stderr.decode()}


result = {}
if boot:
    in_root(boot_up)
    result.update(order_at_boot=order(), runs_at_boot=run_all())
result.update(in_root(set_up))
result.update(order=order(), runs=run_all())
result.update(in_root(tear_down))
result["order_after_teardown"] = order()
if boot:
    result["runs_after_teardown"] = run_all()
print(json.dumps(result))
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
    for applet in ("sh", "env", "id", "mkdir"):  # the muvm stand-in's commands
        (root / "bin" / applet).symlink_to("busybox")
    for d in ("etc", "tmp", "home/u", "run/user/1000", "work/sub"):
        (root / d).mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n")
    (root / "usr/bin/FEXInterpreter").unlink()
    native_copy(stand_in_fex, root / "usr/bin" / fex_name)
    for conf in (root / "usr/lib/binfmt.d").glob("FEX-*.conf"):
        conf.write_text(conf.read_text().replace("/usr/bin/FEXInterpreter", f"/usr/bin/{fex_name}"))
    for arch in ("x86", "x86_64"):
        (root / f"prog-{arch}").write_bytes(elf_header(arch))
        (root / f"prog-{arch}").chmod(0o755)
    return root


def run_child(root: Path, page_size: int, runs: list[dict], *, boot: bool = False) -> dict:
    """Set up, run `runs`, tear down in the namespace; with `boot`, the root's binfmt.d entries
    are registered first (as systemd-binfmt does) and `runs` also run before setup and after
    teardown."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is missing")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    # the programs run through unshare after registration: a copy no x86 entry takes
    native_unshare = Path(root).parent / "unshare"
    native_copy(Path(unshare), native_unshare)
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
            json.dumps(runs),
            str(native_unshare),
            "boot" if boot else "",
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


def plain_runs(*progs: str) -> list[dict]:
    return [{"argv": [prog, "a", "b c"]} for prog in progs]


@pytest.mark.parametrize("fex_name", ["FEXInterpreter", "FEX"])
def test_native_setup_registers_fex_live(tmp_path, stand_in_fex, fex_name):
    root = make_root(tmp_path, stand_in_fex, fex_name)
    result = run_child(root, 4096, plain_runs("/prog-x86", "/prog-x86_64"))
    interp = f"/usr/bin/{fex_name}"
    for arch, run in zip(("x86", "x86_64"), result["runs"], strict=True):
        assert run["rc"] == 0, run["err"]
        # P keeps argv[0]; O hands FEX an fd of the program (AT_EXECFD); the path stays argv[1].
        assert run["out"] == [
            f"argv {interp}",
            f"argv /prog-{arch}",
            f"argv /prog-{arch}",
            "argv a",
            "argv b c",
            "execfd 7f454c46",
            "cwd /",
            "stdin none",
        ]
        assert f"registered FEX-{arch} in /proc/sys/fs/binfmt_misc" in result["changes"]
    assert result["takes"] == {"x86": "FEX-x86", "x86_64": "FEX-x86_64"}
    assert result["live"] == ["FEX-x86", "FEX-x86_64"]
    # teardown re-registers the package's entries: the same names stay registered
    assert result["after_teardown"] == ["FEX-x86", "FEX-x86_64"]
    assert result["teardown_warnings"] == []


def install_stand_in_muvm(root: Path) -> None:
    shutil.copy(STAND_IN_MUVM, root / "usr/bin/muvm")
    (root / "usr/bin/muvm").chmod(0o755)


@pytest.mark.parametrize("fex_name", ["FEXInterpreter", "FEX"])
def test_muvm_setup_runs_fex_through_the_launcher(tmp_path, stand_in_fex, fex_name):
    root = make_root(tmp_path, stand_in_fex, fex_name)
    install_stand_in_muvm(root)
    result = run_child(root, 16384, plain_runs("/prog-x86", "/prog-x86_64"))
    for arch, run in zip(("x86", "x86_64"), result["runs"], strict=True):
        assert run["rc"] == 0, run["err"]
        # FEX named explicitly, in the caller's directory; argv[0] has no place on FEX's line
        assert run["out"] == [
            f"argv /usr/bin/{fex_name}",
            f"argv /prog-{arch}",
            "argv a",
            "argv b c",
            "execfd none",
            "cwd /",
            "stdin none",
        ]
    assert result["takes"] == {"x86": "fexpkg-muvm-x86", "x86_64": "fexpkg-muvm-x86_64"}
    assert result["live"] == ["fexpkg-muvm-x86", "fexpkg-muvm-x86_64"]
    assert result["after_teardown"] == []
    assert result["teardown_warnings"] == []


@pytest.mark.parametrize("vm_running", [False, True], ids=["first-vm", "vm-running"])
def test_launcher_runs_like_a_native_program(tmp_path, stand_in_fex, vm_running):
    """Relative path from another directory, --help and odd arguments, stdin, exit status."""
    root = make_root(tmp_path, stand_in_fex, "FEX")
    install_stand_in_muvm(root)
    (root / "work/sub/data.txt").write_text("x")
    runs = [
        {
            "argv": ["../../prog-x86_64", "--help", "data.txt", "two words", "", "-h"],
            "cwd": "/work/sub",
            "stdin": "piped line\n",
            "env": {"FEX_STATUS": "5"},
            "vm_running": vm_running,
        }
    ]
    (run,) = run_child(root, 16384, runs)["runs"]
    assert run["rc"] == 5, run["err"]
    assert run["out"] == [
        "argv /usr/bin/FEX",
        "argv /work/sub/../../prog-x86_64",
        "argv --help",
        "argv data.txt",
        "argv two words",
        "argv ",
        "argv -h",
        "execfd none",
        "cwd /work/sub",
        "stdin piped line",
    ]


def test_launcher_without_muvm_fails_with_127(tmp_path, stand_in_fex):
    root = make_root(tmp_path, stand_in_fex, "FEX")
    result = run_child(root, 16384, plain_runs("/prog-x86_64"))
    (run,) = result["runs"]
    assert run["rc"] == 127
    assert run["err"] == (
        "fex-muvm: /usr/bin/muvm is missing: install muvm to run x86 programs on this kernel\n"
    )
    assert (
        "muvm is not installed: x86 programs cannot run on 16384-byte pages" in result["warnings"]
    )


def test_native_setup_takes_x86_64_from_a_later_qemu_and_teardown_gives_it_back(
    tmp_path, stand_in_fex
):
    """qemu-user-static-x86's entry, registered after FEX's at boot, runs x86-64 programs.

    Setup must unregister FEX's entry before registering it again (the kernel answers EEXIST
    for a registered name) so that it is tried first; teardown must leave the order the next
    boot makes from the files, qemu's entry first again.
    """
    root = make_root(tmp_path, stand_in_fex, "FEX")
    native_copy(stand_in_fex, root / "usr/bin/qemu-x86_64-static")
    result = run_child(root, 4096, plain_runs("/prog-x86_64"), boot=True)
    common = ["argv /prog-x86_64", "argv a", "argv b c", "execfd 7f454c46", "cwd /", "stdin none"]
    by_qemu = [(0, ["argv /usr/bin/qemu-x86_64-static", *common])]  # no P: argv[0] dropped
    by_fex = [(0, ["argv /usr/bin/FEX", "argv /prog-x86_64", *common])]

    def answers(runs: list[dict]) -> list[tuple[int, list[str]]]:
        return [(run["rc"], run["out"]) for run in runs]

    assert result["order_at_boot"] == ["qemu-x86_64", "FEX-x86_64", "FEX-x86"]
    assert answers(result["runs_at_boot"]) == by_qemu

    assert result["warnings"] == []
    misc = "/proc/sys/fs/binfmt_misc"
    assert [c for c in result["changes"] if misc in c] == [
        f"registered FEX-x86 in {misc}",
        f"registered FEX-x86_64 in {misc}",
    ]
    assert result["order"] == ["FEX-x86_64", "FEX-x86", "qemu-x86_64"]
    assert result["takes"] == {"x86": "FEX-x86", "x86_64": "FEX-x86_64"}
    assert answers(result["runs"]) == by_fex

    assert result["teardown_warnings"] == []
    assert [c for c in result["teardown_changes"] if misc in c] == [
        f"registered FEX-x86 in {misc}",
        f"registered FEX-x86_64 in {misc}",
        f"registered qemu-x86_64 in {misc}",
    ]
    assert result["order_after_teardown"] == result["order_at_boot"]
    assert answers(result["runs_after_teardown"]) == by_qemu
