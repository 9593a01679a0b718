"""`fexpkg demo`: the `make demo` job, a real `dnf install @fex-x86-emulation` per page size."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

from fexpkg import actions

GROUP = "fex-x86-emulation"


@dataclass(frozen=True)
class Scenario:
    """One kind of AArch64 system: a name, the kernel flavour it runs, its page size."""

    name: str
    title: str
    kernel: str
    page_size: int


SCENARIOS = (
    Scenario("4k", "AArch64 with 4 KiB pages (kernel)", "kernel", 4096),
    Scenario("16k", "Apple Silicon with 16 KiB pages (kernel-16k)", "kernel-16k", 16384),
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    demo = sub.add_parser(
        "demo",
        help="build the repository and dnf install @fex-x86-emulation into scratch installroots",
    )
    demo.add_argument("--work", type=Path, required=True, help="work directory (recreated)")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run every scenario and print what each system ends up with."""
    from fexpkg import harness  # the tooling: lxml, rpm bindings

    work = args.work.resolve()
    reason = harness.dnf_available()
    if reason:
        print(f"demo: {reason}")
        return 1
    print(f"Building the repository from specs/, the test stand-ins and comps/ in {work} ...")
    repo_dir = harness.build_test_repo(work)
    for scenario in SCENARIOS:
        _run(scenario, work, repo_dir)
    print(f"\nEverything was written under {work}.")
    return 0


def _run(scenario: Scenario, work: Path, repo_dir: Path) -> None:
    from fexpkg import harness

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
    status = actions.status(path, env={}, home=path / "root")
    print(f"   page size {status.page_size} ({status.page_size_source}): {status.mode.value} mode")
    print("   binfmt handlers, in the order systemd-binfmt registers them:")
    for handler in status.as_dict()["handlers"]:
        print(f"     {handler['name']:<20} {handler['interpreter']:<32} {handler['source']}")
    for arch, taker in status.as_dict()["takes"].items():
        target = f"{taker['name']} -> {taker['interpreter']}" if taker else "nothing"
        print(f"   {arch} programs run through: {target}")
    rootfs = status.as_dict()["rootfs"]
    if rootfs["value"]:
        exists = "present" if rootfs["exists"] else "MISSING"
        print(f"   FEX RootFS: {rootfs['path']} ({exists}; set in {rootfs['source']})")
    else:
        print("   FEX RootFS: none on the host (muvm attaches the image in its microVM)")
    for warning in status.warnings:
        print(f"   warning: {warning}")
