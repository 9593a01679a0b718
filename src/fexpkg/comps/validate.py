"""Validate comps files: RelaxNG (lxml), libcomps loading, and fedora-comps' own rules.

Each problem is reported as `FILE:LINE: message`.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.parsers import expat

from fexpkg.comps import document
from fexpkg.comps.repodata import repo_packages
from fexpkg.errors import requires
from fexpkg.problem import Problem

with requires("python3-lxml"):
    from lxml import etree
with requires("python3-libcomps"):
    import libcomps

_LIBCOMPS_LINE = re.compile(r"line\s*:?\s*(\d+)")


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
        tree = document.parse_bytes(data, name)
    except document.NotWellFormedError as exc:
        return [Problem(name, exc.line, f"not well-formed XML: {exc.detail}")]
    fragment = fragment or document.is_fragment(tree)
    source = document.is_source(path)
    root = tree.getroot()
    semantic = _Semantics(root, name, source, fragment).run()
    if available is not None:
        semantic += _in_repo(root, name, available, repo or Path("."))
    envs = root.findall("environment") if fragment else []
    blank_from = envs[0].sourceline if envs else None
    crashers = _libcomps_crashers(root, name)
    del root, envs
    # libxml2 validates without the GIL, so the RelaxNG pass overlaps the libcomps load, which
    # holds it but reads only the text: whatever reads the tree is done before (_SchemaRun).
    schema = _SchemaRun(tree, fragment)
    try:
        loaded = crashers or _libcomps(text, blank_from, name, source)
    finally:
        valid = schema.result()
    problems = [] if valid else _schema_problems(schema.schema, name)
    return sorted(problems + loaded + semantic, key=lambda p: p.line)


class _SchemaRun:
    """RelaxNG validation of a tree in a worker thread; `result()` waits for it.

    Until then nothing may read the tree: libxml2 relinks an element's children while it
    checks an interleave, and marks the nodes it has validated.
    """

    def __init__(self, tree: etree._ElementTree, fragment: bool) -> None:
        self.schema = _relaxng(fragment)
        self._tree = tree
        self._valid = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="comps-relaxng", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError:  # no thread to be had: validate here and now
            self._thread = None
            self._run()

    def _run(self) -> None:
        try:
            self._valid = self.schema.validate(self._tree)
        except BaseException as exc:  # re-raised in the calling thread
            self._error = exc

    def result(self) -> bool:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._valid


@functools.cache
def _relaxng(fragment: bool) -> etree.RelaxNG:
    doc = etree.parse(str(document.schema_path()))
    if fragment:
        ns = {"r": "http://relaxng.org/ns/structure/1.0"}
        doc.find("r:start/r:ref", ns).set("name", "comps-fragment")
    return etree.RelaxNG(doc)


def _schema_problems(schema: etree.RelaxNG, name: str) -> list[Problem]:
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


# libcomps (0.1.19 to 0.1.21 at least) dereferences NULL on these without text: libcomps#117
_LIBCOMPS_NEEDS_TEXT = frozenset({"uservisible", "biarchonly", "display_order"})


def _libcomps_crashers(root: etree._Element, name: str) -> list[Problem]:
    """Elements that would crash libcomps: reported instead of loading the file with it."""
    return [
        Problem(
            name,
            elem.sourceline or 1,
            f"empty <{elem.tag}>: libcomps crashes on it; give it a value",
        )
        for elem in root.iter(*_LIBCOMPS_NEEDS_TEXT)
        if not ((elem.text or "") + "".join(child.tail or "" for child in elem)).strip()
    ]


def _libcomps(text: str, blank_from: int | None, name: str, source: bool) -> list[Problem]:
    """Load the document with libcomps, as DNF will, and report what it rejects.

    libcomps reads only the rendered form: a source file's translatable tags are renamed on
    each line, so line numbers stay those of the file; a fragment's environment extensions
    (always last, from line `blank_from` on) are blanked out, as they are no complete
    environments.
    """
    if source:
        text = document.render_text(text)
    if blank_from is not None:
        lines = text.splitlines(keepends=True)
        close = max(i for i, line in enumerate(lines) if "</comps>" in line)
        first = blank_from - 1
        lines[first:close] = ["\n"] * (close - first)
        text = "".join(lines)
    prolog = _expat_prolog_error(text)
    if prolog is not None:
        message = f"libcomps: not well-formed for expat ({expat.errors.messages[prolog.code]})"
        return [Problem(name, prolog.lineno, message)]
    loaded = libcomps.Comps()
    try:
        status = loaded.fromxml_str(text)
    except libcomps.ParserError:
        return [Problem(name, 1, "libcomps: fatal parse error; it cannot load this file")]
    errors = loaded.get_last_errors()
    if status == 0 and not errors:
        return []
    return [_libcomps_problem(name, err) for err in errors or loaded.get_last_log()]


class _RootReached(Exception):
    """The expat pre-parse reached the root element: the prolog is well-formed."""


def _expat_prolog_error(text: str) -> expat.ExpatError | None:
    """expat's error before the root element, where libcomps crashes instead of failing.

    libcomps' own parser is expat, which rejects some prologs libxml2 accepts (`<!DOCTYPEcomps>`).
    """
    parser = expat.ParserCreate()

    def stop(name: str, attrs: dict[str, str]) -> None:
        raise _RootReached

    parser.StartElementHandler = stop
    try:
        parser.Parse(text, True)
    except _RootReached:
        return None
    except expat.ExpatError as exc:
        return exc
    return None


def _libcomps_problem(name: str, err: str) -> Problem:
    match = _LIBCOMPS_LINE.search(err)
    return Problem(name, int(match.group(1)) if match else 1, f"libcomps: {err.strip()}")


_RANK = {None: "0", "mandatory": "1", "conditional": "2", "default": "3", "optional": "4"}
"""comps.packagereq_key's type rank as one character, for the known types (and no type)."""


