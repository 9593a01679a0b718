"""`fexpkg setup | teardown | status | doctor`: FEX in a root (the host or an installroot)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from fexpkg.system import actions


COMMANDS = ("setup", "teardown", "status", "doctor")
"""The commands `register` adds (the CLI builds only the group of the command it runs)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the root commands to the `fexpkg` parser."""
    setup = sub.add_parser(
        "setup",
        help="configure FEX in a root for its page size",
        description="Configure FEX in a root (the running system's / by default) for its "
        "kernel's page size. On 4 KiB pages: register FEX's binfmt_misc handlers after "
        "qemu-user-static's, box64's and binfmt-dispatcher's, and set Config.RootFS in "
        "/usr/share/fex-emu/Config.json. On 16 KiB and 64 KiB pages: register the muvm launcher "
        "instead of FEX. Every file written is recorded for teardown; a second run changes "
        "nothing. rpm file triggers and the DNF plugins run it after FEX transactions.",
    )
    _root_arg(setup)
    setup.add_argument(
        "--page-size",
        default=None,
        metavar="N|auto",
        help="4096, 16384, 65536 or auto (default: $FEXPKG_PAGE_SIZE, the root's kernel, the host)",
    )
    _live_arg(setup)
    setup.set_defaults(func=run_setup)

    teardown = sub.add_parser(
        "teardown",
        help="undo what setup wrote in a root",
        description="Undo what setup wrote in a root: each file is restored as it was, "
        "except one changed since setup wrote it, which is left alone. On the running system the "
        "live binfmt_misc handlers end as the next boot would set them, so qemu-user-static "
        "takes x86 programs back. Removing fex-emu runs it.",
    )
    _root_arg(teardown)
    _live_arg(teardown)
    teardown.set_defaults(func=run_teardown)

    status = sub.add_parser(
        "status",
        help="show how x86 programs run in a root",
        description="Show how x86 programs run in a root: the page size and where it comes "
        "from, native or muvm mode, the binfmt_misc handlers in the order the kernel tries them, "
        "the one that takes x86 and x86-64 programs, and the RootFS FEX uses. Changes nothing.",
    )
    _root_arg(status)
    status.add_argument("--page-size", default=None, metavar="N|auto", help="as for setup")
    status.add_argument("--json", action="store_true", help="print JSON with stable keys")
    status.set_defaults(func=run_status)

    check = sub.add_parser(
        "doctor",
        help="check how x86 programs run in a root, with fixes",
        description="Check how x86 programs run in a root: one line per check (PASS, WARN or "
        "FAIL, the check's name, what it found) and, under a problem, the command that fixes it. "
        "Exit status 1 when a check fails. Changes nothing.",
    )
    _root_arg(check)
    check.add_argument("--page-size", default=None, metavar="N|auto", help="as for setup")
    check.add_argument("--json", action="store_true", help="print JSON with stable keys")
    check.set_defaults(func=run_doctor)


def _root_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR", help="default: /")


def _live_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-live",
        dest="live",
        action="store_false",
        default=None,
        help="only write files, do not touch /proc/sys/fs/binfmt_misc (default for a root not /)",
    )


def _summary(command: str, report: actions.Report) -> int:
    """Log the report, then one summary line, all on stderr.

    Nothing goes to stdout: libdnf5's actions plugin reads a command's stdout as assignments.
    """
    report.log()
    changes, warnings = len(report.changes), len(report.warnings)
    print(
        f"{command} {report.root}: {changes} change{'s' * (changes != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}",
        file=sys.stderr,
    )
    return 0


def run_setup(args: argparse.Namespace) -> int:
    from fexpkg.system import actions

    return _summary("setup", actions.setup(args.root, args.page_size, live=args.live))


def run_teardown(args: argparse.Namespace) -> int:
    from fexpkg.system import actions

    return _summary("teardown", actions.teardown(args.root, live=args.live))


def _handler(handler: actions.Handler | None) -> str:
    if handler is None:
        return "none"
    return f"{handler.name} ({handler.interpreter} {handler.flags}, {handler.source})"


def run_status(args: argparse.Namespace) -> int:
    from fexpkg.system import actions
    from fexpkg.system.target import Mode

    st = actions.status(args.root, page_size=args.page_size)
    if args.json:
        print(json.dumps(st.as_dict(), indent=2, sort_keys=True))
        return 0
    print(f"root {st.root}: fex-emu {'installed' if st.installed else 'not installed'}")
    print(f"page size {st.page_size} ({st.size.source}): {st.mode.value} mode")
    print("handlers: " + (", ".join(h.name for h in st.handlers) or "none"))
    for arch, handler in st.takes.items():
        print(f"{arch} programs: {_handler(handler)}")
    rootfs = st.rootfs
    if rootfs.value:
        where = f" -> {rootfs.path}{'' if rootfs.exists else ' (missing)'}" if rootfs.path else ""
        print(f"RootFS: {rootfs.value}{where} (from {rootfs.source})")
    elif st.mode is Mode.MUVM:
        print("RootFS: not set on the host (muvm sets its own in the microVM)")
    else:
        print("RootFS: not set (run fexpkg setup, or install fex-emu-rootfs-fedora)")
    for warning in st.warnings:
        print(f"warning: {warning}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    """Print one line per check (and its fix); exit 1 when a check fails."""
    from fexpkg.system import doctor

    diagnosis = doctor.diagnose(args.root, page_size=args.page_size)
    if args.json:
        print(json.dumps(diagnosis.as_dict(), indent=2, sort_keys=True))
    else:
        for check in diagnosis.checks:
            print(f"{check.result.name:<4}  {check.name}  {check.finding}")
            if check.fix:
                print(f"      fix: {check.fix}")
    return 1 if diagnosis.failed else 0
