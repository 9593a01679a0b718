"""`fexpkg demo`: the `make demo` job, a real `dnf install @fex-x86-emulation` per page size."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import NamedTuple

GROUP = "fex-x86-emulation"


class Scenario(NamedTuple):
    """One kind of AArch64 system: a name, the kernel flavour it runs, its page size."""

    name: str
    title: str
    kernel: str
    page_size: int


SCENARIOS = (
    Scenario("4k", "AArch64 with 4 KiB pages (kernel)", "kernel", 4096),
    Scenario("16k", "Apple Silicon with 16 KiB pages (kernel-16k)", "kernel-16k", 16384),
)


COMMANDS = ("demo",)
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    demo = sub.add_parser(
        "demo",
        help="build the repository and dnf install @fex-x86-emulation into scratch installroots",
        description="What `make demo` runs: build the repository from specs/, the test "
        "stand-ins and comps/, then dnf install @fex-x86-emulation into a scratch installroot per "
        "page size (DNF 4), and dnf5 install in a Debian unstable root (DNF 5, rpm 6). Writes "
        "only under --work and the DNF 5 host's cache.",
    )
    demo.add_argument(
        "--work", type=Path, required=True, metavar="DIR", help="work directory (recreated)"
    )
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run every scenario and print what each system ends up with."""
    from fexpkg.dev import harness  # the tooling: lxml, rpm bindings

    work = args.work.resolve()
    reason = harness.dnf_available()
    if reason:
        print(f"demo: {reason}")
        return 1
    print(f"Building the repository from specs/, the test stand-ins and comps/ in {work} ...")
    repo_dir = harness.build_test_repo(work)
    for scenario in SCENARIOS:
        _run(scenario, work, repo_dir)
    _run_dnf5(work)
    print(
        f"\nEverything was written under {work} (and the DNF 5 host's cache under "
        "/var/cache/fexpkg)."
    )
    return 0


def _run_dnf5(work: Path) -> None:
    """Fedora 41+: real dnf5 and rpm 6 on a host where fexpkg is not installed yet."""
    from fexpkg.dev import dnf5host

    print(f"\n== Fedora 41+ (DNF 5, rpm 6), 4 KiB pages: dnf5 install @{GROUP} on a host's /")
    if reason := dnf5host.unavailable():
        print(f"   skipped: {reason}")
        return
    print(
        "   a Debian unstable root with dnf5 5.4 and rpm 6 (mmdebstrap, cached) stands in for "
        "the host; fexpkg is built there with its rpmbuild and Python"
    )
    base = dnf5host.base_root()
    repo_dir = dnf5host.build_repo(base, work / "dnf5-build")
    root = dnf5host.host_root(work / "dnf5-host", base, repo_dir)
    root.dnf5("install", "kernel")
    before = root.installed()
    mark = root.log_size()
    root.dnf5("install", f"@{GROUP}")
    for line in root.scriptlet_lines(mark):
        print(f"   rpm file trigger: {line}")
    print("   packages installed: " + ", ".join(sorted(root.installed() - before)))
    _print_status(root.status())


def _run(scenario: Scenario, work: Path, repo_dir: Path) -> None:
    from fexpkg.dev import harness

    path = work / f"root-{scenario.name}"
    shutil.rmtree(path, ignore_errors=True)
    root = harness.Installroot(path, repo_dir, home=work / "home")
    root.dnf("install", "filesystem", "busybox", scenario.kernel)
    before = root.installed()
    print(f"\n== {scenario.title}: dnf install @{GROUP} into {path}")
    result = root.dnf("install", f"@{GROUP}")
    for line in result.output.splitlines():
        if line.startswith("fex: "):
            print(f"   {line}")
    print("   packages installed: " + ", ".join(sorted(root.installed() - before)))
    from fexpkg.system import actions

    status = actions.status(path, env={}, home=path / "root")
    _print_status(status.as_dict())


def _print_status(status: dict) -> None:
    """What `fexpkg status --json` says of a root, in the demo's words."""
    print(
        f"   page size {status['page_size']} ({status['page_size_source']}): {status['mode']} mode"
    )
    print("   binfmt handlers, in the order systemd-binfmt registers them:")
    for handler in status["handlers"]:
        print(f"     {handler['name']:<20} {handler['interpreter']:<32} {handler['source']}")
    for arch, taker in status["takes"].items():
        target = f"{taker['name']} -> {taker['interpreter']}" if taker else "nothing"
        print(f"   {arch} programs run through: {target}")
    rootfs = status["rootfs"]
    if rootfs["value"]:
        exists = "present" if rootfs["exists"] else "MISSING"
        print(f"   FEX RootFS: {rootfs['path']} ({exists}; set in {rootfs['source']})")
    else:
        print("   FEX RootFS: none on the host (muvm attaches the image in its microVM)")
    for warning in status["warnings"]:
        print(f"   warning: {warning}")
