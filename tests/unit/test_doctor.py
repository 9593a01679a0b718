"""`fexpkg doctor`: each check's result, finding and fix over roots built in tmp_path."""

import json
from pathlib import Path

import pytest

from fexpkg import cli
from fexpkg.dev import harness
from fexpkg.system import actions, target
from fexpkg.system.apply import pending
from fexpkg.system.binfmt import BinfmtMisc
from fexpkg.system.doctor import Check, Outcome, diagnose
from fexpkg.system.plan import ROOTFS_IMAGE, make_plan
from fexpkg.system.target import Target

HOME = Path("/home/u")
FULL_NATIVE = ("usr/bin/erofsfuse", "usr/lib64/fex-emu/HostThunks/")
FULL_MUVM = ("usr/bin/muvm", "usr/lib64/fex-emu/HostThunks/")


def add(root: Path, *relpaths: str) -> None:
    """Create files (and directories, for paths ending in /) as packages would install them."""
    for relpath in relpaths:
        path = root / relpath
        if relpath.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"stand-in\n")


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# What muvm's guest binary says about FEX (crates/muvm/src/guest/fex.rs), by release.
GUEST_FEXINTERPRETER = (
    "Failed to check existence of `FEXInterpreter`Failed to find `FEXInterpreter` in PATH"
)
GUEST_FEX = "Failed to check existence of `FEX`Failed to find `FEX` in PATH"


def add_muvm(root: Path, guest: str = GUEST_FEXINTERPRETER) -> None:
    """muvm as its package installs it, with a guest binary looking for one FEX name."""
    add(root, *FULL_MUVM)
    write(root, "usr/bin/muvm-guest", f"\x7fELF...{guest}...")


def run(root: Path, page_size: int, env: dict[str, str] | None = None) -> list[Check]:
    return diagnose(root, env or {}, HOME, page_size=page_size).checks


def named(checks: list[Check], name: str) -> list[Check]:
    return [c for c in checks if c.name == name]


def one(checks: list[Check], name: str) -> Check:
    (check,) = named(checks, name)
    return check


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.result is not Outcome.PASS]


def installroot(root: Path, package: str) -> str:
    return f"sudo dnf --installroot {root} install {package}"


# -- healthy roots ------------------------------------------------------------------------------


def test_setup_for_4096_passes_every_check(root, capsys):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    checks = run(root, 4096)
    assert failures(checks) == []
    assert [c.name for c in checks] == [
        "page-size",
        "fex-emu",
        "rootfs-image",
        "rootfs-content",
        "thunks",
        "erofs-fuse",
        "muvm",
        "muvm-fex",
        "config",
        "binfmt",
        "binfmt",
        "rootfs",
        "overrides",
        "dispatcher",
        "writable",
        "setup",
    ]
    assert [c.finding for c in named(checks, "binfmt")] == [
        "x86 programs go to FEX (/etc/binfmt.d/zz-fexpkg-FEX-x86.conf)",
        "x86-64 programs go to FEX (/etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf)",
    ]
    assert one(checks, "rootfs").finding == (
        "FEX uses /usr/share/fex-emu/RootFS/default.erofs (set by /usr/share/fex-emu/Config.json)"
    )
    assert one(checks, "setup").finding == (
        "fexpkg setup is applied and current (/var/lib/fexpkg/manifest.json)"
    )
    assert all(c.fix == "" for c in checks)


def test_setup_for_16384_with_muvm_passes_every_check(root):
    add_muvm(root)
    actions.setup(root, 16384, env={})
    checks = run(root, 16384)
    assert failures(checks) == []
    assert one(checks, "page-size").finding == (
        "16384-byte pages (set explicitly): muvm mode, FEX needs 4 KiB pages, "
        "so x86 programs run in a muvm microVM"
    )
    assert [c.finding for c in named(checks, "binfmt")] == [
        "x86 programs go to FEX in muvm (/etc/binfmt.d/zz-fexpkg-muvm-x86.conf)",
        "x86-64 programs go to FEX in muvm (/etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf)",
    ]
    assert one(checks, "erofs-fuse").finding == (
        "not needed: muvm mounts the RootFS in the microVM"
    )


