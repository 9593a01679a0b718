"""The muvm launcher (data/fex-muvm.sh) run as the kernel runs it, against the muvm stand-in.

The stand-in (tests/fixtures/specs/sources/muvm-stand-in.sh) models real muvm: commands start in
the user's home, a running VM without -i returns at once, `--help` among the arguments is refused,
the environment is filtered, root is refused. The launcher runs as a regular user: as uid 1000 in
a user namespace when the tests run as root.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fexpkg.system.plan import launcher_script

STAND_IN = Path(__file__).parents[1] / "fixtures/specs/sources/muvm-stand-in.sh"

# Stand-in FEX: reports where it runs, what it got, what it sees; exits with $FEX_STATUS.
FEX = """#!/bin/sh
echo "cwd $PWD"
for a in "$@"; do printf 'arg <%s>\\n' "$a"; done
echo "HOME=$HOME FOO=${FOO-unset} FEX_ROOTFS=${FEX_ROOTFS-unset} DISPLAY=${DISPLAY-unset}"
if [ -t 0 ]; then echo "stdin tty"; elif read -r line; then echo "stdin $line"; fi
exit "${FEX_STATUS:-0}"
"""

UID = 1000 if os.getuid() == 0 else os.getuid()


@pytest.fixture
def box(tmp_path):
    """A launcher wired to the stand-in muvm and a stand-in FEX, a home, a runtime dir."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(STAND_IN, bindir / "muvm")
    (bindir / "FEX").write_text(FEX)
    for exe in ("muvm", "FEX"):
        (bindir / exe).chmod(0o755)
    for d in ("home", "run", "work/sub"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "passwd").write_text(f"u:x:{UID}:{UID}::{tmp_path / 'home'}:/bin/sh\n")
    launcher = tmp_path / "fex-muvm"
    launcher.write_bytes(launcher_script(str(bindir / "muvm"), str(bindir)))
    launcher.chmod(0o755)
    return tmp_path


def as_user(argv: list[str]) -> list[str]:
    """argv run as a regular user (uid 1000 in a user namespace when we are root)."""
    if os.getuid() != 0:
        return argv
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root and unshare is missing: cannot run as a regular user")
    return [unshare, "--user", "--map-user=1000", "--map-group=1000", *argv]


def env_for(box: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "XDG_RUNTIME_DIR": str(box / "run"),
        "MUVM_STAND_IN_PASSWD": str(box / "passwd"),
    }
    env.update(extra)
    return env


def run(box: Path, argv: list[str], *, cwd=None, stdin: str = "", env=None, user: bool = True):
    """Run argv as binfmt_misc would run the launcher; (status, stdout lines, stderr)."""
    proc = subprocess.run(
        as_user(argv) if user else argv,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or box / "work",
        env=env if env is not None else env_for(box),
        timeout=30,
    )
    if proc.returncode and "unshare" in proc.stderr:
        pytest.skip(f"cannot make a user namespace: {proc.stderr.strip()}")
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def launch(box: Path, *args: str, **kwargs):
    """The launcher as binfmt_misc (flags PF) runs it: PATH ARGV0 ARGS."""
    return run(box, [str(box / "fex-muvm"), *args], **kwargs)


def vm_running(box: Path) -> None:
    (box / "run/krun").mkdir(exist_ok=True)
    (box / "run/krun/server").touch()


@pytest.mark.parametrize("running", [False, True], ids=["first-vm", "vm-running"])
def test_runs_in_the_callers_directory_with_an_absolute_path(box, running):
    if running:
        vm_running(box)
    status, out, err = launch(box, "../game", "game", "data.txt", cwd=box / "work/sub")
    assert status == 0, err
    assert out[:4] == [
        f"cwd {box / 'work/sub'}",
        f"arg <{box / 'work/sub/../game'}>",
        "arg <data.txt>",
        f"HOME={box / 'home'} FOO=unset FEX_ROOTFS=unset DISPLAY=unset",
    ]


def test_muvm_alone_starts_commands_in_the_home(box):
    status, out, _ = run(box, [str(box / "bin/muvm"), "--", str(box / "bin/FEX"), "x"])
    assert (status, out[0]) == (0, f"cwd {box / 'home'}")


def test_dot_slash_program_is_made_absolute(box):
    status, out, err = launch(box, "./game", "./game")
    assert status == 0, err
    assert out[1] == f"arg <{box / 'work/game'}>"


ODD_ARGS = ["--help", "-h", "", "two words", "new\nline", "--", "-e", "+plus", "*", "$HOME"]


