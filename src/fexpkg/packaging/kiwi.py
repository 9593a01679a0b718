"""Validate Kiwi image descriptions and `<packages>` fragments with the real Kiwi (PyPI `kiwi`).

A description passes when Kiwi loads it (`XMLDescription.load()`: XSLT to the current schema,
RelaxNG, schematron, as `kiwi-ng image info` does) and finds a build type for each of its
profiles (or for none, if it has no profiles) on the architecture the description targets.
A fragment (`comps/spin/*.kiwi.xml`) is checked inside a minimal `<image>` description.
Each problem is reported as `FILE:LINE: message`; Kiwi is imported only when something is checked.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

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
    """Load `config` with Kiwi; problems are reported against `shown` (lines of `config`)."""
    xml_description = _import_kiwi()
    from kiwi.exceptions import KiwiDescriptionInvalid
    from kiwi.exceptions import KiwiError as KiwiFailure

    root_line = tree.getroot().sourceline or 1
    with _kiwi_log() as records, _cached_schematron():
        try:
            description = xml_description.XMLDescription(str(config))
        except KiwiFailure as exc:
            return [Problem(shown, root_line, f"Kiwi: {_one_line(exc)}")]
        try:
            xml_data = description.load()
        except KiwiDescriptionInvalid:
            problems = _log_problems(records, description.description, tree, shown)
            return problems or [Problem(shown, root_line, "Kiwi: invalid description")]
        except KiwiFailure as exc:
            return [Problem(shown, root_line, f"Kiwi: {type(exc).__name__}: {_one_line(exc)}")]
        return _build_types(xml_data, tree, shown) + _fex_pattern_types(tree, shown)


def _build_types(xml_data: Any, tree: Any, shown: Path) -> list[Problem]:
    """A build type for each profile (or the profile-less sections), on the target arch."""
    from kiwi import defaults
    from kiwi.exceptions import KiwiError as KiwiFailure
    from kiwi.xml_state import XMLState

    root = tree.getroot()
    default_arch = _first_arch(root.findall("preferences")) or defaults.PLATFORM_MACHINE
    selections: list[tuple[list[str], str, int]] = []
    for profile in root.iterfind("profiles/profile"):
        arch = _first_arch([profile]) or default_arch
        selections.append(([profile.get("name", "")], arch, profile.sourceline or 1))
    if not selections:
        selections.append(([], default_arch, root.sourceline or 1))
    problems = []
    host = defaults.PLATFORM_MACHINE
    try:
        for profiles, arch, line in selections:
            defaults.Defaults.set_platform_name(arch)
            try:
                state = XMLState(xml_data, profiles or None)
                log.debug(
                    "%s: profiles %s on %s: build type %s",
                    shown,
                    profiles,
                    arch,
                    state.get_build_type_name(),
                )
            except KiwiFailure as exc:
                what = f"profile {profiles[0]}" if profiles else "the description"
                problems.append(Problem(shown, line, f"Kiwi, {what} on {arch}: {_one_line(exc)}"))
    finally:
        defaults.Defaults.set_platform_name(host)
    return problems


def _fex_pattern_types(tree: Any, shown: Path) -> list[Problem]:
    """FEX's group in a `<packages>` section whose collection type is onlyRequired.

    The type is Kiwi's rule (`XMLState.get_collection_type`): the first section of the same
    `type` that sets `patternType`, else onlyRequired; profiles are not told apart here.
    """
    sections = list(tree.getroot().iter("packages"))
    problems = []
    for section in sections:
        same_type = [s for s in sections if s.get("type") == section.get("type")]
        pattern = next(
            (s.get("patternType") for s in same_type if s.get("patternType")),
            PATTERN_TYPE_DEFAULT,
        )
        if pattern != PATTERN_TYPE_DEFAULT:
            continue
        for collection in section.iterfind("namedCollection"):
            if collection.get("name") in FEX_GROUP_IDS:
                message = (
                    f"with patternType {pattern}, Kiwi installs no weak dependency here and, "
                    f"with dnf5, only the mandatory packages of {collection.get('name')}: "
                    "python3-fexpkg, which configures FEX, the thunks and muvm would be left "
                    'out; set patternType="plusRecommended" on this <packages>, as Fedora\'s '
                    "KDE description does"
                )
                problems.append(Problem(shown, collection.sourceline or 1, message))
    return problems


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
    records: list[logging.LogRecord], converted: str, tree: Any, shown: Path
) -> list[Problem]:
    """Kiwi's schema and schematron messages, each at the line of the element it names."""
    try:
        converted_tree = etree.parse(converted)
    except (OSError, etree.XMLSyntaxError):
        converted_tree = None
    root_line = tree.getroot().sourceline or 1
    problems: list[Problem] = []
    schematron = False
    for record in records:
        message = record.getMessage()
        if message.startswith("Schematron validation failed"):
            schematron = True
            continue
        if schematron and message.startswith("--> "):
            problems.append(Problem(shown, root_line, f"Kiwi schematron: {message[4:]}"))
            continue
        entries = [
            (_source_line(int(e["line"]), converted_tree, tree), e["msg"].strip())
            for e in _LOG_ENTRY.finditer(message)
        ]
        for index, (line, text) in enumerate(entries):
            if line is None:  # libxml2 gave none: the element it names, else a neighbour's line
                near = [n for n, _ in entries[index + 1 :] + entries[index::-1] if n is not None]
                line = _named_element_line(text, tree) or (near[0] if near else root_line)
            problems.append(Problem(shown, line, f"Kiwi schema: {text}"))
    return problems


def _source_line(line: int, converted: Any, tree: Any) -> int | None:
    """The line, in the file as written, of the element at `line` of Kiwi's converted copy."""
    if line <= 0 or converted is None:
        return None
    for element in converted.getroot().iter(tag=etree.Element):
        if element.sourceline == line:
            found = tree.xpath(converted.getpath(element))
            if found and found[0].sourceline:
                return int(found[0].sourceline)
            return None
    return None


def _named_element_line(message: str, tree: Any) -> int | None:
    """The line of the only element of the name a message gives, if there is exactly one."""
    match = _ELEMENT.search(message)
    if not match:
        return None
    found = tree.getroot().findall(f".//{match[1]}")
    return int(found[0].sourceline) if len(found) == 1 and found[0].sourceline else None


def _shift(problem: Problem, path: Path, offset: int) -> Problem:
    return Problem(path, max(1, problem.line - offset), problem.message)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