def fex_ships(root: Path, *names: str) -> None:
    """Leave exactly these FEX binaries in /usr/bin."""
    for name in ("FEX", "FEXInterpreter"):
        (root / "usr/bin" / name).unlink(missing_ok=True)
    add(root, *(f"usr/bin/{name}" for name in names))


@pytest.mark.parametrize(
    ("guest", "ships", "found"),
    [
        (GUEST_FEXINTERPRETER, ("FEXInterpreter",), "FEXInterpreter"),
        (GUEST_FEXINTERPRETER, ("FEX", "FEXInterpreter"), "FEXInterpreter"),  # FEX 2510-2607
        (GUEST_FEX, ("FEX", "FEXInterpreter"), "FEX"),
        (GUEST_FEX, ("FEX",), "FEX"),
    ],
)
def test_muvm_and_fex_binary_names_that_pair(root, guest, ships, found):
    add_muvm(root, guest)
    fex_ships(root, *ships)
    actions.setup(root, 16384, env={})
    assert one(run(root, 16384), "muvm-fex") == Check(
        "muvm-fex",
        Outcome.PASS,
        f"muvm looks for {found} in the microVM and fex-emu ships /usr/bin/{found}",
    )


@pytest.mark.parametrize(
    ("guest", "ships", "fix"),
    [
        (GUEST_FEXINTERPRETER, "FEX", "sudo dnf --installroot {root} upgrade muvm"),  # FEX >= 2608
        (GUEST_FEX, "FEXInterpreter", "sudo dnf --installroot {root} upgrade fex-emu"),  # < 2510
    ],
)
def test_muvm_and_fex_binary_names_that_cannot_work(root, guest, ships, fix):
    add_muvm(root, guest)
    fex_ships(root, ships)
    actions.setup(root, 16384, env={})
    wanted = "FEX" if guest == GUEST_FEX else "FEXInterpreter"
    assert failures(run(root, 16384)) == [
        Check(
            "muvm-fex",
            Outcome.FAIL,
            f"muvm looks for {wanted} in the microVM but fex-emu ships only /usr/bin/{ships}: "
            "the microVM stops before running any program",
            fix.format(root=root),
        )
    ]


def test_muvm_guest_that_falls_back_or_cannot_be_read(root):
    add_muvm(root, GUEST_FEX + "Failed to find or configure FEX, falling back to Box")
    actions.setup(root, 16384, env={})
    check = one(run(root, 16384), "muvm-fex")
    assert (check.result, check.fix) == (
        Outcome.WARN,
        f"sudo dnf --installroot {root} upgrade fex-emu",
    )
    assert "muvm registers no FEX handler there" in check.finding
    (root / "usr/bin/muvm-guest").unlink()
    check = one(run(root, 16384), "muvm-fex")
    assert check.result is Outcome.WARN and check.finding.startswith("cannot tell")
    assert one(run(root, 4096), "muvm-fex").result is Outcome.PASS


def test_not_installed_stops_after_the_fex_check(tmp_path):
    checks = run(tmp_path, 4096)
    assert [c.name for c in checks] == ["page-size", "fex-emu"]
    assert one(checks, "fex-emu") == Check(
        "fex-emu",
        Outcome.FAIL,
        f"fex-emu is not installed in {tmp_path}",
        installroot(tmp_path, "fex-emu"),
    )


# -- broken roots: each names the problem and the fix ----------------------------------------------


def test_rootfs_content_is_checked_and_cached_outside_the_root(root, tmp_path):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    image = "usr/share/fex-emu/RootFS/default.erofs"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    before = harness.snapshot(root)
    check = one(run(root, 4096, env), "rootfs-content")
    assert check.result is Outcome.PASS
    assert check.finding == "the RootFS image passes fexpkg rootfs check (fedora library layout)"
    assert harness.snapshot(root) == before, "doctor wrote into the root"
    (cached,) = (tmp_path / "cache/fexpkg").glob("rootfs-check-*.json")
    assert json.loads(cached.read_text())["report"]["ok"] is True
    (root / image).write_text("not an image\n")
    check = one(run(root, 4096, env), "rootfs-content")
    assert check.result is Outcome.WARN
    assert "not an EroFS image" in check.finding


