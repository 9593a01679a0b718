"""Comps files: parsing with line numbers, fedora-comps' sort order, rendering `.xml.in` to `.xml`.

Validation lives in `comps_validate`, textual merging in `comps_merge`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fexpkg.confined import replace_file
from fexpkg.errors import CompsError, requires

with requires("python3-lxml"):
    from lxml import etree

log = logging.getLogger(__name__)

FRAGMENT_PI = "fexpkg-comps"
"""Processing instruction `<?fexpkg-comps fragment?>` marking a file that only adds to another."""

TRANSLATABLE = {"_name": "name", "_description": "description"}
"""Source (`.xml.in`) tags and the tags intltool-merge renders them to."""

PACKAGE_TYPES = ("mandatory", "default", "optional", "conditional")

# comps-cleanup.xsl ranks packagereqs by type in this order (no or unknown type first),
# then by name with ASCII letters upper-cased; groups by upper-cased id; categories by
# display_order compared as text, then id; a category's groupids by upper-cased name.
# It keeps environments, and their grouplist and optionlist, in document order.
TYPE_RANK = {"mandatory": 1, "conditional": 2, "default": 3, "optional": 4}
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def fold(text: str) -> str:
    """Upper-case ASCII letters only, as comps-cleanup.xsl's translate() does."""
    return text.translate(_UPPER)


def packagereq_key(req_type: str | None, name: str) -> tuple[int, str]:
    """Sort key of a packagereq within its packagelist."""
    return TYPE_RANK.get(req_type or "", 0), fold(name)


def category_key(display_order: str | None, cat_id: str) -> tuple[str, str]:
    """Sort key of a category among categories."""
    return display_order or "", fold(cat_id)


def schema_path() -> Path:
    """The RelaxNG grammar shipped with the package."""
    return Path(__file__).parent / "data/comps.rng"


class NotWellFormedError(CompsError):
    """A comps file that is not well-formed XML; `line` is where the parser stopped."""

    def __init__(self, name: str, line: int, detail: str) -> None:
        super().__init__(f"{name}:{line}: not well-formed XML: {detail}")
        self.line = line
        self.detail = detail


def parse(path: Path) -> etree._ElementTree:
    """Parse a comps file keeping comments and line numbers; CompsError if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CompsError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_bytes(data, str(path))


def parse_bytes(data: bytes, name: str) -> etree._ElementTree:
    """Parse comps text held in memory; errors name it `name`."""
    try:
        return etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        raise NotWellFormedError(name, exc.lineno or 1, exc.msg) from exc


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        remove_blank_text=False, resolve_entities=False, no_network=True, huge_tree=True
    )


def is_fragment(tree: etree._ElementTree) -> bool:
    """True when the document carries the `<?fexpkg-comps fragment?>` marker."""
    node = tree.getroot().getprevious()
    while node is not None:
        if isinstance(node, etree._ProcessingInstruction) and node.target == FRAGMENT_PI:
            return (node.text or "").strip() == "fragment"
        node = node.getprevious()
    return False


def is_source(path: Path) -> bool:
    """True for a translatable source file (`.xml.in`), false for a rendered one."""
    return path.name.endswith(".in")


def rendered(tree: etree._ElementTree) -> etree._ElementTree:
    """A copy of `tree` with `_name`/`_description` renamed as intltool-merge renders them."""
    copy = etree.ElementTree(etree.fromstring(etree.tostring(tree), _parser()))
    for old, new in TRANSLATABLE.items():
        for elem in copy.getroot().iter(old):
            elem.tag = new
    return copy


_SOURCE_TAG = re.compile(f"<(/?)({'|'.join(map(re.escape, TRANSLATABLE))})(/?)>")
"""An opening, closing or empty translatable source tag (`</_x/>` matches too: it is no tag)."""


def render_text(text: str) -> str:
    """Source text with its translatable tags renamed; lines stay where they were."""
    return _SOURCE_TAG.sub(_render_tag, text)  # one scan of the text, not one per tag form


def _render_tag(match: re.Match[str]) -> str:
    close, tag, empty = match.groups()
    if close and empty:
        return match.group()
    return f"<{close}{TRANSLATABLE[tag]}{empty}>"


def serialize(tree: etree._ElementTree) -> bytes:
    """The document as UTF-8 bytes with declaration, DOCTYPE and a final newline."""
    body = etree.tostring(tree, xml_declaration=False, encoding="UTF-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def render(src: Path, dst: Path) -> None:
    """Render a `.xml.in` comps file to plain comps at `dst` (untranslated), atomically."""
    replace_file(dst, serialize(rendered(parse(src))))
    log.debug("rendered %s to %s", src, dst)
