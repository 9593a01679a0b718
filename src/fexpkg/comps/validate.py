"""Validate comps files: RelaxNG (lxml), libcomps loading, and fedora-comps' own rules.

Each problem is reported as `FILE:LINE: message`, with a severity: an error is what would
break DNF, libcomps or Fedora's CI (xmllint with comps.rng, the comps-cleanup.xsl sort check);
a warning is style or debt that breaks nothing. Against a baseline (`against_baseline`), what the
baseline already had becomes a notice and anything new an error.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.parsers import expat

from fexpkg.comps import document
from fexpkg.errors import requires
from fexpkg.problem import ERROR, NOTICE, WARNING, Problem

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

with requires("python3-lxml"):
    from lxml import etree

FORMATS = ("text", "github", "json")


def validate_files(
    paths: Iterable[Path], repo: Path | None = None, fragment: bool = False
) -> list[Problem]:
    """Validate each file (as a fragment if `fragment`, or if it carries the fragment marker)."""
    available = available_packages(repo)
    problems: list[Problem] = []
    for path in paths:
        problems.extend(validate(path, available, fragment, repo))
    return problems


def available_packages(repo: Path | None) -> frozenset[str] | None:
    """The package names of `repo` (aarch64 and noarch), or None without a repository."""
    if repo is None:
        return None
    from fexpkg.comps.repodata import repo_packages  # gzip and lzma: only with a repository

    return repo_packages(repo)


def validate(
    path: Path,
    available: frozenset[str] | None = None,
    fragment: bool = False,
    repo: Path | None = None,
) -> list[Problem]:
    """Problems of one file; `available` are the package names its groups may use."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [Problem(str(path), 1, f"cannot read: {exc.strerror}")]
    return validate_bytes(data, str(path), document.is_source(path), available, fragment, repo)


def validate_bytes(
    data: bytes,
    name: str,
    source: bool,
    available: frozenset[str] | None = None,
    fragment: bool = False,
    repo: Path | None = None,
) -> list[Problem]:
    """Problems of comps text held in memory, called `name`; `source` for the `.xml.in` form."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(name, 1, f"not UTF-8: {exc.reason}")]
    try:
        tree = document.parse_bytes(data, name)
    except document.NotWellFormedError as exc:
        return [Problem(name, exc.line, f"not well-formed XML: {exc.detail}")]
    fragment = fragment or document.is_fragment(tree)
    root = tree.getroot()
    semantic = _Semantics(root, name, source, fragment).run()
    if available is not None:
        semantic += _in_repo(root, name, available, repo or Path("."))
    envs = root.findall("environment") if fragment else []
    blank_from = envs[0].sourceline if envs else None
    entries = [e.sourceline or 1 for e in root.iterchildren("group", "environment", "category")]
    crashers = _libcomps_crashers(root, name) or _expat_prolog_problems(text, name)
    subset = None if crashers else _libcomps_subset(root, source, fragment)
    del root, envs
    # Whatever reads the tree is done: libxml2 relinks an element's children while it checks
    # an interleave, and marks the nodes it has validated.
    schema = _relaxng(fragment)
    if schema.validate(tree):
        problems = []
        loaded = crashers or (_libcomps(subset, name, entries) if subset else [])
    else:
        problems = _schema_problems(schema, name)
        whole = _libcomps_text(text, blank_from, source)
        loaded = crashers or _libcomps(whole, name, entries)
    return sorted(problems + loaded + semantic, key=lambda p: p.line)


def failed(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error."""
    return any(p.severity == ERROR for p in problems)


_LINE_REF = re.compile(r"\bline \d+")


def against_baseline(old: Iterable[Problem], new: Iterable[Problem]) -> list[Problem]:
    """`new` with each problem `old` already had (same message, wherever its line) made a
    pre-existing notice, and every other one an error: what the change brings."""
    remaining = collections.Counter(_LINE_REF.sub("line N", p.message) for p in old)
    marked = []
    for problem in new:
        key = _LINE_REF.sub("line N", problem.message)
        if remaining[key]:
            remaining[key] -= 1
            marked.append(
                dataclasses.replace(
                    problem, severity=NOTICE, message=f"pre-existing: {problem.message}"
                )
            )
        else:
            marked.append(dataclasses.replace(problem, severity=ERROR))
    return marked