def test_no_rootfs_image(root):
    add(root, *FULL_NATIVE)
    (root / "usr/share/fex-emu/RootFS/default.erofs").unlink()
    actions.setup(root, 4096, env={})
    checks = run(root, 4096)
    assert one(checks, "rootfs-image") == Check(
        "rootfs-image",
        Outcome.FAIL,
        "no RootFS image: /usr/share/fex-emu/RootFS/default.erofs is missing",
        installroot(root, "fex-emu-rootfs-fedora"),
    )
    assert one(checks, "rootfs") == Check(
        "rootfs",
        Outcome.FAIL,
        "no RootFS configured: FEX cannot run x86 programs",
        f"{installroot(root, 'fex-emu-rootfs-fedora')} && sudo fexpkg setup --root {root} "
        "--page-size 4096",
    )


def test_qemu_shadows_fex_on_4k_without_setup(root):
    add(root, *FULL_NATIVE)
    checks = run(root, 4096)
    x86, x86_64 = named(checks, "binfmt")
    assert x86.result is Outcome.PASS
    assert x86_64 == Check(
        "binfmt",
        Outcome.FAIL,
        "x86-64 programs go to qemu-x86_64 (/usr/bin/qemu-x86_64-static), not FEX: "
        "/usr/lib/binfmt.d/qemu-x86_64-static.conf shadows FEX",
        f"sudo fexpkg setup --root {root} --page-size 4096",
    )


def test_fex_handler_on_16k_without_setup(root):
    add_muvm(root)
    (root / "usr/lib/binfmt.d/qemu-x86_64-static.conf").unlink()
    checks = run(root, 16384)
    assert named(checks, "binfmt") == [
        Check(
            "binfmt",
            Outcome.FAIL,
            f"{label} programs go to FEX directly (/usr/lib/binfmt.d/FEX-{arch}.conf): on "
            '16384-byte pages it crashes with "Unsupported system page size"',
            f"sudo fexpkg setup --root {root} --page-size 16384",
        )
        for label, arch in (("x86", "x86"), ("x86-64", "x86_64"))
    ]


def test_qemu_on_16k_does_not_reach_muvm(root):
    add_muvm(root)
    x86_64 = named(run(root, 16384), "binfmt")[1]
    assert x86_64.result is Outcome.FAIL
    assert x86_64.finding == (
        "x86-64 programs go to qemu-x86_64 (/usr/bin/qemu-x86_64-static), not FEX in muvm: "
        "/usr/lib/binfmt.d/qemu-x86_64-static.conf shadows FEX"
    )


def test_user_config_rootfs_on_16k(root):
    add_muvm(root)
    actions.setup(root, 16384, env={})
    write(root, "home/u/.fex-emu/Config.json", '{"Config": {"RootFS": "mine.erofs"}}')
    assert failures(run(root, 16384)) == [
        Check(
            "overrides",
            Outcome.FAIL,
            "/home/u/.fex-emu/Config.json sets RootFS 'mine.erofs': it overrides muvm's RootFS "
            "and FEX fails in the microVM",
            f"rm {root}/home/u/.fex-emu/Config.json",
        )
    ]


def test_fex_rootfs_env_on_16k(root):
    add_muvm(root)
    actions.setup(root, 16384, env={})
    checks = run(root, 16384, {"FEX_ROOTFS": "/opt/x86"})
    assert failures(checks) == []
    assert named(checks, "overrides") == [
        Check(
            "overrides",
            Outcome.PASS,
            "FEX_ROOTFS=/opt/x86 is set on the host: the muvm launcher keeps it out of the "
            "microVM (and muvm passes only its own list of variables)",
        )
    ]


def test_user_override_on_4k_is_a_warning(root):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    write(root, "home/u/.fex-emu/Config.json", '{"Config": {"RootFS": "default.erofs"}}')
    diagnosis = diagnose(root, {}, HOME, page_size=4096)
    assert not diagnosis.failed
    assert failures(diagnosis.checks) == [
        Check(
            "overrides",
            Outcome.WARN,
            "/home/u/.fex-emu/Config.json sets RootFS 'default.erofs': it overrides the global "
            "RootFS",
            f"rm {root}/home/u/.fex-emu/Config.json",
        )
    ]


