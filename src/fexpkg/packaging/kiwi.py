"""Validate Kiwi image descriptions and `<packages>` fragments with the real Kiwi (PyPI `kiwi`).

A description passes when Kiwi loads it (`XMLDescription.load()`: XSLT to the current schema,
RelaxNG, schematron, as `kiwi-ng image info` does) and finds a build type for each of its
profiles (or for none, if it has no profiles) on the architecture the description targets; a
profile other profiles require is a building block and needs none of its own. Descriptions split
with `<include from="this://...">`, as Fedora's fedora-kiwi-descriptions, are read as Kiwi reads
them (profiles and sections of the included files count), and a problem in an included file is
reported at that file's line.
A fragment (`comps/spin/*.kiwi.xml`) is checked inside a minimal `<image>` description.
Each problem is reported as `FILE:LINE: message`; Kiwi is imported only when something is checked.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from fexpkg.errors import requires
from fexpkg.names import FEX_GROUP_IDS
from fexpkg.problem import Problem

with requires("python3-lxml"):
    from lxml import etree

log = logging.getLogger(__name__)

FRAGMENT_SUFFIX = ".kiwi.xml"
#: Kiwi's collection type where no `<packages>` section of a type sets `patternType`
#: (kiwi/xml_state.py, `get_collection_type`). With it, Kiwi's dnf5 manager installs only a
#: group's mandatory packages and no weak dependency (package_manager/dnf5.py,
#: `process_only_required`: `group_package_types=mandatory`, `install_weak_deps=False`); its dnf4
#: manager, no weak dependency (package_manager/dnf4.py).
PATTERN_TYPE_DEFAULT = "onlyRequired"


# An entry of libxml2's error log (`FILE:LINE:COL:LEVEL:DOMAIN:TYPE: msg`) or of jing's report
# (`FILE:LINE:COL: error: msg`), as Kiwi logs them.
_LOG_ENTRY = re.compile(
    r"^(?:--> )?(?P<file>[^\n:]*):(?P<line>\d+):\d+:\s*"
    r"(?:ERROR:[A-Z]+:[A-Z_]+:|(?:fatal )?error:)\s*(?P<msg>.+)$",
    re.MULTILINE,
)
_ELEMENT = re.compile(r"[Ee]lement \"?([\w:-]+)\"?")

# The fragment goes after these lines; a fragment's line N is the wrapper's line N + _HEADER_LINES.
_WRAPPER_HEAD = """\
<?xml version="1.0" encoding="utf-8"?>
<image schemaversion="7.5" name="fexpkg-fragment-check">
    <description type="system">
        <author>fexpkg</author>
        <contact>fexpkg@example.org</contact>
        <specification>wrapper around a packages fragment</specification>
    </description>
    <preferences>
        <version>1</version>
        <packagemanager>dnf5</packagemanager>
        <type image="tbz"/>
    </preferences>
    <repository type="rpm-md">
        <source path="https://example.org/repo"/>
    </repository>
    <packages type="bootstrap">
        <package name="filesystem"/>
    </packages>