def _first_text(elem: etree._Element, tag: str) -> str:
    """`elem.findtext(tag, "")`, without the ElementPath machinery."""
    for child in elem.iterchildren(tag):
        return child.text or ""
    return ""


def _folded(texts: list[str]) -> list[str]:
    """`[document.fold(t) for t in texts]` in one call: XML text holds no NUL."""
    return document.fold("\0".join(texts)).split("\0") if texts else []


class _Semantics:
    """fedora-comps rules that neither the schema nor libcomps check.

    The common case, a clean file, takes a fast path over each list (ids, packagereqs, ...)
    that only proves it clean; a list that is not is checked again one element at a time,
    which says what is wrong where.
    """

    def __init__(self, root: etree._Element, name: str, source: bool, fragment: bool) -> None:
        self.root, self.name, self.source, self.fragment = root, name, source, fragment
        self.problems: list[Problem] = []

    def run(self) -> list[Problem]:
        root = self.root
        groups = list(root.iterchildren("group"))
        group_ids = [_first_text(e, "id") for e in groups]
        categories = list(root.iterchildren("category"))
        category_ids = [_first_text(e, "id") for e in categories]
        known_groups = self._unique("group", groups, group_ids)
        environments = list(root.iterchildren("environment"))
        self._unique("environment", environments, [_first_text(e, "id") for e in environments])
        self._unique("category", categories, category_ids)
        self._translatable()
        self._check_sorted(groups, _folded(group_ids), "group", "", group_ids)
        self._check_sorted(
            categories,
            [
                document.category_key(e.findtext("display_order"), i)
                for e, i in zip(categories, category_ids, strict=True)
            ],
            "category",
            "",
            category_ids,
        )
        for group, gid in zip(groups, group_ids, strict=True):
            self._packagelist(group, gid)
        for category, cid in zip(categories, category_ids, strict=True):
            self._order_children(category, cid)
        if not self.fragment:
            for elems, kind, path in (
                (environments, "environment", "grouplist"),
                (environments, "environment", "optionlist"),
                (categories, "category", "grouplist"),
            ):
                self._references(elems, kind, path, known_groups)
        return self.problems

    def _add(self, elem: etree._Element, message: str) -> None:
        self.problems.append(Problem(self.name, elem.sourceline or 1, message))

    def _unique(self, kind: str, elems: list[etree._Element], ids: list[str]) -> set[str]:
        unique = set(ids)
        if len(unique) == len(ids):
            return unique
        first: dict[str, int] = {}
        for elem, ident in zip(elems, ids, strict=True):
            if ident in first:
                self._add(elem, f"duplicate {kind} id '{ident}' (first at line {first[ident]})")
            else:
                first[ident] = elem.sourceline
        return unique

    def _references(
        self, elems: list[etree._Element], kind: str, list_tag: str, known: set[str]
    ) -> None:
        for elem in elems:
            for grouplist in elem.iterchildren(list_tag):
                for ref in grouplist.iterchildren("groupid"):
                    if ref.text not in known:
                        self._add(
                            ref,
                            f"{kind} '{elem.findtext('id')}' refers to unknown group '{ref.text}'",
                        )

    def _translatable(self) -> None:
        tops = list(self.root.iterchildren("*"))
        if self.source:
            for tag, source_tag in (("name", "_name"), ("description", "_description")):
                for top in tops:
                    for elem in top.iterchildren(tag):
                        if elem.get("{http://www.w3.org/XML/1998/namespace}lang") is None:
                            self._add(
                                elem,
                                f"<{tag}> in a .xml.in file: write <{source_tag}> "
                                "so that it is translated",
                            )
        else:
            for source_tag in document.TRANSLATABLE:
                for top in tops:
                    for elem in top.iterchildren(source_tag):
                        self._add(
                            elem,
                            f"<{source_tag}> in a rendered file: render the .xml.in "
                            "with 'fexpkg comps render'",
                        )

    def _packagelist(self, group: etree._Element, gid: str) -> None:
        """Duplicates, types and order of a group's packagereqs (the hot loop).

        One sweep collects names and types; a set and one sorted copy of the sort keys then
        prove the common case clean. Otherwise `_packagelist_slowly` says what is wrong where.
        """
        names: list[Any] = []
        types: list[str | None] = []
        add_name, add_type = names.append, types.append
        conditional_ok = True
        for packagelist in group.iterchildren("packagelist"):
            for req in packagelist.iterchildren("packagereq"):
                req_type = req.get("type")
                add_name(req.text)
                add_type(req_type)
                if req_type == "conditional" and not req.get("requires"):
                    conditional_ok = False
        if not names:
            return
        unique = set(names)
        if conditional_ok and len(unique) == len(names) and None not in unique:
            try:  # document.packagereq_key as one string: rank character + name, folded at once
                keys = _folded([_RANK[t] + n for t, n in zip(types, names, strict=True)])
            except KeyError:  # an unknown type
                keys = []
            if keys and keys == sorted(keys):
                return
        self._packagelist_slowly(group, gid)

    def _packagelist_slowly(self, group: etree._Element, gid: str) -> None:
        first: dict[str, etree._Element] = {}
        prev_key: tuple[int, str] | None = None
        prev_pkg = ""
        for req in group.iterfind("packagelist/packagereq"):
            pkg, req_type = req.text or "", req.get("type")
            if pkg in first:
                self._add(
                    req,
                    f"package '{pkg}' listed twice in group '{gid}' "
                    f"(first at line {first[pkg].sourceline})",
                )
            else:
                first[pkg] = req
            if req_type is not None and req_type not in document.PACKAGE_TYPES:
                self._add(
                    req,
                    f"packagereq '{pkg}' has unknown type '{req_type}'; use one of "
                    f"{', '.join(document.PACKAGE_TYPES)}",
                )
            elif req_type == "conditional" and not req.get("requires"):
                self._add(req, f"conditional packagereq '{pkg}' has no requires attribute")
            key = document.packagereq_key(req_type, pkg)
            if prev_key is not None and key < prev_key:
                self._out_of_order(req, "packagereq", pkg, f" in group '{gid}'", prev_pkg)
            prev_key, prev_pkg = key, pkg

    def _order_children(self, category: etree._Element, cid: str) -> None:
        elems = [
            ref
            for grouplist in category.iterchildren("grouplist")
            for ref in grouplist.iterchildren("groupid")
        ]
        labels = [e.text or "" for e in elems]
        self._check_sorted(elems, _folded(labels), "groupid", f" in category '{cid}'", labels)

    def _check_sorted(
        self, elems: list[etree._Element], keys: list[Any], what: str, where: str, labels: list[str]
    ) -> None:
        if keys == sorted(keys):
            return
        for i in range(1, len(keys)):
            if keys[i] < keys[i - 1]:
                self._out_of_order(elems[i], what, labels[i], where, labels[i - 1])

    def _out_of_order(
        self, elem: etree._Element, what: str, label: str, where: str, prev: str
    ) -> None:
        self._add(
            elem,
            f"{what} '{label}'{where} is out of order: it sorts before '{prev}' "
            "(comps-cleanup.xsl order)",
        )


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
                problems.append(
                    Problem(
                        name,
                        req.sourceline,
                        f"package '{req.text}' of group '{group.findtext('id')}' is not in "
                        f"{repo} for aarch64 or noarch",
                    )
                )
    return problems


def _for_aarch64(elem: etree._Element) -> bool:
    arch = elem.get("arch")
    return arch is None or "aarch64" in (a.strip() for a in arch.split(","))