@pytest.mark.parametrize(
    ("where", "fix"),
    [
        ("user", "rm {root}/home/u/.fex-emu/Config.json"),
        ("env", "unset FEX_ROOTFS"),
        ("global", "sudo fexpkg setup --root {root} --page-size 4096"),
    ],
)
def test_rootfs_pointing_to_a_missing_file_on_4k(root, where, fix):
    add(root, *FULL_NATIVE)
    env = {}
    source = {
        "user": "/home/u/.fex-emu/Config.json",
        "env": "FEX_ROOTFS",
        "global": "/usr/share/fex-emu/Config.json",
    }[where]
    if where == "env":
        env["FEX_ROOTFS"] = "/opt/missing.erofs"
    else:
        write(root, source.lstrip("/"), '{"Config": {"RootFS": "/opt/missing.erofs"}}')
    assert one(run(root, 4096, env), "rootfs") == Check(
        "rootfs",
        Outcome.FAIL,
        f"RootFS /opt/missing.erofs does not exist (set to '/opt/missing.erofs' by {source})",
        fix.format(root=root),
    )


@pytest.mark.parametrize(
    ("where", "fix"),
    [("user", "rm {root}/home/u/.config/fex-emu/Config.json"), ("env", "unset FEX_ROOTFS")],
)
def test_empty_rootfs_override_on_4k(root, where, fix):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    env = {"FEX_ROOTFS": ""} if where == "env" else {}
    source = "FEX_ROOTFS" if where == "env" else "/home/u/.config/fex-emu/Config.json"
    if where == "user":
        write(root, source.lstrip("/"), '{"Config": {"RootFS": ""}}')
    assert one(run(root, 4096, env), "rootfs") == Check(
        "rootfs",
        Outcome.FAIL,
        f"{source} sets an empty RootFS: FEX cannot run x86 programs",
        fix.format(root=root),
    )


def test_rootfs_changed_after_setup_is_set_back_by_hand(root):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    config = root / "usr/share/fex-emu/Config.json"
    config.write_text(config.read_text().replace(f'"/{ROOTFS_IMAGE}"', '"/opt/missing.erofs"'))
    checks = run(root, 4096)
    fix = one(checks, "rootfs").fix
    assert fix == (f"""sudo sed -i 's|"RootFS": *"[^"]*"|"RootFS": "/{ROOTFS_IMAGE}"|' {config}""")
    assert one(checks, "setup") == Check(
        "setup",
        Outcome.WARN,
        f"Config.RootFS in {config} was changed since fexpkg wrote it: left alone",
        f"review it, then sudo fexpkg setup --root {root} --page-size 4096",
    )


def test_erofs_fuse_missing(root):
    add(root, "usr/lib64/fex-emu/HostThunks/")
    actions.setup(root, 4096, env={})
    assert failures(run(root, 4096)) == [
        Check(
            "erofs-fuse",
            Outcome.FAIL,
            "erofs-fuse is not installed: FEX cannot mount the RootFS "
            "/usr/share/fex-emu/RootFS/default.erofs",
            installroot(root, "erofs-fuse"),
        )
    ]


def test_muvm_missing_on_16k(root):
    add(root, "usr/lib64/fex-emu/HostThunks/")
    actions.setup(root, 16384, env={})
    assert failures(run(root, 16384)) == [
        Check(
            "muvm",
            Outcome.FAIL,
            "muvm is not installed: x86 programs cannot run on 16384-byte pages",
            installroot(root, "muvm"),
        )
    ]


def test_thunks_missing_is_a_warning(root):
    add(root, "usr/bin/erofsfuse")
    actions.setup(root, 4096, env={})
    diagnosis = diagnose(root, {}, HOME, page_size=4096)
    assert not diagnosis.failed
    assert failures(diagnosis.checks) == [
        Check(
            "thunks",
            Outcome.WARN,
            "fex-emu-thunks is not installed (no /usr/lib64/fex-emu/HostThunks): GL and Vulkan "
            "run emulated, slower",
            installroot(root, "fex-emu-thunks"),
        )
    ]