def introduced(before: bytes, after: bytes, name: str) -> list[Problem]:
    """The problems comps text `after` has that `before` (the same file before a change) had not."""
    source = name.endswith(".in")
    old = validate_bytes(before, name, source)
    return [
        p for p in against_baseline(old, validate_bytes(after, name, source)) if p.severity == ERROR
    ]


def format_problems(problems: Iterable[Problem], fmt: str) -> str:
    """The problems as text lines, GitHub workflow commands (`::error file=F,line=L::...`,
    which GitLab and Zuul log parsers also read as FILE:LINE), or one JSON array."""
    if fmt == "json":
        import json

        return json.dumps(
            [
                {"path": str(p.path), "line": p.line, "severity": p.severity, "message": p.message}
                for p in problems
            ],
            indent=1,
        )
    if fmt == "github":
        return "\n".join(
            f"::{p.severity} file={_gh_property(str(p.path))},line={p.line},"
            f"title=fexpkg comps validate::{_gh_data(p.message)}"
            for p in problems
        )
    return "\n".join(map(str, problems))


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


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


_DRAWS_NOTICE = etree.XPath(
    # what comps.rng allows and libcomps still remarks on (see _NOTICES): the only notices a
    # document the schema accepts can draw
    "/comps/*[self::group or self::environment or self::category]"
    "[not(description or _description)]"
    " | /comps/*/*[self::id or self::name or self::description or self::_name"
    " or self::_description][not(normalize-space())]"
    " | /comps/group/packagelist[not(packagereq)]"
    " | /comps/group/packagelist/packagereq[not(normalize-space())]"
    " | /comps/group/*[self::default or self::uservisible]"
    "[normalize-space() = 'True' or normalize-space() = 'False']"
    " | /comps/*[@variant] | /comps/group/packagelist/packagereq[@variant]"
    " | /comps/blacklist/package[@variant]"  # where comps.rng's "limits" allow it
)


def _libcomps_subset(root: etree._Element, source: bool, fragment: bool) -> str | None:
    """For a document the schema accepts: its entries that draw a libcomps notice, each at its
    own line as in the file, as a document for libcomps; None when no entry does (the common
    case), and libcomps need not run at all."""
    tops: dict[etree._Element, None] = {}
    for hit in _DRAWS_NOTICE(root):
        while (parent := hit.getparent()) is not None and parent is not root:
            hit = parent
        if hit is not root and not (fragment and hit.tag == "environment"):
            tops[hit] = None
    if not tops:
        return None
    pieces, line = ['<?xml version="1.0" encoding="UTF-8"?><comps>'], 1
    for top in sorted(tops, key=lambda e: e.sourceline or 1):
        pieces.append("\n" * max(0, (top.sourceline or 1) - line))
        xml = etree.tostring(top, encoding="unicode", with_tail=False)
        pieces.append(xml)
        line = max(line, top.sourceline or 1) + xml.count("\n")
    pieces.append("</comps>\n")
    text = "".join(pieces)
    return document.render_text(text) if source else text


def _libcomps_text(text: str, blank_from: int | None, source: bool) -> str:
    """The whole document as libcomps reads it: rendered (a source file's translatable tags
    renamed on each line, so lines stay those of the file), and without a fragment's environment
    extensions (always last, from line `blank_from` on: they are no complete environments)."""
    if source:
        text = document.render_text(text)
    if blank_from is not None:
        lines = text.splitlines(keepends=True)
        close = max(i for i, line in enumerate(lines) if "</comps>" in line)
        first = blank_from - 1
        lines[first:close] = ["\n"] * (close - first)
        text = "".join(lines)
    return text


