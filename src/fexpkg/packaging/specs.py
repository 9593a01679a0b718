"""Spec files: the project's rpm macros, parsing with the rpm bindings, and `spec lint`.

Lint runs three layers, strongest first: rpm's own parser (macros expanded as rpmbuild would,
with the project macros), rpmlint with the project configuration, and the project's checks
below. Every problem is one `SPEC:LINE: message` line.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fexpkg.errors import SpecError, requires
from fexpkg.problem import Problem

with requires("python3-rpm"):
    import rpm
with requires("python3-license-expression"):
    from license_expression import ExpressionInfo, get_spdx_licensing

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
MACROS_FILE = DATA / "rpmmacros"
RPMLINT_CONFIG = DATA / "rpmlint.toml"
FEDORA_RELEASE = Path("/etc/fedora-release")
TARGET_ARCH = "aarch64"
#: The macros a Fedora host needs from the project file (the rest are Fedora's own): the
#: rpmdb path dnf and rpm must agree on, and no debuginfo for stand-ins without ELF files.
FEDORA_HOST_MACROS = frozenset({"_dbpath", "debug_package"})

#: The directories fex-emu-filesystem owns; other packages put files in or below them.
FEX_FILESYSTEM = "fex-emu-filesystem"
FEX_DATADIR = "/usr/share/fex-emu"
FEX_OWNED_DIRS = (FEX_DATADIR, f"{FEX_DATADIR}/RootFS", f"{FEX_DATADIR}/overlays")

_RPM_ERROR_LINE = re.compile(r"line (\d+): (.*)")
_SECTION = re.compile(
    r"^%(package|description|prep|build|install|check|files|changelog|pre|post"
    r"|preun|postun|pretrans|posttrans|trigger\w*|filetrigger\w*"
    r"|transfiletrigger\w*|generate_buildrequires|verifyscript)\b"
)


def is_fedora_host() -> bool:
    """True on Fedora, whose rpm has the macros the project file provides elsewhere."""
    return FEDORA_RELEASE.exists()


def macros_text(fedora_host: bool | None = None) -> str:
    """The `.rpmmacros` content: the whole project file, or only what a Fedora host needs."""
    text = MACROS_FILE.read_text()
    if not (is_fedora_host() if fedora_host is None else fedora_host):
        return text
    keep = [
        line
        for line in text.splitlines(keepends=True)
        if line.startswith("%") and line[1:].split(maxsplit=1)[0] in FEDORA_HOST_MACROS
    ]
    return "".join(keep)


def rpm_env(home: Path) -> dict[str, str]:
    """The environment for rpm, rpmbuild, rpmlint and dnf: HOME=home with the project macros."""
    install_macros(home)
    env = dict(os.environ)
    env.update(HOME=str(home), LC_ALL="C.UTF-8")
    return env


def install_macros(home: Path) -> Path:
    """Write the project macros as `home/.rpmmacros` (only when they differ) and return it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / ".rpmmacros"
    text = macros_text()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


@contextmanager
def project_macros(home: Path, target: str = TARGET_ARCH) -> Iterator[None]:
    """In-process rpm configuration as rpmbuild --target TARGET with HOME=home sees it."""
    install_macros(home)
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        rpm.reloadConfig(target)
        yield
    finally:
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
        rpm.reloadConfig()


def parse(path: Path, home: Path) -> rpm.spec:
    """Parse a spec with the project macros; SpecError as `SPEC:LINE: rpm's message`."""
    with project_macros(home):
        return _parse_loaded(path)


def _parse_loaded(path: Path) -> rpm.spec:
    """Parse a spec with the macros already loaded (they stay defined for expansion)."""
    with tempfile.TemporaryFile("w+") as rpmlog:
        rpm.setLogFile(rpmlog)
        try:
            return rpm.spec(str(path))
        except ValueError:
            rpmlog.seek(0)
            line, message = parse_error(rpmlog.read())
            raise SpecError(f"{path}:{line}: {message}") from None
        finally:
            rpm.setLogFile(sys.__stderr__)


def parse_error(log_text: str) -> tuple[int, str]:
    """The line and message of the first error in rpm's log of a failed parse (line 1 if none)."""
    errors = [
        line.removeprefix("error: ") for line in log_text.splitlines() if line.startswith("error: ")
    ]
    for err in errors:
        if match := _RPM_ERROR_LINE.match(err):
            return int(match[1]), match[2]
    return 1, errors[0] if errors else "rpm cannot parse this spec"


def source_names(spec: rpm.spec) -> list[str]:
    """Basenames of the spec's Source and Patch files, in order of their number."""
    return [
        os.path.basename(name)
        for name, _num, _flags in sorted(spec.sources, key=lambda s: (s[2], s[1]))
    ]


