"""Merge a comps fragment (groups, environment extensions) into a full comps file, textually.

lxml finds where things are (`sourceline`); the edit is made on lines, so every other byte of
the target (comments, indentation, other entries) stays. Merging twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from fexpkg.comps import document
from fexpkg.comps import validate as comps_validate
from fexpkg.confined import replace_file
from fexpkg.errors import CompsError, requires
from fexpkg.problem import Problem

with requires("python3-lxml"):
    from lxml import etree

log = logging.getLogger(__name__)

_LISTS = ("grouplist", "optionlist")


@dataclass(order=True)
class _Edit:
    """Replace lines [start, end) by `lines` (an insertion when start == end)."""

    start: int
    seq: int
    end: int = field(compare=False)
    lines: list[str] = field(compare=False)


class _Text:
    """The target's lines and the edits planned on them."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        try:
            self.lines = data.decode("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError as exc:
            raise CompsError(f"{name}: not UTF-8 ({exc.reason}); cannot merge into it") from exc
        first = self.lines[0] if self.lines else "\n"
        self.eol = "\r\n" if first.endswith("\r\n") else "\n"
        self.edits: list[_Edit] = []

    def insert(self, index: int, lines: list[str]) -> None:
        self.edits.append(_Edit(index, len(self.edits), index, lines))

    def replace(self, start: int, end: int, lines: list[str]) -> None:
        self.edits.append(_Edit(start, len(self.edits), end, lines))

    def result(self) -> bytes:
        lines = list(self.lines)
        for edit in sorted(self.edits, reverse=True):
            lines[edit.start : edit.end] = edit.lines
        return "".join(lines).encode("utf-8")

    def span(self, elem: etree._Element) -> tuple[int, int]:
        """Line range [start, end) of an element that starts and ends its own lines."""
        tag = elem.tag
        start = elem.sourceline - 1
        if not self.lines[start].lstrip().startswith(f"<{tag}"):
            raise self._layout_error(elem)
        for end in range(start, len(self.lines)):
            stripped = self.lines[end].rstrip()
            if stripped.endswith(f"</{tag}>") or (end == start and stripped.endswith("/>")):
                return start, end + 1
            if f"</{tag}>" in stripped:
                break
        raise self._layout_error(elem)

    def indent(self, index: int) -> str:
        line = self.lines[index]
        return line[: len(line) - len(line.lstrip())]

    def _layout_error(self, elem: etree._Element) -> CompsError:
        return CompsError(
            f"{self.name}:{elem.sourceline}: cannot merge: <{elem.tag}> must begin a line and "
            f"</{elem.tag}> end one; lay the file out one element per line as fedora-comps does"
        )


def merge_bytes(target: bytes, name: str, addition: Path) -> bytes:
    """Return `target` (a full comps file called `name`) with `addition` merged in."""
    tree = document.parse_bytes(target, name)
    if document.is_fragment(tree):
        raise CompsError(f"{name} is a fragment; merge into a complete comps file")
    add_tree = document.parse(addition)
    text = _Text(target, name)
    add_text = _Text(addition.read_bytes(), str(addition))
    root, add_root = tree.getroot(), add_tree.getroot()
    for group in add_root.iterfind("group"):
        _merge_group(text, root, add_text, group, rendered=not name.endswith(".in"))
    for env in add_root.iterfind("environment"):
        _merge_environment(text, root, env)
    return text.result()


class MergeWouldBreak(CompsError):
    """The merged file would have problems the target had not: nothing is written."""

    def __init__(self, into: Path, problems: list[Problem]) -> None:
        super().__init__(
            f"{into}: the merge would bring {len(problems)} problem(s), nothing written; "
            f"the first: {problems[0].message}"
        )
        self.problems = problems


def merge(into: Path, addition: Path, check: bool = False) -> bool:
    """Merge `addition` into the file `into`; True if it changed (or, with check, would).

    The result is validated against the target as it was: MergeWouldBreak when the merge brings
    a problem (problems the target already had do not count).
    """
    try:
        before = into.read_bytes()
    except OSError as exc:
        raise CompsError(f"cannot read {into}: {exc.strerror}") from exc
    after = merge_bytes(before, str(into), addition)
    changed = after != before
    if changed and (brought := comps_validate.introduced(before, after, str(into))):
        raise MergeWouldBreak(into, brought)
    if changed and not check:
        replace_file(into, after)
        log.info("merged %s into %s", addition, into)
    return changed


def build_repo_comps(out: Path, base: Path, addition: Path) -> Path:
    """Write `base` with `addition` merged, rendered, to `out`: a repository's groupfile."""
    merged = merge_bytes(base.read_bytes(), str(base), addition)
    replace_file(
        out, document.serialize(document.rendered(document.parse_bytes(merged, str(base))))
    )
    return out


def _merge_group(
    text: _Text, root: etree._Element, add_text: _Text, group: etree._Element, rendered: bool
) -> None:
    gid = group.findtext("id", "")
    start, end = add_text.span(group)
    base = add_text.indent(start)
    existing = list(root.iterfind("group"))
    if not existing:
        raise CompsError(f"{text.name} has no <group>; merge into a complete comps file")
    target_indent = text.indent(text.span(existing[0])[0])
    block = [_reindent(line, base, target_indent, text.eol) for line in add_text.lines[start:end]]
    if rendered:
        block = document.render_text("".join(block)).splitlines(keepends=True)
    for other in existing:
        if other.findtext("id", "") == gid:
            o_start, o_end = text.span(other)
            if text.lines[o_start:o_end] != block:
                text.replace(o_start, o_end, block)
            return
    following = [g for g in existing if document.fold(g.findtext("id", "")) > document.fold(gid)]
    if following:
        text.insert(_leading_comments_start(text, following[0]), block)
    else:
        text.insert(text.span(existing[-1])[1], block)


def _merge_environment(text: _Text, root: etree._Element, env: etree._Element) -> None:
    env_id = env.findtext("id", "")
    target = next((e for e in root.iterfind("environment") if e.findtext("id") == env_id), None)
    for tag in _LISTS:
        additions = [gid for gid in env.iterfind(f"{tag}/groupid")]
        if not additions:
            continue
        if target is None:
            raise CompsError(
                f"{text.name} has no environment '{env_id}' to add "
                f"'{additions[0].text}' to; merge into the comps file that defines it"
            )
        _merge_list(text, target, tag, sorted(additions, key=lambda g: document.fold(g.text or "")))


def _merge_list(
    text: _Text, env: etree._Element, tag: str, additions: list[etree._Element]
) -> None:
    """Add groupids to an environment's list: at their sorted place if it is sorted, else last."""
    target = env.find(tag)
    if target is None:
        grouplist = env.find("grouplist")
        anchor = text.span(grouplist)[1] if grouplist is not None else text.span(env)[1] - 1
        list_indent = text.indent(anchor - 1) if grouplist is not None else text.indent(anchor)
        item_indent = list_indent + "  "
        items = [f"{item_indent}{_groupid_xml(g)}{text.eol}" for g in additions]
        text.insert(
            anchor, [f"{list_indent}<{tag}>{text.eol}", *items, f"{list_indent}</{tag}>{text.eol}"]
        )
        return
    children = list(target.iterfind("groupid"))
    present = {c.text for c in children}
    keys = [document.fold(c.text or "") for c in children]
    is_sorted = keys == sorted(keys)
    item_indent = text.indent(children[0].sourceline - 1)
    close = text.span(target)[1] - 1
    for gid in additions:
        if gid.text in present:
            continue
        line = f"{item_indent}{_groupid_xml(gid)}{text.eol}"
        after = [
            c for c, k in zip(children, keys, strict=True) if k > document.fold(gid.text or "")
        ]
        index = after[0].sourceline - 1 if is_sorted and after else close
        text.insert(index, [line])


def _leading_comments_start(text: _Text, elem: etree._Element) -> int:
    """Index of the first line of the comments right before `elem` (they belong to it)."""
    start = text.span(elem)[0]
    node = elem.getprevious()
    while isinstance(node, etree._Comment) and text.lines[node.sourceline - 1].lstrip().startswith(
        "<!--"
    ):
        start = node.sourceline - 1
        node = node.getprevious()
    return start


def _groupid_xml(gid: etree._Element) -> str:
    return etree.tostring(gid, with_tail=False, encoding="unicode")


def _reindent(line: str, old: str, new: str, eol: str) -> str:
    body = line.rstrip("\r\n")
    if body.startswith(old):
        body = new + body[len(old) :]
    return body + eol