def _libcomps(text: str, name: str, entries: list[int]) -> list[Problem]:
    """Load the document with libcomps, as DNF will, and say what each of its notices means."""
    with requires("python3-libcomps"):
        import libcomps

    loaded = libcomps.Comps()
    try:
        status = loaded.fromxml_str(text)
    except libcomps.ParserError:
        return [Problem(name, 1, "libcomps: fatal parse error; DNF cannot load this file")]
    errors = loaded.get_last_errors()
    if status == 0 and not errors:
        return []
    return _notices(errors or loaded.get_last_log(), name, entries)


def _expat_prolog_problems(text: str, name: str) -> list[Problem]:
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
        return []
    except expat.ExpatError as exc:
        message = f"libcomps: not well-formed for expat ({expat.errors.messages[exc.code]})"
        return [Problem(name, exc.lineno, message)]
    return []


class _RootReached(Exception):
    """The expat pre-parse reached the root element: the prolog is well-formed."""


_Meaning = Callable[[re.Match[str]], tuple[str, str]]
"""What a libcomps notice means for DNF: (severity, message)."""

_DNF_DEFAULTS = "default: false, uservisible: true"


def _content_missing(m: re.Match[str]) -> tuple[str, str]:
    tag = m["tag"]
    if tag == "description":
        return WARNING, "empty <description>: DNF shows no description (comps.rng allows it)"
    consequence = {
        "id": "DNF cannot install the entry, nor find it from an environment or category",
        "name": "DNF has no name to list, or install, the entry by",
        "packagereq": "DNF gets a package without a name",
    }.get(tag, "DNF reads no value from it")
    return ERROR, f"empty <{tag}>: {consequence}"


def _required(m: re.Match[str]) -> tuple[str, str]:
    tag = m["tag"]
    if tag == "description":
        return WARNING, "no <description>: DNF shows none (comps.rng allows it)"
    return ERROR, f"no <{tag}>: DNF cannot use the entry"


def _list_empty(m: re.Match[str]) -> tuple[str, str]:
    if m["tag"] == "packagelist":
        return WARNING, "empty <packagelist>: the group installs nothing"
    return ERROR, f"empty <{m['tag']}>: the entry has no group"


def _param(m: re.Match[str]) -> tuple[str, str]:
    value = m["value"]
    if value in ("True", "False"):
        return WARNING, (
            f"libcomps does not read the capitalised boolean '{value}' (comps.rng allows it): "
            f"DNF uses its default ({_DNF_DEFAULTS}); write '{value.lower()}'"
        )
    return ERROR, f"'{value}' is not a boolean: DNF uses its default ({_DNF_DEFAULTS})"


def _attribute(m: re.Match[str]) -> tuple[str, str]:
    if m["attr"] == "variant":
        return WARNING, "variant= is read by pungi only: DNF ignores it"
    return ERROR, f"attribute '{m['attr']}' of <{m['tag']}> is unknown to libcomps: DNF ignores it"


_NOTICES: list[tuple[re.Pattern[str], _Meaning]] = [
    (re.compile(r"<(?P<tag>[^>]*)> content missing at line:(?P<line>\d+)"), _content_missing),
    (re.compile(r"Element (?P<tag>\S+) is required at line:(?P<line>\d+)"), _required),
    (re.compile(r"(?P<tag>\S+) is empty at line:(?P<line>\d+)"), _list_empty),
    (re.compile(r"Wrong \w+ param value ?'(?P<value>.*)' at line:(?P<line>\d+)"), _param),
    (
        re.compile(
            r"Unknown attribute '(?P<attr>.*)' in element '(?P<tag>.*)' at line:(?P<line>\d+)"
        ),
        _attribute,
    ),
    (
        re.compile(r"'(?P<text>.*)' found between elements at line:(?P<line>\d+)", re.DOTALL),
        lambda m: (ERROR, f"text '{m['text'].strip()}' between elements: DNF ignores it"),
    ),
    (
        re.compile(r"<(?P<tag>.*)> found with no suitable parent at line:(?P<line>\d+)"),
        lambda m: (ERROR, f"<{m['tag']}> where libcomps expects none: DNF ignores it"),
    ),
    (
        re.compile(r"Element <(?P<tag>.*)> at line:(?P<line>\d+) col:\d+ has been already found"),
        lambda m: (ERROR, f"a second <{m['tag'] or 'display_order'}>: DNF reads only one"),
    ),
    (
        re.compile(r"Unknown elemenet '(?P<tag>.*)' at line:(?P<line>\d+)"),
        lambda m: (ERROR, f"<{m['tag']}> is unknown to libcomps: DNF ignores it"),
    ),
    (
        re.compile(r"Unkonwn package type '(?P<value>.*)' at line:(?P<line>\d+)"),
        lambda m: (ERROR, f"package type '{m['value']}' unknown to libcomps: DNF skips it"),
    ),
    (
        re.compile(r"Parser error at line:(?P<line>\d+)"),
        lambda m: (ERROR, "not well-formed for libcomps: DNF cannot load the file"),
    ),
]
"""Each notice libcomps (0.1.19 to 0.1.21, comps_log.c) gives, and what it means for DNF."""

