"""Disk full and read-only file systems: one line naming the file, nothing half-written, and the
next run completes (issue 12).

Each scenario runs in a private mount namespace (`unshare --mount`, or with a user namespace when
not root): the root on a small tmpfs whose size or inode count is cut to what it holds plus a few,
so that setup runs out at each of its writes in turn; or /etc, /usr or the whole root bind-mounted
read-only. The scenario prints JSON; the tests assert on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/roots/fex-installed"

SCENARIO = r"""
import contextlib, io, json, os, re, shutil, subprocess, sys
from pathlib import Path
from fexpkg.system import doctor
from fexpkg.cli import main
from fexpkg.dev.crashtest import prepare
from fexpkg.dev.harness import snapshot

kind, work, fixture, size = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
TEMPORARY = re.compile(r"\..+\.fexpkg-[0-9a-f]{8}")

def mount(*args):
    subprocess.run(["mount", *args], check=True)

def fexpkg(*argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([*argv, "--root", str(root), "--no-live"] + (
            ["--page-size", size] if argv[0] == "setup" else []))
    return code, [l for l in err.getvalue().splitlines() if l.startswith("fexpkg: error:")]

def leftovers():
    return [str(p) for p in root.rglob("*") if TEMPORARY.fullmatch(p.name)]

def mixed(state, start, done):
    # paths holding neither what was there nor what a whole setup writes (the manifest aside,
    # in place or parked beside var/lib/fexpkg while that cannot be made)
    ours = lambda p: p.startswith("var/lib/fexpkg") or p.endswith(".fexpkg-manifest.json")
    return sorted(p for p, v in state.items()
                  if v not in (start.get(p), done.get(p)) and not ours(p))

root = work / "root"
work.mkdir(exist_ok=True)
if kind in ("size", "nr_inodes"):
    mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(work))
prepare(fixture, root)
os.makedirs(root / "etc", exist_ok=True)
os.makedirs(root / "var/lib", exist_ok=True)
start = snapshot(root)
assert fexpkg("setup")[0] == 0
done = snapshot(root)
assert fexpkg("teardown")[0] == 0 and snapshot(root) == start
results = []
if kind in ("size", "nr_inodes"):
    st = os.statvfs(work)
    used = (st.f_blocks - st.f_bfree) if kind == "size" else (st.f_files - st.f_ffree)
    for spare in range(0, 12 if kind == "size" else 24):
        limit = f"{(used + spare) * st.f_frsize // 1024}k" if kind == "size" else used + spare
        mount("-o", f"remount,{kind}={limit}", str(work))
        code, errors = fexpkg("setup")
        failed = snapshot(root)
        mount("-o", f"remount,{kind}={'4m' if kind == 'size' else 100000}", str(work))
        again = fexpkg("setup")[0], snapshot(root) == done
        teardown = fexpkg("teardown")[0], snapshot(root) == start
        results.append({"code": code, "errors": errors, "mixed": mixed(failed, start, done),
                        "partial": failed not in (start, done), "leftovers": leftovers(),
                        "again": again, "teardown": teardown})
        prepare(fixture, root)
        os.makedirs(root / "etc", exist_ok=True)
        os.makedirs(root / "var/lib", exist_ok=True)
else:
    target = root if kind == "root" else root / kind
    for command in ("setup", "teardown"):
        if command == "teardown":
            assert fexpkg("setup")[0] == 0
        before = snapshot(root)
        mount("--bind", str(target), str(target))
        mount("-o", "remount,bind,ro", str(target))
        code, errors = fexpkg(command)
        failed = snapshot(root)
        diagnosis = doctor.diagnose(root, {}, Path("/home/u"), page_size=size)
        checks = {c.name: c for c in diagnosis.checks}
        mount("-o", "remount,bind,rw", str(target))
        mount("--make-private", str(target))
        subprocess.run(["umount", str(target)], check=True)
        again = fexpkg(command)[0], snapshot(root) == (done if command == "setup" else start)
        results.append({"command": command, "code": code, "errors": errors,
                        "unchanged": failed == before, "mixed": mixed(failed, start, done),
                        "leftovers": leftovers(), "again": again,
                        "doctor": [checks["writable"].result.value, checks["writable"].finding]})
print(json.dumps(results))
"""


def _namespace() -> list[str]:
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--propagation", "private"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]


def scenario(kind: str, tmp_path: Path, page_size: int) -> list[dict]:
    """Run SCENARIO in a private mount namespace; skip when namespaces are not allowed."""
    argv = [*_namespace(), sys.executable, "-c", SCENARIO, kind, str(tmp_path / "work")]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [*argv, str(FIXTURE), str(page_size)], env=env, capture_output=True, text=True
    )
    if done.returncode and done.stderr.startswith("unshare:"):
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("page_size", [4096, 16384])
@pytest.mark.parametrize("kind", ["size", "nr_inodes"])
def test_disk_full_mid_setup(tmp_path, kind, page_size):
    """Space (or inodes) for a few more files only: setup stops at a write, cleanly."""
    results = scenario(kind, tmp_path, page_size)
    failed = [r for r in results if r["code"]]
    assert any(r["partial"] for r in failed), "no cut landed in the middle of setup"
    assert results[-1]["code"] == 0, "the largest cut should leave room enough"
    for r in results:
        assert r["leftovers"] == [] and r["mixed"] == []
        assert r["again"] == [0, True] and r["teardown"] == [0, True]
    for r in failed:
        assert r["code"] == 1 and len(r["errors"]) == 1
        cause = "no space left" if kind == "size" else "No space left"
        assert r["errors"][0].startswith(f"fexpkg: error: cannot write {tmp_path}/work/root/")
        assert cause.lower() in r["errors"][0].lower()


@pytest.mark.parametrize("where", ["etc", "usr", "root"])
def test_read_only(tmp_path, where):
    """A read-only /etc, /usr or root: one line, nothing changed, doctor names it, then it works."""
    results = scenario(where, tmp_path, 16384)
    root = tmp_path / "work/root"
    for r in results:
        assert r["code"] == 1 and len(r["errors"]) == 1, r
        assert r["errors"][0].startswith(f"fexpkg: error: cannot write {root}/")
        assert r["errors"][0].endswith("read-only file system: remount it read-write and run again")
        assert r["leftovers"] == [] and r["mixed"] == []
        assert r["again"] == [0, True]
        shown = {"root": root, "etc": root / "etc", "usr": root / "usr/share/fex-emu"}[where]
        assert r["doctor"] == [
            "warn",
            f"{shown} is on a read-only file system: fexpkg setup and teardown cannot write there",
        ]
    if where == "root":
        assert [r["unchanged"] for r in results] == [True, True]