"""
_HEADER_LINES = _WRAPPER_HEAD.count("\n")
_WRAPPER_TAIL = "\n</image>\n"


def files_in(description_dir: Path, fragment_dir: Path) -> list[Path]:
    """Every Kiwi description in `description_dir` and every Kiwi fragment in `fragment_dir`."""
    return sorted(description_dir.glob("*.kiwi")) + sorted(fragment_dir.glob(f"*{FRAGMENT_SUFFIX}"))


def is_fragment(path: Path) -> bool:
    """A `*.kiwi.xml` file is a `<packages>` fragment; anything else is a whole description."""
    return path.name.endswith(FRAGMENT_SUFFIX)


def check_files(paths: Iterable[Path]) -> list[Problem]:
    """Validate descriptions and fragments (by `is_fragment`); all problems, in file order."""
    paths = list(paths)
    if not paths:
        return []
    _import_kiwi()
    problems: list[Problem] = []
    for path in paths:
        if is_fragment(path):
            problems.extend(validate_fragment(path))
        else:
            problems.extend(validate_description(path))
    return problems


def validate_description(path: Path) -> list[Problem]:
    """Problems Kiwi finds in one image description (any file name; includes resolve beside it)."""
    tree, problem = _parse(path)
    if problem is not None:
        return [problem]
    return _validate(path, tree, path)


def validate_fragment(path: Path) -> list[Problem]:
    """Problems Kiwi finds in a `<packages>` fragment, wrapped in a minimal `<image>`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [Problem(path, 1, f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return [Problem(path, 1, f"not UTF-8: {exc.reason}")]
    body = re.sub(r"\A<\?xml[^>]*\?>", "", text)  # keeps the line breaks: lines stay aligned
    with tempfile.TemporaryDirectory(prefix="fexpkg-kiwi-") as tmp:
        config = Path(tmp) / "config.kiwi"
        config.write_text(_WRAPPER_HEAD + body + _WRAPPER_TAIL, encoding="utf-8")
        tree, problem = _parse(config)
        if problem is not None:
            message = re.sub(
                r"line (\d+)", lambda m: f"line {int(m[1]) - _HEADER_LINES}", problem.message
            )
            return [_shift(Problem(path, problem.line, message), path, _HEADER_LINES)]
        return [_shift(p, path, _HEADER_LINES) for p in _validate(config, tree, path)]


# Kiwi --------------------------------------------------------------------------------------------


def _import_kiwi() -> ModuleType:
    """Kiwi's xml_description module; a MissingDependency naming python3-kiwi when missing."""
    # `import kiwi` makes its Logger (four stdout/stderr handlers) the class of every logger
    # created afterwards, in the whole process: put the previous class back.
    logger_class = logging.getLoggerClass()
    try:
        with requires("python3-kiwi"):
            import kiwi.xml_description as xml_description
            import kiwi.xml_state  # noqa: F401  (imported here so a missing part fails here)
    finally:
        logging.setLoggerClass(logger_class)
    return xml_description


def _validate(config: Path, tree: Any, shown: Path) -> list[Problem]:
    """Load `config` with Kiwi; problems are reported against `shown` (lines of `config`), or
    against the file an `<include>` brought the element from."""
    xml_description = _import_kiwi()
    from kiwi.exceptions import KiwiDescriptionInvalid
    from kiwi.exceptions import KiwiError as KiwiFailure

    root_line = tree.getroot().sourceline or 1
    merged = _resolve_includes(tree, config, shown)
    with _kiwi_log() as records, _cached_schematron():
        try:
            description = xml_description.XMLDescription(str(config))
        except KiwiFailure as exc:
            return merged.unresolved or [Problem(shown, root_line, f"Kiwi: {_one_line(exc)}")]
        try:
            xml_data = description.load()
        except KiwiDescriptionInvalid:
            problems = _log_problems(records, description.description, merged)
            return problems or [Problem(shown, root_line, "Kiwi: invalid description")]
        except KiwiFailure as exc:
            return [Problem(shown, root_line, f"Kiwi: {type(exc).__name__}: {_one_line(exc)}")]
        builds, problems = _build_types(xml_data, merged)
        return problems + _fex_pattern_types(builds, merged)


@dataclass
class _Merged:
    """The description as Kiwi reads it: each top-level `<include from=...>` replaced by the
    `<image>` children of the file it names (Kiwi's include.xsl, one level deep), with the file
    each element came from, so that a problem points into the included file."""

    tree: Any
    shown: Path
    files: dict[str, Path] = field(default_factory=dict)  # element path -> included file
    unresolved: list[Problem] = field(default_factory=list)  # includes that do not load

    @property
    def root(self) -> Any:
        return self.tree.getroot()

    def where(self, element: Any) -> tuple[Path, int]:
        return self.files.get(self.tree.getpath(element), self.shown), element.sourceline or 1

    def problem(self, element: Any, message: str) -> Problem:
        return Problem(*self.where(element), message)


def _resolve_includes(tree: Any, config: Path, shown: Path) -> _Merged:
    root = copy.deepcopy(tree.getroot())
    merged = _Merged(etree.ElementTree(root), shown)
    inserted: list[tuple[Any, Path]] = []
    for include in root.findall("include"):
        path = _include_path(include.get("from", ""), config.parent)
        try:
            included = etree.parse(str(path)).getroot()
        except OSError:
            merged.unresolved.append(
                merged.problem(include, f"Kiwi: include reference {str(path)!r} does not exist")
            )
            continue
        except etree.XMLSyntaxError as exc:
            merged.unresolved.append(
                Problem(path, exc.lineno or 1, f"not well-formed XML: {exc.msg}")
            )
            continue
        index = root.index(include)
        children = included.iterchildren(tag=etree.Element) if included.tag == "image" else []
        for offset, child in enumerate(children):
            child = copy.deepcopy(child)  # keeps its sourceline
            root.insert(index + offset, child)
            inserted.append((child, path))
        root.remove(include)
    for top, path in inserted:
        for element in top.iter(tag=etree.Element):
            merged.files[merged.tree.getpath(element)] = path
    return merged


def _include_path(url: str, description_dir: Path) -> Path:
    """The file an include's `from` names, as Kiwi's FileResolver resolves it."""
    if url.startswith("this://"):
        return Path(os.path.normpath(description_dir / url.removeprefix("this://")))
    uri = urlparse(url)
    return Path(uri.netloc + uri.path if uri.netloc else uri.path)


@dataclass(frozen=True)
class _Build:
    """What Kiwi makes of one profile (None: the description without profiles) on its arch."""

    profile: str | None
    profiles: tuple[str, ...]  # the profile and those it requires, as Kiwi resolves them
    type_name: str
    collection_types: dict[str, str]  # "bootstrap" / "image" phase -> Kiwi's collection type


def _build_types(xml_data: Any, merged: _Merged) -> tuple[list[_Build], list[Problem]]:
    """A build type for each profile (or the profile-less sections), on its arch.

    A profile another profile requires (Fedora's DesktopCommon, KDE-Desktop, BootCore...) is a
    building block, built only through those: Kiwi finding no build type for it alone is fine.
    """
    from kiwi import defaults
    from kiwi.exceptions import KiwiError as KiwiFailure
    from kiwi.xml_state import XMLState

    root = merged.root
    preferences = root.findall("preferences")
    default_arch = (
        _first_arch(p for p in preferences if not p.get("profiles")) or defaults.PLATFORM_MACHINE
    )
    declared: dict[str, Any] = {}
    for profile in root.iterfind("profiles/profile"):
        declared.setdefault(profile.get("name", ""), profile)
    required = {r.get("profile") for r in root.iterfind("profiles/profile/requires")}
    selections: list[tuple[str | None, str, Any]] = []
    for name, profile in declared.items():
        own = [p for p in preferences if name in _names(p.get("profiles"))]
        selections.append((name, _first_arch([profile, *own]) or default_arch, profile))
    if not selections:
        selections.append((None, default_arch, root))
    builds: list[_Build] = []
    problems = []
    host = defaults.PLATFORM_MACHINE
    try:
        for name, arch, element in selections:
            defaults.Defaults.set_platform_name(arch)
            try:
                state = XMLState(xml_data, [name] if name else None)
            except KiwiFailure as exc:
                if name in required:
                    log.debug("profile %s on %s, a building block: %s", name, arch, exc)
                    continue
                what = f"profile {name}" if name else "the description"
                problems.append(
                    merged.problem(element, f"Kiwi, {what} on {arch}: {_one_line(exc)}")
                )
                continue
            build = _Build(
                name,
                tuple(state.profiles),
                state.get_build_type_name(),
                {phase: state.get_collection_type(phase) for phase in ("bootstrap", "image")},
            )
            log.debug(
                "%s on %s: build type %s, collection types %s (profiles %s)",
                f"profile {name}" if name else "the description",
                arch,
                build.type_name,
                build.collection_types,
                ", ".join(build.profiles) or "none",
            )
            builds.append(build)
    finally:
        defaults.Defaults.set_platform_name(host)
    return builds, problems


def _fex_pattern_types(builds: list[_Build], merged: _Merged) -> list[Problem]:
    """FEX's group in a `<packages>` section a build installs with collection type onlyRequired.

    Kiwi's rule (`XMLState.get_collection_type`, asked of Kiwi for each build): a phase's type
    is the first `patternType` among the build's sections of the phase's type or of the build
    type (a type="iso" section counts in an iso build's bootstrap and image phases alike), else
    onlyRequired. A section belongs to a build when it names no profile or one of the build's.
    """
    failing: dict[str, tuple[Any, list[str | None]]] = {}
    for section in merged.root.iterfind("packages"):
        groups = [c for c in section.iterfind("namedCollection") if c.get("name") in FEX_GROUP_IDS]
        names = set(_names(section.get("profiles")))
        for build in builds if groups else []:
            if names and not names & set(build.profiles):
                continue
            phases = [
                p for p in ("bootstrap", "image") if section.get("type") in (p, build.type_name)
            ]
            if any(build.collection_types[p] == PATTERN_TYPE_DEFAULT for p in phases):
                for group in groups:
                    failing.setdefault(merged.tree.getpath(group), (group, []))[1].append(
                        build.profile
                    )
    problems = []
    for group, profiles in failing.values():
        message = (
            f"with patternType {PATTERN_TYPE_DEFAULT}{_in_profiles(profiles)}, Kiwi installs no "
            f"weak dependency here and, with dnf5, only the mandatory packages of "
            f"{group.get('name')}: python3-fexpkg, which configures FEX, the thunks and muvm "
            'would be left out; set patternType="plusRecommended" on this <packages>, as '
            "Fedora's KDE description does"
        )
        problems.append(merged.problem(group, message))
    return problems


def _in_profiles(profiles: list[str | None]) -> str:
    named = [p for p in profiles if p]
    if not named:
        return ""
    shown = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    return f" (profile{'s' if len(named) > 1 else ''} {shown})"


def _names(profiles: str | None) -> list[str]:
    return [p.strip() for p in (profiles or "").split(",") if p.strip()]


def _first_arch(elements: Iterable[Any]) -> str | None:
    for element in elements:
        if element.get("arch"):
            return str(element.get("arch")).split(",")[0].strip()
    return None


@contextlib.contextmanager
def _kiwi_log() -> Iterator[list[logging.LogRecord]]:
    """Collect Kiwi's log records (its own handlers print to stdout) and pass them on as debug."""
    kiwi_log = logging.getLogger("kiwi")
    records: list[logging.LogRecord] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            log.debug("kiwi: %s", record.getMessage())

    saved = kiwi_log.handlers[:], kiwi_log.propagate
    kiwi_log.handlers[:] = [_Collect()]
    kiwi_log.propagate = False
    try:
        yield records
    finally:
        kiwi_log.handlers[:], kiwi_log.propagate = saved


@contextlib.contextmanager
def _cached_schematron() -> Iterator[None]:
    """Compile Kiwi's schematron rules once per process (~0.6 s per compile), not once per file.

    Kiwi's `load()` imports the module `Defaults.get_schematron_module_name()` names and calls its
    `Schematron(schema_doc, store_report=True)`; this hands it a module whose `Schematron` returns
    the same compiled lxml object for the same schema file. Without that hook, nothing changes.
    """
    from kiwi.defaults import Defaults

    if not hasattr(Defaults, "get_schematron_module_name"):
        yield
        return
    saved = Defaults.__dict__["get_schematron_module_name"]
    Defaults.get_schematron_module_name = staticmethod(lambda: __name__)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Defaults.get_schematron_module_name = saved  # type: ignore[method-assign]


_SCHEMATRONS: dict[str, Any] = {}


def Schematron(schema_doc: Any, store_report: bool = False) -> Any:  # noqa: N802  (lxml's name)
    """lxml's isoschematron.Schematron, compiled once per schema file (see _cached_schematron)."""
    from lxml import isoschematron

    key = f"{schema_doc.docinfo.URL}:{store_report}"
    if key not in _SCHEMATRONS:
        _SCHEMATRONS[key] = isoschematron.Schematron(schema_doc, store_report=store_report)
    return _SCHEMATRONS[key]


# Problems ----------------------------------------------------------------------------------------


def _parse(path: Path) -> tuple[Any, Problem | None]:
    try:
        return etree.parse(str(path)), None
    except OSError as exc:
        return None, Problem(path, 1, f"cannot read: {exc}")
    except etree.XMLSyntaxError as exc:
        return None, Problem(path, exc.lineno or 1, f"not well-formed XML: {exc.msg}")


def _log_problems(
    records: list[logging.LogRecord], converted: str, merged: _Merged
) -> list[Problem]:
    """Kiwi's schema and schematron messages, each at the line of the element it names."""
    try:
        converted_tree = etree.parse(converted)
    except (OSError, etree.XMLSyntaxError):
        converted_tree = None
    top = merged.where(merged.root)
    problems: list[Problem] = []
    schematron = False
    for record in records:
        message = record.getMessage()
        if message.startswith("Schematron validation failed"):
            schematron = True
            continue
        if schematron and message.startswith("--> "):
            problems.append(Problem(*top, f"Kiwi schematron: {message[4:]}"))
            continue
        entries = [
            (_source_line(int(e["line"]), converted_tree, merged), e["msg"].strip())
            for e in _LOG_ENTRY.finditer(message)
        ]
        for index, (where, text) in enumerate(entries):
            if where is None:  # libxml2 gave none: the element it names, else a neighbour's line
                near = [n for n, _ in entries[index + 1 :] + entries[index::-1] if n is not None]
                where = _named_element_line(text, merged) or (near[0] if near else top)
            problems.append(Problem(*where, f"Kiwi schema: {text}"))
    return problems


def _source_line(line: int, converted: Any, merged: _Merged) -> tuple[Path, int] | None:
    """The file and line, as written, of the element at `line` of Kiwi's converted copy."""
    if line <= 0 or converted is None:
        return None
    for element in converted.getroot().iter(tag=etree.Element):
        if element.sourceline == line:
            found = merged.tree.xpath(converted.getpath(element))
            if found and found[0].sourceline:
                return merged.where(found[0])
            return None
    return None


def _named_element_line(message: str, merged: _Merged) -> tuple[Path, int] | None:
    """Where the only element of the name a message gives is, if there is exactly one."""
    match = _ELEMENT.search(message)
    if not match:
        return None
    found = merged.root.findall(f".//{match[1]}")
    return merged.where(found[0]) if len(found) == 1 and found[0].sourceline else None


def _shift(problem: Problem, path: Path, offset: int) -> Problem:
    return Problem(path, max(1, problem.line - offset), problem.message)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