# Lint ------------------------------------------------------------------------------------------

_TAG = re.compile(r"^(?P<tag>[A-Za-z]+)\s*:\s*(?P<value>.*?)\s*$")
PARSE_ERROR = "rpm: "
_FILES_DIRECTIVE = re.compile(
    r"%(dir|doc|license|ghost|config|attr|defattr|verify|lang|caps|"
    r"artifact|missingok|exclude)\b(\([^)]*\))?\s*"
)
_RPMLINT_LINE = re.compile(r"^(?P<name>\S+\.spec)(?::(?P<line>\d+))?: (?P<text>[EW]: .*)$")


def lint(paths: Sequence[Path]) -> list[Problem]:
    """All problems of the specs: rpm's parser, the project checks, then rpmlint on those
    rpm can parse (rpmlint would only repeat rpm's parse error)."""
    with tempfile.TemporaryDirectory(prefix="fexpkg-lint-") as tmp:
        home = Path(tmp)
        problems = [p for path in paths for p in lint_spec(path, home)]
        unparsable = {p.path for p in problems if p.message.startswith(PARSE_ERROR)}
        return problems + rpmlint([p for p in paths if p not in unparsable], home)


def lint_spec(path: Path, home: Path) -> list[Problem]:
    """rpm's parse error, or the project checks of one spec."""
    with project_macros(home):
        try:
            spec = _parse_loaded(path)
        except SpecError as exc:
            line, message = str(exc).removeprefix(f"{path}:").split(": ", 1)
            return [Problem(path, int(line), f"{PARSE_ERROR}{message}")]
        lines = path.read_text().splitlines()
        noarch = {
            pkg.header[rpm.RPMTAG_NAME]
            for pkg in spec.packages
            if pkg.header[rpm.RPMTAG_ARCH] == "noarch"
        }
        exclusive = bool(spec.sourceHeader[rpm.RPMTAG_EXCLUSIVEARCH])
        return check_text(path, lines, rpm.expandMacro, noarch=noarch, exclusive=exclusive)


def check_text(
    path: Path,
    lines: Sequence[str],
    expand: Callable[[str], str],
    *,
    noarch: set[str],
    exclusive: bool,
) -> list[Problem]:
    """The project checks on a spec's lines (expand: rpm macro expansion)."""
    problems = [*check_licenses(path, lines), *check_changelog(path, lines)]
    if not exclusive:
        problems += check_exclusive_arch(path, lines, expand, noarch)
    for line_no, package, entry in files_entries(lines, expand):
        problems += [Problem(path, line_no, msg) for msg in check_file_entry(package, entry)]
    return problems


def check_licenses(path: Path, lines: Sequence[str]) -> list[Problem]:
    """Every License: is a valid SPDX expression."""
    licensing = get_spdx_licensing()
    problems = []
    for number, line in enumerate(lines, 1):
        match = _TAG.match(line)
        if not (match and match["tag"].lower() == "license"):
            continue
        if errors := spdx_errors(licensing.validate(match["value"])):
            problems.append(
                Problem(
                    path,
                    number,
                    f"License {match['value']!r} is not a valid "
                    f"SPDX expression: {'; '.join(errors)}",
                )
            )
    return problems


def spdx_errors(info: ExpressionInfo) -> list[str]:
    """license-expression's errors, accepting SPDX's LicenseRef-* (Fedora: LicenseRef-Fedora-*)."""
    unknown = [s for s in info.invalid_symbols if not s.startswith("LicenseRef-")]
    errors = [e for e in info.errors if not e.startswith("Unknown license key(s)")]
    return errors + ([f"Unknown license key(s): {', '.join(unknown)}"] if unknown else [])


def check_changelog(path: Path, lines: Sequence[str]) -> list[Problem]:
    """The spec has a %changelog section or %autochangelog."""
    if any(line.startswith("%changelog") or "%autochangelog" in line for line in lines):
        return []
    return [Problem(path, len(lines), "no %changelog section (or %autochangelog)")]


def check_exclusive_arch(
    path: Path, lines: Sequence[str], expand: Callable[[str], str], noarch: set[str]
) -> list[Problem]:
    """Arch-specific packages need ExclusiveArch (FEX's world is aarch64 only)."""
    problems = []
    for number, name in package_lines(lines, expand):
        if name not in noarch:
            problems.append(
                Problem(
                    path,
                    number,
                    f"package {name} is arch-specific but the spec "
                    "has no ExclusiveArch: add ExclusiveArch: aarch64 or "
                    "BuildArch: noarch",
                )
            )
    return problems