@pytest.mark.parametrize("running", [False, True], ids=["first-vm", "vm-running"])
def test_every_argument_arrives_unchanged(box, running):
    if running:
        vm_running(box)
    status, out, err = launch(box, "/opt/game", "argv0-dropped", *ODD_ARGS)
    assert status == 0, err
    text = "\n".join(out)
    expected = "\n".join(f"arg <{a}>" for a in ["/opt/game", *ODD_ARGS])
    assert expected in text
    assert "argv0-dropped" not in text


def test_muvm_alone_refuses_help_among_the_arguments(box):
    status, out, err = run(box, [str(box / "bin/muvm"), "--", str(box / "bin/FEX"), "--help"])
    assert (status, out, err) == (1, [], "Error: `--help` is not expected in this context\n")


@pytest.mark.parametrize("running", [False, True], ids=["first-vm", "vm-running"])
def test_stdin_and_exit_status_are_the_programs(box, running):
    if running:
        vm_running(box)
    env = env_for(box, FEX_STATUS="7")
    status, out, _ = launch(box, "/opt/game", "game", stdin="piped line\n", env=env)
    assert status == 7
    assert out[-1] == "stdin piped line"


def test_muvm_alone_on_a_running_vm_returns_at_once_without_the_program(box):
    vm_running(box)
    env = env_for(box, FEX_STATUS="7")
    argv = [str(box / "bin/muvm"), "--", str(box / "bin/FEX"), "x"]
    status, out, _ = run(box, argv, stdin="piped line\n", env=env)
    assert (status, out) == (0, [])


def test_environment_passes_except_the_hosts_session_and_rootfs(box):
    env = env_for(box, FOO="a b", FEX_ROOTFS="/host/rootfs", DISPLAY=":0", HOME="/elsewhere")
    status, out, err = launch(box, "/opt/game", "game", env=env)
    assert status == 0, err
    assert out[2] == f"HOME={box / 'home'} FOO=a b FEX_ROOTFS=unset DISPLAY=unset"


def test_muvm_alone_filters_the_environment(box):
    env = env_for(box, FOO="a b")
    status, out, _ = run(box, [str(box / "bin/muvm"), "--", str(box / "bin/FEX"), "x"], env=env)
    assert (status, out[2]) == (0, f"HOME={box / 'home'} FOO=unset FEX_ROOTFS=unset DISPLAY=unset")


def test_root_is_refused_in_one_line(box):
    if os.getuid() != 0:
        pytest.skip("needs uid 0 (not a user namespace: the launcher reads /proc/self/status)")
    status, out, err = launch(box, "/opt/game", "game", user=False)
    assert (status, out) == (126, [])
    assert err == (
        "fex-muvm: muvm refuses to run as root: run x86 programs as a regular user, not with sudo\n"
    )


def test_no_runtime_dir_is_refused_in_one_line(box):
    env = env_for(box)
    del env["XDG_RUNTIME_DIR"]
    status, out, err = launch(box, "/opt/game", "game", env=env)
    assert (status, out) == (126, [])
    assert err.startswith("fex-muvm: XDG_RUNTIME_DIR is not set: muvm needs a user's login session")
    assert err.count("\n") == 1


def test_missing_muvm_is_127(box):
    (box / "bin/muvm").unlink()
    status, _, err = launch(box, "/opt/game", "game")
    assert status == 127
    assert err == (
        f"fex-muvm: {box / 'bin/muvm'} is missing: "
        "install muvm to run x86 programs on this kernel\n"
    )


def test_missing_fex_is_127(box):
    (box / "bin/FEX").unlink()
    status, _, err = launch(box, "/opt/game", "game")
    assert status == 127
    assert err == (
        f"fex-muvm: FEX is missing (no {box / 'bin/FEX'} nor {box / 'bin/FEXInterpreter'}): "
        "install fex-emu\n"
    )


def test_fexinterpreter_when_there_is_no_fex(box):
    (box / "bin/FEX").rename(box / "bin/FEXInterpreter")
    status, out, err = launch(box, "/opt/game", "game")
    assert status == 0, err
    assert out[1] == "arg </opt/game>"


def test_tty_only_when_stdin_stdout_and_stderr_are_terminals(box):
    record = box / "bin/muvm"
    record.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = -- ] && break; echo "$a"; done\n')
    status, out, _ = launch(box, "/opt/game", "game", env=env_for(box, FOO="x"))
    assert (status, out) == (0, ["-i", "-e", "FOO", "-e", "PATH"])  # MUVM_* stay on the host
    primary, secondary = os.openpty()
    try:
        proc = subprocess.run(
            as_user([str(box / "fex-muvm"), "/opt/game", "game"]),
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            cwd=box,
            env=env_for(box),
            timeout=30,
        )
        os.close(secondary)
        output = b""
        while chunk := _read(primary):
            output += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    assert output.decode().split()[:2] == ["-i", "-t"]


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO once the other side is closed
        return b""