def test_setup_not_applied(root):
    add(root, *FULL_NATIVE)
    assert one(run(root, 4096), "setup") == Check(
        "setup",
        Outcome.FAIL,
        f"fexpkg setup is not applied: 5 changes to make (linked {root}/etc/binfmt.d/FEX-x86.conf"
        " -> /dev/null, ...)",
        f"sudo fexpkg setup --root {root} --page-size 4096",
    )


def test_setup_stale_after_the_page_size_changed(root):
    add_muvm(root)
    actions.setup(root, 4096, env={})
    check = one(run(root, 16384), "setup")
    assert check == Check(
        "setup",
        Outcome.FAIL,
        f"fexpkg setup is stale: 6 changes to make (undo {root}/etc/binfmt.d/zz-fexpkg-FEX-x86.conf"
        ", ...)",
        f"sudo fexpkg setup --root {root} --page-size 16384",
    )


def test_pending_is_empty_after_setup_and_writes_nothing(root):
    plan = make_plan(Target(root, 4096), {}, HOME)
    before = sorted(p for p in root.rglob("*"))
    todo = pending(plan)
    assert len(todo.changes) == 5 and todo.left_alone == []
    assert sorted(p for p in root.rglob("*")) == before
    actions.setup(root, 4096, env={})
    assert pending(plan).changes == []


@pytest.mark.parametrize("which", ["global", "user"])
def test_broken_config_is_a_failed_check(root, which):
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    relpath = {
        "global": "usr/share/fex-emu/Config.json",
        "user": "home/u/.fex-emu/Config.json",
    }[which]
    write(root, relpath, '{\n  "Config": {\n    "RootFS": ,\n  }\n}\n')
    checks = run(root, 4096)
    path = root / relpath
    fix = {
        "global": f"sudo mv {path} {path}.broken && sudo fexpkg setup --root {root} "
        "--page-size 4096",
        "user": f"mv {path} {path}.broken",
    }[which]
    finding = f"{path}:3: invalid JSON (Expecting value); fix it, fexpkg leaves it alone"
    assert one(checks, "config") == Check("config", Outcome.FAIL, finding, fix)
    assert one(checks, "rootfs") == Check(
        "rootfs", Outcome.FAIL, f"cannot tell which RootFS FEX uses: {finding}", fix
    )


def test_dispatcher_and_launcher_both_claim_x86(root):
    add_muvm(root)
    add(root, "usr/bin/binfmt-dispatcher")
    for arch in ("x86", "x86_64"):
        fex = (root / f"usr/lib/binfmt.d/FEX-{arch}.conf").read_text()
        dispatcher = fex.replace(f":FEX-{arch}:", f":binfmt-dispatcher-{arch}:").replace(
            "/usr/bin/FEXInterpreter", "/usr/bin/binfmt-dispatcher"
        )
        write(root, f"usr/lib/binfmt.d/zz-binfmt-dispatcher-{arch}.conf", dispatcher)
    before = one(run(root, 16384), "dispatcher")
    assert before.result is Outcome.PASS
    assert before.finding.endswith(
        "and runs muvm itself as /usr/lib/binfmt-dispatcher.d/00-default.toml "
        "(overridden by /etc/binfmt-dispatcher.toml) says"
    )
    actions.setup(root, 16384, env={})
    checks = run(root, 16384)
    assert failures(checks) == []
    assert one(checks, "dispatcher").finding == (
        "binfmt-dispatcher (/usr/lib/binfmt.d/zz-binfmt-dispatcher-x86.conf, "
        "/usr/lib/binfmt.d/zz-binfmt-dispatcher-x86_64.conf) also claims x86 programs; "
        "/etc/binfmt.d/zz-fexpkg-muvm-x86.conf, /etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf wins, "
        "applied after it: binfmt-dispatcher is not used"
    )