def package_lines(lines: Sequence[str], expand: Callable[[str], str]) -> list[tuple[int, str]]:
    """(line, package name) of the Name: tag and each %package."""
    found: list[tuple[int, str]] = []
    main = ""
    for number, line in enumerate(lines, 1):
        match = _TAG.match(line)
        if match and match["tag"].lower() == "name" and not main:
            main = expand(match["value"])
            found.append((number, main))
        elif line.startswith("%package"):
            found.append((number, _section_package(line, main, expand)))
    return found


def _section_package(line: str, main: str, expand: Callable[[str], str]) -> str:
    """The package a %package/%files/%description line is about."""
    words = expand(line).split()[1:]
    if "-n" in words:
        return words[words.index("-n") + 1]
    positional = [
        w
        for i, w in enumerate(words)
        if not w.startswith("-") and (i == 0 or words[i - 1] not in ("-f", "-n"))
    ]
    return f"{main}-{positional[0]}" if positional else main


def files_entries(lines: Sequence[str], expand: Callable[[str], str]) -> list[tuple[int, str, str]]:
    """(line, package, entry) for each line of the %files sections, macros expanded."""
    main = next((name for _n, name in package_lines(lines, expand)), "")
    entries = []
    package: str | None = None
    for number, line in enumerate(lines, 1):
        if _SECTION.match(line):
            package = _section_package(line, main, expand) if line.startswith("%files") else None
        elif package is not None and line.strip() and not line.startswith("#"):
            entries.append((number, package, expand(line).strip()))
    return entries


def check_file_entry(package: str, entry: str) -> list[str]:
    """Problems of one %files entry: /etc files and fex-emu-filesystem's directories."""
    directives = {m[1] for m in _FILES_DIRECTIVE.finditer(entry)}
    args = {m[1]: m[2] for m in _FILES_DIRECTIVE.finditer(entry)}
    path = _FILES_DIRECTIVE.sub("", entry).strip()
    if not path.startswith("/"):
        return []
    problems = []
    if (
        path.startswith("/etc/")
        and "dir" not in directives
        and "ghost" not in directives
        and args.get("config") != "(noreplace)"
    ):
        problems.append(f"{path} is under /etc but not %config(noreplace)")
    problems += check_fex_path(package, path.rstrip("/"))
    return problems


def check_fex_path(package: str, path: str) -> list[str]:
    """Files under /usr/share/fex-emu go in or below the directories fex-emu-filesystem owns."""
    if path in FEX_OWNED_DIRS:
        if package == FEX_FILESYSTEM:
            return []
        owner = FEX_FILESYSTEM
        return [f"{path} is owned by {owner}: Require {owner} instead of owning it"]
    if not path.startswith(FEX_DATADIR + "/"):
        return []
    first = path.removeprefix(FEX_DATADIR + "/").split("/")[0]
    in_owned_subdir = any(path.startswith(d + "/") for d in FEX_OWNED_DIRS[1:])
    misspelt = first.lower() in {d.rsplit("/", 1)[1].lower() for d in FEX_OWNED_DIRS[1:]}
    if not in_owned_subdir and (misspelt or path.endswith(".erofs")):
        return [
            f"{path} is outside {' and '.join(FEX_OWNED_DIRS[1:])}, the image directories "
            f"{FEX_FILESYSTEM} owns"
        ]
    return []


def find_rpmlint() -> Path:
    """The rpmlint to run: the one beside the running interpreter (a venv's, rpmlint 2.10 from
    the `test` extra: Fedora's is 2.5+, Debian 12's 2.4 reports false positives), else PATH's."""
    beside = Path(sys.executable).parent
    found = shutil.which("rpmlint", path=str(beside)) or shutil.which("rpmlint")
    if found is None:
        raise SpecError(
            "rpmlint is not installed: sudo dnf install rpmlint "
            "(in fexpkg's checkout, scripts/bootstrap.sh installs rpmlint 2.10 into .venv)"
        )
    return Path(found)


def rpmlint(paths: Sequence[Path], home: Path) -> list[Problem]:
    """rpmlint's errors and warnings on the specs, with the project configuration."""
    command = find_rpmlint()
    by_name = {p.name: p for p in paths}
    proc = subprocess.run(
        [str(command), "-c", str(RPMLINT_CONFIG), *map(str, paths)],
        env=rpm_env(home),
        capture_output=True,
        text=True,
    )
    problems = []
    for line in proc.stdout.splitlines():
        if (match := _RPMLINT_LINE.match(line)) and match["name"] in by_name:
            problems.append(
                Problem(
                    by_name[match["name"]], int(match["line"] or 1), f"rpmlint: {match['text']}"
                )
            )
    return problems