_ANY_LINE = re.compile(r"line\s*:?\s*(\d+)")


def _notices(notices: list[str], name: str, entries: list[int]) -> list[Problem]:
    """libcomps' notices as problems. libcomps says an entry's required element is missing
    (at the entry's end) after saying it is empty: the second says nothing more and is dropped.
    `entries` are the first lines of the document's groups, environments and categories."""
    problems: list[Problem] = []
    empty: set[tuple[int, str]] = set()  # (entry, tag) reported empty
    for notice in notices:
        found = next(((p, m, f) for p, f in _NOTICES if (m := p.search(notice))), None)
        if found is None:
            line = _ANY_LINE.search(notice)
            problems.append(
                Problem(name, int(line[1]) if line else 1, f"libcomps: {notice.strip()}")
            )
            continue
        pattern, match, meaning = found
        line = int(match["line"])
        entry = bisect.bisect_right(entries, line) - 1
        tag = match.groupdict().get("tag")
        if pattern is _NOTICES[0][0]:
            empty.add((entry, tag))
        elif pattern is _NOTICES[1][0]:
            if (entry, tag) in empty:
                continue
            line = entries[entry] if entry >= 0 else line  # the entry, not its end tag
        severity, message = meaning(match)
        problems.append(Problem(name, line, f"libcomps: {message}", severity))
    return problems


_RANK = {None: "0", **{kind: str(rank) for kind, rank in document.TYPE_RANK.items()}}
"""document.packagereq_key's type rank as one character, for the known types (and no type)."""


_ATTRIBUTE_RANK = {"type": 1, "requires": 2, "basearch": 3}
"""comps-cleanup.xsl writes an element's attributes in this order, any other (0) first."""

_SEVERAL_ATTRIBUTES = etree.XPath("/comps/group/packagelist/packagereq[@*[2]]")
"""Where the order can be wrong: comps.rng allows type, requires and basearch on packagereq only."""


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
        self._attribute_order()
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

    def _add(self, elem: etree._Element, message: str, severity: str = ERROR) -> None:
        self.problems.append(Problem(self.name, elem.sourceline or 1, message, severity))

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
                        self._add(  # DNF skips it with a warning: debt, unless new
                            ref,
                            f"{kind} '{elem.findtext('id')}' refers to unknown group '{ref.text}'",
                            WARNING,
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
                                WARNING,
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

    def _attribute_order(self) -> None:
        for elem in _SEVERAL_ATTRIBUTES(self.root):
            names = list(elem.attrib)  # in document order
            expected = sorted(names, key=lambda name: _ATTRIBUTE_RANK.get(name, 0))
            if names != expected:
                text = (elem.text or "").strip()
                self._add(
                    elem,
                    f"{elem.tag}{f' {text!r}' if text else ''} has its attributes out of order: "
                    f"{', '.join(names)} (comps-cleanup.xsl order: {', '.join(expected)})",
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