def test_live_qemu_on_the_host_after_setup(root, tmp_path, monkeypatch):
    """On the host, the live binfmt_misc decides; a live-only shadow is disabled with echo 0."""
    add(root, *FULL_NATIVE)
    actions.setup(root, 4096, env={})
    misc = tmp_path / "binfmt_misc"
    misc.mkdir()
    (misc / "register").write_text("")
    (misc / "qemu-x86_64").write_text(
        "enabled\ninterpreter /usr/bin/qemu-x86_64-static\nflags: OCF\noffset 0\n"
        "magic 7f454c4602010100000000000000000002003e00\n"
        "mask fffffffffffefe00fffffffffffffffffeffffff\n"
    )
    monkeypatch.setattr(target, "is_host", lambda path: Path(path) == root)
    checks = diagnose(root, {}, HOME, page_size=4096, binfmt_misc=BinfmtMisc(misc)).checks
    assert named(checks, "binfmt") == [
        Check(
            "binfmt",
            Outcome.FAIL,
            "no binfmt_misc handler takes x86 programs: they cannot run",
            "sudo fexpkg setup --page-size 4096",
        ),
        Check(
            "binfmt",
            Outcome.FAIL,
            "x86-64 programs go to qemu-x86_64 (/usr/bin/qemu-x86_64-static), not FEX: live "
            "entry /proc/sys/fs/binfmt_misc/qemu-x86_64 shadows FEX",
            "echo 0 | sudo tee /proc/sys/fs/binfmt_misc/qemu-x86_64",
        ),
    ]
    assert one(checks, "erofs-fuse").result is Outcome.PASS


# -- CLI --------------------------------------------------------------------------------------


def test_cli_human_output_and_exit_code(root, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(HOME))
    monkeypatch.delenv("FEX_ROOTFS", raising=False)
    add(root, *FULL_NATIVE)
    assert cli.main(["doctor", "--root", str(root), "--page-size", "4096"]) == 1
    out = capsys.readouterr().out.splitlines()
    i = out.index(
        "FAIL  binfmt  x86-64 programs go to qemu-x86_64 (/usr/bin/qemu-x86_64-static), not FEX: "
        "/usr/lib/binfmt.d/qemu-x86_64-static.conf shadows FEX"
    )
    assert out[i + 1] == f"      fix: sudo fexpkg setup --root {root} --page-size 4096"
    assert "PASS  binfmt  x86 programs go to FEX (/usr/lib/binfmt.d/FEX-x86.conf)" in out
    actions.setup(root, 4096, env={})
    assert cli.main(["doctor", "--root", str(root), "--page-size", "4096"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith("PASS  ") for line in out)


def test_cli_json(root, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(HOME))
    monkeypatch.delenv("FEX_ROOTFS", raising=False)
    add(root, *FULL_NATIVE)
    assert cli.main(["doctor", "--root", str(root), "--page-size", "4096", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert sorted(data) == ["checks", "mode", "ok", "page_size", "root"]
    assert (data["ok"], data["mode"], data["page_size"]) == (False, "native", 4096)
    assert all(sorted(c) == ["finding", "fix", "name", "result"] for c in data["checks"])
    assert {"name": "muvm", "result": "pass", "finding": "not needed on 4096-byte pages"} | {
        "fix": None
    } in data["checks"]


@pytest.mark.parametrize(
    "page_size,env,prepare",
    [
        (4096, {}, lambda root: None),
        (4096, {"FEX_ROOTFS": ""}, lambda root: actions.setup(root, 4096, env={})),
        (16384, {}, lambda root: actions.setup(root, 16384, env={})),
        (4096, {}, lambda root: write(root, "usr/share/fex-emu/Config.json", "{")),
    ],
    ids=["4k-before-setup", "4k-empty-FEX_ROOTFS", "16k-no-muvm", "4k-broken-config"],
)
def test_status_warns_in_doctors_words(root, page_size, env, prepare):
    """One model, worded once: every warning of `status` is a finding doctor does not pass."""
    prepare(root)
    warnings = actions.status(root, env, HOME, page_size=page_size).warnings
    checks = diagnose(root, env, HOME, page_size=page_size).checks
    findings = [c.finding for c in checks if c.result is not Outcome.PASS]
    assert warnings and set(warnings) <= set(findings)
