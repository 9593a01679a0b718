"""fexpkg's manual pages and shell completions, generated from its argparse parser.

`python3 -m fexpkg.dev.manual DIR` writes, with argparse-manpage and shtab, for the commands the
RPM installs (GROUPS: not the checkout's development commands):

- DIR/man1/fexpkg.1 and a page per command, fexpkg-COMMAND.1 (fexpkg-setup.1, ...);
- DIR/completions/fexpkg (bash), _fexpkg (zsh) and fexpkg.fish.

`specs/fexpkg.spec` runs it from the source tree at build time (fexpkg.dev is not installed), and
`fexpkg.dev.repo` for the source tarball of the project's own builds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import fexpkg
from fexpkg.cli import GROUPS, SUMMARY, build_parser, commands
from fexpkg.errors import FexpkgError, requires

PROG = "fexpkg"
URL = "https://github.com/fedora-asahi-remix/fexpkg"
MANUAL = "fexpkg manual"
#: Where python3-fexpkg installs the user guide (%doc of the spec).
GUIDE = "/usr/share/doc/python3-fexpkg/user-guide.adoc"
#: Completion files by shell: the names Fedora's completion directories expect.
COMPLETIONS = {"bash": PROG, "zsh": f"_{PROG}", "fish": f"{PROG}.fish"}
ENVIRONMENT = (
    ("FEXPKG_PAGE_SIZE", "the page size when --page-size is not given: 4096, 16384, 65536"),
    ("FEX_ROOTFS", "FEX's own override of the RootFS; doctor reports it"),
)
FILES = (
    ("/etc/binfmt.d/zz-fexpkg-*.conf", "the binfmt_misc handlers setup registers"),
    ("/usr/share/fex-emu/Config.json", "FEX's global configuration: setup sets Config.RootFS"),
    ("/usr/libexec/fexpkg/fex-muvm", "the muvm launcher on 16 KiB and 64 KiB page kernels"),
    ("/var/lib/fexpkg/manifest.json", "every file setup wrote, for teardown"),
)


def page_name(command: str | None = None) -> str:
    """`fexpkg` or `fexpkg-COMMAND`: the name of a manual page."""
    return f"{PROG}-{command}" if command else PROG


def _roff(text: str) -> str:
    """Plain text as a roff line: hyphens and backslashes escaped, no leading control dot."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def _refs(names: Sequence[str]) -> str:
    return ",\n".join(f".BR {_roff(name)} (1)" for name in names)


def _definitions(items: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f".TP\n.B {_roff(term)}\n{_roff(text)}" for term, text in items)


def _page(
    parser: argparse.ArgumentParser,
    name: str,
    summary: str,
    see_also: list[str],
    data: dict[str, str],
) -> str:
    with requires("python3-argparse-manpage"):
        from argparse_manpage.manpage import Manpage

    page = Manpage(parser, {**data, "description": summary})
    page.prog = name  # the page's title and NAME: fexpkg-setup, not "fexpkg setup"
    if name == PROG:
        page.add_section("exit status", ">", _exit_status())
        page.add_section("environment", ">", _definitions(ENVIRONMENT))
        page.add_section("files", ">", _definitions(FILES))
    page.add_section("see also", ">", _refs(see_also) + f",\nthe user guide {_roff(GUIDE)}")
    return str(page)


def _exit_status() -> str:
    return _definitions(
        (
            ("0", "success; for doctor, no check failed (warnings allowed)"),
            (
                "1",
                "an error, printed as one line 'fexpkg: error: MESSAGE' with its fix, "
                "or a failed check",
            ),
            ("2", "a usage error"),
        )
    )


def pages(version: str | None = None, date: str | None = None) -> dict[str, str]:
    """Every manual page by file name: fexpkg.1 and fexpkg-COMMAND.1 per command.

    version: for the pages' footer (default: fexpkg's); date: the pages' date (YYYY-MM-DD),
    default $SOURCE_DATE_EPOCH's, else today.
    """
    data = {
        "project_name": PROG,
        "version": version or fexpkg.version(),
        "manual_title": MANUAL,
        "url": URL,
    }
    if date:
        data["date"] = date
    parser = build_parser(GROUPS)
    subs = commands(parser)
    result = {f"{PROG}.1": _page(parser, PROG, SUMMARY, [page_name(c) for c in subs], data)}
    for name, command in subs.items():
        page = page_name(name)
        result[f"{page}.1"] = _page(command.parser, page, command.summary, [PROG], data)
    return result


def _mark_paths(parser: argparse.ArgumentParser, shtab_module: object) -> None:
    """Arguments of type Path complete file names (directories for a DIR metavar), recursively."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_paths(sub, shtab_module)
        elif action.type is Path:
            directory = action.metavar == "DIR"
            action.complete = shtab_module.DIRECTORY if directory else shtab_module.FILE  # type: ignore[attr-defined]


def completions() -> dict[str, str]:
    """The completion script of each shell (see COMPLETIONS) by file name."""
    with requires("python3-shtab"):
        import shtab

    parser = build_parser(GROUPS)
    _mark_paths(parser, shtab)
    return {name: shtab.complete(parser, shell=shell) for shell, name in COMPLETIONS.items()}


def write(out: Path, version: str | None = None, date: str | None = None) -> list[Path]:
    """Write the pages to out/man1 and the completions to out/completions; return the files."""
    written = []
    for subdir, files in (("man1", pages(version, date)), ("completions", completions())):
        (out / subdir).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = out / subdir / name
            path.write_text(text)
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m fexpkg.dev.manual",
        description="Write fexpkg's manual pages (DIR/man1) and shell completions "
        "(DIR/completions), generated from its parser by argparse-manpage and shtab.",
    )
    parser.add_argument("out", type=Path, metavar="DIR")
    parser.add_argument("--version", help="for the pages' footer (default: fexpkg's)")
    args = parser.parse_args(argv)
    try:
        written = write(args.out, args.version)
    except FexpkgError as exc:
        print(f"fexpkg: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
