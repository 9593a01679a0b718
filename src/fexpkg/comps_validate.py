"""Validate comps files: RelaxNG (lxml), libcomps loading, and fedora-comps' own rules.

Each problem is reported as `FILE:LINE: message`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcomps
from lxml import etree

from fexpkg import comps
from fexpkg.comps_repo import repo_packages

_LIBCOMPS_LINE = re.compile(r"line\s*:?\s*(\d+)")


@dataclass(frozen=True)
class Problem:
    """One problem in one file."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def validate_files(
    paths: Iterable[Path], repo: Path | None = None, fragment: bool = False
) -> list[Problem]:
    """Validate each file (as a fragment if `fragment`, or if it carries the fragment marker)."""
    available = repo_packages(repo) if repo is not None else None
    problems: list[Problem] = []
    for path in paths:
        problems.extend(validate(path, available, fragment, repo))
    return problems


def validate(
    path: Path,
    available: frozenset[str] | None = None,
    fragment: bool = False,
    repo: Path | None = None,
) -> list[Problem]:
    """Problems of one file; `available` are the package names its groups may use."""
    name = str(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        return [Problem(name, 1, f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return [Problem(name, 1, f"not UTF-8: {exc.reason}")]
    try:
        tree = comps.parse_bytes(data, name)
    except comps.NotWellFormedError as exc:
        return [Problem(name, exc.line, f"not well-formed XML: {exc.detail}")]
    fragment = fragment or comps.is_fragment(tree)
    problems = _schema(tree, name, fragment)
    problems += _libcomps(text, tree, name, fragment, comps.is_source(path))
    problems += _Semantics(tree.getroot(), name, comps.is_source(path), fragment).run()
    if available is not None:
        problems += _in_repo(tree.getroot(), name, available, repo or Path("."))
    return sorted(problems, key=lambda p: p.line)


@functools.cache
def _relaxng(fragment: bool) -> etree.RelaxNG:
    doc = etree.parse(str(comps.schema_path()))
    if fragment:
        ns = {"r": "http://relaxng.org/ns/structure/1.0"}
        doc.find("r:start/r:ref", ns).set("name", "comps-fragment")
    return etree.RelaxNG(doc)


def _schema(tree: etree._ElementTree, name: str, fragment: bool) -> list[Problem]:
    schema = _relaxng(fragment)
    if schema.validate(tree):
        return []
    problems: list[Problem] = []
    pending: list[str] = []  # libxml2 gives some interleave errors no line: use the next one's
    for err in schema.error_log:
        if not err.line:
            pending.append(err.message)
            continue
        problems += [Problem(name, err.line, f"schema: {msg}") for msg in [*pending, err.message]]
        pending = []
    line = problems[-1].line if problems else 1
    return problems + [Problem(name, line, f"schema: {msg}") for msg in pending]


def _libcomps(
    text: str, tree: etree._ElementTree, name: str, fragment: bool, source: bool
) -> list[Problem]:
    """Load the document with libcomps, as DNF will, and report what it rejects.

    libcomps reads only the rendered form: a source file's translatable tags are renamed on
    each line, so line numbers stay those of the file; a fragment's environment extensions
    (always last) are blanked out, as they are no complete environments.
    """
    if source:
        text = comps.render_text(text)
    envs = tree.getroot().findall("environment")
    if fragment and envs:
        lines = text.splitlines(keepends=True)
        close = max(i for i, line in enumerate(lines) if "</comps>" in line)
        first = envs[0].sourceline - 1
        lines[first:close] = ["\n"] * (close - first)
        text = "".join(lines)
    loaded = libcomps.Comps()
    try:
        status = loaded.fromxml_str(text)
    except libcomps.ParserError:
        return [Problem(name, 1, "libcomps: fatal parse error; it cannot load this file")]
    errors = loaded.get_last_errors()
    if status == 0 and not errors:
        return []
    return [_libcomps_problem(name, err) for err in errors or loaded.get_last_log()]


def _libcomps_problem(name: str, err: str) -> Problem:
    match = _LIBCOMPS_LINE.search(err)
    return Problem(name, int(match.group(1)) if match else 1, f"libcomps: {err.strip()}")


class _Semantics:
    """fedora-comps rules that neither the schema nor libcomps check."""

    def __init__(self, root: etree._Element, name: str, source: bool, fragment: bool) -> None:
        self.root, self.name, self.source, self.fragment = root, name, source, fragment
        self.problems: list[Problem] = []

    def run(self) -> list[Problem]:
        group_ids = self._unique("group")
        self._unique("environment")
        self._unique("category")
        self._translatable()
        self._order("group", lambda e: comps.fold(e.findtext("id", "")))
        self._order("category", lambda e: comps.category_key(e.findtext("display_order"),
                                                             e.findtext("id", "")))
        for group in self.root.iterfind("group"):
            self._packagelist(group)
        for category in self.root.iterfind("category"):
            self._order_children(category, "grouplist/groupid", "groupid")
        if not self.fragment:
            for kind, path in (("environment", "grouplist/groupid"),
                               ("environment", "optionlist/groupid"),
                               ("category", "grouplist/groupid")):
                self._references(kind, path, group_ids)
        return self.problems

    def _add(self, elem: etree._Element, message: str) -> None:
        self.problems.append(Problem(self.name, elem.sourceline or 1, message))

    def _unique(self, kind: str) -> set[str]:
        first: dict[str, int] = {}
        for elem in self.root.iterfind(kind):
            ident = elem.findtext("id", "")
            if ident in first:
                self._add(elem, f"duplicate {kind} id '{ident}' (first at line {first[ident]})")
            else:
                first[ident] = elem.sourceline
        return set(first)

    def _references(self, kind: str, path: str, group_ids: set[str]) -> None:
        for elem in self.root.iterfind(kind):
            for ref in elem.iterfind(path):
                if ref.text not in group_ids:
                    self._add(ref, f"{kind} '{elem.findtext('id')}' refers to unknown group "
                                   f"'{ref.text}'")

    def _translatable(self) -> None:
        if self.source:
            for tag, source_tag in (("name", "_name"), ("description", "_description")):
                for elem in self.root.iterfind(f"*/{tag}"):
                    if elem.get("{http://www.w3.org/XML/1998/namespace}lang") is None:
                        self._add(elem, f"<{tag}> in a .xml.in file: write <{source_tag}> so "
                                        "that it is translated")
        else:
            for source_tag in comps.TRANSLATABLE:
                for elem in self.root.iterfind(f"*/{source_tag}"):
                    self._add(elem, f"<{source_tag}> in a rendered file: render the .xml.in "
                                    "with 'fexpkg comps render'")

    def _packagelist(self, group: etree._Element) -> None:
        """Duplicates, types and order of a group's packagereqs, in one pass (the hot loop)."""
        gid = group.findtext("id", "")
        first: dict[str, etree._Element] = {}
        prev_key: tuple[int, str] | None = None
        prev_pkg = ""
        for req in group.iterfind("packagelist/packagereq"):
            pkg, req_type = req.text or "", req.get("type")
            if pkg in first:
                self._add(req, f"package '{pkg}' listed twice in group '{gid}' "
                               f"(first at line {first[pkg].sourceline})")
            else:
                first[pkg] = req
            if req_type is not None and req_type not in comps.PACKAGE_TYPES:
                self._add(req, f"packagereq '{pkg}' has unknown type '{req_type}'; use one of "
                               f"{', '.join(comps.PACKAGE_TYPES)}")
            elif req_type == "conditional" and not req.get("requires"):
                self._add(req, f"conditional packagereq '{pkg}' has no requires attribute")
            key = comps.packagereq_key(req_type, pkg)
            if prev_key is not None and key < prev_key:
                self._out_of_order(req, "packagereq", pkg, f" in group '{gid}'", prev_pkg)
            prev_key, prev_pkg = key, pkg

    def _order(self, kind: str, key: Callable[[etree._Element], Any]) -> None:
        elems = list(self.root.iterfind(kind))
        self._check_sorted(elems, [key(e) for e in elems], kind, "",
                           [e.findtext("id", "") for e in elems])

    def _order_children(self, parent: etree._Element, path: str, what: str) -> None:
        elems = list(parent.iterfind(path))
        labels = [e.text or "" for e in elems]
        self._check_sorted(elems, [comps.fold(t) for t in labels], what,
                           f" in {parent.tag} '{parent.findtext('id', '')}'", labels)

    def _check_sorted(self, elems: list[etree._Element], keys: list[Any], what: str, where: str,
                      labels: list[str]) -> None:
        for i in range(1, len(keys)):
            if keys[i] < keys[i - 1]:
                self._out_of_order(elems[i], what, labels[i], where, labels[i - 1])

    def _out_of_order(self, elem: etree._Element, what: str, label: str, where: str,
                      prev: str) -> None:
        self._add(elem, f"{what} '{label}'{where} is out of order: it sorts before '{prev}' "
                        "(comps-cleanup.xsl order)")


def _in_repo(
    root: etree._Element, name: str, available: frozenset[str], repo: Path
) -> list[Problem]:
    """Packagereqs of each group (for aarch64) that the repository does not have."""
    problems = []
    for group in root.iterfind("group"):
        if not _for_aarch64(group):
            continue
        for req in group.iterfind("packagelist/packagereq"):
            if _for_aarch64(req) and req.text not in available:
                problems.append(Problem(
                    name, req.sourceline,
                    f"package '{req.text}' of group '{group.findtext('id')}' is not in "
                    f"{repo} for aarch64 or noarch"))
    return problems


def _for_aarch64(elem: etree._Element) -> bool:
    arch = elem.get("arch")
    return arch is None or "aarch64" in (a.strip() for a in arch.split(","))

